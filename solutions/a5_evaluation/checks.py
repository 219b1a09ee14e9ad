"""Hidden checks for a5_evaluation: never released; inputs come from the secret seed.

q3.held_out trains the student's classifier on the rows students have and sends only the held-out
IMAGES into the sandbox; the judge computes the accuracy here, from tensorgrade.course.datasets'
held_out_rows().labels, which never enter a sandbox. The threshold comes from the reference's spread
over many seeds (thresholds.py writes thresholds.json).
"""

import importlib.util
import json
from pathlib import Path

import numpy as np

from tensorgrade.checking.checks import Check
from tensorgrade.course.datasets import held_out_rows, student_rows
from tensorgrade.checking.outside.judging import at_least, failed, not_numbers, passed

HERE = Path(__file__).resolve().parent
THRESHOLDS = json.loads((HERE / "thresholds.json").read_text())
TRAIN_BATCH_SIZE = 64
DEVICE_ROWS, DEVICE_IMAGES = 512, 200


def _public():
    path = HERE.parents[1] / "assignments" / "a5_evaluation" / "checks.py"
    spec = importlib.util.spec_from_file_location("a5_public_checks", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PUBLIC = _public()


def ties_inputs(rng):
    """Edge cases: every logit equal, one row, float64 logits, many rows with two-way ties."""
    equal = np.zeros((20, 10), dtype=np.float32)
    one = rng.standard_normal((1, 10))
    return {"cases": [
        {"logits": equal, "labels": rng.integers(0, 3, 20)},
        {"logits": one, "labels": np.array([int(np.argmax(one))], dtype=np.int64)},
        PUBLIC.tied_case(rng, 1000, 2, np.float64),
        PUBLIC.tied_case(rng, 300, 4, np.float32),
    ]}


def hidden_data_inputs(rng):
    rows = student_rows()
    return PUBLIC.evaluation_rows(rows.labels, rows.pixels, rng, count=333, batch_size=100)


def held_out_inputs(rng):
    """All the rows students have to train on (in an order of this seed), and the held-out images only."""
    train, held_out = student_rows(), held_out_rows()
    order = rng.permutation(len(train))
    return {"train_pixels": train.pixels[order], "train_labels": train.labels[order],
            "batch_size": TRAIN_BATCH_SIZE, "images": held_out.pixels}


def held_out_accuracy(output):
    predictions = np.asarray(output["predictions"])
    return float(np.mean(predictions == held_out_rows().labels)), int(np.sum(predictions == held_out_rows().labels))


def judge_held_out(case):
    s, r = case.student, case.reference
    if s["predictions"] is None:
        return failed(f"train_classifier(train_loader, device) should return the trained model (an nn.Module), "
                      f"but it returned {s['kind']['type']}")
    images = len(case.inputs["images"])
    logits = s["logits"]
    if logits.get("shape") != str((images, 10)):
        return failed(f"the trained model maps {images} images of shape (784,) to {logits.get('type')} of shape "
                      f"{logits.get('shape')}; expected logits of shape ({images}, 10)")
    # The mean of no predictions is NaN, and NaN < threshold is False: predictions of another shape
    # (or none) never reach the threshold comparison, nor does a NaN accuracy.
    problem = (not_numbers(s["predictions"], f"the predictions for the {images} held-out images", shape=(images,))
               or not_numbers(s["seconds"], "the training time the grader measured", shape=()))
    if problem is not None:
        return problem
    accuracy, right = held_out_accuracy(s)
    reference, _ = held_out_accuracy(r)
    threshold = THRESHOLDS["accuracy_min"]
    details = {"accuracy": accuracy, "reference_accuracy": reference, "threshold": threshold,
               "seconds": s["seconds"], "reference_seconds": r["seconds"]}

    def below_threshold():
        hint = (" That is chance level: the model did not learn (is optimizer.step() called, on the model's "
                "parameters?)." if accuracy < 0.2 else
                " Train longer within the time budget, add a hidden layer, or tune the learning rate.")
        return (f"held-out accuracy {accuracy:.3f} ({right} of {images} images you never saw), below the "
                f"threshold {threshold:.3f}; the reference reaches {reference:.3f} in {r['seconds']:.1f} s "
                f"(yours trained for {s['seconds']:.1f} s).{hint}")

    verdict = at_least(accuracy, threshold, name="held-out accuracy", message=below_threshold, details=details)
    if verdict is not None:
        return verdict
    return passed(f"held-out accuracy {accuracy:.3f} on {images} images you never saw (threshold {threshold:.3f}, "
                  f"reference {reference:.3f}); trained in {s['seconds']:.1f} s", details=details)


def same_predictions(a, b):
    """Two trained classifiers behave alike when they agree on almost every held-out image."""
    if a["predictions"] is None or b["predictions"] is None:
        return a["predictions"] is None and b["predictions"] is None
    return float(np.mean(np.asarray(a["predictions"]) == np.asarray(b["predictions"]))) >= 0.97


def train_device_inputs(rng):
    rows = student_rows()
    order = rng.permutation(len(rows))
    train, probe = order[:DEVICE_ROWS], order[DEVICE_ROWS:DEVICE_ROWS + DEVICE_IMAGES]
    return {"pixels": rows.pixels[train], "labels": rows.labels[train], "batch_size": TRAIN_BATCH_SIZE,
            "probe_pixels": rows.pixels[probe], "seed": int(rng.integers(0, 2 ** 31))}


CHECKS = [
    Check("q1.ties", probe="accuracy_cases", probe_module="public", inputs=ties_inputs, judge=PUBLIC.judge_accuracy),
    Check("q2.hidden_data", probe="evaluate_values", probe_module="public", inputs=hidden_data_inputs,
          judge=PUBLIC.judge_evaluate_value),
    Check("q3.held_out", probe="held_out_predictions", inputs=held_out_inputs, judge=judge_held_out,
          resembles=same_predictions),
    Check("q3.device", probe="train_device", probe_module="public", inputs=train_device_inputs,
          judge=PUBLIC.judge_train_device),
]
