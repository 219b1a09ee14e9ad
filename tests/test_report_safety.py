"""One student's report never stops the class's, and nothing a student wrote reaches a person raw.

Real a2 notebooks with hostile cells are graded for real and their reports rendered, in process
and through `tensorgrade report`:

* escape sequences (OSC 52 clipboard writes, the window title, CSI screen clears, a fake
  "10 / 10", C1 CSI, CR overwrites) in printed output, in an exception message, in a thread's
  name and in a student function's exception (a check's error): the terminal report, the TA's
  terminal listing and the Markdown show them as visible escapes, never as raw bytes;
* train_legendre's losses alternating +-1e308 (matplotlib raised on them, and `tensorgrade report`
  exited 1 before the dashboard and every later student's report were written): the plot is
  drawn, clipped, and the caption says so;
* a student whose name (the notebook's file name) holds blank lines and `<img src=x onerror=...>`:
  no raw HTML in the Markdown report, in a real Markdown renderer or in Chromium;
* names that sanitise alike (`j~smith`, `j_smith`, `J_Smith`): one file each;
* failures injected into a plot and into a whole report (the way a matplotlib or template bug
  would fail): the run still ends with exit 0, every other file and the dashboard are written,
  and the failure is marked on the TA view, on the dashboard and in the command's output.
"""

from __future__ import annotations

import copy
import html
import io
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import nbformat
import pytest
from rich.console import Console

from tensorgrade.reports.dashboard import write_reports
from tensorgrade.reports.terminal import print_terminal_report
from tensorgrade.safe_text import file_name
from conftest import ROOT

SAMPLES = ROOT / "solutions" / "a2_autograd" / "samples"
CHROMIUM = shutil.which("chromium")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")

IMG_NAME = "\n\n<img src=x onerror=alert(1)>\n\n"
RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # everything but \t and \n

ESCAPES_CELL = r'''
import threading

CLIPBOARD = "\x1b]52;c;ZWNobyBvd25lZA==\x07"      # OSC 52: writes the TA's clipboard
TITLE = "\x1b]0;tensorgrade: all passed\x07"        # the window title
FAKE = "\x1b[2J\x1b[H\x1b[32m  total: 10 / 10  \x1b[0m"  # clear the screen, print a fake score
print(CLIPBOARD + FAKE + "\x9b31m C1 CSI \r overwritten")
worker = threading.Thread(target=lambda: None, name=TITLE + "\x9d0;c1-title\x9c")
worker.start()
worker.join()
raise RuntimeError("thread " + worker.name + " failed" + CLIPBOARD + FAKE + "\r\x1b[1A")
'''

# A check's error whose message is the student's: string() raises with escape sequences.
STRING_CELL = r'''
def _string(self):
    raise ValueError("\x1b]52;c;cHduZWQ=\x07\x1b[2K\r q2.string passed 10 / 10")

Polynomial3.string = _string
'''

# The bug's data: losses that swing between +1e308 and -1e308 (the coefficients still train).
DIVERGING_CELL = r'''
_train_legendre = train_legendre

def train_legendre(x, y, steps=2000, learning_rate=5e-6):
    params, losses = _train_legendre(x, y, steps=steps, learning_rate=learning_rate)
    return params, [1e308 * (-1) ** i for i in range(len(losses))]
'''


def notebook_with(sample: str, *cells: str):
    notebook = nbformat.read(str(SAMPLES / f"{sample}.ipynb"), as_version=4)
    for source in cells:
        notebook.cells.append(nbformat.v4.new_code_cell(source))
    return notebook


@pytest.fixture(scope="module")
def hostile(a2_grader, tmp_path_factory):
    """[(student, result)]: three hostile notebooks graded for real, a normal one, and copies of a
    real result under names that sanitise alike."""
    folder = tmp_path_factory.mktemp("hostile")
    raw_esc_comment = "# a raw ESC in the source: \x1b]0;from the source\x07\x1b[31m red\n"
    notebooks = {
        "escapes": notebook_with("correct", raw_esc_comment + ESCAPES_CELL, STRING_CELL),
        "diverging": notebook_with("correct", DIVERGING_CELL),
        IMG_NAME: notebook_with("wrong_gradient_sign"),
    }
    entries = []
    for name, notebook in notebooks.items():
        path = folder / f"{name}.ipynb"
        nbformat.write(notebook, str(path))
        entries.append((name, a2_grader.grade(path)))
    correct = a2_grader.grade(SAMPLES / "correct.ipynb")
    entries.append(("correct", correct))
    for name in ("j~smith", "j_smith", "J_Smith", "j smith"):
        twin = copy.deepcopy(correct)
        twin.student = name
        entries.append((name, twin))
    return entries


@pytest.fixture(scope="module")
def by_name(hostile):
    return dict(hostile)


def test_the_hostile_notebooks_graded_as_their_code_deserves(by_name):
    escapes, diverging, img = by_name["escapes"], by_name["diverging"], by_name[IMG_NAME]
    assert escapes.status == diverging.status == img.status == "graded"
    cell = next(c for c in escapes.cells if c.status == "error")
    assert "\x1b]52;c;" in cell.error and "\x1b]0;tensorgrade" in cell.error and "\x1b]52;c;" in cell.output
    string_check = next(c for c in escapes.checks if c.id == "q2.string")
    assert string_check.status == "error" and "\x1b]52;c;" in string_check.message
    final = next(c for c in diverging.checks if c.id == "q3.final_loss")
    assert final.details["curve"][:2] == [1e308, -1e308] and len(final.details["curve"]) == 2000
    assert "<img src=x onerror=alert(1)>" in img.submission


# ---------------------------------------------------------------------------------------------
# The terminal: no escape sequence of the student's reaches it
# ---------------------------------------------------------------------------------------------

def rich_output(result, assignment, *, ta: bool, colour: bool) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=120, force_terminal=colour, color_system="truecolor" if colour else None,
                      legacy_windows=False)
    print_terminal_report(console, result, assignment, ta=ta, student="escapes")
    return buffer.getvalue()


@pytest.mark.parametrize("ta", [False, True], ids=["student", "ta"])
def test_terminal_report_shows_escape_sequences_as_text(by_name, a2_assignment, ta):
    result = by_name["escapes"]
    plain = rich_output(result, a2_assignment, ta=ta, colour=False)
    assert not RAW_CONTROL.search(plain), repr(RAW_CONTROL.search(plain))
    # What the student wrote is there, written out: the TA sees that it was an attack.
    assert "\\x1b]52;c;ZWNobyBvd25lZA==\\x07" in plain and "\\x9d0;c1-title\\x9c" in plain
    assert "\\x1b[2K\\x0d q2.string passed 10 / 10" in plain  # the CR that would overwrite the line
    assert "\\x1b]0;tensorgrade: all passed\\x07" in plain  # the thread's name, in the error
    assert "\\x1b]52;c;cHduZWQ=" in plain  # q2.string's error, the student's exception message
    # In colour, the only escape sequences are rich's own colours (SGR: ESC [ ... m).
    coloured = rich_output(result, a2_assignment, ta=ta, colour=True)
    rest = re.sub(r"\x1b\[[0-9;]*m", "", coloured)
    assert not RAW_CONTROL.search(rest), repr(rest[max(0, RAW_CONTROL.search(rest).start() - 40):][:80])


def test_terminal_report_of_each_student_is_clean(hostile, a2_assignment):
    for student, result in hostile:
        for ta in (False, True):
            buffer = io.StringIO()
            console = Console(file=buffer, width=100, force_terminal=False, color_system=None)
            print_terminal_report(console, result, a2_assignment, ta=ta, student=student)
            assert not RAW_CONTROL.search(buffer.getvalue()), (student, ta)


# ---------------------------------------------------------------------------------------------
# `tensorgrade report`: every file written, names apart, nothing raw, the plot clipped
# ---------------------------------------------------------------------------------------------

def run_report(hostile, tmp_path: Path, *, inject: bool = False) -> tuple[subprocess.CompletedProcess, Path]:
    results = tmp_path / "results.json"
    results.write_text(json.dumps([r.to_json() for _, r in hostile]))
    out = tmp_path / "reports"
    arguments = ["report", str(results), "--assignment", "a2_autograd", "--out", str(out),
                 "--assignment-dir", str(ROOT / "assignments" / "a2_autograd")]
    if inject:  # the command as the TA runs it, with a plot and one whole report made to fail
        command = [sys.executable, str(Path(__file__).with_name("report_failures.py")), *arguments]
    else:
        command = [sys.executable, "-m", "tensorgrade", *arguments]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env={**os.environ, "COLUMNS": "160", "PYTHONPATH": str(ROOT)})
    return proc, out


def files_of(out: Path, student: str) -> dict[str, Path]:
    name = file_name(student)
    return {"html": out / "students" / f"{name}.html", "md": out / "students" / f"{name}.md",
            "ta": out / "ta" / f"{name}.html"}


def outside_fences(markdown: str) -> str:
    """The Markdown without its fenced code blocks (shown as literal text by every renderer)."""
    out, fence = [], None
    for line in markdown.splitlines():
        match = re.match(r"^(`{3,})", line)
        if fence is None and match:
            fence = match.group(1)
        elif fence is not None and line.startswith(fence) and line.strip("`") == "":
            fence = None
        elif fence is None:
            out.append(line)
    return "\n".join(out)


@pytest.fixture(scope="module")
def report_run(hostile, tmp_path_factory):
    return run_report(hostile, tmp_path_factory.mktemp("report"))


def test_report_writes_every_student_and_the_dashboard(hostile, report_run):
    proc, out = report_run
    assert proc.returncode == 0, proc.stdout + proc.stderr
    dashboard = (out / "dashboard.html").read_text()
    for student, _ in hostile:
        for kind, path in files_of(out, student).items():
            assert path.is_file(), (student, kind)
            assert "could not be rendered" not in path.read_text(), (student, kind)
            assert not RAW_CONTROL.search(path.read_text()), (student, kind)  # written out in pages too
        assert f'href="students/{file_name(student)}.html"' in dashboard
    assert "could not be rendered" not in proc.stdout and "Reports that could not be rendered" not in dashboard
    assert not RAW_CONTROL.search(proc.stdout + proc.stderr)


def test_names_that_sanitise_alike_get_a_file_each(hostile, report_run):
    _, out = report_run
    names = [student for student, _ in hostile]
    paths = {files_of(out, s)["html"] for s in names}
    assert len(paths) == len(names)  # j~smith, j_smith, J_Smith, "j smith": four files
    on_disk = sorted(p.name for p in (out / "students").glob("*.html"))
    assert len(on_disk) == len(names) and len({n.lower() for n in on_disk}) == len(names)
    for student in ("j~smith", "j_smith", "J_Smith"):
        assert re.fullmatch(r"[jJ]_[sS]mith-[0-9a-f]{10}", file_name(student))
        page = html.unescape(files_of(out, student)["html"].read_text())
        assert f"{student} · " in page  # each file is that student's report


def test_diverging_losses_are_plotted_clipped_and_the_caption_says_so(report_run):
    _, out = report_run
    ta = files_of(out, "diverging")["ta"].read_text()
    figure = re.search(r"<figure>.*?</figure>", ta[ta.index('id="check-q3.final_loss"'):], re.S).group()
    assert "data:image/png;base64," in figure
    caption = html.unescape(re.search(r"<figcaption>(.*?)</figcaption>", figure, re.S).group(1))
    assert re.search(r"Plot: 2000 value\(s\) of your run, from step 0 \(-1e\+308 to 1e\+308\), are outside the "
                     r"chart's range 0 to [0-9.e+]+ and drawn clipped at its edge", caption), caption
    assert "could not be rendered" not in ta


def test_markdown_holds_no_raw_html_of_the_students(hostile, report_run):
    _, out = report_run
    for student, _ in hostile:
        markdown = files_of(out, student)["md"].read_text()
        text = outside_fences(markdown)
        assert not re.search(r"<[a-zA-Z/!?]", text), (student, re.search(r"<[a-zA-Z/!?].{0,40}", text))
        assert not RAW_CONTROL.search(markdown), student
    markdown = files_of(out, IMG_NAME)["md"].read_text()
    assert "&lt;img src=x onerror=alert(1)&gt;" in markdown and "\\x0a\\x0a&lt;img" in markdown
    # Rendered by a CommonMark renderer with raw HTML on (as GitHub-style viewers are): no element.
    from markdown_it import MarkdownIt

    rendered = MarkdownIt("commonmark", {"html": True}).render(markdown)
    assert "<img src=\"x\"" not in rendered and "<img src=x" not in rendered
    assert "&lt;img src=x onerror=alert(1)&gt;" in rendered
    escapes = files_of(out, "escapes")["md"].read_text()
    assert "\\x1b]52;c;ZWNobyBvd25lZA==\\x07" in escapes


def test_the_terminal_listing_and_the_html_escape_the_names(report_run):
    proc, out = report_run
    page = files_of(out, IMG_NAME)["html"].read_text()
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    dashboard = (out / "dashboard.html").read_text()
    assert "<img src=x" not in dashboard and "&lt;img src=x onerror=alert(1)&gt;" in dashboard


# ---------------------------------------------------------------------------------------------
# Failures: a plot and a whole report made to fail; the class's reports are still all written
# ---------------------------------------------------------------------------------------------

def test_a_failing_plot_and_a_failing_report_are_marked_and_the_run_completes(hostile, tmp_path):
    proc, out = run_report(hostile, tmp_path, inject=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    output = proc.stdout + proc.stderr
    assert not RAW_CONTROL.search(output), repr(output)
    # Every file is there, the dashboard too; later students' reports included.
    for student, _ in hostile:
        for kind, path in files_of(out, student).items():
            assert path.is_file(), (student, kind)
    dashboard = html.unescape((out / "dashboard.html").read_text())
    # The plot: marked where it would be in the TA view, listed on the dashboard and by the command.
    ta = html.unescape(files_of(out, "diverging")["ta"].read_text())
    assert "The loss curve could not be rendered: ValueError: arange: cannot compute length" in ta
    assert "the loss curve of q3.final_loss could not be rendered" in ta
    assert "diverging: TA view: the loss curve of q3.final_loss could not be rendered: ValueError: arange" in output
    assert re.search(r"TA view: the loss curve of q3.final_loss <span class=\"warn\">could not be rendered</span>"
                     r"</td><td class=\"small\">ValueError: arange", dashboard)
    # The whole report: its student's page says so (without the reason), the TA view has the reason.
    files = files_of(out, "escapes")
    student_page = files["html"].read_text()
    assert "This report could not be rendered; the course staff have been told" in student_page
    assert "RuntimeError" not in student_page
    assert "could not be rendered" not in files["md"].read_text()  # the Markdown rendered
    ta_page = html.unescape(files["ta"].read_text())
    assert "the student's report could not be rendered: RuntimeError: template failed \\x1b]0;x\\x07" in ta_page
    assert re.search(r"escapes</a></td><td>report <span class=\"warn\">could not be rendered</span></td>"
                     r"<td class=\"small\">RuntimeError: template failed", dashboard)
    assert "not rendered: 1" in dashboard and 'id="render-failures"' in dashboard
    assert "2 report(s) or part(s) could not be rendered" in output
    assert "escapes: report could not be rendered: RuntimeError: template failed \\x1b]0;x\\x07" in output
    # The others rendered as ever.
    assert "Known mistakes found" in files_of(out, IMG_NAME)["html"].read_text()
    assert "could not be rendered" not in files_of(out, "J_Smith")["ta"].read_text()


def test_write_reports_survives_a_dashboard_row_and_a_template_that_fail(hostile, a2_assignment, tmp_path,
                                                                         monkeypatch):
    """In process: a result the dashboard cannot take is listed, not fatal; a dashboard whose
    template fails is replaced by one that lists every student's reports and the failure."""
    broken = copy.deepcopy(hostile[3])
    broken[1].timing = {"total": "soon"}  # the dashboard's timing table cannot format it
    entries = hostile[:3] + [("broken", broken[1])] + hostile[3:]
    written = write_reports(entries, a2_assignment, tmp_path / "a")
    assert [f["what"] for f in written["failed"]] == ["dashboard row"]
    dashboard = html.unescape(written["dashboard"].read_text())
    assert "broken" in dashboard and "dashboard row" in dashboard and 'id="render-failures"' in dashboard
    assert all(path.is_file() for key in ("students", "markdown", "ta") for path in written[key].values())

    import tensorgrade.reports.dashboard as dashboard_module

    def failing_environment():
        raise RuntimeError("no templates")

    monkeypatch.setattr(dashboard_module, "environment", failing_environment)
    written = write_reports(hostile, a2_assignment, tmp_path / "b")
    page = written["dashboard"].read_text()
    assert "dashboard could not be rendered: RuntimeError: no templates" in page
    for student, _ in hostile:
        assert f'href="students/{file_name(student)}.html"' in page
    assert "<img src=x" not in page


def test_a_lone_surrogate_is_written_out_not_fatal(hostile, a2_assignment, tmp_path):
    """A notebook's JSON may hold a lone surrogate ("\\udc80"), which UTF-8 cannot encode."""
    student, result = copy.deepcopy(hostile[0])
    result.cells[-1].error = (result.cells[-1].error or "") + "\udc80"
    result.checks[0].message += " \ud800"
    written = write_reports([("lone \udc80 surrogate", result)], a2_assignment, tmp_path)
    assert written["failed"] == []
    for key in ("students", "markdown", "ta"):
        text = next(iter(written[key].values())).read_text(encoding="utf-8")
        assert "\\udc80" in text or "\\ud800" in text
    assert "lone \\udc80 surrogate" in written["dashboard"].read_text(encoding="utf-8")
    buffer = io.StringIO()
    print_terminal_report(Console(file=buffer, width=100), result, a2_assignment, ta=True, student=student)
    buffer.getvalue().encode("utf-8")


# ---------------------------------------------------------------------------------------------
# In a real browser: the reports and the Markdown rendered to HTML run nothing of the student's
# ---------------------------------------------------------------------------------------------

def run_chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"chromium-{uuid.uuid4().hex[:8]}"
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--no-first-run", f"--user-data-dir={profile}",
               "--enable-logging=stderr", "--v=0", *args]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120)
    shutil.rmtree(profile, ignore_errors=True)
    return proc


@needs_chromium
def test_browser_runs_nothing_of_the_students(report_run, tmp_path):
    from markdown_it import MarkdownIt

    _, out = report_run
    files = files_of(out, IMG_NAME)
    rendered = tmp_path / "markdown.html"
    rendered.write_text("<!doctype html><meta charset=utf-8><body>"
                        + MarkdownIt("commonmark", {"html": True}).render(files["md"].read_text()))
    for page in (files["html"], files["ta"], out / "dashboard.html", rendered):
        proc = run_chromium(tmp_path, "--dump-dom", page.as_uri())
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert '<img src="x"' not in proc.stdout and not re.search(r"<[a-z]+[^>]*\sonerror", proc.stdout), page
        assert "&lt;img src=x onerror=alert(1)&gt;" in proc.stdout, page
