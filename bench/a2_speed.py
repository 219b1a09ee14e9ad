"""How much grading one a2 submission costs, against the floor of running the same code.

    .venv/bin/python bench/a2_speed.py [--repeat 10]

Measured in one run, on the same submission (solutions/a2_autograd/samples/correct.ipynb):
  cold      a fresh grader: workers start, the reference and every mistake variant run, then the submission
  first     a fresh grader with the reference cached: workers start, then the submission
  warm      each further submission on the warm grader (median)
  floor     the same cells, then the same probes on the same inputs, exec'd in one warm process that
            already imported torch, with no isolation at all (median)
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
import types
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tensorgrade.course.assignment import load_assignment  # noqa: E402
from tensorgrade.grading.grader import Grader  # noqa: E402

SUBMISSION = ROOT / "solutions" / "a2_autograd" / "samples" / "correct.ipynb"


def floor_seconds(assignment, inputs: dict, repeat: int) -> list[float]:
    import torch  # noqa: F401  (warm: imported before timing, as in the grader's workers)

    cells = [c.source for c in nbformat.read(SUBMISSION, as_version=4).cells if c.cell_type == "code"]
    modules = {}
    for name, source in assignment.probe_sources.items():
        module = types.ModuleType(f"floor_probes_{name}")
        exec(compile(source, name, "exec"), module.__dict__)
        modules[name] = module
    times = []
    for _ in range(repeat + 1):
        started = time.perf_counter()
        namespace: dict = {}
        for source in cells:
            exec(compile(source, "<cell>", "exec"), namespace)
        for spec in assignment.checks:
            probe = getattr(modules[spec.visibility], assignment.implementations[spec.id].probe)
            probe(namespace, inputs[spec.id])
        times.append(time.perf_counter() - started)
    return times[1:]  # the first run pays torch's lazy first-use costs; the grader's warm-up does too


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    assignment = load_assignment(ROOT / "assignments" / "a2_autograd")
    shutil.rmtree(assignment.solutions_dir / ".cache", ignore_errors=True)

    started = time.perf_counter()
    with Grader(assignment) as grader:
        assert grader.grade(SUBMISSION).score == 10
        cold = time.perf_counter() - started
    started = time.perf_counter()
    with Grader(assignment) as grader:
        assert grader.grade(SUBMISSION).score == 10
        first = time.perf_counter() - started
        warm = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            assert grader.grade(SUBMISSION).score == 10
            warm.append(time.perf_counter() - t)
        inputs = grader.inputs
    floor = floor_seconds(assignment, inputs, args.repeat)

    warm_median, floor_median = statistics.median(warm), statistics.median(floor)
    print(f"a2_autograd, one submission ({SUBMISSION.name}), {os.cpu_count()} cores, median of {args.repeat}")
    print(f"| measure | seconds |\n| --- | --- |")
    print(f"| cold: fresh grader, reference + {len(assignment.mistakes)} mistake variants computed | {cold:.2f} |")
    print(f"| first: fresh grader, reference cached | {first:.2f} |")
    print(f"| warm: per submission | {warm_median:.3f} |")
    print(f"| floor: same cells + probes exec'd in one warm process, no isolation | {floor_median:.3f} |")
    print(f"| warm / floor | {warm_median / floor_median:.2f} |")


if __name__ == "__main__":
    main()
