"""A clean room per submission, and a grader failure is never a score: real TA batches through the
`tensorgrade` command, real sandboxes, and a host without bubblewrap whose Python the student uid
cannot read."""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT
from tensorgrade.sandbox.host.uids import STUDENT_UID_BASE
from tensorgrade.sandbox.inside.cleanroom import Slot
from tensorgrade.sandbox.removal import remove_tree

A2 = ROOT / "assignments" / "a2_autograd"
SOLUTION = ROOT / "solutions" / "a2_autograd" / "solution.ipynb"
TENSORGRADE = [sys.executable, "-m", "tensorgrade"]

DEEP_TREES = '''\
import os
# A directory tree thousands of levels deep, in the private /dev/shm and in the work folder:
# shutil.rmtree raised RecursionError on it, and every later submission on the worker scored 0.
for base in ("/dev/shm", os.environ["HOME"]):
    os.chdir(base)
    for _ in range(3000):
        os.mkdir("d")
        os.chdir("d")
os.chdir(os.environ["HOME"])
'''

FILL_TMP = '''\
import os
# Most of the worker's /tmp (its tmpfs) in files left in the work folder, and a folder the student
# locks itself out of.
os.makedirs("junk/locked", exist_ok=True)
for i in range(6):
    with open(f"junk/block{i}", "wb") as f:
        f.write(os.urandom(1 << 20) * 100)
open("junk/locked/x", "w").write("x")
os.chmod("junk/locked", 0)
os.chmod("junk", 0o500)
'''


def solution_with(extra: str | None) -> nbformat.NotebookNode:
    notebook = nbformat.read(SOLUTION, as_version=4)
    if extra:
        notebook.cells.append(nbformat.v4.new_code_cell(extra))
    return notebook


def grade(*args, env=None, timeout=900) -> subprocess.CompletedProcess:
    return subprocess.run([*TENSORGRADE, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env=env, cwd=ROOT)


def latest(database: Path) -> dict[str, dict]:
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT student, status, score, max_score, error FROM gradings ORDER BY id").fetchall()
    return {student: {"status": status, "score": score, "max": max_score, "error": error}
            for student, status, score, max_score, error in rows}


def cell_statuses(database: Path, student: str) -> list[str]:
    """The latest grading's cell statuses: the attack's cell ran (and left its trees or its files)."""
    with sqlite3.connect(database) as db:
        data = db.execute("SELECT result_json FROM gradings WHERE student = ? ORDER BY id DESC", (student,)).fetchone()[0]
    return [cell["status"] for cell in json.loads(data)["cells"]]


def gradings(database: Path) -> int:
    with sqlite3.connect(database) as db:
        return db.execute("SELECT COUNT(*) FROM gradings").fetchone()[0]


def test_a_hostile_submission_leaves_nothing_for_the_next_two_on_its_worker(tmp_path):
    folder = tmp_path / "submissions"
    folder.mkdir()
    # Students are graded in name order at -j 1: both hostile ones run first, on the one worker.
    nbformat.write(solution_with(DEEP_TREES), folder / "a1_deep_trees.ipynb")
    nbformat.write(solution_with(FILL_TMP), folder / "a2_fills_tmp.ipynb")
    nbformat.write(solution_with(None), folder / "b_correct.ipynb")
    nbformat.write(solution_with(None), folder / "c_correct.ipynb")
    database = tmp_path / "grades.db"
    first = grade("grade", A2, folder, "--gradebook", database, "-j", "1")
    assert first.returncode == 0, first.stdout + first.stderr
    results = latest(database)
    for student in ("b_correct", "c_correct"):
        assert results[student]["status"] == "graded" and results[student]["score"] == results[student]["max"], results
    # the hostile answers are correct too: what they left behind is the grader's to clean, not a score
    for student in ("a1_deep_trees", "a2_fills_tmp"):
        assert results[student]["status"] == "graded" and results[student]["score"] == results[student]["max"], results
        statuses = cell_statuses(database, student)
        assert statuses and set(statuses) == {"ok"}, (student, statuses)  # the attack's cell ran
    # Again, regraded (--force: unchanged files are otherwise skipped) in the same order on a fresh
    # worker: the attacks run again and the two after them still score full marks.
    rerun = grade("grade", A2, folder, "--gradebook", database, "-j", "1", "--force")
    assert rerun.returncode == 0 and gradings(database) == 8, rerun.stdout + rerun.stderr
    results = latest(database)
    for student in ("a1_deep_trees", "a2_fills_tmp", "b_correct", "c_correct"):
        assert results[student]["status"] == "graded" and results[student]["score"] == results[student]["max"], results
    for student in ("a1_deep_trees", "a2_fills_tmp"):
        assert set(cell_statuses(database, student)) == {"ok"}, student


def test_cleanup_removes_any_depth_and_a_locked_folder(tmp_path):
    deep = tmp_path / "deep"
    deep.mkdir()
    os.chdir(deep)
    try:
        for _ in range(3000):  # deeper than PATH_MAX and Python's recursion limit
            os.mkdir("d")
            os.chdir("d")
    finally:
        os.chdir(ROOT)
    (tmp_path / "locked" / "inner").mkdir(parents=True)
    (tmp_path / "locked" / "inner" / "f").write_text("x")
    os.chmod(tmp_path / "locked" / "inner", 0)
    remove_tree(deep)
    remove_tree(tmp_path / "locked")
    assert not deep.exists() and not (tmp_path / "locked").exists()


def test_a_slot_that_is_not_pristine_says_why_and_scrub_empties_it(tmp_path):
    work, shm = tmp_path / "work", tmp_path / "shm"
    work.mkdir()
    shm.mkdir()
    slot = Slot(work_root=work, shared_memory_dir=shm, student_uid=None)
    assert slot.problems() == []
    (work / "left.bin").write_bytes(b"x" * 10)
    (shm / "sem.planted").write_text("x")
    problems = slot.problems()
    assert len(problems) == 2 and "left.bin" in problems[0] and "sem.planted" in problems[1]
    assert slot.scrub() == [] and slot.problems() == []


def test_a_slot_counts_processes_of_the_student_uid(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("student uids need a root grader")
    uid = STUDENT_UID_BASE + 999
    child = subprocess.Popen(["/bin/sleep", "60"], user=uid)
    try:
        slot = Slot(work_root=tmp_path, shared_memory_dir=None, student_uid=uid)
        assert any("process" in p for p in slot.problems())
        slot.scrub()
        child.wait(timeout=10)
        assert slot.problems() == []
    finally:
        child.kill()


def no_bwrap_env(tmp_path: Path) -> dict:
    """PATH without bubblewrap: the grader falls back to the layers it has."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("rm", "env", "sh"):
        os.symlink(shutil.which(tool), bin_dir / tool)
    return {**os.environ, "PATH": str(bin_dir)}


def python_readable_by_a_student_uid() -> bool:
    """Whether another uid could read this Python without bubblewrap's private view."""
    try:
        probe = subprocess.run([sys.executable, "-c", "import bdb"], user=STUDENT_UID_BASE + 998, capture_output=True)
    except PermissionError:  # cannot even start it
        return False
    return probe.returncode == 0


def broken_host_env(tmp_path: Path) -> dict:
    """The environment of a host without bubblewrap whose Python the student uid cannot read; skips
    where this host's Python is readable by other uids (the second half is not simulated)."""
    if os.geteuid() != 0:
        pytest.skip("student uids need a root grader")
    if python_readable_by_a_student_uid():
        pytest.skip(f"{sys.base_prefix} is readable by other uids here, so this host is not broken that way")
    return no_bwrap_env(tmp_path)


def summary_rows(stdout: str, *students: str) -> list[list[str]]:
    """The batch summary's (student, score, status) cells of these students."""
    return [[cell.strip() for cell in line.split("│")[1:4]] for line in stdout.splitlines()
            if any(f"│ {student} " in line for student in students)]


def test_a_host_whose_python_the_student_cannot_read_records_errors_not_zeros(tmp_path):
    env = broken_host_env(tmp_path)
    folder = tmp_path / "submissions"
    folder.mkdir()
    nbformat.write(solution_with(None), folder / "alice.ipynb")
    database = tmp_path / "grades.db"
    proc = grade("grade", A2, folder, "--gradebook", database, "-j", "1", env=env)
    assert "Traceback" not in proc.stderr, proc.stderr
    result = latest(database)["alice"]
    assert result["status"] == "error" and result["score"] == 0, result
    assert "standard library" in result["error"] and "cannot be read" in result["error"], result
    assert "grading worker(s) replaced" in proc.stdout, proc.stdout  # the summary counts the restarts
    assert summary_rows(proc.stdout, "alice") == [["alice", "–", "error"]], proc.stdout  # a dash, not 0/10
    again = grade("grade", A2, folder, "--gradebook", database, "-j", "1", env=env)
    assert gradings(database) == 2, again.stdout  # an error is graded again, never skipped as unchanged
    doctor = subprocess.run([*TENSORGRADE, "doctor"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert doctor.returncode != 0
    assert "grading would not work" in doctor.stdout.lower() and "standard library" in doctor.stdout, doctor.stdout


def test_on_that_host_a_reference_that_cannot_run_makes_each_submission_an_error(tmp_path):
    """The checkout's a2 reference comes from its cache (solutions/a2_autograd/.cache), so the test
    above never runs it; a copy of a2 without the cache must run the reference on the broken host,
    where it cannot: each submission is a grader error, not a score, and not a stopped batch."""
    env = broken_host_env(tmp_path)
    course = tmp_path / "course"
    for kind in ("assignments", "solutions"):
        shutil.copytree(ROOT / kind / "a2_autograd", course / kind / "a2_autograd",
                        ignore=shutil.ignore_patterns(".cache", "__pycache__"))
    cache = course / "solutions" / "a2_autograd" / ".cache"
    folder = tmp_path / "submissions"
    folder.mkdir()
    for student in ("alice", "bob"):
        nbformat.write(solution_with(None), folder / f"{student}.ipynb")
    database = tmp_path / "grades.db"
    # -j 2: the reference and its 4 known mistakes are run again for each submission, twice each on
    # fresh workers that fail (30 workers in all); two at a time: 45-56 s here, 77 s at -j 1.
    proc = grade("grade", course / "assignments" / "a2_autograd", folder, "--gradebook", database, "-j", "2", env=env)
    # As for any grader error: recorded per submission, the batch completes, exit 0 (exit 2 is kept
    # for a reference that runs but fails its own checks, or a preload this machine lacks).
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    assert not list(cache.glob("reference-*")), "the reference ran to the end: this host is not broken"
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT student, status, score, error, result_json FROM gradings ORDER BY student").fetchall()
    assert [row[0] for row in rows] == ["alice", "bob"], rows
    for student, status, score, error, data in rows:
        assert status == "error" and score == 0, (student, status, score, error)
        assert error.startswith("grader error (not the student's fault, regrade): "), error
        assert "standard library" in error and "cannot be read" in error, error
        result = json.loads(data)
        assert result["checks"] == [] and result["cells"] == [], student  # nothing run, nothing judged
    assert summary_rows(proc.stdout, "alice", "bob") == [["alice", "–", "error"], ["bob", "–", "error"]], proc.stdout
    assert "2 submission(s): 2 error;" in " ".join(proc.stdout.split()), proc.stdout


def test_doctor_grades_a_canary_on_a_healthy_host():
    doctor = subprocess.run([*TENSORGRADE, "doctor"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    for step in ("standard library", "numpy and torch", "work folder", "network is cut", "data files"):
        assert step in doctor.stdout
    assert "grading works" in doctor.stdout.lower()
