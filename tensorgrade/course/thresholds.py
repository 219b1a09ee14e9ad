"""`tensorgrade thresholds`: thresholds declared as `from_reference(seeds=N, reduce=..., times=...)`.

For each such check, the reference solution runs its probe in the sandbox on N draws of the
check's inputs (seeds 0..N-1, never the secret seed), the check's `measure` of each output is
taken, and the reduction (`max * 1.25`: the worst reference run plus a margin) is the threshold,
written to solutions/<id>/thresholds.json with the declaration it was computed for. Loading the
assignment refuses a threshold computed for another declaration, so a changed one cannot go stale.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tensorgrade.checking.checks import draw_inputs
from tensorgrade.course.assignment import THRESHOLDS_FILE, load_assignment
from tensorgrade.course.build import build, course_root
from tensorgrade.course.errors import AuthoringError
from tensorgrade.course.source import read_source
from tensorgrade.grading.grader import build_job
from tensorgrade.sandbox.host.workers import WorkerPool
from tensorgrade.submission.notebooks import read_notebook


@dataclasses.dataclass
class ComputedThreshold:
    check: str
    value: float
    measures: list[float]
    declared: dict


def compute_thresholds(source_path: Path | str, jobs: int = 2) -> list[ComputedThreshold]:
    source = read_source(source_path)
    build(source.path)  # the reference notebook and spec the runs use, up to date
    assignment = load_assignment(course_root(source) / "assignments" / source.id, source.path.parent, thresholds=False)
    cells = read_notebook(assignment.solution_path).cells
    wanted = [c for c in assignment.implementations.values() if c.threshold is not None and c.measure is not None]
    computed = []
    with WorkerPool(assignment.directory, assignment.preload, size=jobs) as pool, \
            ThreadPoolExecutor(max_workers=jobs) as executor:
        for check in wanted:
            spec = assignment.check(check.id)
            alone = dataclasses.replace(assignment, checks=[spec], implementations={check.id: check})
            draws = [draw_inputs(check, seed) for seed in range(check.threshold.seeds)]
            records = list(executor.map(lambda inputs: pool.run(build_job(alone, cells, {check.id: inputs})), draws))
            measures = []
            for seed, (inputs, record) in enumerate(zip(draws, records)):
                probe = record.probes.get(check.id)
                if probe is None or probe.status != "ok":
                    raise AuthoringError(f"{source.path}: {check.id}: the reference's probe did not run cleanly on "
                                         f"seed {seed}: {probe.status if probe else 'no record'}: "
                                         f"{(probe.error or '')[:400] if probe else ''}")
                measures.append(float(check.measure(probe.output, inputs)))
            computed.append(ComputedThreshold(check.id, round(check.threshold.derive(measures), 6), measures,
                                              check.threshold.declaration()))
    path = source.path.parent / THRESHOLDS_FILE
    data = json.loads(path.read_text()) if path.is_file() else {}
    for item in computed:
        data[item.check] = {
            "value": item.value, "declared": item.declared,
            "how": f"{item.declared['reduce']} of the reference's measure over {len(item.measures)} seeds, "
                   f"times {item.declared['times']:g} plus {item.declared['plus']:g}",
            "reference": {"min": min(item.measures), "max": max(item.measures),
                          "mean": statistics.mean(item.measures),
                          "std": statistics.stdev(item.measures) if len(item.measures) > 1 else 0.0},
        }
    data = {k: v for k, v in data.items() if k in assignment.implementations}
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    build(source.path)  # public thresholds travel with the public files
    return computed
