"""Reports people read: the student's report (HTML, Markdown, terminal), the TA view, the class
dashboard and `tensorgrade report`, rendered from real gradings of the a2 samples and opened in a
real headless browser (Debian's chromium; those tests skip without it)."""

import copy
import html
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

import nbformat
import pytest
import yaml
from rich.console import Console

from tensorgrade.reports.dashboard import load_entries, write_reports
from tensorgrade.reports.diagnoses import KNOWN_DIAGNOSES
from tensorgrade.reports.render import _fence, render_html, render_markdown, write_student_report
from tensorgrade.reports.terminal import print_terminal_report
from tensorgrade.grading.results import SubmissionResult
from tensorgrade.safe_text import file_name, for_markdown
from conftest import ROOT

SAMPLES = ROOT / "solutions" / "a2_autograd" / "samples"
EXPECTED = yaml.safe_load((SAMPLES / "expected.yaml").read_text())
CHROMIUM = shutil.which("chromium")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                                    "(`apt-get install -y chromium`, or `make system-deps` as root)")
PLOT_BLUE = (0x1A, 0x73, 0xE8)  # the student's curve and the histogram's bars (tensorgrade.reports.plots.BLUE)


# ---------------------------------------------------------------------------------------------
# Fixtures: the a2 samples graded for real, plus a notebook that trips integrity and an invalid file
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def graded(a2_grader, tmp_path_factory):
    """[(student, result)] for every a2 sample, a cheating notebook and an invalid file."""
    folder = tmp_path_factory.mktemp("submissions")
    notebook = nbformat.read(str(SAMPLES / "correct.ipynb"), as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(
        "import math\nmath.isclose = lambda *a, **k: True\nprint('patched')\nvalues = [1, 2]\nvalues[5]"))
    nbformat.write(notebook, str(folder / "cheat.ipynb"))
    (folder / "broken.ipynb").write_text("{not json")
    paths = [SAMPLES / f"{name}.ipynb" for name in sorted(EXPECTED)] + [folder / "cheat.ipynb",
                                                                         folder / "broken.ipynb"]
    return [(path.stem, a2_grader.grade(path)) for path in paths]


@pytest.fixture(scope="module")
def by_student(graded):
    return dict(graded)


@pytest.fixture(scope="module")
def written(graded, a2_assignment, tmp_path_factory):
    return write_reports(graded, a2_assignment, tmp_path_factory.mktemp("reports"))


def hidden_secrets(result: SubmissionResult, assignment) -> list[str]:
    """Texts a student's report must never hold: each hidden check's message lines, description and
    the numbers of its details (thresholds, reference curves, expected values), in the forms a
    report would print them; what a public check of the same result shows anyway is left out."""
    public_text = " ".join(c.message + json.dumps(c.details) for c in result.checks if c.visibility == "public")
    secrets: set[str] = set()
    for check in result.checks:
        if check.visibility != "hidden":
            continue
        spec = assignment.check(check.id)
        if spec.description:
            secrets.add(spec.description)
        for line in check.message.splitlines():
            if len(line.strip()) >= 10 and line.strip() not in public_text:
                secrets.add(line.strip())
        numbers = []
        for key, value in check.details.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                numbers.append(value)
            elif isinstance(value, list) and value and isinstance(value[0], (int, float)):
                numbers += value[:25] + value[-25:]
            elif key == "mismatches":
                numbers += [m[k] for m in value for k in ("got", "expected")]
        for number in numbers:
            for text in (repr(number), f"{number:.6g}", f"{number:.4g}"):
                if "." in text and len(text) >= 4 and text not in public_text:
                    secrets.add(text)
    return sorted(secrets)


# ---------------------------------------------------------------------------------------------
# Student reports: what they show, and what they never show
# ---------------------------------------------------------------------------------------------

def test_samples_graded_as_expected(graded):
    results = dict(graded)
    for name, expected in EXPECTED.items():
        assert results[name].score == expected["score"], name
    assert results["broken"].status == "invalid"
    assert any("math.isclose" in finding for finding in results["cheat"].integrity)


@pytest.mark.parametrize("sample", sorted(EXPECTED) + ["cheat"])
def test_student_report_never_shows_hidden_inputs_messages_or_expected_values(by_student, a2_assignment, sample):
    result = by_student[sample]
    secrets = hidden_secrets(result, a2_assignment)
    assert result.status == "graded"
    page = html.unescape(render_html(result, a2_assignment))
    markdown = render_markdown(result, a2_assignment)
    terminal = Console(record=True, width=120, file=open(os.devnull, "w"))
    print_terminal_report(terminal, result, a2_assignment)
    text = terminal.export_text()
    for where, content in (("html", page), ("markdown", markdown), ("terminal", text)):
        leaked = [s for s in secrets if s in content]
        assert not leaked, f"{sample} {where} report shows hidden data: {leaked[:5]}"
        for finding in result.integrity:
            assert finding not in content, f"{sample} {where}: integrity finding in a student report"
        for check in result.checks:
            assert check.id in content
    # The TA view of the same result holds them: the test above would see a leak.
    # the page's text (code spans in messages are tags there)
    ta_page = html.unescape(re.sub(r"<[^>]+>", "", render_html(result, a2_assignment, ta=True)))
    failing_hidden = [c for c in result.checks if c.visibility == "hidden" and c.status != "passed"]
    for check in failing_hidden:
        assert check.message.split("\n")[0].replace("`", "") in ta_page


def test_hidden_threshold_and_reference_curve_stay_out_of_the_student_report(by_student, a2_assignment):
    result = by_student["forgot_zero_grad"]
    final = next(c for c in result.checks if c.id == "q3.final_loss")
    # The threshold `tensorgrade thresholds` derived from the reference (solutions/a2_autograd/thresholds.json).
    threshold = a2_assignment.implementations["q3.final_loss"].threshold.value
    assert final.visibility == "hidden" and final.details["threshold"] == pytest.approx(threshold)
    page = html.unescape(render_html(result, a2_assignment))
    for text in (f"{threshold:.4f}", f"{threshold:.4g}", "9.708", "it must be below", "reference-derived threshold",
                 "data:image/png"):
        assert text not in page
    assert re.search(r'id="check-q3\.final_loss"', page)
    ta_page = render_html(result, a2_assignment, ta=True)
    assert f"{threshold:.4f}" in ta_page and "data:image/png;base64," in ta_page and "math.isclose" not in ta_page


def test_train_legendre_losses_are_per_step_and_say_steps(by_student, a2_assignment):
    """a2's train_legendre returns a loss per step: its plot counts steps from 0, and says steps."""
    from tensorgrade.reports.plots import loss_curve_figure

    result = by_student["forgot_zero_grad"]
    final = next(c for c in result.checks if c.id == "q3.final_loss")
    ta_page = html.unescape(render_html(result, a2_assignment, ta=True))
    caption = re.search(r"<figcaption>(.*?)</figcaption>", ta_page[ta_page.index('id="check-q3.final_loss"'):],
                        re.S).group(1)
    assert caption.startswith("Your run: 2000 steps, final ") and "epoch" not in caption, caption
    figure, _ = loss_curve_figure(final.details)
    axis = figure.axes[0]
    run = next(line for line in axis.lines if line.get_label() == "your run")
    steps = list(run.get_xdata())  # up to where it reaches NaN/inf
    assert steps == list(range(len(steps))) and len(steps) > 100 and axis.get_xlabel() == "step"
    assert all(float(t).is_integer() for t in axis.get_xticks())


def test_student_report_explains_the_diagnosis_and_shows_expected_versus_got(by_student, a2_assignment):
    result = by_student["backward_missing_factor"]
    page = html.unescape(render_html(result, a2_assignment))
    assert re.search(r'<span class="got">7</span><span class="of">/ 10</span>', page)
    backward = next(c for c in result.checks if c.id == "q1.backward")
    known = KNOWN_DIAGNOSES["backward-missing-factor"]
    mistake = next(m for m in a2_assignment.mistakes if m.name == "backward-missing-factor")
    assert known.title in page and known.lecture in page and mistake.explanation in page
    assert f"Entries that differ: {backward.details['mismatched']} of {backward.details['total']}" in page
    for row in backward.details["mismatches"]:
        assert f"{row['got']:.6g}" in page and f"{row['expected']:.6g}" in page
    assert "0.667" in page  # the ratio of every entry
    markdown = render_markdown(result, a2_assignment)
    assert "## Score: 7 / 10" in markdown and known.title in markdown and "| index | yours | expected | ratio |" in markdown


def test_student_report_shows_the_failing_cell_and_trimmed_traceback(by_student, a2_assignment):
    page = render_html(by_student["crashing"], a2_assignment)
    assert 'class="ln failing"><span class="no">9</span><span class="tx">        y_pred = a + b * P3(c + d * X)' in page
    assert "NameError: name &#39;X&#39; is not defined" in page and "your code only" in page
    cheat = render_html(by_student["cheat"], a2_assignment)
    assert "Where your code failed" in cheat and "While your notebook ran, cell" in cheat
    assert "IndexError: list index out of range" in cheat
    assert "isclose" in cheat  # the student's own cell source is theirs to see
    assert "was replaced by" not in cheat and "Integrity findings" not in cheat


def test_terminal_report_is_rich_per_question_with_explanations(by_student, a2_assignment):
    console = Console(record=True, width=100, file=open(os.devnull, "w"))
    print_terminal_report(console, by_student["crashing"], a2_assignment)
    text = console.export_text()
    assert "total: 7 / 10" in text
    assert re.search(r"q3 train_legendre: gradient descent by hand\s+0 / 3", text)
    assert "✗ error" in text and "NameError: name 'X' is not defined" in text and "❱  9" in text
    console = Console(record=True, width=100, file=open(os.devnull, "w"))
    print_terminal_report(console, by_student["forgot_zero_grad"], a2_assignment)
    text = console.export_text()
    assert "Gradients are never reset (forgot-zero-grad)" in text and "Lecture: Training loops" in text
    assert "[0]['b'] is not close: yours -1.00272, expected -1.0009" in text and "it must be below" not in text


def test_invalid_submission_report_says_why(by_student, a2_assignment):
    page = html.unescape(render_html(by_student["broken"], a2_assignment))
    assert "could not be graded" in page and "not valid notebook JSON" in page


def test_markdown_escapes_student_text():
    assert for_markdown("<script>alert(1)</script> *x*") == "&lt;script&gt;alert(1)&lt;/script&gt; \\*x\\*"
    assert _fence("a ``` b").startswith("````\n")


# ---------------------------------------------------------------------------------------------
# The dashboard and `tensorgrade report`
# ---------------------------------------------------------------------------------------------

def test_write_reports_writes_every_student_and_the_dashboard(written, graded):
    dashboard = written["dashboard"].read_text()
    for student, _ in graded:
        assert written["students"][student].is_file() and written["markdown"][student].is_file()
        assert written["ta"][student].is_file()
        name = file_name(student)
        assert f'href="students/{name}.html"' in dashboard and f'href="ta/{name}.html"' in dashboard
    text = html.unescape(dashboard)
    assert "data:image/png;base64," in dashboard  # the score histogram
    assert re.search(r'<span class="tag">not-implemented</span>.*?<td class="num"[^>]*>2</td><td class="num"[^>]*>1</td>',
                     text, re.S)  # stub_left: two checks, one student
    assert "math.isclose was replaced by" in text and "not valid notebook JSON" in text
    for check in ("q1.forward", "q1.gradcheck", "q3.final_loss"):
        assert f"<code>{check}</code>" in text
    assert "Slowest submissions" in text


def test_cli_report_from_a_results_file(graded, tmp_path):
    results = tmp_path / "results.json"
    results.write_text(json.dumps([r.to_json() for _, r in graded]))
    out = tmp_path / "reports"
    proc = subprocess.run([sys.executable, "-m", "tensorgrade", "report", str(results), "--assignment", "a2_autograd",
                           "--out", str(out), "--assignment-dir", str(ROOT / "assignments" / "a2_autograd")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (out / "dashboard.html").is_file()
    correct = file_name("correct")
    assert (out / "students" / f"{correct}.html").is_file() and (out / "students" / f"{correct}.md").is_file()
    assert "Known mistakes" in (out / "students" / f"{file_name('wrong_gradient_sign')}.html").read_text()



def test_cli_report_takes_the_assignment_folder_as_grade_does(graded, tmp_path):
    results = tmp_path / "results.json"
    results.write_text(json.dumps([r.to_json() for _, r in graded]))
    out = tmp_path / "reports"
    proc = subprocess.run([sys.executable, "-m", "tensorgrade", "report", str(results),
                           "--assignment", str(ROOT / "assignments" / "a2_autograd"), "--out", str(out)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "not found" not in proc.stdout
    assert "Known mistakes" in (out / "students" / f"{file_name('wrong_gradient_sign')}.html").read_text()

# ---------------------------------------------------------------------------------------------
# In a real browser: loads cleanly, shows the score and every check, plots visible
# ---------------------------------------------------------------------------------------------

def run_chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"chromium-{uuid.uuid4().hex[:8]}"
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--no-first-run", f"--user-data-dir={profile}",
               "--enable-logging=stderr", "--v=0", *args]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120)
    shutil.rmtree(profile, ignore_errors=True)
    return proc


def console_messages(stderr: str) -> list[str]:
    """The page's console output as chromium logs it (the pages hold no script: there should be none)."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


def assert_self_contained(page: str) -> None:
    assert "<script" not in page.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page, re.I)
    assert not re.search(r"@import|url\(\s*['\"]?https?:", page, re.I)


def screenshot(tmp_path: Path, page: Path, name: str) -> Path:
    shots = Path(os.environ.get("TENSORGRADE_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    png = shots / f"{name}.png"
    proc = run_chromium(tmp_path, "--hide-scrollbars", "--window-size=1200,3000", f"--screenshot={png}",
                        page.as_uri())
    assert png.is_file(), proc.stderr[-2000:]
    assert not console_messages(proc.stderr), console_messages(proc.stderr)
    return png


def plot_pixels(png: Path) -> tuple[int, tuple[int, int, int, int] | None]:
    """How many pixels have the plots' blue, and their bounding box."""
    from PIL import Image
    import numpy as np

    pixels = np.asarray(Image.open(png).convert("RGB")).astype(int)
    mask = (np.abs(pixels - np.array(PLOT_BLUE)) <= 12).all(axis=2)
    if not mask.any():
        return 0, None
    rows, cols = np.where(mask)
    return int(mask.sum()), (int(cols.min()), int(rows.min()), int(cols.max()), int(rows.max()))


@needs_chromium
def test_browser_student_reports_load_cleanly_with_score_and_every_check(written, graded, a2_assignment, tmp_path):
    for student, result in graded:
        path = written["students"][student]
        page = path.read_text()
        assert_self_contained(page)
        proc = run_chromium(tmp_path, "--dump-dom", path.as_uri())
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert not console_messages(proc.stderr), (student, console_messages(proc.stderr))
        dom = html.unescape(proc.stdout)
        assert re.search(rf'id="score">\s*<span class="got">{result.score:g}</span><span class="of">/ '
                         rf'{result.max_score:g}</span>', dom), student
        for check in result.checks:
            assert f'id="check-{check.id}"' in dom and f">{check.id}</code>" in dom, (student, check.id)
        leaked = [s for s in hidden_secrets(result, a2_assignment) if s in dom] if result.status == "graded" else []
        assert not leaked, (student, leaked[:5])


@needs_chromium
def test_browser_loss_curve_is_visible_in_the_ta_view(written, tmp_path):
    page = written["ta"]["forgot_zero_grad"]
    assert_self_contained(page.read_text())
    png = screenshot(tmp_path, page, "ta-forgot_zero_grad")
    count, box = plot_pixels(png)
    assert count > 400 and box is not None, count
    assert box[2] - box[0] > 150 and box[3] - box[1] > 100, box  # a curve across the axes, not a chip


@needs_chromium
def test_browser_public_training_check_plots_in_the_student_report(by_student, a2_assignment, tmp_path):
    """An assignment whose training check is public: the student sees their curve against the reference."""
    result = copy.deepcopy(by_student["forgot_zero_grad"])
    for check in result.checks:
        if check.id == "q3.final_loss":
            check.visibility = "public"
    path = write_student_report(result, a2_assignment, tmp_path / "out", name="public_curve")
    page = path.read_text()
    assert_self_contained(page)
    assert page.count("data:image/png;base64,") == 1 and "NaN/inf from step" in page
    png = screenshot(tmp_path, path, "student-public-curve")
    count, box = plot_pixels(png)
    assert count > 400 and box[2] - box[0] > 150 and box[3] - box[1] > 100, (count, box)


@needs_chromium
def test_browser_dashboard_loads_with_histogram_and_links(written, graded, tmp_path):
    page = written["dashboard"]
    assert_self_contained(page.read_text())
    proc = run_chromium(tmp_path, "--dump-dom", page.as_uri())
    assert not console_messages(proc.stderr), console_messages(proc.stderr)
    dom = html.unescape(proc.stdout)
    for student, _ in graded:
        assert f'href="students/{file_name(student)}.html"' in dom
    assert "math.isclose was replaced by" in dom
    png = screenshot(tmp_path, page, "dashboard")
    count, box = plot_pixels(png)
    assert count > 2000 and box[3] - box[1] > 60, (count, box)  # the histogram's bars


# ---------------------------------------------------------------------------------------------
# The student side: `tensorgrade check` prints the rich report and writes the HTML beside the notebook
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def a2_release_folder(tmp_path_factory):
    from tensorgrade.course.release.gate import release_assignment

    out = tmp_path_factory.mktemp("release")
    report = release_assignment(ROOT / "assignments" / "a2_autograd", out)
    assert report.ok, [p.message for p in report.problems]
    folder = tmp_path_factory.mktemp("student") / "a2_autograd"
    with zipfile.ZipFile(report.zip_path) as archive:
        archive.extractall(folder.parent)
    return folder


def test_student_check_prints_rich_report_and_writes_html(a2_release_folder, tmp_path):
    folder = a2_release_folder
    released = nbformat.read(str(folder / "a2_autograd.ipynb"), as_version=4)
    sample = nbformat.read(str(SAMPLES / "wrong_gradient_sign.ipynb"), as_version=4)
    answers = {c.metadata["tensorgrade"]["question"]: c.source for c in sample.cells
               if c.metadata.get("tensorgrade", {}).get("answer")}
    for cell in released.cells:
        marker = cell.metadata.get("tensorgrade", {})
        if marker.get("answer"):
            cell.source = answers[marker["question"]]
    notebook = folder / "mine.ipynb"
    nbformat.write(released, str(notebook))
    proc = subprocess.run([sys.executable, "-m", "tensorgrade", "check", "mine.ipynb"], cwd=folder,
                          capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "120"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "total: 3 / 5" in out and "Gradient with the wrong sign (wrong-gradient-sign)" in out
    assert "Lecture: Custom autograd Functions" in out and "q3.final_loss" not in out
    page_path = folder / "mine.report.html"
    assert page_path.is_file() and f"report: {page_path}" in out
    page = page_path.read_text()
    assert_self_contained(page)
    assert "q1.backward" in page and "q3.final_loss" not in page and "Known mistakes found" in page
    if CHROMIUM:
        proc = run_chromium(tmp_path, "--dump-dom", page_path.as_uri())
        assert not console_messages(proc.stderr)
        assert re.search(r'<span class="got">3</span><span class="of">/ 5</span>', proc.stdout)


def test_student_check_report_shows_no_path_of_the_machine(a2_release_folder, tmp_path):
    """`tensorgrade check` on a notebook whose cell prints where it runs and what it imports, then
    opens a file by its absolute path: the terminal report and the HTML report name the notebook
    from its own folder and show those paths relative (to where the notebook ran, to site-packages),
    never /tmp/..., /work/..., /root/... or the grader's install paths."""
    folder = a2_release_folder
    released = nbformat.read(str(folder / "a2_autograd.ipynb"), as_version=4)
    sample = nbformat.read(str(SAMPLES / "correct.ipynb"), as_version=4)
    answers = {c.metadata["tensorgrade"]["question"]: c.source for c in sample.cells
               if c.metadata.get("tensorgrade", {}).get("answer")}
    for cell in released.cells:
        marker = cell.metadata.get("tensorgrade", {})
        if marker.get("answer"):
            cell.source = answers[marker["question"]]
    released.cells.append(nbformat.v4.new_code_cell(
        'import os, sys\nprint("working in", os.getcwd())\nprint("python", sys.executable, "torch from", torch.__file__)\n'
        'open(os.path.join(os.getcwd(), "legendre_points.csv"))'))
    nbformat.write(released, str(folder / "where_am_i.ipynb"))
    proc = subprocess.run([sys.executable, "-m", "tensorgrade", "check", "where_am_i.ipynb"], cwd=folder,
                          capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "160"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    page = html.unescape((folder / "where_am_i.report.html").read_text())
    # The terminal's last line says where the report file is, on the student's own machine: theirs.
    terminal = "\n".join(line for line in proc.stdout.splitlines() if not line.startswith("  report: "))
    assert "total: 5 / 5" in terminal
    forbidden = sorted({"/tmp/", "/work/", "/root/", str(folder), sys.prefix, sys.base_prefix, str(ROOT)})
    for where, content in (("terminal", terminal), ("html", page)):
        leaked = [path for path in forbidden if path in content]
        assert not leaked, (where, leaked, [line for line in content.splitlines() if any(p in line for p in leaked)][:3])
        assert "No such file or directory: 'legendre_points.csv'" in content, where
    assert "<code>where_am_i.ipynb</code>" in page and "where_am_i.ipynb" in terminal.splitlines()[0]
    assert "working in ." in page and "torch from site-packages/torch/__init__.py" in page


def test_student_check_shows_escape_sequences_as_text(a2_release_folder):
    """`tensorgrade check` on a notebook whose cells print and raise terminal escape sequences (OSC
    52 clipboard writes, the window title, a screen clear and a fake score, C1 controls): none
    reaches the terminal raw; each is written out."""
    folder = a2_release_folder
    released = nbformat.read(str(folder / "a2_autograd.ipynb"), as_version=4)
    sample = nbformat.read(str(SAMPLES / "correct.ipynb"), as_version=4)
    answers = {c.metadata["tensorgrade"]["question"]: c.source for c in sample.cells
               if c.metadata.get("tensorgrade", {}).get("answer")}
    for cell in released.cells:
        marker = cell.metadata.get("tensorgrade", {})
        if marker.get("answer"):
            cell.source = answers[marker["question"]]
    released.cells.append(nbformat.v4.new_code_cell(
        'def _string(self):\n'
        '    raise ValueError("\\x1b]52;c;cHduZWQ=\\x07\\x1b[2J\\x1b]0;all passed\\x07\\x9b32m total: 5 / 5")\n'
        'Polynomial3.string = _string\n'
        'raise RuntimeError("\\x1b[1A\\x1b[2K\\r\\x1b[32m✓ everything passed\\x1b[0m\\x1b]52;c;cHduZWQ=\\x07")'))
    notebook = folder / "hostile.ipynb"
    nbformat.write(released, str(notebook))
    proc = subprocess.run([sys.executable, "-m", "tensorgrade", "check", "hostile.ipynb", "--no-html"], cwd=folder,
                          capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "120"})
    output = proc.stdout + proc.stderr
    assert "q2.string" in proc.stdout and "total: 4 / 5" in proc.stdout, output
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", output), repr(output)
    assert "\\x1b]52;c;cHduZWQ=\\x07" in output and "\\x9b32m" in output and "\\x0d" in output


def test_load_entries_reads_the_gradebook_through_its_results_api(graded, tmp_path, monkeypatch):
    """`tensorgrade report grades.db` asks the gradebook for (student, result with overrides) pairs."""
    import types

    calls = []

    class FakeGradebook:
        def __init__(self, path):
            calls.append(Path(path))

        def results(self, assignment_id):
            calls.append(assignment_id)
            return graded[:2]

    monkeypatch.setitem(sys.modules, "tensorgrade.classroom.gradebook", types.SimpleNamespace(Gradebook=FakeGradebook))
    database = tmp_path / "grades.db"
    database.write_bytes(b"")
    assert load_entries(database, "a2_autograd") == graded[:2]
    assert calls == [database, "a2_autograd"]
