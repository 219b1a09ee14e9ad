"""Computes q2.accuracy's threshold from the reference solution over many hidden-input seeds.

    .venv/bin/python solutions/a6_tensorflow/thresholds.py      # rewrites thresholds.json

The check draws two fresh point clouds (the lecture's means and covariance, either cloud as class
1) and a uniform starting W, runs 40 calls of the submission's training_step with
learning_rate=0.1 through the very probe the grader uses (solutions/a6_tensorflow/probes.py), and
judges the accuracy of the final W, b outside.  The threshold is the worst reference accuracy over
SEEDS draws minus MARGIN.  The known mistakes that change training (wrong-update-sign,
no-in-place-update, square-loss-not-mean) are run on the same draws to show how far below the
threshold they stay.
"""

import importlib.util
import json
import statistics
from pathlib import Path

import nbformat

from tensorgrade.checking.checks import check_rng

HERE = Path(__file__).resolve().parent
SEEDS = 100
MARGIN = 0.02
MISTAKES = ("wrong-update-sign", "no-in-place-update", "square-loss-not-mean")


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def namespace(extra: str = "") -> dict:
    ns: dict = {"__name__": "reference"}
    for cell in nbformat.read(HERE / "solution.ipynb", as_version=4).cells:
        if cell.cell_type == "code":
            exec(cell.source, ns)
    if extra:
        exec(extra, ns)
    return ns


def main() -> None:
    if not (HERE / "thresholds.json").exists():
        (HERE / "thresholds.json").write_text(json.dumps({"accuracy_min": 0.0}))
    checks = load(HERE / "checks.py", "a6_hidden_checks")
    probes = load(HERE / "probes.py", "a6_hidden_probes")
    runs = {"reference": namespace()}
    runs.update({name: namespace((HERE / "mistakes" / f"{name}.py").read_text()) for name in MISTAKES})
    accuracies: dict[str, list[float]] = {name: [] for name in runs}
    for seed in range(SEEDS):
        inputs = checks.point_cloud_inputs(check_rng(seed, "q2.accuracy"))
        for name, ns in runs.items():
            output = probes.train_point_clouds(ns, inputs)
            accuracies[name].append(checks.accuracy(output["W"], output["b"], inputs))
    reference = accuracies["reference"]
    threshold = round(min(reference) - MARGIN, 3)
    result = {
        "accuracy_min": threshold,
        "reference_min": min(reference), "reference_max": max(reference),
        "reference_mean": statistics.mean(reference), "reference_std": statistics.stdev(reference),
        "mistakes_max": {name: max(accuracies[name]) for name in MISTAKES},
        "seeds": SEEDS,
        "how": (f"accuracy of the final W, b after {checks.STEPS} reference training steps (learning_rate="
                f"{checks.LEARNING_RATE:g}) on the check's input distribution, seeds 0..{SEEDS - 1} through "
                f"check_rng(seed, 'q2.accuracy'); threshold = worst reference accuracy minus {MARGIN}. "
                f"mistakes_max: the best accuracy each known mistake reached on the same draws."),
    }
    (HERE / "thresholds.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
