"""Instructor releases: the gate, the release, the student-side check, locked cells, nbgrader import.

Every release here is built for real (real notebooks, real sandboxes); the broken assignments are
copies of a2_autograd in tmp folders, each broken the way instructors break them.
"""

import shutil
import subprocess
import sys
import zipfile

import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from tensorgrade.sandbox import transport
from tensorgrade.course.assignment import load_assignment
from tensorgrade.course.importers.nbgrader import import_nbgrader
from tensorgrade.course.errors import AuthoringError
from tensorgrade.cli.main import main
from tensorgrade.grading.grader import Grader
from tensorgrade.course.release.gate import release_assignment, template_problems
from tensorgrade.course.release.packaging import EXPECTATIONS_FILE, public_seed_of
from tensorgrade.course.release.student_check import check_notebook
from tensorgrade.grading.results import CheckResult, SubmissionResult
from tensorgrade.course.source import read_source
from conftest import ROOT

A2 = "a2_autograd"
SECRET_SEED = str(read_source(ROOT / "solutions" / A2 / f"{A2}.py").meta["secret_seed"])
HIDDEN_PROBES = ("fit_loss", "saves_input(", "from_reference(")  # names only the source's hidden cells use


def copy_course(tmp_path, with_mistakes=False):
    """A course folder holding a copy of a2 (assignment and solutions), to break."""
    root = tmp_path / "course"
    skip = ["samples", ".cache", "__pycache__"] + ([] if with_mistakes else ["mistakes"])
    shutil.copytree(ROOT / "assignments" / A2, root / "assignments" / A2,
                    ignore=shutil.ignore_patterns(".cache", "__pycache__"))
    shutil.copytree(ROOT / "solutions" / A2, root / "solutions" / A2, ignore=shutil.ignore_patterns(*skip))
    if not with_mistakes:  # the source's mistakes cell out too: each mistake is one more sandboxed run per release
        source = root / "solutions" / A2 / f"{A2}.py"
        text = source.read_text()
        start = text.index('# %% tags=["mistakes"]')
        source.write_text(text[:start] + text[text.index("# %%", start + 1):])
    return root


def edit_notebook(path, edit):
    notebook = nbformat.read(str(path), as_version=4)
    edit(notebook)
    nbformat.write(notebook, str(path))


def filled_with_reference(released_notebook, solution_notebook, target):
    """The released notebook as a student would hand it in: each answer cell holds the reference's."""
    solution = nbformat.read(str(solution_notebook), as_version=4)
    answers = {c.metadata["tensorgrade"]["question"]: c.source for c in solution.cells
               if c.metadata.get("tensorgrade", {}).get("answer")}
    notebook = nbformat.read(str(released_notebook), as_version=4)
    for cell in notebook.cells:
        marker = cell.metadata.get("tensorgrade", {})
        if marker.get("answer"):
            cell.source = answers[marker["question"]]
    nbformat.write(notebook, str(target))
    return target


@pytest.fixture(scope="module")
def a2_release(tmp_path_factory):
    out = tmp_path_factory.mktemp("release")
    report = release_assignment(ROOT / "assignments" / A2, out)
    assert report.ok, [p.message for p in report.problems]
    return report


# ---------------------------------------------------------------------------------------------
# a2 releases, and the release holds what students need and nothing else
# ---------------------------------------------------------------------------------------------

def test_a2_releases_through_every_stage_of_the_gate(a2_release):
    assert len(a2_release.stages_passed) == 3 and not a2_release.stages_not_run
    folder = a2_release.release_dir
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f"{A2}.ipynb", "assignment.yaml", "checks.py", "probes.py", EXPECTATIONS_FILE])
    with zipfile.ZipFile(a2_release.zip_path) as archive:
        assert sorted(archive.namelist()) == sorted(f"{A2}/{p.name}" for p in folder.iterdir())


def test_released_notebook_is_cleared_identified_and_locked(a2_release):
    notebook = nbformat.read(str(a2_release.release_dir / f"{A2}.ipynb"), as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata["tensorgrade"] == {"assignment": A2, "version": "1.0"}
    assert all(cell.get("id") for cell in notebook.cells)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code)
    given = [c for c in code if c.metadata.get("tensorgrade", {}).get("given")]
    assert len(given) == 1 and "import torch" in given[0].source
    assert given[0].metadata["editable"] is False and given[0].metadata["deletable"] is False
    assert len(given[0].metadata["tensorgrade"]["checksum"]) == 64
    answers = [c for c in code if c.metadata.get("tensorgrade", {}).get("answer")]
    assert len(answers) == 3 and all("raise NotImplementedError()" in c.source for c in answers)
    assert all("editable" not in c.metadata for c in answers)


def test_release_lists_hidden_checks_only_by_id_and_points_and_holds_no_secret(a2_release):
    folder = a2_release.release_dir
    spec = yaml.safe_load((folder / "assignment.yaml").read_text())
    hidden = [c for c in spec["checks"] if c["visibility"] == "hidden"]
    assert {c["id"] for c in hidden} == {"q1.gradcheck", "q1.saved_tensors", "q2.forward", "q3.final_loss"}
    assert all(set(c) == {"id", "question", "points", "visibility"} for c in hidden)
    assert spec["public_seed"] == public_seed_of(load_assignment(ROOT / "assignments" / A2))
    assert str(spec["public_seed"]) != SECRET_SEED
    expectations = transport.loads((folder / EXPECTATIONS_FILE).read_bytes())
    public = {c["id"] for c in spec["checks"] if c["visibility"] == "public"}
    assert set(expectations["reference"]) == public
    assert "forgot-zero-grad" in expectations["mistakes"]  # outputs only, so public diagnoses work
    assert all(set(records) <= public for records in expectations["mistakes"].values())
    everything = "\n".join(p.read_text() for p in folder.iterdir())
    assert SECRET_SEED not in everything
    assert not any(name in everything for name in HIDDEN_PROBES)
    assert "ctx.save_for_backward(input)" not in everything  # the reference's own line
    assert "parameter.grad = None" not in everything


def test_public_seed_comes_from_id_and_version_unless_the_spec_sets_one():
    assignment = load_assignment(ROOT / "assignments" / A2)
    seed = public_seed_of(assignment)
    assert seed == public_seed_of(load_assignment(ROOT / "assignments" / A2)) and seed != assignment.secret_seed
    assignment.version = "1.1"
    assert public_seed_of(assignment) != seed
    assignment.public_seed = 1234
    assert public_seed_of(assignment) == 1234


# ---------------------------------------------------------------------------------------------
# The student side, from the release alone; and the released notebook at grading
# ---------------------------------------------------------------------------------------------

def test_student_check_from_the_release_alone_grades_the_reference_full(a2_release, tmp_path):
    with zipfile.ZipFile(a2_release.zip_path) as archive:
        archive.extractall(tmp_path)
    folder = tmp_path / A2
    filled_with_reference(folder / f"{A2}.ipynb", ROOT / "solutions" / A2 / "solution.ipynb", folder / f"{A2}.ipynb")
    # Any attempt of the checking process to open a file under solutions/ fails the run.
    guard = ("import sys\n"
             "def no_solutions(event, args):\n"
             "    if event == 'open' and isinstance(args[0], str) and '/solutions/' in args[0]:\n"
             "        raise RuntimeError('the student-side check opened ' + args[0])\n"
             "sys.addaudithook(no_solutions)\n"
             "from tensorgrade.cli.main import main\n"
             f"sys.exit(main(['check', '{A2}.ipynb']))\n")
    proc = subprocess.run([sys.executable, "-c", guard], cwd=folder, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "total: 5 / 5" in proc.stdout
    for check in ("q1.forward", "q1.backward", "q2.parameters", "q2.string", "q3.returns"):
        assert check in proc.stdout
    assert "q3.final_loss" not in proc.stdout and "4 hidden check(s) worth 5 point(s)" in proc.stdout


def test_student_check_says_what_the_hidden_checks_hold_and_a_typo_writes_no_report(a2_release, tmp_path, capsys):
    folder = tmp_path / A2
    shutil.copytree(a2_release.release_dir, folder)
    notebook = filled_with_reference(folder / f"{A2}.ipynb", ROOT / "solutions" / A2 / "solution.ipynb",
                                     folder / f"{A2}.ipynb")
    assert main(["check", str(notebook)]) == 0
    printed = capsys.readouterr().out
    assert "4 hidden check(s) worth 5 point(s) run when your submission is graded (q1 2, q2 1, q3 2): your grade " \
           "is out of 10." in printed
    assert "+ 2 in hidden checks" in printed and "+ 1 in hidden checks" in printed  # beside q1/q3 and q2
    page = (folder / f"{A2}.report.html").read_text()
    assert "Public checks only: 4 hidden check(s) worth 5 point(s) run when your submission is graded; the grade is " \
           "out of 10." in page
    assert "+ 1 in hidden checks" in page

    # a typo'd path: exit 2, the notebooks that are there, and no report file of the typo
    before = sorted(p.name for p in folder.iterdir())
    assert main(["check", str(folder / "a2_autogard.ipynb")]) == 2
    printed = capsys.readouterr().out
    assert f"{folder / 'a2_autogard.ipynb'}: no such notebook (did you mean {notebook}?)" in printed
    assert f"the notebooks in {folder}: {A2}.ipynb" in printed
    assert sorted(p.name for p in folder.iterdir()) == before

    # a notebook cut off in a string (a download interrupted): one "at" in the message
    cut = folder / "cut.ipynb"
    text = notebook.read_text()
    cut.write_text(text[:text.index('"source"') + 20])
    assert main(["check", str(cut), "--no-html"]) == 1
    printed = " ".join(capsys.readouterr().out.split())
    assert "not valid notebook JSON: Unterminated string starting at line" in printed and "at at" not in printed


def test_student_check_diagnoses_a_known_mistake_from_stored_outputs(a2_release, tmp_path):
    folder = tmp_path / A2
    shutil.copytree(a2_release.release_dir, folder)
    notebook = filled_with_reference(folder / f"{A2}.ipynb", ROOT / "solutions" / A2 / "samples" /
                                     "wrong_gradient_sign.ipynb", tmp_path / "mine.ipynb")
    result, release = check_notebook(folder, notebook)
    assert result.status == "graded" and result.max_score == 5
    backward = next(c for c in result.checks if c.id == "q1.backward")
    assert backward.status == "failed" and backward.diagnosis == "wrong-gradient-sign"
    assert len(release.hidden_checks) == 4


def test_released_notebook_filled_with_the_reference_grades_full(a2_release, a2_grader, tmp_path):
    notebook = filled_with_reference(a2_release.release_dir / f"{A2}.ipynb",
                                     ROOT / "solutions" / A2 / "solution.ipynb", tmp_path / "student.ipynb")
    result = a2_grader.grade(notebook)
    assert result.status == "graded" and result.score == result.max_score == 10
    assert result.integrity == []


def test_changed_locked_cell_is_reported_and_the_released_version_runs(a2_release, a2_grader, tmp_path):
    notebook = filled_with_reference(a2_release.release_dir / f"{A2}.ipynb",
                                     ROOT / "solutions" / A2 / "solution.ipynb", tmp_path / "student.ipynb")
    locked = {}

    def tamper(nb):
        index, cell = next((i, c) for i, c in enumerate(nb.cells) if c.metadata.get("tensorgrade", {}).get("given"))
        locked.update(index=index, id=cell.id)
        cell.source = "import math  # torch removed: every answer would fail if this version ran"
    edit_notebook(notebook, tamper)
    result = a2_grader.grade(notebook)
    assert result.score == 10, [(c.id, c.message) for c in result.checks if c.status != "passed"]
    assert any(f"locked cell {locked['id']} (cell {locked['index']}) was changed" in f for f in result.integrity)
    assert next(c for c in result.cells if c.index == locked["index"]).status == "ok"


@pytest.mark.parametrize("marker, finding", [
    ({"assignment": "a1_backprop", "version": "1.0"}, "released for assignment a1_backprop v1.0, not a2_autograd"),
    ({"assignment": A2, "version": "0.9"}, "released as a2_autograd v0.9; graded against v1.0"),
])
def test_notebook_of_another_assignment_or_version_is_flagged_and_still_graded(a2_release, a2_grader, tmp_path,
                                                                               marker, finding):
    notebook = tmp_path / "other.ipynb"
    shutil.copyfile(a2_release.release_dir / f"{A2}.ipynb", notebook)
    edit_notebook(notebook, lambda nb: nb.metadata.update(tensorgrade=marker))
    result = a2_grader.grade(notebook)
    assert result.status == "graded" and len(result.checks) == 9
    assert any(finding in f for f in result.integrity), result.integrity


def test_deleted_locked_cell_of_a_released_notebook_is_reported(a2_release, a2_grader, tmp_path):
    notebook = tmp_path / "deleted.ipynb"
    shutil.copyfile(a2_release.release_dir / f"{A2}.ipynb", notebook)
    edit_notebook(notebook, lambda nb: nb.cells.pop(next(i for i, c in enumerate(nb.cells)
                                                        if c.metadata.get("tensorgrade", {}).get("given"))))
    result = a2_grader.grade(notebook)
    assert result.status == "graded"
    assert any("is missing" in f and "did not run" in f for f in result.integrity), result.integrity


# ---------------------------------------------------------------------------------------------
# The gate refuses broken assignments and writes nothing
# ---------------------------------------------------------------------------------------------

def test_gate_refuses_a_reference_that_fails_a_check(tmp_path):
    root = copy_course(tmp_path)

    def break_string(nb):
        cell = next(c for c in nb.cells if c.metadata.get("tensorgrade", {}).get("question") == "q2")
        start = cell.source.index("    def string(self):")
        cell.source = cell.source[:start] + "    def string(self):\n        return 'a polynomial'"
    edit_notebook(root / "solutions" / A2 / "solution.ipynb", break_string)
    out = tmp_path / "out"
    report = release_assignment(root / "assignments" / A2, out)
    assert not report.ok and report.stages_passed == ["spec and leaks"]
    assert report.stages_not_run == ["release alone (public seed)"]
    assert any("the reference does not pass q2.string" in p.message for p in report.problems), report.problems
    assert not out.exists()


def test_gate_refuses_a_template_that_crashes(tmp_path):
    root = copy_course(tmp_path)
    edit_notebook(root / "assignments" / A2 / f"{A2}.ipynb",
                  lambda nb: nb.cells.append(new_code_cell("plt.plot(losses_from_the_lecture)")))
    out = tmp_path / "out"
    report = release_assignment(root / "assignments" / A2, out)
    assert not report.ok
    assert [p.stage for p in report.problems] == ["sandbox (secret seed)"]
    assert "template cell 10 error: NameError: name 'losses_from_the_lecture' is not defined" in \
        report.problems[0].message
    assert not out.exists()


def _check(id_, points, status, diagnosis=None):
    return CheckResult(id=id_, question=id_.split(".")[0], points=points, max_points=1, status=status,
                       message="m", diagnosis=diagnosis, visibility="public")


def test_template_rules_are_exact():
    """Only a graded template with zero points and stub-only errors passes."""
    assert "could not be graded (error)" in template_problems(
        SubmissionResult("t", A2, "1.0", status="error", error="grader error (not the student's fault)"))[0]
    assert "could not be graded (invalid)" in template_problems(
        SubmissionResult("t", A2, "1.0", status="invalid", error="not valid notebook JSON"))[0]
    stubs = SubmissionResult("t", A2, "1.0", status="graded",
                             checks=[_check("q1.a", 0, "error", "not-implemented"), _check("q1.b", 0, "failed")])
    assert template_problems(stubs) == []
    free_points = SubmissionResult("t", A2, "1.0", status="graded", checks=[_check("q1.a", 1, "passed")])
    assert "scores 1/1 on q1.a" in template_problems(free_points)[0]


@pytest.mark.parametrize("leak, origin", [
    ("solution line in a file of the public folder", f"solutions/{A2}/solution.ipynb cell 3"),
    ("hidden input distribution in public checks", f"solutions/{A2}/{A2}.py cell"),
    ("hidden judge pasted into public checks", f"solutions/{A2}/{A2}.py cell"),
    ("secret seed in the spec", "holds the secret seed"),
    ("threshold file among the data", f"is a copy of solutions/{A2}/thresholds.json"),
])
def test_gate_refuses_a_release_that_would_contain_a_secret(tmp_path, leak, origin):
    root = copy_course(tmp_path)
    public = root / "assignments" / A2
    if leak == "solution line in a file of the public folder":
        (public / "notes.md").write_text("Draft of Q1, to polish:\n\n    input, = ctx.saved_tensors\n"
                                         "    return grad_output * 1.5 * (5 * input ** 2 - 1)\n")
    elif leak == "hidden input distribution in public checks":
        hidden = next(line for line in (root / "solutions" / A2 / f"{A2}.py").read_text().splitlines()
                      if "rng.uniform(0.8, 1.2)" in line)
        with open(public / "checks.py", "a") as fh:
            fh.write(f"\n# hidden: {hidden.strip()}\n")
    elif leak == "hidden judge pasted into public checks":
        hidden = (root / "solutions" / A2 / f"{A2}.py").read_text()
        start = hidden.index("def fit_loss")
        with open(public / "checks.py", "a") as fh:
            fh.write("\n\n" + hidden[start:hidden.index("x_long = ")].replace("fit_loss", "loss_of"))
    elif leak == "secret seed in the spec":
        spec = (public / "assignment.yaml").read_text()
        (public / "assignment.yaml").write_text(spec.replace('description: forward computes P3(x)',
                                                             f'description: "forward, inputs from seed {SECRET_SEED}"'))
    else:
        (public / "data").mkdir()
        shutil.copyfile(root / "solutions" / A2 / "thresholds.json", public / "data" / "limits.json")
    out = tmp_path / "out"
    report = release_assignment(public, out)
    assert not report.ok and report.stages_passed == [] and len(report.stages_not_run) == 2
    assert all(p.stage == "spec and leaks" and p.message.startswith("leak: ") for p in report.problems)
    assert any(origin in p.message for p in report.problems), [p.message for p in report.problems]
    assert not out.exists()


def test_gate_refuses_a_heading_whose_points_are_not_the_specs(tmp_path):
    """The notebook says "Q2 (2 points)" where the spec gives q2 3: refused before any sandbox,
    naming the heading, the spec's points and the checks that hold them."""
    root = copy_course(tmp_path)

    def wrong_heading(nb):
        cell = next(c for c in nb.cells if c.cell_type == "markdown" and c.source.startswith("## Q2 (3 points)"))
        cell.source = cell.source.replace("## Q2 (3 points)", "## Q2 (2 points)", 1)
    edit_notebook(root / "assignments" / A2 / f"{A2}.ipynb", wrong_heading)
    out = tmp_path / "out"
    report = release_assignment(root / "assignments" / A2, out)
    assert not report.ok and report.stages_passed == [] and not out.exists()
    [problem] = report.problems
    assert problem.stage == "spec and leaks"
    assert problem.message.startswith("the template's heading '## Q2 (2 points): an `nn.Module` with parameters' (cell ")
    assert "says 2 point(s), but q2 is worth 3 in assignment.yaml (q2.parameters 1 + q2.forward 1 + q2.string 1)" \
        in problem.message


def test_every_course_notebooks_headings_state_the_specs_points():
    """a4's "Q2 (2 points)" is its spec's 2: one public check's point and one hidden check's (the
    student-side check shows the hidden one beside the public points, see below)."""
    from tensorgrade.course.release.gate import heading_problems

    for assignment_id in COURSE:
        assignment = load_assignment(ROOT / "assignments" / assignment_id, with_hidden=False)
        assert heading_problems(assignment, nbformat.read(str(assignment.template_path), as_version=4)) == []
    a4 = load_assignment(ROOT / "assignments" / "a4_training", with_hidden=False)
    assert "## Q2 (2 points): a classifier" in (ROOT / "assignments" / "a4_training" / "a4_training.ipynb").read_text()
    assert [(c.points, c.visibility) for c in a4.checks if c.question == "q2"] == [(1, "public"), (1, "hidden")]


def test_cli_release_prints_what_failed_and_exits_nonzero(tmp_path, capsys):
    root = copy_course(tmp_path)
    spec = root / "assignments" / A2 / "assignment.yaml"
    spec.write_text(spec.read_text().replace('description: forward computes P3(x)',
                                             f'description: "forward, seed {SECRET_SEED}"'))
    code = main(["release", str(root / "assignments" / A2), "--out", str(tmp_path / "out")])
    printed = capsys.readouterr().out
    assert code == 1 and "holds the secret seed" in printed and "release refused" in printed
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------------------------
# Authoring in one notebook: an nbgrader source notebook, imported (`split` is its deprecated alias)
# ---------------------------------------------------------------------------------------------

def nbgrader_meta(grade_id, grade=False, solution=False, locked=False, points=None):
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution,
            "task": False}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def nbgrader_source(path):
    """Two questions, solution regions, one visible and one hidden test cell, as nbgrader writes them."""
    cells = [
        new_markdown_cell("# Warm-up: two small functions", metadata=nbgrader_meta("intro", locked=True)),
        new_code_cell("import math", metadata=nbgrader_meta("setup", locked=True)),
        new_markdown_cell("## Q1: add two numbers", metadata=nbgrader_meta("q1_text", locked=True)),
        new_code_cell("def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION",
                      metadata=nbgrader_meta("q1_answer", solution=True)),
        new_code_cell("assert add(1, 2) == 3, 'add(1, 2) should be 3'\nassert add(-1, 1) == 0",
                      metadata=nbgrader_meta("q1_visible", grade=True, locked=True, points=2)),
        new_markdown_cell("## Q2: hypotenuse", metadata=nbgrader_meta("q2_text", locked=True)),
        new_code_cell("def hypotenuse(a, b):\n    ### BEGIN SOLUTION\n    return math.sqrt(a * a + b * b)\n"
                      "    ### END SOLUTION", metadata=nbgrader_meta("q2_answer", solution=True)),
        new_code_cell("assert hypotenuse(3, 4) == 5\n### BEGIN HIDDEN TESTS\n"
                      "assert abs(hypotenuse(5, 12) - 13) < 1e-9, 'the 5-12-13 triangle'\n### END HIDDEN TESTS",
                      metadata=nbgrader_meta("q2_hidden", grade=True, locked=True, points=3)),
    ]
    nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "language": "python",
                                                                      "display_name": "Python 3"}}), str(path))
    return path


def test_split_is_the_nbgrader_import_and_round_trips(tmp_path, capsys):
    """`split` (deprecated) runs `tensorgrade import nbgrader`: one source, built, graded, released."""
    source = nbgrader_source(tmp_path / "warmup_source.ipynb")
    root = tmp_path / "course"
    assert main(["split", str(source), "--id", "a7_warmup", "--root", str(root)]) == 0
    assert "deprecated" in capsys.readouterr().out
    public, solutions = root / "assignments" / "a7_warmup", root / "solutions" / "a7_warmup"
    assert (solutions / "a7_warmup.py").is_file()

    spec = yaml.safe_load((public / "assignment.yaml").read_text())
    assert [(q["id"], q["points"]) for q in spec["questions"]] == [("q1", 2), ("q2", 3)]
    # nbgrader grades a cell with hidden tests whole (3 points); its visible lines are a 0-point public check.
    assert [(c["id"], c["visibility"], c["points"]) for c in spec["checks"]] == [
        ("q1.visible", "public", 2), ("q2.hidden", "hidden", 3), ("q2.hidden_visible", "public", 0)]
    template = nbformat.read(str(public / "a7_warmup.ipynb"), as_version=4)
    template_code = "\n".join(c.source for c in template.cells if c.cell_type == "code")
    assert template_code.count("    # YOUR CODE HERE\n    raise NotImplementedError()") == 2
    assert "return a + b" not in template_code and "BEGIN" not in template_code
    solution = nbformat.read(str(solutions / "solution.ipynb"), as_version=4)
    assert "    return a + b" in [line for c in solution.cells for line in c.source.splitlines()]
    # The hidden test exists only in the source; its visible line is public, as nbgrader releases it.
    public_text = "\n".join(p.read_text() for p in public.iterdir())
    assert "5, 12" not in public_text and "hypotenuse(3, 4)" in public_text
    assert "5, 12" in (solutions / "a7_warmup.py").read_text()

    assignment = load_assignment(public)
    wrong = tmp_path / "wrong.ipynb"
    shutil.copyfile(solutions / "solution.ipynb", wrong)
    add = next(i for i, c in enumerate(nbformat.read(str(wrong), as_version=4).cells) if "def add" in c.source)
    edit_notebook(wrong, lambda nb: setattr(nb.cells[add], "source", "def add(a, b):\n    return a - b"))
    with Grader(assignment) as grader:
        reference = grader.grade(solutions / "solution.ipynb")
        stubs = grader.grade(public / "a7_warmup.ipynb")
        mistaken = grader.grade(wrong)
    assert reference.score == reference.max_score == 5 and reference.integrity == []
    assert stubs.status == "graded" and stubs.score == 0
    assert {c.diagnosis for c in stubs.checks} == {"not-implemented"}
    q1 = next(c for c in mistaken.checks if c.id == "q1.visible")
    assert q1.status == "failed" and "add(1, 2) should be 3" in q1.message and "line 1" in q1.message
    assert mistaken.score == 3

    report = release_assignment(public, tmp_path / "out")
    assert report.ok, [p.message for p in report.problems]


def test_nbgrader_import_refuses_to_overwrite_and_reports_unterminated_regions(tmp_path):
    source = nbgrader_source(tmp_path / "source.ipynb")
    root = tmp_path / "course"
    (root / "assignments" / "a7_warmup").mkdir(parents=True)
    assert main(["import", "nbgrader", str(source), "--id", "a7_warmup", "--root", str(root)]) == 2
    edit_notebook(source, lambda nb: setattr(nb.cells[3], "source", "def add(a, b):\n    ### BEGIN SOLUTION\n"))
    with pytest.raises(AuthoringError, match=r"cell 3 \(q1_answer\): the region opened at line 2 never ends"):
        import_nbgrader(source, "a8_other", root=root)
    assert not (root / "assignments" / "a8_other").exists() and not (root / "solutions" / "a8_other").exists()


def test_nbgrader_import_refuses_bare_markers_as_nbgrader_does(tmp_path):
    """Markers without nbgrader metadata: nbgrader (enforce_metadata, its default) refuses them, and so
    does the import, naming the cell; plain asserts without metadata are ordinary cells, with a note."""
    cells = [new_markdown_cell("# Bare markers"),
             new_code_cell("def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION"),
             new_code_cell("### BEGIN HIDDEN TESTS\nassert double(21) == 42\n### END HIDDEN TESTS")]
    source = tmp_path / "bare.ipynb"
    nbformat.write(new_notebook(cells=cells), str(source))
    with pytest.raises(AuthoringError, match=r"cell 1: `### BEGIN SOLUTION` in a cell that is not an nbgrader solution"):
        import_nbgrader(source, "a9_bare", root=tmp_path)
    source = nbgrader_source(tmp_path / "with_asserts.ipynb")
    notebook = nbformat.read(str(source), as_version=4)
    notebook.cells.append(new_code_cell("assert add(2, 2) == 4"))
    nbformat.write(notebook, str(source))
    outcome = import_nbgrader(source, "a9_bare", root=tmp_path)
    assert any("assert statements but no nbgrader metadata" in note for note in outcome.notes)
    assert load_assignment(tmp_path / "assignments" / "a9_bare").max_score == 5
    template = (tmp_path / "assignments" / "a9_bare" / "a9_bare.ipynb").read_text()
    assert "return a + b" not in template and "5, 12" not in template


COURSE = sorted(p.name for p in (ROOT / "assignments").iterdir() if (p / "assignment.yaml").is_file())


@pytest.mark.parametrize("assignment_id", COURSE)
def test_every_assignment_of_the_course_builds_a_release_without_a_leak(assignment_id, tmp_path):
    """The gate's first stage for all six (the sandbox stages grade what tests/test_course.py grades;
    `make release` runs the whole gate on every assignment)."""
    from tensorgrade.course.release.gate import ReleaseReport, _spec_stage

    assignment = load_assignment(ROOT / "assignments" / assignment_id)
    staging = tmp_path / "release" / assignment_id
    problems, secrets = _spec_stage(assignment, public_seed_of(assignment), staging, ROOT,
                                    ReleaseReport(assignment=assignment_id))
    assert problems == [] and secrets is not None
    released = {p.relative_to(staging).as_posix() for p in staging.rglob("*") if p.is_file()}
    assert f"{assignment_id}.ipynb" in released and "assignment.yaml" in released
    assert not any(part in name for name in released for part in ("solution", "mistakes", "secret", ".cache"))


def test_the_course_has_six_assignments():
    assert COURSE == ["a1_backprop", "a2_autograd", "a3_dataset", "a4_training", "a5_evaluation", "a6_tensorflow"]
