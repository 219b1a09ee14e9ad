"""TA batch grading: discovery, a class of 40 graded into a gradebook, skips, a killed run resumed."""

import csv
import hashlib
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
import yaml

from tensorgrade.classroom import batch, discovery
from tensorgrade.classroom.gradebook import Gradebook
from tensorgrade.grading.results import SubmissionResult
from conftest import ROOT, write_notebook

A2 = ROOT / "assignments" / "a2_autograd"
SAMPLES = ROOT / "solutions" / "a2_autograd" / "samples"
EXPECTED = yaml.safe_load((SAMPLES / "expected.yaml").read_text())
SAMPLE_NAMES = sorted(EXPECTED)
CLASS_SIZE = 40


def cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tensorgrade", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "COLUMNS": "200"})


def gradings(database: Path) -> list[tuple[str, str]]:
    """(student, content hash) of every grading event stored, read as any other SQLite reader would."""
    with sqlite3.connect(database) as db:
        return db.execute("SELECT student, content_hash FROM gradings ORDER BY id").fetchall()


def copy_sample(sample: str, target: Path, student: str) -> Path:
    """A student's copy of a sample: their own metadata, so every file's hash differs."""
    notebook = nbformat.read(SAMPLES / f"{sample}.ipynb", as_version=4)
    notebook.metadata["submitted_by"] = student
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, target)
    return target


@pytest.fixture(scope="module")
def class_folder(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """submissions/<student>/a2_autograd.ipynb for 40 students, each a copy of one a2 sample."""
    root = tmp_path_factory.mktemp("class") / "submissions"
    samples = {}
    for index in range(CLASS_SIZE):
        student = f"s{index:03d}"
        samples[student] = SAMPLE_NAMES[index % len(SAMPLE_NAMES)]
        copy_sample(samples[student], root / student / "a2_autograd.ipynb", student)
    return root, samples


@pytest.fixture(scope="module")
def first_run(class_folder, tmp_path_factory):
    folder, _ = class_folder
    out = tmp_path_factory.mktemp("first-run")
    database, results = out / "grades.db", out / "results.json"
    started = time.perf_counter()
    proc = cli("grade", str(A2), str(folder), "--gradebook", str(database), "-j", "2", "--json", str(results))
    seconds = time.perf_counter() - started
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return database, results, proc, seconds


def test_forty_students_graded_in_parallel_into_the_gradebook(class_folder, first_run):
    folder, samples = class_folder
    database, results_path, proc, _ = first_run
    assert "40 student(s) found (student ids from: one folder per student)" in proc.stdout
    assert "40 graded now, 0 unchanged" in proc.stdout and "Batch summary" in proc.stdout
    assert "graded 40" in proc.stdout  # the progress bar's counts, final frame
    events = gradings(database)
    assert len(events) == CLASS_SIZE and {student for student, _ in events} == set(samples)
    with Gradebook(database) as gradebook:
        entries = {entry.student: entry for entry in gradebook.entries("a2_autograd")}
        results = dict(gradebook.results("a2_autograd"))
    assert sorted(results) == sorted(samples)
    for student, sample in samples.items():
        entry = entries[student]
        assert isinstance(results[student], SubmissionResult) and results[student].student == student
        assert entry.result.score == EXPECTED[sample]["score"], (student, sample)
        assert entry.content_hash == hashlib.sha256((folder / student / "a2_autograd.ipynb").read_bytes()).hexdigest()
        assert entry.version == "1.0" and entry.submission == str(folder / student / "a2_autograd.ipynb")
        expected_diagnoses = EXPECTED[sample].get("diagnoses", {})
        assert {c.id: c.diagnosis for c in entry.result.checks if c.id in expected_diagnoses} == expected_diagnoses
    # per-check rows, timing and the full result are stored beside the scores
    with sqlite3.connect(database) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("SELECT COUNT(*) FROM check_results").fetchone()[0] == CLASS_SIZE * 9
        assert db.execute("SELECT MIN(seconds) > 0 FROM gradings").fetchone()[0] == 1
        stored = json.loads(db.execute("SELECT result_json FROM gradings LIMIT 1").fetchone()[0])
        assert {"checks", "cells", "integrity", "isolation", "timing"} <= set(stored)
    # --json still writes the whole array, in student order, each naming its student
    written = json.loads(results_path.read_text())
    assert [r["student"] for r in written] == sorted(samples)
    # the summary names each student with their score and main diagnosis
    assert "s002" in proc.stdout and "wrong-gradient-sign (4 checks)" in proc.stdout


def test_second_run_skips_every_unchanged_submission(class_folder, first_run):
    folder, samples = class_folder
    database, _, _, first_seconds = first_run
    started = time.perf_counter()
    proc = cli("grade", str(A2), str(folder), "--gradebook", str(database), "-j", "2")
    seconds = time.perf_counter() - started
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "40 submission(s) unchanged since the gradebook's result: skipped" in proc.stdout
    assert "0 graded now, 40 unchanged (skipped)" in proc.stdout
    assert len(gradings(database)) == CLASS_SIZE  # nothing graded twice
    assert "graded (unchanged)" in proc.stdout and "wrong-gradient-sign" in proc.stdout  # the summary is complete
    print(f"first run {first_seconds:.1f} s, second run (all skipped) {seconds:.1f} s")


def test_changed_notebook_is_regraded_alone_and_force_regrades_all(class_folder, first_run, tmp_path, monkeypatch):
    folder, samples = class_folder
    database, *_ = first_run
    # A copy of the class and its gradebook: the other tests keep theirs.
    own_folder, own_database = tmp_path / "submissions", tmp_path / "grades.db"
    for student in samples:
        (own_folder / student).mkdir(parents=True)
        (own_folder / student / "a2_autograd.ipynb").write_bytes((folder / student / "a2_autograd.ipynb").read_bytes())
    with sqlite3.connect(database) as source, sqlite3.connect(own_database) as target:
        source.backup(target)
    copy_sample("correct", own_folder / "s002" / "a2_autograd.ipynb", "s002")  # s002 resubmits, fixed
    proc = cli("grade", str(A2), str(own_folder), "--gradebook", str(own_database), "-j", "1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 graded now, 39 unchanged" in proc.stdout
    assert [student for student, _ in gradings(own_database)][CLASS_SIZE:] == ["s002"]
    with Gradebook(own_database) as gradebook:
        assert dict(gradebook.results("a2_autograd"))["s002"].score == 10

        # --force hands every submission to the executor again (a stand-in executor: no sandbox needed)
        handed: list[Path] = []

        class RecordingExecutor:
            restarts = 0  # the Executor protocol: workers replaced (none here)

            def grade_all(self, paths, on_result):
                for path in paths:
                    handed.append(path)
                    on_result(path, SubmissionResult(submission=str(path), assignment="a2_autograd",
                                                     version="1.0", status="graded", score=1, max_score=10))

        from tensorgrade.course.assignment import load_assignment

        assignment = load_assignment(A2)
        found = discovery.discover_folder(own_folder)
        unforced = batch.run_batch(assignment, found.submissions, RecordingExecutor(), gradebook)
        assert handed == [] and len(unforced.skipped) == CLASS_SIZE
        forced = batch.run_batch(assignment, found.submissions, RecordingExecutor(), gradebook, force=True)
        assert len(handed) == CLASS_SIZE and len(forced.graded) == CLASS_SIZE
        assert gradebook.grading_count("a2_autograd") == 2 * CLASS_SIZE + 1


def test_killed_run_resumes_with_nothing_lost_and_nothing_graded_twice(class_folder, tmp_path):
    folder, samples = class_folder
    database = tmp_path / "grades.db"
    command = [sys.executable, "-m", "tensorgrade", "grade", str(A2), str(folder), "--gradebook", str(database),
               "-j", "2"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stored_at_kill = 0
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if database.exists():
                try:
                    stored_at_kill = len(gradings(database))
                except sqlite3.OperationalError:  # the schema is being created
                    stored_at_kill = 0
                if stored_at_kill >= 10:
                    process.send_signal(signal.SIGKILL)
                    break
            time.sleep(0.05)
    finally:
        if process.poll() is None and stored_at_kill < 10:
            process.kill()
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed halfway"
    after_kill = gradings(database)
    assert 10 <= len(after_kill) < CLASS_SIZE, len(after_kill)
    assert len({student for student, _ in after_kill}) == len(after_kill)

    proc = cli("grade", str(A2), str(folder), "--gradebook", str(database), "-j", "2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{CLASS_SIZE - len(after_kill)} graded now, {len(after_kill)} unchanged" in proc.stdout
    events = gradings(database)
    assert len(events) == CLASS_SIZE  # every grading event once: none lost, none repeated
    assert sorted(student for student, _ in events) == sorted(samples)
    assert events[:len(after_kill)] == after_kill  # what the killed run stored is kept as it was
    with Gradebook(database) as gradebook:
        scores = {student: result.score for student, result in gradebook.results("a2_autograd")}
    assert scores == {student: EXPECTED[sample]["score"] for student, sample in samples.items()}


# ---------------------------------------------------------------------------------------------
# Discovery (no grading)
# ---------------------------------------------------------------------------------------------

def test_folders_and_flat_files_give_student_ids(tmp_path):
    nested = tmp_path / "nested"
    (nested / "ada").mkdir(parents=True)
    write_notebook(nested / "ada" / "a2_autograd.ipynb", ["1"])
    (nested / "bob" / "work").mkdir(parents=True)
    write_notebook(nested / "bob" / "work" / "mine.ipynb", ["2"])
    (nested / "bob" / ".ipynb_checkpoints").mkdir()
    write_notebook(nested / "bob" / ".ipynb_checkpoints" / "mine-checkpoint.ipynb", ["3"])
    (nested / "ada" / "notes.txt").write_text("not a notebook")
    found = discovery.discover_folder(nested)
    assert [(s.student, s.path.name) for s in found.submissions] == [("ada", "a2_autograd.ipynb"), ("bob", "mine.ipynb")]
    assert found.warnings == [] and found.ignored == [str(nested / "ada" / "notes.txt")]
    assert found.submissions[0].content_hash == hashlib.sha256((nested / "ada" / "a2_autograd.ipynb").read_bytes()).hexdigest()

    flat = tmp_path / "flat"
    flat.mkdir()
    for name in ("carol", "dave"):
        write_notebook(flat / f"{name}.ipynb", [name])
    found = discovery.discover_folder(flat)
    assert [s.student for s in found.submissions] == ["carol", "dave"]
    assert found.layout == "one file per student (file name)"


def test_two_notebooks_for_one_student_warn_and_grade_the_newest(tmp_path):
    folder = tmp_path / "submissions" / "erin"
    folder.mkdir(parents=True)
    old = write_notebook(folder / "a2_autograd.ipynb", ["old"])
    new = write_notebook(folder / "a2_autograd_final.ipynb", ["new"])
    os.utime(old, (1_700_000_000, 1_700_000_000))
    os.utime(new, (1_700_000_500, 1_700_000_500))
    found = discovery.discover_folder(tmp_path / "submissions")
    assert [s.path for s in found.submissions] == [new]
    [warning] = found.warnings
    assert str(old) in warning and str(new) in warning and f"grading the newest, {new}" in warning
    # the CLI says it too, before grading anything; it knows the assignment's notebook name, and
    # a2_autograd.ipynb is graded although a2_autograd_final.ipynb is newer
    proc = cli("grade", str(A2), str(tmp_path / "submissions"), "--dry-run")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "warning: erin: 2 notebooks" in proc.stdout
    assert f"grading the one named like the assignment's notebook a2_autograd.ipynb, {old}" in proc.stdout


A4 = ROOT / "assignments" / "a4_training"
A4_SAMPLES = ROOT / "solutions" / "a4_training" / "samples"
A4_CLASS = {"alvarez": "correct", "baker": "forgot_zero_grad", "chen": "hardcoded_cuda", "diaz": "softmax_output",
            "evans": "stub_left"}


def test_compress_folder_zip_of_a_class_is_the_class_not_one_student(tmp_path):
    """What macOS's "compress folder" (and Windows's "send to zip") makes of a class's folder: every
    member below one top folder, plus __MACOSX resource forks. Each student is found below it."""
    members = {}
    for student, sample in A4_CLASS.items():
        members[f"a4 submissions/{student}/a4_training.ipynb"] = (A4_SAMPLES / f"{sample}.ipynb").read_bytes()
        members[f"__MACOSX/a4 submissions/{student}/._a4_training.ipynb"] = b"\x00\x05\x16\x07resource fork"
    members["a4 submissions/.DS_Store"] = b"\x00\x00\x00\x01Bud1"
    archive = _zip(tmp_path / "a4 submissions.zip", members)
    with discovery.ExtractedArchive(archive, notebook_name="a4_training.ipynb") as found:
        assert [s.student for s in found.submissions] == sorted(A4_CLASS)
        assert found.layout == "one folder per student, below the single top folder a4 submissions/"
        assert found.submissions[0].label == f"{archive}:a4 submissions/alvarez/a4_training.ipynb"
        assert found.warnings == []
    proc = cli("grade", str(A4), str(archive), "--dry-run")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "5 student(s) found (student ids from: one folder per student, below the single top folder " \
           "a4 submissions/)" in proc.stdout
    assert all(student in proc.stdout for student in A4_CLASS)


def test_canvas_download_inside_a_folder_keeps_canvas_ids_through_gradebook_and_export(tmp_path):
    """A Canvas download unzipped into a folder and zipped again: the ids survive into the gradebook
    and the Canvas import CSV (graded for real: a2, two students)."""
    archive = _zip(tmp_path / "canvas.zip", {
        "A2 autograd submissions/doejane_12345_67890_a2_autograd.ipynb": (SAMPLES / "correct.ipynb").read_bytes(),
        "A2 autograd submissions/roejim_LATE_22222_33333_a2_autograd.ipynb":
            (SAMPLES / "forgot_zero_grad.ipynb").read_bytes(),
    })
    database = tmp_path / "grades.db"
    proc = cli("grade", str(A2), str(archive), "--gradebook", str(database), "-j", "2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 student(s) found (student ids from: Canvas file names (name_[LATE_]userid_submissionid_file), below " \
           "the single top folder A2 autograd submissions/)" in proc.stdout
    with Gradebook(database) as gradebook:
        entries = {entry.student: entry for entry in gradebook.entries("a2_autograd")}
    assert sorted(entries) == ["doejane", "roejim"]
    assert entries["doejane"].lms_id == "12345" and entries["roejim"].lms_id == "22222" and entries["roejim"].late
    assert entries["doejane"].result.score == EXPECTED["correct"]["score"]
    out = tmp_path / "canvas.csv"
    proc = cli("export", str(database), "--assignment", "a2_autograd", "--format", "canvas", "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = {row[1]: row for row in list(csv.reader(io.StringIO(out.read_text())))[2:]}
    assert sorted(rows) == ["12345", "22222"] and float(rows["12345"][5]) == EXPECTED["correct"]["score"]


def test_one_students_folder_is_still_one_student(tmp_path):
    """The other side of the rule: a single student's folder (two versions of the notebook, or a
    subfolder of their own) is not taken for a class."""
    folder = tmp_path / "submissions" / "erin"
    folder.mkdir(parents=True)
    write_notebook(folder / "a2_autograd.ipynb", ["1"])
    write_notebook(folder / "a2_autograd (1).ipynb", ["2"])
    found = discovery.discover_folder(tmp_path / "submissions", notebook_name="a2_autograd.ipynb")
    assert [s.student for s in found.submissions] == ["erin"] and found.layout == "one folder per student"
    assert found.submissions[0].path == folder / "a2_autograd.ipynb"


def test_several_notebooks_the_assignments_name_wins_then_the_newest(tmp_path):
    root = tmp_path / "submissions"
    named = copy_sample("correct", root / "fay" / "a2_autograd.ipynb", "fay")
    scratch = copy_sample("stub_left", root / "fay" / "Untitled.ipynb", "fay")
    os.utime(named, (1_700_000_000, 1_700_000_000))
    os.utime(scratch, (1_700_000_900, 1_700_000_900))  # newer, but not the assignment's notebook
    older = copy_sample("correct", root / "gus" / "my_a2.ipynb", "gus")
    newer = copy_sample("forgot_zero_grad", root / "gus" / "my_a2_v2.ipynb", "gus")
    os.utime(older, (1_700_000_000, 1_700_000_000))
    os.utime(newer, (1_700_000_500, 1_700_000_500))
    found = discovery.discover_folder(root, notebook_name="a2_autograd.ipynb")
    assert {s.student: s.path for s in found.submissions} == {"fay": named, "gus": newer}
    fay, gus = found.warnings
    assert f"grading the one named like the assignment's notebook a2_autograd.ipynb, {named}" in fay
    assert str(scratch) in fay
    assert f"grading the newest (none is named a2_autograd.ipynb), {newer}" in gus


def test_a_path_that_does_not_exist_is_an_error_and_grades_nothing(tmp_path):
    submissions = tmp_path / "submissions"
    copy_sample("correct", submissions / "hana" / "a2_autograd.ipynb", "hana")
    database = tmp_path / "grades.db"
    proc = cli("grade", str(A2), str(tmp_path / "submisions"), "--gradebook", str(database))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"error: {tmp_path / 'submisions'}: no such folder or file (did you mean {submissions}?)" in proc.stdout
    assert "nothing graded" in proc.stdout and "Traceback" not in proc.stdout + proc.stderr
    assert not database.exists()  # no student `submisions` with 0 points in any export
    # notebook files named one by one: one missing is an error too, and the others wait for it
    real = submissions / "hana" / "a2_autograd.ipynb"
    results = tmp_path / "results.json"
    proc = cli("grade", str(A2), str(real), str(submissions / "hana" / "a2_autograde.ipynb"), "--json", str(results))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "a2_autograde.ipynb: no such notebook (did you mean" in proc.stdout and not results.exists()


def _zip(path: Path, members: dict[str, bytes], times: dict[str, tuple] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(times or {}).get(name, (2026, 3, 1, 12, 0, 0)))
            info.compress_type = zipfile.ZIP_DEFLATED
            bundle.writestr(info, data)
    return path


def test_canvas_download_zip(tmp_path):
    notebook = nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])).encode()
    archive = _zip(tmp_path / "submissions.zip", {
        "doejane_12345_67890_a2_autograd.ipynb": notebook,
        "roejim_LATE_22222_33333_a2_autograd.ipynb": notebook + b" ",
        "roejim_LATE_22222_33334_a2_autograd-1.ipynb": notebook + b"  ",
        "leeann_44444_55555_a2_autograd.ipynb": notebook,
        "leeann_66666_77777_a2_autograd.ipynb": notebook,  # a namesake: another Canvas user
        "readme.txt": b"hello",
        "__MACOSX/._doejane_12345_67890_a2_autograd.ipynb": b"resource fork",
    }, times={"roejim_LATE_22222_33333_a2_autograd.ipynb": (2026, 3, 1, 9, 0, 0),
              "roejim_LATE_22222_33334_a2_autograd-1.ipynb": (2026, 3, 2, 9, 0, 0)})
    with discovery.ExtractedArchive(archive) as found:
        extracted_into = found.submissions[0].path.parent
        by_student = {s.student: s for s in found.submissions}
        assert sorted(by_student) == ["doejane", "leeann_44444", "leeann_66666", "roejim"]
        assert by_student["doejane"].lms_id == "12345" and not by_student["doejane"].late
        assert by_student["roejim"].late and by_student["roejim"].lms_id == "22222"
        assert by_student["roejim"].label == f"{archive}:roejim_LATE_22222_33334_a2_autograd-1.ipynb"
        [warning] = found.warnings
        assert "roejim: 2 notebooks" in warning and "a2_autograd-1.ipynb" in warning and "33333" in warning
        assert found.ignored == [f"{archive}:readme.txt"]
        assert "Canvas file names" in found.layout
    assert not extracted_into.exists()  # the private copy is removed after the run


@pytest.mark.parametrize("members, reason", [
    ({"../escape.ipynb": b"{}"}, "outside the extraction folder"),
    ({"ok/../../escape.ipynb": b"{}"}, "outside the extraction folder"),
    ({"/etc/escape.ipynb": b"{}"}, "absolute path"),
    ({"bomb.ipynb": b"0" * (8 * 1024 * 1024)}, "inflates"),
])
def test_unsafe_archives_are_refused_whole(tmp_path, members, reason):
    archive = _zip(tmp_path / "submissions.zip", {"fine_1_2_a2.ipynb": b"{}", **members})
    with pytest.raises(discovery.UnsafeArchive, match=reason):
        with discovery.ExtractedArchive(archive):
            pass
    assert not (tmp_path / "escape.ipynb").exists()


def test_links_and_member_counts_are_refused(tmp_path):
    archive = tmp_path / "links.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        link = zipfile.ZipInfo("student/a2_autograd.ipynb")
        link.external_attr = 0o120777 << 16  # a symbolic link to /etc/passwd
        bundle.writestr(link, "/etc/passwd")
    with pytest.raises(discovery.UnsafeArchive, match="symbolic link"):
        discovery.extract_archive(archive, tmp_path / "out")
    many = _zip(tmp_path / "many.zip", {f"s{i}.ipynb": b"{}" for i in range(30)})
    with pytest.raises(discovery.UnsafeArchive, match="30 members, over the cap of 20"):
        discovery.extract_archive(many, tmp_path / "out", discovery.ArchiveLimits(max_members=20))
    proc = cli("grade", str(A2), str(_zip(tmp_path / "evil.zip", {"../../x.ipynb": b"{}"})), "--dry-run")
    assert proc.returncode == 2 and "refused: member '../../x.ipynb' would be written outside" in proc.stdout


def test_one_crashing_grading_never_stops_the_batch(tmp_path, monkeypatch):
    """A grader that raises on one submission: that one is an `error`, the rest are graded."""
    import tensorgrade.grading.grader

    for name in ("ann", "ben", "cat"):
        write_notebook(tmp_path / f"{name}.ipynb", [name])

    class ExplodingGrader:
        def __init__(self, assignment, jobs):
            self.reference = object()
            self.pool = SimpleNamespace(restarts=0)  # the batch reads how many workers were replaced

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            pass

        def grade(self, path):
            if Path(path).stem == "ben":
                raise RuntimeError("worker pipe broke")
            return SubmissionResult(submission=str(path), assignment="a2_autograd", version="1.0",
                                    status="graded", score=10, max_score=10)

    monkeypatch.setattr(tensorgrade.grading.grader, "Grader", ExplodingGrader)
    from tensorgrade.course.assignment import load_assignment

    assignment = load_assignment(A2)
    found = discovery.discover_folder(tmp_path)
    with Gradebook(tmp_path / "grades.db") as gradebook:
        outcome = batch.run_batch(assignment, found.submissions, batch.LocalExecutor(assignment, jobs=2), gradebook)
        statuses = {item.submission.student: item.result.status for item in outcome.items}
        assert statuses == {"ann": "graded", "ben": "error", "cat": "graded"}
        ben = dict(gradebook.results("a2_autograd"))["ben"]
        assert "grader error" in ben.error and "worker pipe broke" in ben.error
        # a grader error is not a grade: the next run tries it again, and only it
        again = batch.run_batch(assignment, found.submissions, batch.LocalExecutor(assignment, jobs=2), gradebook)
        assert [item.submission.student for item in again.graded] == ["ben"]
