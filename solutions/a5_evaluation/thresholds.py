"""Computes q3.held_out's threshold from the reference solution over many seeds.

    .venv/bin/python solutions/a5_evaluation/thresholds.py      # rewrites thresholds.json

The check trains the student's `train_classifier` on the 4000 rows students have (batches of 64,
shuffled) and measures the returned model's accuracy on the 1000 held-out images. This script runs
the very probe of that check (solutions/a5_evaluation/probes.py) on the reference solution for SEEDS
seeds (model initialisation and shuffling), on one thread as in the sandbox, and computes the accuracy
with the held-out labels, as the judge does. The threshold is the reference's worst accuracy minus
MARGIN, rounded down to a multiple of 0.005: every reasonable classifier passes, one that did not learn
(chance level, about 0.1) or a plain linear model trained briefly does not.

The probe runs the reference inside the simulated accelerator (tensorgrade.checking.inside.devicesim), which installs
itself process-wide: this script is a process of its own for that reason; never import it elsewhere.
"""

import importlib.util
import json
import math
import statistics
import time
from pathlib import Path

import nbformat
import numpy as np
import torch

from tensorgrade.checking.checks import check_rng
from tensorgrade.course.datasets import held_out_rows

HERE = Path(__file__).resolve().parent
SEEDS = 25
MARGIN = 0.015


def reference_namespace() -> dict:
    namespace: dict = {"__name__": "reference"}
    for cell in nbformat.read(HERE / "solution.ipynb", as_version=4).cells:
        # The imports and the answers; not the data cell, which reads the CSV relative to the notebook.
        if cell.get("id") == "imports" or cell.metadata.get("tensorgrade", {}).get("answer"):
            exec(cell.source, namespace)
    return namespace


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    torch.set_num_threads(1)
    if not (HERE / "thresholds.json").exists():
        (HERE / "thresholds.json").write_text(json.dumps({"accuracy_min": 0.0}))
    checks = load(HERE / "checks.py", "a5_hidden_checks")
    probes = load(HERE / "probes.py", "a5_hidden_probes")
    namespace = reference_namespace()
    secret = int((HERE / "secret.yaml").read_text().split("seed:")[1].split()[0])
    inputs = checks.held_out_inputs(check_rng(secret, "q3.held_out"))
    labels = held_out_rows().labels
    accuracies, seconds = [], []
    for seed in range(SEEDS):
        torch.manual_seed(seed)
        started = time.perf_counter()
        output = probes.held_out_predictions(namespace, inputs)
        seconds.append(time.perf_counter() - started)
        accuracies.append(float(np.mean(np.asarray(output["predictions"]) == labels)))
    threshold = math.floor((min(accuracies) - MARGIN) * 200) / 200
    result = {
        "accuracy_min": threshold,
        "reference_min": min(accuracies), "reference_max": max(accuracies),
        "reference_mean": statistics.mean(accuracies), "reference_std": statistics.stdev(accuracies),
        "reference_seconds_mean": statistics.mean(seconds), "reference_seconds_max": max(seconds),
        "seeds": SEEDS,
        "how": (f"accuracy on the {len(labels)} held-out images of the reference train_classifier trained on the "
                f"students' rows (the q3.held_out probe, one thread) for torch seeds 0..{SEEDS - 1}; threshold = "
                f"worst reference accuracy minus {MARGIN}, rounded down to a multiple of 0.005"),
    }
    (HERE / "thresholds.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
