"""A TA's class, end to end, as the TA ran it: the reports, the dashboard and what a student sees.

Six a4 notebooks (the course's samples, two with cells of the kinds real notebooks have) are zipped
the way "compress folder" zips a class, graded for real with `tensorgrade grade class.zip
--gradebook grades.db`, two checks overridden with `tensorgrade override`, and reported with
`tensorgrade report` and `tensorgrade export --format gradescope`:

* a failing cell's listing and traceback appear once per report, and each check it broke refers
  to it (the crashing sample: five public checks, one listing);
* nothing a student sees (their HTML and Markdown report, the terminal report, Gradescope's
  results.json) holds an absolute path of the grading machine: the sandbox's working folder, the
  Python and its site-packages, the class's folder; the notebook is named inside the zip;
* the dashboard shows each crashed submission's main failure and marks the overridden checks, as
  the reports do;
* the loss plot over epochs numbers its epochs as whole numbers, and its caption says epochs;
* in headless Chromium, the dashboard's diagnosis chips stay inside their cards at a narrow width.
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
import zipfile
from pathlib import Path

import nbformat
import pytest
from rich.console import Console

import tensorgrade
from tensorgrade.classroom.gradebook import Gradebook
from tensorgrade.reports.dashboard import write_reports
from tensorgrade.reports.diagnoses import KNOWN_DIAGNOSES
from tensorgrade.reports.plots import loss_curve_figure
from tensorgrade.reports.render import render_markdown
from tensorgrade.reports.terminal import print_terminal_report
from tensorgrade.safe_text import file_name
from conftest import ROOT

A4 = ROOT / "assignments" / "a4_training"
SAMPLES = ROOT / "solutions" / "a4_training" / "samples"
CHROMIUM = shutil.which("chromium")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")

# A cell of the kind real notebooks have: it prints where it runs and what it imports, then opens a
# file by its absolute path (the sandbox's working folder).
PATHS_CELL = '''import os, sys
print("working in", os.getcwd())
print("python", sys.executable, "torch from", torch.__file__)
open(os.path.join(os.getcwd(), "my_mnist.csv"))
'''
PUBLIC_ERRORS = ["q3.mean_loss", "q3.update", "q3.device", "q4.losses", "q4.device"]  # crashing's public errors
HIDDEN_ERRORS = ["q3.zero_grad", "q3.train_mode", "q4.decreases"]


def tensorgrade_cli(*arguments: str, cwd: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "tensorgrade", *arguments], cwd=cwd, capture_output=True,
                          text=True, timeout=900, env={**os.environ, "COLUMNS": "160"})
    assert proc.returncode == 0, (arguments, proc.stdout[-3000:], proc.stderr[-3000:])
    return proc


def grader_paths(*more: Path | str) -> list[str]:
    """Absolute paths of the grading machine a student must never see."""
    found = {"/tmp/", "/work/", "/root/", sys.prefix, sys.base_prefix, str(tensorgrade.package_dir()), str(ROOT)}
    return sorted(found | {str(p) for p in more})


@pytest.fixture(scope="module")
def a4_class(tmp_path_factory):
    """The class graded, overridden and reported through the command line, as a TA does."""
    base = tmp_path_factory.mktemp("ta")
    folder = base / "class"
    notebooks = {
        "alice": nbformat.read(str(SAMPLES / "crashing.ipynb"), as_version=4),
        "bob": nbformat.read(str(SAMPLES / "forgot_zero_grad.ipynb"), as_version=4),
        "carol": nbformat.read(str(SAMPLES / "correct.ipynb"), as_version=4),
        "dave": nbformat.read(str(SAMPLES / "correct.ipynb"), as_version=4),
    }
    notebooks["carol"].cells.append(nbformat.v4.new_code_cell(PATHS_CELL))
    get_device = next(c for c in notebooks["dave"].cells if c.source.startswith("def get_device"))
    get_device.source = "import torchvision_extras_nobody_has\n" + get_device.source  # a missing module
    for student, notebook in notebooks.items():
        (folder / student).mkdir(parents=True)
        nbformat.write(notebook, str(folder / student / "a4_training.ipynb"))
    (folder / "erin").mkdir()
    (folder / "erin" / "a4_training.ipynb").write_text("{not json")
    archive = base / "class.zip"
    with zipfile.ZipFile(archive, "w") as out:  # what "compress folder" makes: one top folder
        for path in sorted(folder.rglob("*.ipynb")):
            out.write(path, path.relative_to(base).as_posix())
    shutil.rmtree(folder)  # only the zip is left: the reports read the notebooks from it
    tensorgrade_cli("grade", str(A4), str(archive), "--gradebook", "grades.db", cwd=base)
    tensorgrade_cli("override", "grades.db", "--student", "alice", "--check", "q3.mean_loss", "--points", "1",
                    "--comment", "a typo: the idea is right", cwd=base)
    tensorgrade_cli("override", "grades.db", "--student", "bob", "--check", "q4.decreases", "--points", "1",
                    "--comment", "rerun by hand: it learns on seed 3", cwd=base)
    report = tensorgrade_cli("report", "grades.db", "--assignment", str(A4), "--out", "reports", cwd=base)
    tensorgrade_cli("export", "grades.db", "--assignment", "a4_training", "--format", "gradescope", "--out",
                    "gradescope", cwd=base)
    with Gradebook(base / "grades.db", create=False) as gradebook:
        entries = gradebook.results("a4_training")
    return {"base": base, "archive": archive, "out": base / "reports", "entries": dict(entries),
            "ordered": entries, "report_output": report.stdout}


def files_of(out: Path, student: str) -> dict[str, Path]:
    name = file_name(student)
    return {"html": out / "students" / f"{name}.html", "md": out / "students" / f"{name}.md",
            "ta": out / "ta" / f"{name}.html"}


def terminal_report(result, assignment=None, ta: bool = False) -> str:
    buffer = io.StringIO()
    print_terminal_report(Console(file=buffer, width=160, color_system=None), result, assignment, ta=ta)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def a4_assignment():
    from tensorgrade.course.assignment import load_assignment

    return load_assignment(A4)


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def test_the_class_was_graded_from_the_zip(a4_class):
    entries = a4_class["entries"]
    assert sorted(entries) == ["alice", "bob", "carol", "dave", "erin"]
    assert entries["erin"].status == "invalid"
    assert all(entries[s].status == "graded" for s in ("alice", "bob", "carol", "dave"))
    assert entries["alice"].submission.endswith("class.zip:class/alice/a4_training.ipynb")
    errors = [c.id for c in entries["alice"].checks if c.details.get("override", {}).get("autograder_status",
                                                                                         c.status) == "error"]
    assert sorted(errors) == sorted(PUBLIC_ERRORS + HIDDEN_ERRORS), errors
    assert next(c for c in entries["alice"].checks if c.id == "q3.mean_loss").status == "passed"  # overridden


# ---------------------------------------------------------------------------------------------
# A failing cell's listing and traceback: once per report, referenced from each check it broke
# ---------------------------------------------------------------------------------------------

def test_a_failing_cell_is_listed_once_and_each_check_it_broke_refers_to_it(a4_class, a4_assignment):
    files = files_of(a4_class["out"], "alice")
    page = files["html"].read_text()
    # The listing of cell 9 (read from the zip: the notebook is nowhere else), its failing line once.
    assert page.count('<div class="ln failing"><span class="no">7</span><span class="tx">        logits = '
                      'model(image)</span></div>') == 1
    assert page.count('<section class="card failures" id="failures">') == 1
    failure = page[page.index('id="failures"'):page.index('<section class="card question"')]
    # Two tracebacks reach line 7 (train_one_epoch called directly, and through fit): each once.
    assert failure.count("Traceback (most recent call last, your code only)") == 2
    assert page.count("Traceback (most recent call last, your code only)") == 2
    assert page.count("NameError: name &#39;image&#39; is not defined</pre>") == 2
    for check in PUBLIC_ERRORS:  # every check it broke links to it, and is linked from it
        article = re.search(rf'<article class="check [a-z]+" id="check-{re.escape(check)}">.*?</article>', page,
                            re.S).group()
        assert 'href="#failure-1">cell 9, line 7</a>' in article, check
        assert "Traceback" not in article and 'class="cell"' not in article, check
        assert f'href="#check-{check}"' in failure, check
    for check in HIDDEN_ERRORS:  # hidden: their result only, never named with a traceback
        assert f'href="#check-{check}"' not in failure
    # The Markdown and the terminal: the same, once.
    markdown = files["md"].read_text()
    assert markdown.count("        logits = model(image)\n") == 1
    assert markdown.count("Traceback (most recent call last, your code only)") == 2
    assert markdown.count("its listing and traceback are under *Where your code failed*, failure 1") == 4
    terminal = terminal_report(a4_class["entries"]["alice"], a4_assignment)
    assert len(re.findall(r"❱\s+7\s+logits = model\(image\)", terminal)) == 1
    assert terminal.count("Traceback (most recent call last, your code only)") == 2
    assert terminal.count("your code raised in cell 9, line 7: failure 1, below") == 4
    # The TA view: the hidden checks too, still once.
    ta = files["ta"].read_text()
    assert ta.count('<span class="no">7</span><span class="tx">        logits = model(image)') == 1
    assert ta.count("Traceback (most recent call last, your code only)") == 2
    for check in PUBLIC_ERRORS + HIDDEN_ERRORS:
        assert f'href="#check-{check}"' in ta[ta.index('id="failures"'):]


def test_a_cell_that_failed_while_the_notebook_ran_is_listed_once(a4_class):
    """dave's get_device cell imports a module the grader lacks: the cell is listed once, with the
    checks that found get_device not defined, and the cells that called it while the notebook ran."""
    page = files_of(a4_class["out"], "dave")["html"].read_text()
    text = text_of(page)
    assert page.count('<span class="tx">import torchvision_extras_nobody_has</span>') == 1
    assert "While your notebook ran, cell 5 failed" in text
    assert page.count("Traceback (most recent call last") == 1
    blocked = re.search(r"Checks that fail because this cell did not define what they need: ([^\n]*)", text).group(1)
    assert "q1.returns_device" in blocked and "q1.availability" in blocked
    article = re.search(r'<article class="check [a-z]+" id="check-q1.returns_device">.*?</article>', page, re.S).group()
    assert "A cell failed while your notebook ran" in article and 'href="#failure-' in article


# ---------------------------------------------------------------------------------------------
# No absolute path of the grading machine in anything a student sees
# ---------------------------------------------------------------------------------------------

def test_a_students_report_and_gradescope_output_hold_no_grader_path(a4_class, a4_assignment):
    base, out = a4_class["base"], a4_class["out"]
    forbidden = grader_paths(base, a4_class["archive"])
    carol = files_of(out, "carol")
    page = text_of(carol["html"].read_text())
    # What carol's cell printed and raised, with the paths made relative to where the notebook ran.
    assert "working in ." in page and "torch from site-packages/torch/__init__.py" in page
    assert "No such file or directory: 'my_mnist.csv'" in page
    gradescope = {student: base / "gradescope" / folder / "results.json"
                  for folder, student in json.loads((base / "gradescope" / "index.json").read_text()).items()}
    assert "my_mnist.csv" in gradescope["carol"].read_text()  # the cell's error, its path made relative
    for student, result in a4_class["entries"].items():
        files = files_of(out, student)
        shown = {"html": text_of(files["html"].read_text()), "md": files["md"].read_text(),
                 "terminal": terminal_report(result, a4_assignment), "gradescope": gradescope[student].read_text()}
        for where, content in shown.items():
            leaked = [path for path in forbidden if path in content]
            assert not leaked, (student, where, leaked, [line for line in content.splitlines()
                                                         if any(p in line for p in leaked)][:3])
        # The notebook, named inside the zip (the class's folder, then the student's).
        named = f"class/{student}/a4_training.ipynb"
        assert named in shown["html"] and named in shown["terminal"], student
        assert named in shown["md"].replace("\\_", "_"), student
    # erin's invalid notebook says why, with the file named as inside the zip.
    erin = text_of(files_of(out, "erin")["html"].read_text())
    assert "class/erin/a4_training.ipynb: not valid notebook JSON" in erin
    # The TA's view keeps where the file is on the grading machine.
    assert str(a4_class["archive"]) in text_of(files_of(out, "alice")["ta"].read_text())


# ---------------------------------------------------------------------------------------------
# The dashboard: crashed submissions' main failure, overridden checks marked (reports too)
# ---------------------------------------------------------------------------------------------

def test_the_dashboard_shows_each_crashed_submissions_main_failure(a4_class):
    dashboard = (a4_class["out"] / "dashboard.html").read_text()
    students = {}
    for row in re.findall(r'<tr id="student-\d+">.*?</tr>', dashboard, re.S):
        name = text_of(re.search(r"<td>(.*?)</td>", row).group(1))
        failure = re.search(r'<div class="main-failure small">(.*?)</div>', row)
        students[name] = html.unescape(failure.group(1)) if failure else None
    assert students["alice"] == "8 checks raised NameError: name 'image' is not defined (cell 9, line 7)"
    assert students["dave"].startswith("cell 5 failed while the notebook ran: ModuleNotFoundError: No module named "
                                       "'torchvision_extras_nobody_has'"), students["dave"]
    assert students["carol"].startswith("cell 14 failed while the notebook ran: FileNotFoundError"), students["carol"]
    assert "not valid notebook JSON" in students["erin"]
    assert students["bob"] is None  # a wrong training loop, not a crash
    problems = text_of(dashboard[dashboard.index('id="problems"'):dashboard.index('id="students"')])
    assert "cell error" in problems and "ModuleNotFoundError" in problems and "not valid notebook JSON" in problems


def test_overridden_checks_are_marked_on_the_dashboard_and_in_the_reports(a4_class):
    out = a4_class["out"]
    dashboard = (out / "dashboard.html").read_text()
    assert re.search(r'id="overrides"><div class="value">2</div>', dashboard)
    rows = {text_of(re.search(r"<td>(.*?)</td>", row).group(1)): row
            for row in re.findall(r'<tr id="student-\d+">.*?</tr>', dashboard, re.S)}
    assert "TA override ×1" in rows["alice"] and "overridden: q3.mean_loss" in rows["alice"]
    assert "TA override ×1" in rows["bob"] and "overridden: q4.decreases" in rows["bob"]
    assert "TA override" not in rows["carol"]
    assert dashboard.count('<span class="badge override">1 overridden</span>') == 2  # q3.mean_loss, q4.decreases
    # alice's public check: marked, with the points, the autograder's and the TA's comment, once.
    alice = files_of(out, "alice")
    page = alice["html"].read_text()
    article = re.search(r'<article class="check [a-z]+" id="check-q3.mean_loss">.*?</article>', page, re.S).group()
    assert '<span class="badge override">TA override</span>' in article
    assert "Points set by the TA: 1 / 1 (the autograder gave 0, error): a typo: the idea is right" in text_of(article)
    assert text_of(page).count("a typo: the idea is right") == 1
    assert "TA override on 1 check: q3.mean_loss" in text_of(page)
    assert "`q3.mean_loss` (TA override) | 1 / 1 (autograder: 0)" in alice["md"].read_text()
    # bob's hidden check: marked, with its points, but not the comment (a hidden check shows only
    # its result); the TA view has the comment.
    bob = files_of(out, "bob")
    page = bob["html"].read_text()
    article = re.search(r'<article class="check [a-z]+" id="check-q4.decreases">.*?</article>', page, re.S).group()
    assert '<span class="badge override">TA override</span>' in article
    assert "Points set by the TA: 1 / 1 (the autograder gave 0, failed)" in text_of(article)
    assert "seed 3" not in text_of(page) and "seed 3" not in bob["md"].read_text()
    assert "rerun by hand: it learns on seed 3" in text_of(bob["ta"].read_text())
    assert "TA override (autograder: 0)" in terminal_report(a4_class["entries"]["bob"])


# ---------------------------------------------------------------------------------------------
# Loss plots over epochs: whole epochs, and captions that say epochs
# ---------------------------------------------------------------------------------------------

def test_loss_plots_over_epochs_count_whole_epochs_and_say_so(a4_class):
    bob = a4_class["entries"]["bob"]
    decreases = next(c for c in bob.checks if c.id == "q4.decreases")
    ta = files_of(a4_class["out"], "bob")["ta"].read_text()
    section = ta[ta.index('id="check-q4.decreases"'):]
    figure = re.search(r"<figure>.*?</figure>", section, re.S).group()
    caption = text_of(re.search(r"<figcaption>(.*?)</figcaption>", figure, re.S).group(1))
    assert caption.startswith("Your run: after 0 to 4 epochs, final "), caption
    assert "step" not in caption
    # The measured curve: after 0 (untrained) to 4 epochs, whole-number ticks.
    drawn, _ = loss_curve_figure(decreases.details)
    axis = drawn.axes[0]
    assert list(next(line for line in axis.lines if line.get_label() == "your run").get_xdata()) == [0, 1, 2, 3, 4]
    low, high = axis.get_xlim()
    ticks = [t for t in axis.get_xticks() if low <= t <= high]
    assert ticks == [0, 1, 2, 3, 4] and axis.get_xlabel() == "epochs of fit"
    # The losses fit returned, one per epoch: epochs 1 to 4.
    per_epoch = {"curve": decreases.details["returned"], "xlabel": "epoch", "ylabel": "mean loss of the epoch"}
    drawn, _ = loss_curve_figure(per_epoch)
    axis = drawn.axes[0]
    low, high = axis.get_xlim()
    assert list(next(line for line in axis.lines if line.get_label() == "your run").get_xdata()) == [1, 2, 3, 4]
    assert [t for t in axis.get_xticks() if low <= t <= high] == [1, 2, 3, 4]
    diverging = {**per_epoch, "curve": [2.3, 1.9, float("nan"), float("nan")]}
    markdown = render_markdown(copy_with_details(bob, "q4.decreases", diverging, visibility="public"))
    assert "Loss curve: 4 epochs, final nan" in markdown and "**NaN/inf from epoch 3**" in markdown
    assert "from step" not in markdown


def copy_with_details(result, check_id: str, details: dict, visibility: str):
    result = copy.deepcopy(result)
    for check in result.checks:
        if check.id == check_id:
            check.details, check.visibility, check.status, check.points = details, visibility, "failed", 0.0
    return result


# ---------------------------------------------------------------------------------------------
# In Chromium: the dashboard's diagnosis chips wrap inside their card, at a narrow width too
# ---------------------------------------------------------------------------------------------

MEASURE = """<script>
const outside = [];
for (const chip of document.querySelectorAll('.tag, .badge, .chip, .main-failure')) {
  const card = chip.closest('.card');
  if (!card) continue;
  const c = chip.getBoundingClientRect(), k = card.getBoundingClientRect();
  if (c.right > k.right + 0.5 || c.left < k.left - 0.5)
    outside.push({chip: chip.textContent.slice(0, 60), left: c.left, right: c.right, card: [k.left, k.right]});
}
const wide = [...document.querySelectorAll('.card')].filter(k => k.scrollWidth > k.clientWidth + 1)
  .map(k => ({card: k.id || k.querySelector('h2')?.textContent, scroll: k.scrollWidth, client: k.clientWidth}));
const out = document.createElement('pre');
out.id = 'measured';
out.textContent = JSON.stringify({outside, wide, chips: document.querySelectorAll('.tag').length,
                                  width: document.documentElement.clientWidth});
document.body.appendChild(out);
</script>"""


def run_chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"chromium-{uuid.uuid4().hex[:8]}"
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--no-first-run", "--hide-scrollbars", f"--user-data-dir={profile}",
               *args]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120)
    shutil.rmtree(profile, ignore_errors=True)
    return proc


@needs_chromium
def test_browser_dashboard_chips_wrap_inside_their_cards(a4_class, a4_assignment, tmp_path):
    """The class, plus bob's real result with every failing check given another known mistake (a
    student with a long diagnosis list), at a phone's width and a laptop's."""
    entries = list(a4_class["ordered"])
    many = copy.deepcopy(a4_class["entries"]["bob"])
    names = sorted(KNOWN_DIAGNOSES)
    for i, check in enumerate(many.checks):
        check.status, check.points, check.diagnosis = "failed", 0.0, names[i % len(names)]
    entries.append(("student-with-a-long-list-of-mistakes-and-a-long-name", many))
    written = write_reports(entries, a4_assignment, tmp_path / "reports")
    page = written["dashboard"]
    measured_page = page.with_name("measured.html")
    measured_page.write_text(page.read_text().replace("</body>", MEASURE + "</body>"))
    shots = Path(os.environ.get("TENSORGRADE_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    for width in (500, 1200):  # 500: the narrowest window headless Chromium opens
        proc = run_chromium(tmp_path, f"--window-size={width},2000", "--virtual-time-budget=3000", "--dump-dom",
                            measured_page.as_uri())
        found = re.search(r'<pre id="measured">(.*?)</pre>', proc.stdout, re.S)
        assert found, proc.stderr[-2000:]
        measured = json.loads(html.unescape(found.group(1)))
        assert measured["chips"] >= len(many.checks) + 5, measured
        assert measured["width"] <= width
        assert measured["outside"] == [], (width, measured["outside"][:5])
        assert measured["wide"] == [], (width, measured["wide"])
        png = shots / f"dashboard-chips-{width}.png"
        run_chromium(tmp_path, f"--window-size={width},9000", f"--screenshot={png}", page.as_uri())
        assert png.is_file()


def test_student_paths_of_odd_names_never_fail(a4_class):
    """A name with a NUL byte or a non-UTF-8 byte (written out as a lone surrogate) still gets a
    relative name: never an exception, never the grader's folder."""
    from tensorgrade.reports.paths import class_root, for_student

    result = copy.deepcopy(a4_class["entries"]["erin"])
    for odd in ("/tmp/cla\x00ss/erin/a4.ipynb", "/tmp/class/bad\udcffname/a4.ipynb"):
        result.submission, result.error = odd, f"{odd}: not valid notebook JSON"
        shown = for_student(result, class_root([odd, "/tmp/class/bob/a4.ipynb"]))
        assert "/tmp" not in shown.submission + shown.error and shown.error.endswith("a4.ipynb: not valid notebook JSON")
