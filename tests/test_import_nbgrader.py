"""`tensorgrade import nbgrader` (issue 17): nbgrader's own example course and AUTOTEST fixtures,
imported, released without a line of a solution, graded like nbgrader 0.9.6 grades them.

The nbgrader files are read from nbgrader 0.9.6 itself, never committed: its docs course
(`nbgrader/docs/source/user_guide/`: source/ps1, submitted/bitdiddle and hacker) and its test fixtures
(`nbgrader/tests/apps/files/autotest-*.ipynb`, `autotests.yml`). nbgrader runs in its own pinned
virtualenv (the bench's `.bench-venv` where present, else `.cache/peers-venv-nbgrader-0.9.6`, built
once), never in ours: `tests/peers/nbgrader_autograde.py` runs `generate_assignment` and `autograde`
in a temporary nbgrader course and reads nbgrader's gradebook.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
import yaml

from conftest import ROOT
from tensorgrade.classroom.discovery import discover_folder
from tensorgrade.cli.main import main
from tensorgrade.course.importers.nbgrader import ImportFailure, import_nbgrader
from tensorgrade.course.release.gate import release_assignment
from tensorgrade.course.source import read_source

NBGRADER = "0.9.6"
# The peer venv's pins (its folder is keyed by them): nbgrader and the kernel it runs notebooks in.
PEER_PINS = (f"nbgrader=={NBGRADER}", "ipykernel==7.4.0")
CACHE = ROOT / ".cache"
PEER_VENV = CACHE / ("peers-venv-" + "-".join(p.replace("==", "-") for p in PEER_PINS))
AUTOTEST_FIXTURES = ("hashed", "hidden", "multi")  # simple's cell is multi's first cell


def _package_in(venv: Path) -> Path | None:
    for site in sorted(venv.glob("lib/python3*/site-packages")):
        if (site / f"nbgrader-{NBGRADER}.dist-info").is_dir():
            return site / "nbgrader"
    return None


@pytest.fixture(scope="session")
def nbgrader_files() -> Path:
    """nbgrader 0.9.6's package folder (its docs and test files): from a peer venv, else from its wheel."""
    for venv in (ROOT / ".bench-venv", PEER_VENV):
        found = _package_in(venv)
        if found is not None:
            return found
    unpacked = CACHE / f"nbgrader-{NBGRADER}-wheel"
    if not (unpacked / "nbgrader").is_dir():
        download = CACHE / "downloads"
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", f"nbgrader=={NBGRADER}", "--no-deps",
                        "-d", str(download)], check=True)
        with zipfile.ZipFile(next(download.glob(f"nbgrader-{NBGRADER}-*.whl"))) as wheel:
            wheel.extractall(unpacked)
    return unpacked / "nbgrader"


@pytest.fixture(scope="session")
def nbgrader_python() -> Path:
    """A python with nbgrader 0.9.6, in its own venv (built once, cached under .cache/, keyed by the pins)."""
    bench = ROOT / ".bench-venv" / "bin" / "python"
    if _package_in(ROOT / ".bench-venv") is not None and bench.is_file():
        return bench
    stamp = PEER_VENV / ".installed"
    if not stamp.is_file():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(PEER_VENV)], check=True)
        subprocess.run([str(PEER_VENV / "bin" / "pip"), "install", "-q", *PEER_PINS], check=True)
        stamp.write_text("\n".join(PEER_PINS) + "\n")
    return PEER_VENV / "bin" / "python"


def docs(files: Path) -> Path:
    return files / "docs" / "source" / "user_guide"


def imported(notebook: Path, assignment_id: str, root: Path, capsys=None) -> tuple[Path, dict]:
    assert main(["import", "nbgrader", str(notebook), "--id", assignment_id, "--root", str(root)]) == 0
    spec = yaml.safe_load((root / "assignments" / assignment_id / "assignment.yaml").read_text())
    return root / "assignments" / assignment_id, spec


def released_text(folder: Path) -> str:
    """Every released file's text, the zip's members included."""
    texts = []
    for path in folder.rglob("*"):
        if path.is_file() and path.suffix != ".png":
            texts.append(path.read_text(errors="replace"))
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                texts += [archive.read(name).decode(errors="replace") for name in archive.namelist()
                          if not name.endswith(".png")]
    return "\n".join(texts)


def secret_lines(notebook: Path) -> list[str]:
    """The lines of a source notebook no student may see: solution regions, unmarked solution cells,
    hidden tests (each stripped; short or generic lines left out)."""
    found = []
    for cell in nbformat.read(str(notebook), as_version=4).cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        lines, inside = cell.source.splitlines(), False
        marked = any("BEGIN SOLUTION" in line for line in lines)
        for line in lines:
            if "BEGIN SOLUTION" in line or "BEGIN HIDDEN TESTS" in line:
                inside = True
            elif "END SOLUTION" in line or "END HIDDEN TESTS" in line:
                inside = False
            elif inside or (meta.get("solution") and not marked):
                if len(line.strip()) > 12 and not line.strip().startswith(('"""', "def ")):
                    found.append(line.strip())
    return found


# ---------------------------------------------------------------------------------------------
# The docs course: solutions stubbed, manual points counted, the image carried, nothing leaked
# ---------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_docs_course_imports_stubs_every_solution_and_releases_nothing_of_them(tmp_path, nbgrader_files, capsys):
    source = docs(nbgrader_files) / "source" / "ps1"
    folder, spec = imported(source / "problem1.ipynb", "problem1", tmp_path)
    printed = capsys.readouterr().out
    assert "questions: 5, 10 points" in printed and "manual questions: 3, 7 points" in printed
    assert "tests imported: 4 (4 public, 0 hidden)" in printed and "lifted" in printed
    # nbgrader's 13-point problem set: 3 autograded + 7 by hand in problem1, 3 by hand in problem2.
    assert sum(q["points"] for q in spec["questions"]) == 10
    assert {c["id"]: c["points"] for c in spec["checks"] if "task" in c["id"] or "answer" in c["id"]} == {
        "sum_of_squares_equation.answer": 1, "sum_of_squares_application.answer": 2, "cell_938593c4a215c6cc.task": 4}
    assert spec["files"] == ["jupyter.png"] and (folder / "jupyter.png").read_bytes() == (source / "jupyter.png").read_bytes()

    template = nbformat.read(str(folder / "problem1.ipynb"), as_version=4)
    text = "\n".join(c.source for c in template.cells)
    assert "pyramidal_number" not in text and r"\sum_{i=1}^n i^2" not in text and "range(1, n + 1)" not in text
    application = next(c for c in template.cells if c.get("metadata", {}).get("tensorgrade", {}).get("question")
                       == "sum_of_squares_application")
    assert application.source == "# YOUR CODE HERE\nraise NotImplementedError()"  # unmarked: stubbed whole
    assert "YOUR ANSWER HERE" in [c.source for c in template.cells if c.cell_type == "markdown"]

    _, spec2 = imported(source / "problem2.ipynb", "problem2", tmp_path)  # written answers only
    assert [(q["id"], q["points"]) for q in spec2["questions"]] == [("part_a", 1), ("part_b", 2)]

    for assignment_id, notebook in (("problem1", "problem1"), ("problem2", "problem2")):
        report = release_assignment(tmp_path / "assignments" / assignment_id, tmp_path / "release")
        assert report.ok, [p.message for p in report.problems]
        shipped = released_text(tmp_path / "release")
        leaked = [line for line in secret_lines(source / f"{notebook}.ipynb") if line in shipped]
        assert not leaked, leaked


def unsalted(code: str) -> str:
    return re.sub(r'b"[0-9a-f]+"\)\.hexdigest\(\) == "[0-9a-f]{40}"', 'b"SALT").hexdigest() == "HASH"', code)


def test_autotest_expands_as_nbgrader_releases_it_and_stays_hidden(tmp_path, nbgrader_files):
    """The expansion of every AUTOTEST fixture is, line for line, the test cell of nbgrader's own
    released fixture (`autotest-*-unchanged.ipynb`, HASHED salts included); it is a hidden check."""
    files = nbgrader_files / "tests" / "apps" / "files"
    for name in ("simple", *AUTOTEST_FIXTURES):
        outcome = import_nbgrader(files / f"autotest-{name}.ipynb", f"autotest_{name}", root=tmp_path)
        released = nbformat.read(str(files / f"autotest-{name}-unchanged.ipynb"), as_version=4)
        theirs = {c.metadata["nbgrader"]["grade_id"]: c.source for c in released.cells
                  if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"}
        assert {t.grade_id for t in outcome.tests} == set(theirs)
        for test in outcome.tests:
            assert test.visibility == "hidden"
            ours = test.code
            if name == "hidden":  # nbgrader releases the cell without its hidden region
                ours = "\n".join(line for line in ours.splitlines()
                                 if line.strip() not in ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"))
                theirs_lines = [line for line in theirs[test.grade_id].splitlines() if line.strip()]
                assert all(line in ours.splitlines() for line in theirs_lines), test.grade_id
            else:  # (the fixture's salts are an older nbgrader's: its hashes are compared in grading)
                assert unsalted(ours).strip() == unsalted(theirs[test.grade_id]).strip(), test.grade_id
        public = (tmp_path / "assignments" / f"autotest_{name}" / "checks.py").read_text()
        assert "AUTOTEST" not in public and "assert str(" not in public and "sha1(" not in public


def test_an_import_that_fails_leaves_nothing_and_names_the_cell(tmp_path, nbgrader_files):
    files = nbgrader_files / "tests" / "apps" / "files"
    notebook = nbformat.read(str(files / "autotest-simple.ipynb"), as_version=4)
    broken = tmp_path / "broken.ipynb"
    (tmp_path / "autotests.yml").write_bytes((files / "autotests.yml").read_bytes())
    notebook.cells[1].source = "### BEGIN SOLUTION\na = 5\n"  # never ends
    nbformat.write(notebook, str(broken))
    root = tmp_path / "course"
    with pytest.raises(ImportFailure, match=r"cell 1 \(soln\): the region opened at line 1 never ends"):
        import_nbgrader(broken, "broken", root=root)
    notebook.cells[1].source = "a = 5\nb = 'hello'\nc = [1, 2, 'test']"
    del notebook.cells[2].metadata["nbgrader"]  # AUTOTEST in a cell nbgrader does not grade
    nbformat.write(notebook, str(broken))
    assert main(["import", "nbgrader", str(broken), "--id", "broken", "--root", str(root)]) == 2
    with pytest.raises(ImportFailure, match=r"cell 2: an `### AUTOTEST` line in a cell that is not an nbgrader test"):
        import_nbgrader(broken, "broken", root=root)
    (tmp_path / "alone").mkdir()
    alone = tmp_path / "alone" / "no_autotests_yml.ipynb"  # no autotests.yml beside it
    nbformat.write(nbformat.read(str(files / "autotest-simple.ipynb"), as_version=4), str(alone))
    with pytest.raises(ImportFailure, match=r"cell 2 \(test_simple\) has AUTOTEST lines, but there is no autotests.yml"):
        import_nbgrader(alone, "broken", root=root)
    # A test cell that is not Python: refused with its cell, nothing written either.
    notebook = nbformat.read(str(files / "test.ipynb"), as_version=4)
    test_cell = next(c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade")
                     and not c.metadata["nbgrader"].get("solution") and c.cell_type == "code")
    test_cell.source = "assert ("
    nbformat.write(notebook, str(broken))
    with pytest.raises(ImportFailure, match=r"cell \d+ \(\w+\): the test is not valid Python"):
        import_nbgrader(broken, "broken", root=root)
    assert not root.exists() or sorted(p.name for p in root.rglob("*")) == []


def test_nbgrader_layout_grades_the_notebook_named_as_the_assignment(tmp_path):
    """submitted/<student>/ps1/problem1.ipynb and problem2.ipynb: grading problem1 takes problem1,
    even where problem2 is newer."""
    for student in ("bitdiddle", "hacker"):
        folder = tmp_path / "submitted" / student / "ps1"
        folder.mkdir(parents=True)
        for name in ("problem1", "problem2"):
            nbformat.write(nbformat.v4.new_notebook(), str(folder / f"{name}.ipynb"))
        os.utime(folder / "problem2.ipynb", (2_000_000_000, 2_000_000_000))
    found = discover_folder(tmp_path / "submitted", notebook_name="problem1.ipynb")
    assert {(s.student, s.path.name) for s in found.submissions} == {("bitdiddle", "problem1.ipynb"),
                                                                     ("hacker", "problem1.ipynb")}


# ---------------------------------------------------------------------------------------------
# Manual questions end to end: grade -> gradebook -> awaiting in reports and exports -> override
# ---------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_manual_questions_await_a_ta_until_an_override_gives_points(tmp_path, nbgrader_files, capsys):
    user_guide = docs(nbgrader_files)
    imported(user_guide / "source" / "ps1" / "problem1.ipynb", "problem1", tmp_path)
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    for student in ("bitdiddle", "hacker"):
        (submissions / f"{student}.ipynb").write_bytes(
            (user_guide / "submitted" / student / "ps1" / "problem1.ipynb").read_bytes())
    db, assignment = tmp_path / "grades.db", tmp_path / "assignments" / "problem1"
    assert main(["grade", str(assignment), str(submissions), "--gradebook", str(db), "-j", "2"]) == 0

    def exported() -> dict[str, dict]:
        assert main(["export", str(db), "--assignment", "problem1", "--format", "csv", "--out",
                     str(tmp_path / "grades.csv")]) == 0
        return {row["student"]: row for row in csv.DictReader(io.StringIO((tmp_path / "grades.csv").read_text()))}

    rows = exported()
    assert rows["hacker"]["total"] == "3" and rows["hacker"]["max_score"] == "10"
    assert "awaiting a TA's grade: sum_of_squares_equation.answer, sum_of_squares_application.answer, " \
           "cell_938593c4a215c6cc.task" in rows["hacker"]["diagnosis"]
    # bitdiddle left the manually graded code cell as released: 0 without a TA, as nbgrader gives.
    assert "sum_of_squares_application.answer" not in rows["bitdiddle"]["diagnosis"].split(";")[0]
    capsys.readouterr()
    assert main(["export", str(db), "--assignment", "problem1", "--format", "canvas", "--out",
                 str(tmp_path / "canvas.csv")]) == 0
    assert "awaiting a TA's grade" in capsys.readouterr().out
    assert main(["export", str(db), "--assignment", "problem1", "--format", "gradescope", "--out",
                 str(tmp_path / "gs")]) == 0
    gradescope = {json.loads(p.read_text())["score"]: json.loads(p.read_text())
                  for p in (tmp_path / "gs").rglob("results.json")}
    task = next(t for r in gradescope.values() for t in r["tests"] if t["name"] == "cell_938593c4a215c6cc.task")
    assert "awaiting a TA's grade" in task["output"] and task["score"] == 0 and task["max_score"] == 4
    assert main(["report", str(db), "--assignment", "problem1", "--assignment-dir", str(assignment),
                 "--out", str(tmp_path / "reports")]) == 0
    page = next((tmp_path / "reports" / "students").glob("hacker-*.md")).read_text()
    assert page.count("| ⏳ awaiting a TA's grade |") == 3
    assert "3 awaiting a TA&#39;s grade" in (tmp_path / "reports" / "dashboard.html").read_text() or \
        "awaiting a TA" in (tmp_path / "reports" / "dashboard.html").read_text()

    assert main(["override", str(db), "--student", "hacker", "--check", "cell_938593c4a215c6cc.task",
                 "--points", "4", "--comment", "both formulae, verified"]) == 0
    rows = exported()
    assert rows["hacker"]["total"] == "7" and "cell_938593c4a215c6cc.task=4" in rows["hacker"]["overrides"]
    assert "cell_938593c4a215c6cc.task" not in rows["hacker"]["diagnosis"]
    assert main(["report", str(db), "--assignment", "problem1", "--assignment-dir", str(assignment),
                 "--out", str(tmp_path / "reports2")]) == 0
    page = next((tmp_path / "reports2" / "students").glob("hacker-*.md")).read_text()
    assert "`cell_938593c4a215c6cc.task` (TA override) | 4 / 4" in page and page.count("| ⏳ awaiting a TA's grade |") == 2


# ---------------------------------------------------------------------------------------------
# Grade like the original: nbgrader 0.9.6 autograde and ours, cell by cell
# ---------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_grades_equal_nbgraders_cell_by_cell(tmp_path, nbgrader_files, nbgrader_python):
    """Every grade cell nbgrader grades automatically gets the same points here; every cell it
    leaves to a TA is awaiting one here (docs course: bitdiddle, hacker; AUTOTEST fixtures: each
    fixture's submitted variants)."""
    user_guide, files = docs(nbgrader_files), nbgrader_files / "tests" / "apps" / "files"
    assignments = {"ps1": {"source": [[str(user_guide / "source" / "ps1" / n), n]
                                      for n in ("problem1.ipynb", "problem2.ipynb", "jupyter.png")],
                           "submissions": {s: [[str(user_guide / "submitted" / s / "ps1" / n), n]
                                               for n in ("problem1.ipynb", "problem2.ipynb")]
                                           for s in ("bitdiddle", "hacker")}}}
    ours: dict[tuple, tuple] = {}  # (assignment, student, notebook) -> (our assignment id, submission)
    for student in ("bitdiddle", "hacker"):
        for n in ("problem1", "problem2"):
            ours[("ps1", student, n)] = (n, user_guide / "submitted" / student / "ps1" / f"{n}.ipynb")
    import_nbgrader(user_guide / "source" / "ps1" / "problem1.ipynb", "problem1", root=tmp_path / "ours")
    import_nbgrader(user_guide / "source" / "ps1" / "problem2.ipynb", "problem2", root=tmp_path / "ours")
    for name in AUTOTEST_FIXTURES:
        variants = sorted(files.glob(f"autotest-{name}-*.ipynb"))
        students = {v.stem[len(f"autotest-{name}-"):].replace("-", "_"): v for v in variants}
        assignments[f"autotest_{name}"] = {
            "source": [[str(files / f"autotest-{name}.ipynb"), f"autotest-{name}.ipynb"],
                       [str(files / "autotests.yml"), "autotests.yml"]],
            "submissions": {s: [[str(v), f"autotest-{name}.ipynb"]] for s, v in students.items()}}
        for student, variant in students.items():
            ours[(f"autotest_{name}", student, f"autotest-{name}")] = (f"autotest_{name}", variant)
        import_nbgrader(files / f"autotest-{name}.ipynb", f"autotest_{name}", root=tmp_path / "ours")
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"course": str(tmp_path / "nbgrader"), "assignments": assignments}))
    done = subprocess.run([str(nbgrader_python), str(ROOT / "tests" / "peers" / "nbgrader_autograde.py"), str(spec),
                           str(tmp_path / "theirs.json")], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-2000:]
    theirs = json.loads((tmp_path / "theirs.json").read_text())

    from tensorgrade.course.assignment import load_assignment
    from tensorgrade.grading.grader import Grader

    by_assignment: dict[str, list] = {}
    for key, (assignment_id, path) in ours.items():
        by_assignment.setdefault(assignment_id, []).append((key, path))
    compared, mismatches = [], []
    for assignment_id, entries in by_assignment.items():
        root = tmp_path / "ours"
        to_grade_id = read_source(root / "solutions" / assignment_id / f"{assignment_id}.py").meta[
            "imported_from"]["checks"]
        with Grader(load_assignment(root / "assignments" / assignment_id, root / "solutions" / assignment_id),
                    jobs=2) as grader:
            for (assignment, student, notebook), path in entries:
                result = grader.grade(path)
                assert result.status == "graded", result.error
                mine = {to_grade_id[c.id]: c for c in result.checks if c.id in to_grade_id}
                for grade_id, grade in theirs[assignment][student][notebook].items():
                    check = mine[grade_id]
                    assert check.max_points == grade["max"], (assignment, student, grade_id)
                    row = (assignment, student, notebook, grade_id, grade["auto"], check.points, check.status)
                    compared.append(row)
                    if grade["auto"] is None:
                        if check.status != "manual":
                            mismatches.append(row)
                    elif check.points != grade["auto"] or check.status == "manual":
                        mismatches.append(row)
    print("\n".join(f"{a}/{s}/{n} {g}: nbgrader {t}, ours {o} ({st})" for a, s, n, g, t, o, st in compared))
    assert not mismatches, mismatches
    assert len(compared) >= 30 and any(row[4] == 0 for row in compared) and any(row[4] for row in compared)
