"""Overrides and exports from a real gradebook: CSV, Canvas import CSV, Gradescope results.json and zip."""

import csv
import io
import json
import os
import sqlite3
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from tensorgrade.classroom.gradebook import Gradebook
from tensorgrade.safe_text import file_name
from conftest import ROOT

A2 = ROOT / "assignments" / "a2_autograd"
SAMPLES = ROOT / "solutions" / "a2_autograd" / "samples"
EXPECTED = yaml.safe_load((SAMPLES / "expected.yaml").read_text())
CANVAS_STUDENTS = {  # Canvas file name -> (student id, sample)
    "doejane_12345_67890_a2_autograd.ipynb": ("doejane", "correct"),
    "roejim_LATE_22222_33333_a2_autograd.ipynb": ("roejim", "forgot_zero_grad"),
}
GRADESCOPE_FORMATS = {"text", "html", "simple_format", "md", "ansi"}
GRADESCOPE_VISIBILITIES = {"hidden", "after_due_date", "after_published", "visible"}


def cli(*args: str, timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tensorgrade", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "COLUMNS": "200", **(env or {})})


@pytest.fixture(scope="module")
def gradebook_path(tmp_path_factory) -> Path:
    """One gradebook for the module: every a2 sample as a student's flat file, a file that is not a
    notebook, and a Canvas download zip (ids, a late submission), graded in one run."""
    root = tmp_path_factory.mktemp("exports")
    folder = root / "submissions"
    folder.mkdir()
    for sample in EXPECTED:
        (folder / f"{sample}.ipynb").write_bytes((SAMPLES / f"{sample}.ipynb").read_bytes())
    (folder / "broken.ipynb").write_text("{not json")
    with zipfile.ZipFile(root / "canvas.zip", "w") as bundle:
        for name, (_, sample) in CANVAS_STUDENTS.items():
            bundle.writestr(name, (SAMPLES / f"{sample}.ipynb").read_bytes())
    database = root / "grades.db"
    proc = cli("grade", str(A2), str(folder), str(root / "canvas.zip"), "--gradebook", str(database), "-j", "2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "12 graded now" in proc.stdout and "11 graded, 1 invalid" in proc.stdout
    return database


def expected_scores() -> dict[str, float]:
    scores = {sample: spec["score"] for sample, spec in EXPECTED.items()}
    scores.update({student: EXPECTED[sample]["score"] for student, sample in CANVAS_STUDENTS.values()})
    return scores | {"broken": 0}


def autograder_score(result) -> float:
    """The score before TA overrides (other tests of this module add some)."""
    return result.score - sum(check.points - check.details["override"]["autograder_points"]
                              for check in result.checks if "override" in check.details)


def test_results_api_gives_students_and_results(gradebook_path):
    with Gradebook(gradebook_path) as gradebook:
        pairs = gradebook.results("a2_autograd")
        entries = {entry.student: entry for entry in gradebook.entries("a2_autograd")}
        assert gradebook.results("no_such_assignment") == []
    assert [student for student, _ in pairs] == sorted(expected_scores())
    assert {student: autograder_score(result) for student, result in pairs} == expected_scores()
    assert entries["broken"].result.status == "invalid" and "not valid notebook JSON" in entries["broken"].result.error
    assert entries["doejane"].lms_id == "12345" and not entries["doejane"].late
    assert entries["roejim"].late and entries["roejim"].submission.endswith(
        "canvas.zip:roejim_LATE_22222_33333_a2_autograd.ipynb")


def test_override_is_marked_exported_and_survives_a_regrade(gradebook_path):
    student, check = "forgot_zero_grad", "q3.final_loss"
    proc = cli("override", str(gradebook_path), "--student", student, "--check", check, "--points", "2",
               "--comment", "loss is fine when rerun with the seed fixed")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "kept through regrades" in proc.stdout

    def current():
        with Gradebook(gradebook_path) as gradebook:
            return dict(gradebook.results("a2_autograd"))[student], gradebook.grading_count("a2_autograd", student)

    result, count = current()
    overridden = next(c for c in result.checks if c.id == check)
    assert overridden.points == 2 and result.score == EXPECTED[student]["score"] + 2
    assert overridden.details["override"]["autograder_points"] == 0
    assert overridden.details["override"]["comment"] == "loss is fine when rerun with the seed fixed"
    assert "TA override: 2/2 points (autograder: 0)" in overridden.message

    # a forced regrade of that student appends a grading; the override still applies on top of it
    folder = gradebook_path.parent / "submissions"
    proc = cli("grade", str(A2), str(folder / f"{student}.ipynb"), "--gradebook", str(gradebook_path), "--force",
               "-j", "1")
    assert proc.returncode == 0 and "1 graded now" in proc.stdout, proc.stdout + proc.stderr
    result, regraded_count = current()
    assert regraded_count == count + 1
    assert result.score == EXPECTED[student]["score"] + 2
    assert next(c for c in result.checks if c.id == check).details["override"]["points"] == 2

    # refused: an unknown check, more than the check is worth, a student never graded
    for args, message in [(["--check", "q3.nope", "--points", "1"], "has no check 'q3.nope'"),
                          (["--check", check, "--points", "3"], "between 0 and 2"),
                          (["--check", check, "--points", "1", "--student", "nobody"], "no grading of student")]:
        full = ["--student", student, *args] if "--student" not in args else args
        proc = cli("override", str(gradebook_path), *full)
        assert proc.returncode == 2 and message in proc.stdout, proc.stdout


def test_csv_gradebook_has_a_row_per_student_and_a_column_per_question(gradebook_path, tmp_path):
    out = tmp_path / "grades.csv"
    proc = cli("export", str(gradebook_path), "--assignment", "a2_autograd", "--format", "csv", "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert list(rows[0])[:7] == ["student", "lms_id", "status", "q1", "q2", "q3", "total"]
    by_student = {row["student"]: row for row in rows}
    assert len(rows) == len(by_student) == len(expected_scores())
    with Gradebook(gradebook_path) as gradebook:
        results = dict(gradebook.results("a2_autograd"))  # overrides included, as the export has them
    for student, result in results.items():
        row = by_student[student]
        assert float(row["total"]) == result.score == sum(float(row[q]) for q in ("q1", "q2", "q3"))
        assert float(row["max_score"]) == 10 and row["status"] == result.status
    assert by_student["broken"]["status"] == "invalid" and "not valid notebook JSON" in by_student["broken"]["diagnosis"]
    assert by_student["doejane"]["lms_id"] == "12345" and by_student["roejim"]["late"] == "yes"
    assert by_student["wrong_gradient_sign"]["diagnosis"].startswith("wrong-gradient-sign")


def test_canvas_import_csv(gradebook_path, tmp_path):
    out = tmp_path / "canvas.csv"
    proc = cli("export", str(gradebook_path), "--assignment", "a2_autograd", "--format", "canvas", "--out", str(out),
               "--column", "A2 autograd (98765)")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = list(csv.reader(io.StringIO(out.read_text())))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "A2 autograd (98765)"]
    assert rows[1][0] == "Points Possible" and float(rows[1][5]) == 10
    students = {row[0]: row for row in rows[2:]}
    assert len(students) == len(expected_scores())
    assert students["doejane"][1] == "12345" and float(students["doejane"][5]) == 10
    for row in rows[2:]:
        assert len(row) == 6 and float(row[5]) >= 0

    # with the class roster (a Canvas gradebook export): names, ids and sections from Canvas
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "Student,ID,SIS User ID,SIS Login ID,Section,A2 autograd (98765)\n"
        "    Points Possible,,,,,10\n"
        '"Doe, Jane",12345,S-1001,jdoe,Section 01,\n'
        '"Roe, Jim",22222,S-1002,jroe,Section 02,\n'
        '"Correct, Carl",33333,S-1003,correct,Section 01,\n')
    proc = cli("export", str(gradebook_path), "--assignment", "a2_autograd", "--format", "canvas", "--out", str(out),
               "--roster", str(roster))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = {row[1]: row for row in list(csv.reader(io.StringIO(out.read_text())))[2:]}
    assert rows["12345"][:5] == ["Doe, Jane", "12345", "S-1001", "jdoe", "Section 01"]
    assert rows["22222"][:5] == ["Roe, Jim", "22222", "S-1002", "jroe", "Section 02"]
    assert rows["33333"][0] == "Correct, Carl" and float(rows["33333"][5]) == 10  # matched by SIS login
    assert "wrong_gradient_sign: not found in the roster" in proc.stdout


def assert_gradescope_results(data: dict) -> None:
    """The fields and types of Gradescope's results.json."""
    assert isinstance(data["score"], (int, float)) and isinstance(data["execution_time"], int)
    assert isinstance(data["output"], str) and data["output_format"] in GRADESCOPE_FORMATS
    assert data["visibility"] in GRADESCOPE_VISIBILITIES and data["stdout_visibility"] in GRADESCOPE_VISIBILITIES
    assert isinstance(data["tests"], list) and isinstance(data["leaderboard"], list)
    for test in data["tests"]:
        assert set(test) == {"score", "max_score", "status", "name", "number", "output", "output_format", "tags",
                             "visibility"}
        assert isinstance(test["score"], (int, float)) and isinstance(test["max_score"], (int, float))
        assert test["status"] in ("passed", "failed")
        assert isinstance(test["name"], str) and isinstance(test["number"], str) and isinstance(test["output"], str)
        assert test["output_format"] in GRADESCOPE_FORMATS and test["visibility"] in GRADESCOPE_VISIBILITIES
        assert isinstance(test["tags"], list) and all(isinstance(tag, str) for tag in test["tags"])
    if data["tests"]:
        assert abs(sum(test["score"] for test in data["tests"]) - data["score"]) < 1e-9


def seen_before_publication(data: dict) -> dict:
    """What a student sees of a results.json before the grades are published, by Gradescope's
    documented rules ("Autograder Specifications"): a test's `visibility` overrides the top-level
    one (default `visible`); only `visible` tests show before publication; while any test is not
    visible (`hidden` ones aside), the total score is not shown."""
    default = data.get("visibility", "visible")
    tests = [test for test in data["tests"] if test.get("visibility", default) == "visible"]
    waiting = [test for test in data["tests"] if test.get("visibility", default) in ("after_published", "after_due_date")]
    return {"tests": tests, "score": None if waiting else data["score"], "output": data["output"]}


def test_gradescope_results_per_submission_hide_hidden_checks(gradebook_path, tmp_path):
    with Gradebook(gradebook_path) as gradebook:
        gradebook.set_override("stub_left", "q3.returns", 1, "train_legendre was written, in the wrong cell")
    proc = cli("export", str(gradebook_path), "--assignment", "a2_autograd", "--format", "gradescope",
               "--out", str(tmp_path / "gs"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with Gradebook(gradebook_path) as gradebook:
        results = dict(gradebook.results("a2_autograd"))
    # a folder per student, named by safe_text.file_name (readable part, hash), and the index of them
    index = json.loads((tmp_path / "gs" / "index.json").read_text())
    assert index == {file_name(student): student for student in results}
    assert sorted(p.name for p in (tmp_path / "gs").iterdir() if p.is_dir()) == sorted(index)
    for student, result in results.items():
        assert file_name(student).startswith(student + "-")  # these ids are readable as they are
        text = (tmp_path / "gs" / file_name(student) / "results.json").read_text()
        data = json.loads(text)
        assert_gradescope_results(data)
        assert data["score"] == result.score
        by_name = {test["name"]: test for test in data["tests"]}
        for check in result.checks:
            test = by_name[check.id]
            assert test["score"] == check.points and test["max_score"] == check.max_points
            if check.visibility == "hidden":
                assert test["visibility"] == "after_published" and test["output"] in ("passed", "failed")
                assert test["tags"] == [check.question]
                # nothing of the hidden message reaches the student's file, but where a public check
                # says the same (the student's own traceback, when both checks call the same function)
                public = " ".join(t["output"] for t in data["tests"] if t["visibility"] == "visible")
                for line in check.message.splitlines():
                    if len(line.strip()) > 12 and line.strip() not in public:
                        assert line.strip() not in text, (student, check.id, line)
            else:
                assert test["visibility"] == "visible" and test["output"].startswith(check.message.split("\n")[0])
        # before publication: the public checks and their points, no total, nothing a student could
        # subtract the public points from (the output states the public points and the hidden worth)
        if result.status == "graded":
            public = [c for c in result.checks if c.visibility == "public"]
            hidden = [c for c in result.checks if c.visibility == "hidden"]
            assert data["visibility"] == "after_published"
            seen = seen_before_publication(data)
            assert seen["score"] is None and {t["name"] for t in seen["tests"]} == {c.id for c in public}
            assert seen["output"].splitlines()[0] == (
                f"Public checks: {sum(c.points for c in public):g} / {sum(c.max_points for c in public):g} points. "
                f"Hidden checks: {len(hidden)} check(s) worth {sum(c.max_points for c in hidden):g} point(s), "
                "shown with your total score when the grades are published.")
            assert "Autograder score" not in seen["output"]
    broken = json.loads((tmp_path / "gs" / file_name("broken") / "results.json").read_text())
    assert broken["tests"] == [] and "could not be graded" in broken["output"]
    assert broken["visibility"] == "visible"  # nothing hidden to wait for: the student sees why at once
    # an override shows in a public check's output, and full points count as passed
    tests = {t["name"]: t for t in json.loads((tmp_path / "gs" / file_name("stub_left") / "results.json").read_text())["tests"]}
    assert tests["q3.returns"]["status"] == "passed" and tests["q3.returns"]["score"] == 1
    assert "TA override: 1/1 points (autograder: 0): train_legendre was written" in tests["q3.returns"]["output"]
    assert "Diagnosis: not-implemented" in tests["q3.returns"]["output"]


def _extract_like_gradescope(archive: Path, source: Path) -> None:
    with zipfile.ZipFile(archive) as bundle:
        for info in bundle.infolist():
            target = source / info.filename
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(bundle.read(info))
            os.chmod(target, (info.external_attr >> 16) & 0o777)


def test_gradescope_autograder_zip_runs_and_writes_results(tmp_path):
    archive = tmp_path / "autograder.zip"
    proc = cli("gradescope", str(A2), "--out", str(archive))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with zipfile.ZipFile(archive) as bundle:
        names = set(bundle.namelist())
        modes = {info.filename: (info.external_attr >> 16) for info in bundle.infolist()}
        setup = bundle.read("setup.sh").decode()
    assert {"setup.sh", "run_autograder", "package/pyproject.toml", "package/constraints.txt",
            "package/tensorgrade/grading/grader.py",
            "assignments/a2_autograd/assignment.yaml", "solutions/a2_autograd/a2_autograd.py",
            "solutions/a2_autograd/solution.ipynb", "solutions/a2_autograd/thresholds.json"} <= names
    assert modes["run_autograder"] & stat.S_IXUSR and modes["setup.sh"] & stat.S_IXUSR
    assert not any("/samples/" in name or "__pycache__" in name for name in names)
    assert "bubblewrap" in setup and "torch==2.13.0" in setup and "download.pytorch.org/whl/cpu" in setup

    # a temporary root laid out like Gradescope's; this machine's .venv stands in for setup.sh's
    root = tmp_path / "autograder"
    _extract_like_gradescope(archive, root / "source")
    (root / "submission").mkdir()
    (root / "submission" / "a2_autograd.ipynb").write_bytes((SAMPLES / "backward_missing_factor.ipynb").read_bytes())
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": sys.executable}
    run = subprocess.run([str(root / "source" / "run_autograder")], env=env, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    data = json.loads((root / "results" / "results.json").read_text())
    assert_gradescope_results(data)
    assert data["score"] == EXPECTED["backward_missing_factor"]["score"]
    tests = {test["name"]: test for test in data["tests"]}
    assert tests["q1.gradcheck"] == {**tests["q1.gradcheck"], "status": "failed", "output": "failed",
                                     "visibility": "after_published"}
    assert data["visibility"] == "after_published" and seen_before_publication(data)["score"] is None
    assert data["output"].startswith("Public checks: ")
    assert "backward-missing-factor" in tests["q1.backward"]["output"] + " ".join(tests["q1.backward"]["tags"])

    # an upload without a notebook still gets a results.json that says what to upload
    (root / "submission" / "a2_autograd.ipynb").rename(root / "submission" / "answers.py")
    run = subprocess.run([str(root / "source" / "run_autograder")], env=env, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    data = json.loads((root / "results" / "results.json").read_text())
    assert_gradescope_results(data)
    assert data["score"] == 0 and "No notebook" in data["output"] and "answers.py" in data["output"]


def test_gradescope_autograder_writes_no_results_for_a_grader_error(tmp_path):
    """A grader error on Gradescope is its "autograder failed" state (no results.json: Gradescope's
    troubleshooting page), recorded as an autograder error, not the student's: never 0 points.
    Real: the zip of an assignment whose preload this machine lacks, run like Gradescope runs it."""
    from conftest import MISSING_MODULE as MISSING, double_assignment, write_notebook
    from test_grader_errors_shown import CORRECT

    broken = double_assignment(tmp_path / "course", ["numpy", MISSING])
    archive = tmp_path / "autograder.zip"
    proc = cli("gradescope", str(broken), "--out", str(archive))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    root = tmp_path / "autograder"
    _extract_like_gradescope(archive, root / "source")
    (root / "submission").mkdir()
    write_notebook(root / "submission" / "env_check.ipynb", CORRECT)
    (root / "results").mkdir()
    (root / "results" / "results.json").write_text('{"score": 0.0}')  # left by an earlier run (a local try)
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": sys.executable}
    run = subprocess.run([str(root / "source" / "run_autograder")], env=env, capture_output=True, text=True,
                         timeout=600)
    assert not (root / "results" / "results.json").exists(), "a grader error left a results.json: a score"
    assert run.returncode == 1, run.stdout + run.stderr
    output = " ".join(run.stdout.split())  # the staff's autograder output (stdout, not shown to students)
    assert f"grader failure (not the student's): grader error (not the student's fault, regrade): `{MISSING}` is " \
           "not installed" in output, output
    assert 'no results.json written: Gradescope shows this submission as "The autograder failed to execute ' \
           'correctly"' in output and "Traceback" not in run.stdout + run.stderr


def test_a_grader_error_is_blank_in_every_export_never_zero(tmp_path):
    from tensorgrade.classroom.exports import canvas_csv, gradebook_csv
    from tensorgrade.grading.results import SubmissionResult

    database = tmp_path / "grades.db"
    with Gradebook(database) as gradebook:
        gradebook.record(SubmissionResult(submission="bob.ipynb", assignment="a2_autograd", version="1.0",
                                          status="error", max_score=10,
                                          error="grader error (not the student's fault, regrade): worker died"),
                         student="bob", content_hash="0" * 64, fingerprint="f")
        entries = gradebook.entries("a2_autograd")
    rows = list(csv.DictReader(io.StringIO(gradebook_csv(entries))))
    assert rows[0]["status"] == "error" and rows[0]["total"] == "" and rows[0]["max_score"] == "10"
    canvas, warnings = canvas_csv(entries, "a2 (123)")
    assert list(csv.reader(io.StringIO(canvas)))[2][-1] == "" and any("grader error" in w for w in warnings)


def test_ta_commands_on_the_wrong_file_say_what_it_is(gradebook_path, tmp_path):
    """export, report and override given a results JSON, a CSV, a junk .db or a missing file: a
    message naming the file and what it is, exit 2, no traceback, and the file left as it was."""
    with Gradebook(gradebook_path) as gradebook:
        results = [result.to_json() | {"student": student} for student, result in gradebook.results("a2_autograd")]
    results_json = tmp_path / "results.json"  # what `grade --json` writes
    results_json.write_text(json.dumps(results, indent=1))
    grades_csv = tmp_path / "grades.csv"
    assert cli("export", str(gradebook_path), "--assignment", "a2_autograd", "--out", str(grades_csv)).returncode == 0
    junk = tmp_path / "grades-copy.db"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    other = tmp_path / "course.db"
    sqlite3.connect(other).execute("CREATE TABLE students (name TEXT)").connection.commit()
    files = {results_json: f"is a results file from `tensorgrade grade --json` ({len(results)} result(s) of a2_autograd)",
             grades_csv: "is a CSV file (first line: 'student,lms_id,status,",
             junk: "is a binary file, not SQLite",
             other: "is an SQLite database of another kind (its tables: students;",
             tmp_path / "grade.db": "no such"}
    before = {path: path.read_bytes() for path in files if path.exists()}
    for path, what in files.items():
        commands = {"export": ["export", str(path), "--assignment", "a2_autograd", "--out", str(tmp_path / "o.csv")],
                    "override": ["override", str(path), "--student", "correct", "--check", "q1.forward", "--points",
                                 "1"],
                    "report": ["report", str(path), "--assignment", "a2_autograd", "--out", str(tmp_path / "r")]}
        for name, command in commands.items():
            if name == "report" and path == results_json:
                continue  # report reads results files: below
            proc = cli(*command)
            assert proc.returncode == 2, (name, path, proc.stdout + proc.stderr)
            assert "Traceback" not in proc.stdout + proc.stderr, (name, path)
            assert str(path) in proc.stdout and what in proc.stdout, (name, path, proc.stdout)
    assert {path: path.read_bytes() for path in before} == before and not (tmp_path / "grade.db").exists()

    # an assignment id the source does not have: the ids it has, from a gradebook and a results file
    for source in (gradebook_path, results_json):
        proc = cli("report", str(source), "--assignment", "a2", "--out", str(tmp_path / "r"))
        assert proc.returncode == 2 and "no results for assignment a2" in proc.stdout
        assert "(it has: a2_autograd)" in proc.stdout, proc.stdout
    # a roster that is missing, or is not a Canvas export
    for roster, what in ((tmp_path / "roster.csv", "no such file"), (results_json, "is a results file")):
        proc = cli("export", str(gradebook_path), "--assignment", "a2_autograd", "--format", "canvas", "--out",
                   str(tmp_path / "canvas.csv"), "--roster", str(roster))
        assert proc.returncode == 2 and str(roster) in proc.stdout and what in proc.stdout, proc.stdout
        assert "Traceback" not in proc.stdout + proc.stderr and not (tmp_path / "canvas.csv").exists()
