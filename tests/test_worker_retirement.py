"""Any cleanup or verification failure of a worker's slot retires that worker, a fresh one takes the
next submission, and the pool counts each worker replaced once.

Real a2 grading in real bubblewrap sandboxes, with a real fault: a folder holding a file that neither
`shutil.rmtree` nor GNU `rm` can remove (immutable, `chattr +i`), put into a live worker's private
/dev/shm or work folder from the host through /proc/<pid>/root. A submission cannot do this (the
clean room is there for what nobody foresaw), so the test plays the part of whatever would:

1. before the worker's first submission: its check before the submission finds the slot dirty, the
   scrub cannot empty it, the worker is retired and the submission runs again on a fresh worker;
2. while a submission runs: the check after it finds the leftover, the submission's record stands
   and the worker is retired;
3. the next submission runs on a clean fresh worker, which stays;
4. between two submissions, where the worker does not look: the supervisor cannot prepare the
   submission (a grader failure, not the student's), which runs again on a fresh worker.

Every submission is the reference and scores full marks: no fault of the grader's is a score.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT, student_processes
from tensorgrade.course.assignment import load_assignment
from tensorgrade.grading.grader import Grader

A2 = ROOT / "assignments" / "a2_autograd"
SOLUTION = ROOT / "solutions" / "a2_autograd" / "solution.ipynb"
PLANTED = "planted-by-the-test"
MARKER = "waiting-for-the-test"

# Says where it runs, then waits (at most 30 s) until the test has planted its leftover beside it.
WAITS_FOR_THE_PLANT = f'''\
import os, time
open({MARKER!r}, "w").close()
for _ in range(600):
    if os.path.exists({PLANTED!r}):
        break
    time.sleep(0.05)
'''


def sandboxed_worker(worker) -> Path:
    """/proc/<pid>/root of the worker process inside `worker`'s sandbox (bubblewrap's descendant that
    runs sandbox.inside.worker, not a supervisor it forked): its private /tmp and /dev/shm, from the host."""
    return sandboxed_below(worker.process.pid)


def sandboxed_below(top: int) -> Path:
    """/proc/<pid>/root of the first sandboxed worker process below process `top` (bubblewrap's pid,
    or a process that started a pool: a Dask worker)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_bytes().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry))
    queue = [top]
    while queue:  # breadth first: the worker before the supervisors it forks
        pid = queue.pop(0)
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            argv = []
        if argv[1:3] == [b"-m", b"tensorgrade.sandbox.inside.worker"]:
            return Path(f"/proc/{pid}/root")
        queue.extend(children.get(pid, []))
    raise AssertionError(f"no sandboxed worker below pid {top}")


def plant(folder: Path) -> Path:
    """A folder in `folder` holding an immutable file: rmtree and rm -rf both fail on it."""
    target = folder / PLANTED
    target.mkdir()
    (target / "immutable").write_text("x")
    subprocess.run(["chattr", "+i", str(target / "immutable")], check=True, capture_output=True, text=True)
    return target


def skip_without_immutable_files(folder: Path) -> None:
    """Skip the test where `folder`'s filesystem (a sandbox's tmpfs) cannot make a file immutable."""
    probe = folder / "chattr-probe"
    probe.write_text("x")
    supported = subprocess.run(["chattr", "+i", str(probe)], capture_output=True, text=True)
    subprocess.run(["chattr", "-i", str(probe)], capture_output=True)
    probe.unlink()
    if supported.returncode != 0:
        pytest.skip(f"this kernel's tmpfs has no immutable files: {supported.stderr.strip()}")


def notebook(path: Path, extra: str | None = None) -> Path:
    nb = nbformat.read(SOLUTION, as_version=4)
    if extra:
        nb.cells.append(nbformat.v4.new_code_cell(extra))
    nbformat.write(nb, path)
    return path


def full_marks(result) -> bool:
    return result.status == "graded" and result.error is None and result.score == result.max_score > 0


@pytest.fixture
def grader():
    if os.geteuid() != 0:
        pytest.skip("reaching into a sandbox through /proc/<pid>/root and chattr +i need root")
    if shutil.which("chattr") is None:
        pytest.skip("chattr (e2fsprogs) is not installed")
    with Grader(load_assignment(A2), jobs=1) as grader:
        if not grader.pool.report.layers["namespaces"].active:
            pytest.skip("bubblewrap is not available: no private /tmp and /dev/shm to reach into")
        grader.reference  # from the cache or computed now, before the test counts restarts
        grader.pool.start()
        skip_without_immutable_files(sandboxed_worker(grader.pool.workers[0]) / "dev" / "shm")
        yield grader


def test_a_slot_that_cannot_be_cleaned_retires_its_worker_and_no_submission_pays(grader, tmp_path):
    pool, worker = grader.pool, grader.pool.workers[0]
    correct = notebook(tmp_path / "correct.ipynb")
    assert pool.restarts == 0

    # 1. Dirty before its first submission: retired; the submission runs on a fresh worker.
    first = sandboxed_worker(worker)
    plant(first / "dev" / "shm")
    result = grader.grade(correct)
    assert full_marks(result), (result.status, result.score, result.error)
    assert pool.restarts == 1 and not first.exists(), "the dirty worker was not replaced"
    assert pool.failures == 1 and worker.retired == [], "found by the check before the submission"

    # 2. Dirty after a submission: its record stands, the worker is retired.
    second = sandboxed_worker(worker)
    planted: list[Path] = []

    def plant_beside_the_marker() -> None:
        for _ in range(1200):
            markers = list((second / "tmp" / "work").glob(f"*/{MARKER}"))
            if markers:
                planted.append(plant(markers[0].parent))
                return
            time.sleep(0.05)

    planter = threading.Thread(target=plant_beside_the_marker)
    planter.start()
    result = grader.grade(notebook(tmp_path / "waits.ipynb", WAITS_FOR_THE_PLANT))
    planter.join()
    assert planted, "the submission's work folder never showed the marker"
    assert full_marks(result), (result.status, result.score, result.error)
    assert [cell.status for cell in result.cells] == ["ok"] * len(result.cells)
    assert pool.restarts == 2 and not second.exists(), "the worker left dirty was not retired"
    assert "could not empty" in worker.retired[-1], worker.retired

    # 3. A fresh worker (started for the next submission) takes it, and stays: its slot is clean.
    result = grader.grade(correct)
    assert full_marks(result) and pool.restarts == 2 and worker.alive()
    third = sandboxed_worker(worker)

    # 4. Dirty between submissions, where the worker does not look: the supervisor cannot prepare the
    # submission, a grader failure; it runs once more on a fresh worker. One worker replaced, counted once.
    plant(third / "dev" / "shm")
    result = grader.grade(correct)
    assert full_marks(result), (result.status, result.score, result.error)
    assert not third.exists() and pool.restarts == 3, pool.restarts
    assert pool.failures == 1 and len(worker.retired) == 2, (pool.failures, worker.retired)
    assert student_processes() == []
