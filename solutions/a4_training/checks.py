"""Hidden checks for a4_training: never released; inputs come from the secret seed."""

import importlib.util
import json
import math
from pathlib import Path

import numpy as np

from tensorgrade.checking.checks import Check
from tensorgrade.checking.outside.judging import compare, failed, not_numbers, passed

HERE = Path(__file__).resolve().parent
THRESHOLDS = json.loads((HERE / "thresholds.json").read_text())


def _public():
    path = HERE.parents[1] / "assignments" / "a4_training" / "checks.py"
    spec = importlib.util.spec_from_file_location("a4_public_checks", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PUBLIC = _public()


def logits_inputs(rng):
    data = PUBLIC.mnist_batches(rng, 48, 48)
    return {"pixels": data["pixels"], "batch_sizes": [int(rng.integers(2, 48))]}


def judge_logits(case):
    s = case.student
    if not s["module"] or s["logits"] is None:
        return failed(f"build_classifier() should return an nn.Module mapping images to logits, "
                      f"but it returned a {s['kind']['type']}")
    logits = np.asarray(s["logits"])
    if logits.ndim != 2 or logits.shape[1] != 10:
        return failed(f"the model's output has shape {logits.shape}, expected (B, 10)")
    images = len(case.inputs["pixels"])
    problem = not_numbers(s["logits"], f"the model's output for {images} images", shape=(images, 10))
    if problem is not None:
        return problem
    if logits.min() >= 0 and logits.max() <= 1 and np.allclose(logits.sum(axis=1), 1, atol=1e-4):
        return failed("the model's outputs are probabilities (each row is in [0, 1] and sums to 1): it ends "
                      "with a softmax. nn.CrossEntropyLoss applies log-softmax itself and expects raw scores "
                      "(logits); with a softmax before it, gradients shrink and training stalls. Remove the "
                      "final softmax", diagnosis="softmax-output")
    return passed("the model returns raw scores (logits), as nn.CrossEntropyLoss expects")


def epoch_inputs(rng):
    return PUBLIC.mnist_batches(rng, 96, 16, lr=PUBLIC.LEARNING_RATE)


def judge_zero_grad(case):
    steps, batches = case.student["steps"], case.student["batches"]
    if len(steps) != batches:
        return failed(f"optimizer.step() ran {len(steps)} times for {batches} batches; expected one step per batch")
    for number, step in enumerate(steps, start=1):
        problem = not_numbers(step["excess"], f"the difference between p.grad and step {number}'s own gradient",
                              shape=())
        if problem is not None:
            return problem
        if step["status"] == "stale":
            return failed(f"at step {number}, p.grad held this step's gradient plus earlier ones (off by up to "
                          f"{step['excess']:.3g}): backward() adds into .grad, so the gradients were not reset. "
                          "Call optimizer.zero_grad() once per batch, before loss.backward()",
                          diagnosis="forgot-zero-grad")
        if step["status"] in ("none", "zero"):
            state = "None" if step["status"] == "none" else "all zeros"
            return failed(f"at step {number}, p.grad was {state} when optimizer.step() ran although backward() "
                          "had computed a gradient: the gradients are reset between loss.backward() and "
                          "optimizer.step(), so no step learns anything. Reset them before backward()",
                          diagnosis="zero-grad-after-backward")
    return passed(f"every one of the {batches} steps used only its own batch's gradient")


def judge_training_mode(case):
    modes = case.student["modes"]
    if not modes:
        return failed("train_one_epoch never called the model")
    in_eval = sum(1 for training in modes if not training)
    if in_eval:
        return failed(f"the model was in eval mode during {in_eval} of its {len(modes)} forward passes: it was "
                      "given in eval mode (as after an evaluation) and train_one_epoch did not switch it back. "
                      "Call model.train() at the start, or dropout and batch norm do not train",
                      diagnosis="missing-train-mode")
    return passed("the model trains in training mode even when it is given in eval mode")


def decreasing_inputs(rng):
    return PUBLIC.mnist_batches(rng, 512, 32, epochs=4)


def _rounded(values):
    return [round(v, 4) if isinstance(v, float) else v for v in values] if isinstance(values, list) else values


def _what_count(value):
    return f"{len(value)} values" if isinstance(value, (list, tuple)) else f"a {type(value).__name__}"


def judge_decreasing(case):
    """Judged on what the probe measured (the loss of the grader's model on the training rows after
    fit(epochs=k), computed by the probe): the losses fit returns are checked for their form only, and
    never decide whether it trained.  The threshold was set on the reference's returned per-epoch means,
    whose relative fall is smaller than the measured one's (over the check's seeds, 39-48% of the
    first epoch's mean against 30-38% of the untrained loss), so the bar is no higher than it was."""
    s, r = case.student, case.reference
    problem = PUBLIC.fit_curve_problem(case)  # the types are q4.losses's business; this check is about learning
    if problem is not None:
        return problem
    if s["measure_problem"]:
        return failed(f"the grader could not measure the loss of the model fit trained: {s['measure_problem']}")
    measured, reference, epochs = s["measured"], r["measured"], case.inputs["epochs"]
    if not isinstance(measured, list) or len(measured) != epochs + 1:
        return failed(f"the grader's measurement of fit's training holds {_what_count(measured)} where "
                      f"{epochs + 1} losses (after 0 to {epochs} epochs) were expected")
    if not all(isinstance(v, float) and math.isfinite(v) for v in measured):
        return failed(f"the loss the grader measured on the training rows after fit is not a finite number "
                      f"({_rounded(measured)}, after 0 to {epochs} epochs): training diverged")
    ratio_max = THRESHOLDS["final_over_first_max"]
    details = {"curve": measured, "reference_curve": reference, "xlabel": "epochs of fit",
               "x_unit": "epoch", "x_start": 0,  # measured after 0 (untrained) to `epochs` epochs
               "ylabel": "loss on the training rows (measured by the grader)", "threshold": measured[0] * ratio_max,
               "returned": s["losses"], "steps": s["steps"], "moved": s["moved"]}
    seen = (f"measured by the grader on the training rows after 0 to {len(measured) - 1} epochs: "
            f"{_rounded(measured)}; the reference's {_rounded(reference)}")
    why = ""
    unchanged = isinstance(s["moved"], (int, float)) and s["moved"] == 0
    if s["steps"] == 0 and unchanged:
        why = f"\noptimizer.step() never ran in fit's {len(measured) - 1} epochs and the weights never changed."
    elif unchanged:
        why = f"\noptimizer.step() ran {s['steps']} times but the weights never changed: no gradient reached them."
    returned = s["losses"]
    if (measured[-1] > measured[0] * ratio_max and all(b < a for a, b in zip(returned, returned[1:]))
            and returned[-1] <= returned[0] * ratio_max):
        why += (f"\nfit returned losses that fall ({_rounded(returned)}), but the model it trained did not learn: "
                "the losses it returns must be the mean loss of each epoch's batches, as train_one_epoch computes it.")
    rises = [k for k in range(1, len(measured)) if not measured[k] < measured[k - 1]]
    if rises:
        k = rises[0]
        return failed(f"the loss should fall every epoch, but after {k} epoch{'s' if k > 1 else ''} of fit it is "
                      f"{measured[k]:.4g}, not below the {measured[k - 1]:.4g} after {k - 1} ({seen}){why}",
                      details=details)
    if measured[-1] > measured[0] * ratio_max:
        return failed(f"the loss fell only from {measured[0]:.4g} to {measured[-1]:.4g} in {len(measured) - 1} "
                      f"epochs ({100 * (1 - measured[-1] / measured[0]):.1f}%); it should fall by at least "
                      f"{100 * (1 - ratio_max):.1f}% ({seen}): is the learning rate far too small, or are the "
                      f"gradients not reaching the optimizer?{why}", details=details)
    return passed(f"the loss falls every epoch, from {measured[0]:.4g} before training to {measured[-1]:.4g} "
                  f"(measured by the grader on the training rows)", details=details)


def same_training_run(a, b):
    """Two fits behave alike when what they did to the model agrees: the loss the probe measured after
    each number of epochs (not the losses fit returned)."""
    if not a.get("measured") or not b.get("measured") or None in a["measured"] or None in b["measured"]:
        return False
    return compare(a["measured"], b["measured"], name="losses", rtol=1e-3, atol=1e-4) is None


CHECKS = [
    Check("q2.logits", probe="classifier_outputs", probe_module="public", inputs=logits_inputs, judge=judge_logits),
    Check("q3.zero_grad", probe="gradient_freshness", inputs=epoch_inputs, judge=judge_zero_grad),
    Check("q3.train_mode", probe="training_mode", inputs=epoch_inputs, judge=judge_training_mode),
    Check("q4.decreases", probe="fit_losses", probe_module="public", inputs=decreasing_inputs,
          judge=judge_decreasing, resembles=same_training_run),
]
