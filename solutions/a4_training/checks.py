"""Hidden checks for a4_training: never released; inputs come from the secret seed."""

import importlib.util
import json
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
    problem = not_numbers(s["logits"], f"the model's output for {len(case.inputs['pixels'])} images",
                          shape=(len(case.inputs["pixels"]), 10))
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


def judge_decreasing(case):
    s, r = case.student, case.reference
    problem = PUBLIC.fit_curve_problem(case)  # the types are q4.losses's business; this check is about learning
    if problem is not None:
        return problem
    losses = s["losses"]
    ratio_max = THRESHOLDS["final_over_first_max"]
    details = {"curve": losses, "reference_curve": r["losses"], "xlabel": "epoch", "ylabel": "mean training loss",
               "threshold": losses[0] * ratio_max}
    rises = [i for i in range(1, len(losses)) if not losses[i] < losses[i - 1]]
    if rises:
        i = rises[0]
        return failed(f"the loss should fall every epoch, but epoch {i + 1}'s {losses[i]:.4g} is not below epoch "
                      f"{i}'s {losses[i - 1]:.4g} (losses {[round(v, 4) for v in losses]}; the reference's "
                      f"{[round(v, 4) for v in r['losses']]})", details=details)
    if losses[-1] > losses[0] * ratio_max:
        return failed(f"the loss fell only from {losses[0]:.4g} to {losses[-1]:.4g} in {len(losses)} epochs "
                      f"({100 * (1 - losses[-1] / losses[0]):.1f}%); it should fall by at least "
                      f"{100 * (1 - ratio_max):.1f}% (the reference: {r['losses'][0]:.4g} to {r['losses'][-1]:.4g})"
                      ": is the learning rate far too small, or are the gradients not reaching the optimizer?",
                      details=details)
    return passed(f"the loss falls every epoch, from {losses[0]:.4g} to {losses[-1]:.4g}", details=details)


def same_training_run(a, b):
    """Two fits behave alike when their loss curves agree."""
    if a.get("losses") is None or b.get("losses") is None:
        return False
    return compare(a["losses"], b["losses"], name="losses", rtol=1e-3, atol=1e-4) is None


CHECKS = [
    Check("q2.logits", probe="classifier_outputs", probe_module="public", inputs=logits_inputs, judge=judge_logits),
    Check("q3.zero_grad", probe="gradient_freshness", inputs=epoch_inputs, judge=judge_zero_grad),
    Check("q3.train_mode", probe="training_mode", inputs=epoch_inputs, judge=judge_training_mode),
    Check("q4.decreases", probe="fit_losses", probe_module="public", inputs=decreasing_inputs,
          judge=judge_decreasing, resembles=same_training_run),
]
