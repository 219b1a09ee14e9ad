"""A canary submission: a tiny notebook graded under exactly the layers grading will use, so that
`tensorgrade doctor` says plainly whether grading works on this machine (not only which layers
exist). Each cell tries one thing every submission needs; a cell that fails names the problem.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tensorgrade.sandbox.host.jobs import ExecutionSettings, Job
from tensorgrade.sandbox.host.workers import ExecutionError, WorkerPool

DATA_FILE = "data/canary.csv"
CANARY_CELLS = [
    ("the standard library imports", "import bdb, decimal, json, pdb, sqlite3, statistics"),
    ("numpy and torch import and compute", "import numpy as np\nimport torch\n"
     "assert float(torch.ones(3).sum()) == 3.0 and float(np.ones(3).sum()) == 3.0"),
    ("a file can be written in the work folder", "with open('written.txt', 'w') as f:\n    f.write('ok')\n"
     "assert open('written.txt').read() == 'ok'"),
    ("the network is cut", "import socket\ntry:\n    socket.create_connection(('1.1.1.1', 53), timeout=2).close()\n"
     "except OSError:\n    pass\nelse:\n    raise AssertionError('a connection to the internet succeeded')"),
    ("the assignment's data files are readable", f"assert open({DATA_FILE!r}).read().startswith('label')"),
]


@dataclass
class CanaryOutcome:
    works: bool
    steps: list[tuple[str, bool, str]] = field(default_factory=list)  # (what, ok, problem)
    problem: str | None = None  # why no cell could run at all (the grader's side failed)


def run_canary(timeout: float = 120.0) -> CanaryOutcome:
    with tempfile.TemporaryDirectory(prefix="tensorgrade-canary-") as folder:
        assignment_dir = Path(folder) / "canary"
        (assignment_dir / "data").mkdir(parents=True)
        (assignment_dir / DATA_FILE).write_text("label,x\n1,2\n")
        job = Job(cells=[(index, source) for index, (_, source) in enumerate(CANARY_CELLS)], probe_sources={},
                  probes=[], files=[DATA_FILE], settings=ExecutionSettings(cell_timeout=60, submission_timeout=timeout))
        try:
            with WorkerPool(assignment_dir, ["torch", "numpy"], size=1) as pool:
                record = pool.run(job)
        except ExecutionError as exc:
            return CanaryOutcome(works=False, problem=str(exc))
    steps = []
    for (what, _), cell in zip(CANARY_CELLS, record.cells):
        problem = "" if cell.status == "ok" else ((cell.error or cell.status).strip().splitlines() or [cell.status])[-1]
        steps.append((what, cell.status == "ok", problem))
    problem = record.aborted
    return CanaryOutcome(works=all(ok for _, ok, _ in steps) and not problem, steps=steps, problem=problem)
