"""Computes q3.final_loss's threshold from the reference solution over many hidden-input seeds.

    .venv/bin/python solutions/a2_autograd/thresholds.py      # rewrites thresholds.json

Final losses of the reference on the check's input distribution (an amplitude and phase drawn per
seed) spread with the seed; the threshold is the worst reference loss plus a 25% margin, so every
correct solution passes and a run that fails to converge (forgotten zero_grad, wrong signs) does not.
"""

import importlib.util
import json
import statistics
from pathlib import Path

import nbformat
import torch

from tensorgrade.checking.checks import check_rng

HERE = Path(__file__).resolve().parent
SEEDS = 25
MARGIN = 1.25


def main() -> None:
    spec = importlib.util.spec_from_file_location("a2_hidden_checks", HERE / "checks.py")
    if not (HERE / "thresholds.json").exists():
        (HERE / "thresholds.json").write_text(json.dumps({"final_loss_max": float("inf")}))
    checks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(checks)
    namespace: dict = {}
    for cell in nbformat.read(HERE / "solution.ipynb", as_version=4).cells:
        if cell.cell_type == "code":
            exec(cell.source, namespace)
    finals = []
    for seed in range(SEEDS):
        inputs = checks.train_inputs(check_rng(seed, "q3.final_loss"))
        torch.manual_seed(seed)
        _, losses = namespace["train_legendre"](torch.as_tensor(inputs["x"]), torch.as_tensor(inputs["y"]),
                                                steps=inputs["steps"], learning_rate=inputs["learning_rate"])
        finals.append(losses[-1])
    result = {
        "final_loss_max": round(max(finals) * MARGIN, 4),
        "reference_max": max(finals), "reference_min": min(finals),
        "reference_mean": statistics.mean(finals), "reference_std": statistics.stdev(finals),
        "seeds": SEEDS,
        "how": f"worst reference final loss over {SEEDS} seeds of the check's input distribution, times {MARGIN}",
    }
    (HERE / "thresholds.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
