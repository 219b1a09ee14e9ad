"""Shared fixtures: real assignments, real sandboxes, notebooks built the way students write them."""

import os
import textwrap
from pathlib import Path

import nbformat
import pytest

from tensorgrade.course.assignment import load_assignment
from tensorgrade.grading.grader import Grader
from tensorgrade.sandbox.host.uids import STUDENT_UID_BASE

ROOT = Path(__file__).resolve().parent.parent


def solution_cells(assignment_id: str) -> list[str]:
    nb = nbformat.read(ROOT / "solutions" / assignment_id / "solution.ipynb", as_version=4)
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]


def sample_cells(assignment_id: str, sample: str) -> list[str]:
    nb = nbformat.read(ROOT / "solutions" / assignment_id / "samples" / f"{sample}.ipynb", as_version=4)
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]


def write_notebook(path: Path, cells: list[str]) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbformat.write(nb, path)
    return path


# A module no grading machine has: an assignment that preloads it makes every grading a grader error.
MISSING_MODULE = "tensorgrade_test_module_that_is_not_installed"


def double_assignment(root: Path, preload: list[str]) -> Path:
    """assignments/env_check under `root` (its solutions beside): one check worth 1 point on
    `double(3)`, whose workers preload `preload` (with MISSING_MODULE: a grader error every time)."""
    folder = root / "assignments" / "env_check"
    solutions = root / "solutions" / "env_check"
    folder.mkdir(parents=True)
    solutions.mkdir(parents=True)
    (folder / "assignment.yaml").write_text(textwrap.dedent(f"""\
        id: env_check
        title: "double"
        version: "1.0"
        worker:
          preload: [{", ".join(preload)}]
        questions:
          - {{id: q1, title: "double", points: 1}}
        checks:
          - {{id: q1.double, question: q1, points: 1, visibility: public}}
        """))
    (folder / "checks.py").write_text(textwrap.dedent("""\
        from tensorgrade.checking.checks import Check
        from tensorgrade.checking.outside.judging import compare, passed

        def judge(case):
            return compare(case.student, case.reference, name="double(3)") or passed("ok")

        CHECKS = [Check("q1.double", probe="double", judge=judge)]
        """))
    (folder / "probes.py").write_text("def double(ns, inputs):\n    return ns['double'](3)\n")
    (solutions / "secret.yaml").write_text("seed: 1\n")
    write_notebook(solutions / "solution.ipynb", ["def double(x):\n    return 2 * x"])
    return folder


def student_processes() -> list[int]:
    """Live processes running as a sandbox student uid that descend from this test process.

    Orphans of a submission re-parent to the worker (a subreaper), so they are still found here,
    while graders that other programs run on the same machine are not counted."""
    parents, uids = {}, {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                uid = os.stat(f"/proc/{entry}").st_uid
                with open(f"/proc/{entry}/stat", "rb") as fh:
                    fields = fh.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != b"Z":
                parents[int(entry)], uids[int(entry)] = int(fields[1]), uid

    def descends_from_us(pid: int) -> bool:
        seen = set()
        while pid in parents and pid not in seen:
            seen.add(pid)
            pid = parents[pid]
            if pid == os.getpid():
                return True
        return False

    return [pid for pid, uid in uids.items()
            if STUDENT_UID_BASE <= uid < STUDENT_UID_BASE + 1000 and descends_from_us(pid)]


@pytest.fixture(scope="session")
def a2_assignment():
    assignment = load_assignment(ROOT / "assignments" / "a2_autograd")
    # Short limits keep hostile cells (endless loops) quick to test; the mechanism is the same.
    assignment.cell_timeout = 4
    assignment.submission_timeout = 90
    return assignment


@pytest.fixture(scope="session")
def a2_grader(a2_assignment):
    with Grader(a2_assignment, jobs=1) as grader:
        yield grader
