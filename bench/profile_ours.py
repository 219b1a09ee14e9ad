"""Where a warm grader's time per submission goes, on the torchdl benchmark course.

    .venv/bin/python bench/profile_ours.py [--repeat 5] NOTEBOOK...

Grades each notebook `--repeat` times on one warm grader (-j 1) and prints the medians of the
result's timing fields: `total` (grader side, per submission), `execution` (the sandbox: supervisor
fork, confinement, cells, probes, teardown), `cells` and `checks` (time inside the student process
running code), and the overhead = execution - cells - checks (what isolation costs per submission).
An empty notebook (one `pass` cell) is graded too: its execution time is the pure per-submission
cost of the sandbox.

To see where that time goes inside the worker, its per-submission supervisor and the student's
process, sample the whole process tree with py-spy (pinned in .bench-venv by `make bench`):

    .bench-venv/bin/py-spy record --subprocesses -r 250 -f raw -o prof.txt -- \
        .venv/bin/python bench/profile_ours.py --repeat 20

(the raw format keeps the process chain: grader, bwrap, worker, supervisor, student, in that order).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tensorgrade.course.assignment import load_assignment  # noqa: E402
from tensorgrade.grading.grader import Grader  # noqa: E402


def empty_notebook(folder: Path) -> Path:
    path = folder / "empty.ipynb"
    path.write_text(json.dumps({"cells": [{"cell_type": "code", "execution_count": None, "id": "c0",
                                           "metadata": {}, "outputs": [], "source": "pass"}],
                                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("notebooks", nargs="*")
    args = parser.parse_args()
    assignment = load_assignment(ROOT / "bench" / "torchdl", ROOT / "bench" / "torchdl_solutions")
    with tempfile.TemporaryDirectory() as tmp:
        paths = [empty_notebook(Path(tmp))] + [Path(p) for p in args.notebooks]
        started = time.perf_counter()
        with Grader(assignment) as grader:
            grader.grade(paths[0])
            print(f"startup (workers + reference, from cache when current): {time.perf_counter() - started:.2f} s")
            print("| notebook | total | execution | cells | checks | overhead |")
            print("| --- | --- | --- | --- | --- | --- |")
            for path in paths:
                timings = [grader.grade(path).timing for _ in range(args.repeat)]
                med = {k: statistics.median(t.get(k, 0.0) for t in timings)
                       for k in ("total", "execution", "cells", "checks")}
                overhead = med["execution"] - med["cells"] - med["checks"]
                name = path.name if path.name != "torchdl.ipynb" else path.parent.parent.name
                print(f"| {name} | {med['total']:.3f} | {med['execution']:.3f} | {med['cells']:.3f} | "
                      f"{med['checks']:.3f} | {overhead:.3f} |")


if __name__ == "__main__":
    main()
