"""The evaluation vocabulary: accuracy, `evaluate(model, loader, device)`, a trained classifier.

One call each, as in tensorgrade/checking/vocabulary.py: the check's id, what is called in the
student's namespace (an expression of the names the probe binds: `logits, labels` for an accuracy;
`model, loader, device` for an evaluation; `train_loader, device` for a training function), and the
inputs drawn from the check's seeded generator. Batches are MNIST rows (`pixels` uint8 (n, 784),
`labels` int64), scaled by the probe to float32 in [0, 1]; `rows=` is a `lambda rng: {...}` whose
keys become the check's inputs (e.g. `evaluation_rows(...)`, `training_rows(...)`).

Probes: checking/inside/evaluation_probes.py; judges: checking/outside/evaluation_judges.py. Device
checks run the student's code on the simulated accelerator (checking/inside/devicesim.py) and
compare with a CPU run; every other check runs it on the CPU with hard-coded devices sent there, so
that a device mistake costs only the device checks.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
from typing import Any, Callable

import numpy as np

from tensorgrade.checking import vocabulary
from tensorgrade.checking.checks import Check
from tensorgrade.checking.outside import evaluation_judges as judges
from tensorgrade.checking.outside.standard_judges import Threshold

__all__ = ["accuracy_values", "accuracy_on_device", "evaluates", "evaluates_without_grad", "evaluates_in_eval_mode",
           "evaluates_on_device", "trains_classifier", "held_out_accuracy", "trains_on_device",
           "tied_logits", "evaluation_rows", "training_rows"]


def _declare(check_id: str, call: str, probe: str, judge: Callable, *, rows: Callable | None = None,
             inputs: dict | None = None, resembles: Callable | None = None, **options: Any) -> Check:
    """`vocabulary.declare` for the caller's caller; `rows(rng)`'s keys become inputs of their own."""
    declared = dict(inputs or {}, **({"_rows": rows} if rows is not None else {}))
    check = vocabulary.declare(check_id, call, probe, functools.partial(judge, name=call), inputs=declared,
                               resembles=resembles, depth=3, **options)
    if rows is None:
        return check
    drawn = check.inputs

    def flat(rng: np.random.Generator) -> dict:
        found = drawn(rng)
        return {**found.pop("_rows"), **found}

    check = dataclasses.replace(check, inputs=flat)
    vocabulary._declared_in(sys._getframe(2).f_globals, "CHECKS", check, "id")
    return check


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------

def tied_logits(rng: np.random.Generator, rows: int, high: int, dtype: Any) -> dict:
    """Integer logits in [0, high): most rows have several classes tied for the largest logit, and the
    label is one of the tied classes (not always the first), so the tie rule decides the accuracy.

        cases=lambda rng: [tied_logits(rng, 50, 3, np.float32)]
    """
    logits = rng.integers(0, high, size=(rows, 10)).astype(dtype)
    labels = rng.integers(0, 10, size=rows)
    for row in range(rows):
        maxima = np.flatnonzero(logits[row] == logits[row].max())
        if rng.random() < 0.7:
            labels[row] = rng.choice(maxima)
    return {"logits": logits, "labels": labels.astype(np.int64)}


def _class_mean_weights(labels: np.ndarray, pixels: np.ndarray) -> dict:
    """A nearest-class-mean classifier as a linear layer: logits_k = x . m_k - |m_k|^2 / 2."""
    images = pixels.astype(np.float32) / np.float32(255)
    means = np.stack([images[labels == k].mean(axis=0) for k in range(10)]).astype(np.float32)
    return {"weight": means, "bias": (-0.5 * (means ** 2).sum(axis=1)).astype(np.float32)}


def evaluation_rows(labels: np.ndarray, pixels: np.ndarray, rng: np.random.Generator, count: int,
                    batch_size: int) -> dict:
    """`count` rows to evaluate on, in batches of `batch_size`, and a classifier (class means) built
    from 1000 other rows, which the `evaluates*` probes hand to the student's evaluation.

        rows=lambda rng: evaluation_rows(labels, pixels, rng, count=200, batch_size=64)  # a last batch of 8
    """
    order = rng.permutation(len(labels))
    chosen, others = order[:count], order[count:count + 1000]
    return {"pixels": pixels[chosen], "labels": labels[chosen], "batch_size": batch_size,
            **_class_mean_weights(labels[others], pixels[others])}


def training_rows(labels: np.ndarray, pixels: np.ndarray, rng: np.random.Generator, count: int, probe: int,
                  batch_size: int = 64, seed: bool = False) -> dict:
    """`count` rows to train on and the images of `probe` others to predict (and, with `seed`, the torch
    seed of both runs of a device check).

        rows=lambda rng: training_rows(labels, pixels, rng, count=256, probe=8)
    """
    order = rng.permutation(len(labels))
    train, shown = order[:count], order[count:count + probe]
    drawn = {"pixels": pixels[train], "labels": labels[train], "batch_size": batch_size, "probe_pixels": pixels[shown]}
    return {**drawn, "seed": int(rng.integers(0, 2 ** 31))} if seed else drawn


# ---------------------------------------------------------------------------------------------
# Accuracy of a batch
# ---------------------------------------------------------------------------------------------

def accuracy_values(check_id: str, call: str, *, cases: Callable[[np.random.Generator], list[dict]],
                    points: float = 1, description: str = "", timeout: float | None = None) -> Check:
    """`call` (of `logits, labels`) returns each case's accuracy as a Python float in [0, 1], ties to
    the first maximal logit; names `returns-tensor`, `wrong-tie-rule`, `accuracy-as-percentage`.

        accuracy_values("q1.values", "accuracy(logits, labels)", cases=lambda rng: [tied_logits(rng, 50, 3, "float32")])
    """
    return _declare(check_id, call, "probe_accuracy_cases", judges.judge_accuracy, inputs={"cases": cases},
                    points=points, description=description, timeout=timeout)


def accuracy_on_device(check_id: str, call: str, *, cases: Callable[[np.random.Generator], list[dict]],
                       points: float = 1, description: str = "", timeout: float | None = None) -> Check:
    """`call` on logits and labels on a (simulated) GPU gives the CPU's accuracy; names
    `numpy-on-device-tensor`, `hardcoded-cuda`, `tensor-created-without-device`.

        accuracy_on_device("q1.device", "accuracy(logits, labels)", cases=accuracy_cases)
    """
    return _declare(check_id, call, "probe_accuracy_device", judges.judge_accuracy_device, inputs={"cases": cases},
                    points=points, description=description, timeout=timeout)


# ---------------------------------------------------------------------------------------------
# Evaluation over a loader
# ---------------------------------------------------------------------------------------------

def evaluates(check_id: str, call: str, *, rows: Callable[[np.random.Generator], dict], points: float = 1,
              description: str = "", timeout: float | None = None) -> Check:
    """`call` (of `model, loader, device`) gives the accuracy over all the loader's images, as a Python
    float; names `mean-of-batch-accuracies` (by its mistake), `accuracy-as-percentage`, `returns-tensor`.

        evaluates("q2.values", "evaluate(model, loader, device)",
                  rows=lambda rng: evaluation_rows(labels, pixels, rng, count=200, batch_size=64))
    """
    return _declare(check_id, call, "probe_evaluate_value", judges.judge_evaluate_value, rows=rows,
                    points=points, description=description, timeout=timeout)


def evaluates_without_grad(check_id: str, call: str, *, rows: Callable[[np.random.Generator], dict],
                           points: float = 1, description: str = "", timeout: float | None = None) -> Check:
    """No forward pass of `call`'s model builds an autograd graph (torch.no_grad or inference_mode);
    names `missing-no-grad`.

        evaluates_without_grad("q2.no_grad", "evaluate(model, loader, device)", rows=small_rows)
    """
    return _declare(check_id, call, "probe_evaluate_no_grad", judges.judge_no_grad, rows=rows,
                    points=points, description=description, timeout=timeout)


def evaluates_in_eval_mode(check_id: str, call: str, *, rows: Callable[[np.random.Generator], dict],
                           points: float = 1, description: str = "", timeout: float | None = None) -> Check:
    """`call` runs a model with dropout and batch norm (handed over in training mode) in eval mode;
    names `missing-eval-mode`.

        evaluates_in_eval_mode("q2.eval_mode", "evaluate(model, loader, device)", rows=small_rows)
    """
    return _declare(check_id, call, "probe_evaluate_eval_mode", judges.judge_eval_mode, rows=rows,
                    points=points, description=description, timeout=timeout)


def evaluates_on_device(check_id: str, call: str, *, rows: Callable[[np.random.Generator], dict],
                        points: float = 1, description: str = "", timeout: float | None = None) -> Check:
    """With the model on a (simulated) GPU, `call` moves the loader's CPU batches to the given device
    and gives the CPU's accuracy; names the device mistakes.

        evaluates_on_device("q2.device", "evaluate(model, loader, device)", rows=device_rows)
    """
    return _declare(check_id, call, "probe_evaluate_device", judges.judge_evaluate_device, rows=rows,
                    points=points, description=description, timeout=timeout)


# ---------------------------------------------------------------------------------------------
# A trained classifier
# ---------------------------------------------------------------------------------------------

def trains_classifier(check_id: str, call: str, *, rows: Callable[[np.random.Generator], dict], points: float = 1,
                      description: str = "", timeout: float | None = None) -> Check:
    """`call` (of `train_loader, device`) trains on `rows` and returns an nn.Module mapping (B, 784)
    images to (B, 10) float logits.

        trains_classifier("q3.returns", "train_classifier(train_loader, device)",
                          rows=lambda rng: training_rows(labels, pixels, rng, count=256, probe=8))
    """
    return _declare(check_id, call, "probe_trained_classifier", judges.judge_train_returns, rows=rows,
                    points=points, description=description, timeout=timeout)


def held_out_accuracy(check_id: str, call: str, *, rows: Callable[[np.random.Generator], dict],
                      labels: Callable[[], np.ndarray], threshold: Threshold | float, points: float = 1,
                      description: str = "", timeout: float | None = None) -> Check:
    """The model `call` trains on `rows` (`train_pixels`, `train_labels`, `batch_size`) predicts the
    held-out `images`; its accuracy, computed here from `labels()` (which never enter a sandbox),
    must reach `threshold` (a number or `from_reference(...)` of the reference's accuracy).

        held_out_accuracy("q3.held_out", "train_classifier(train_loader, device)", rows=held_out_rows,
                          labels=lambda: held_out_rows().labels, threshold=from_reference(reduce="min", plus=-0.015))
    """
    if not isinstance(threshold, Threshold):
        threshold = Threshold(value=float(threshold))
    judge = functools.partial(judges.judge_held_out, threshold=threshold, labels=labels)
    return _declare(check_id, call, "probe_held_out_predictions", judge, rows=rows,
                    resembles=judges.same_predictions, threshold=threshold,
                    measure=lambda output, drawn: judges.held_out_accuracy(output, labels())[0],
                    points=points, description=description, timeout=timeout)


def trains_on_device(check_id: str, call: str, *, rows: Callable[[np.random.Generator], dict], points: float = 1,
                     description: str = "", timeout: float | None = None) -> Check:
    """`call` trains on a (simulated) GPU: the model and the batches on the given device, no
    hard-coded device, the CPU run's predictions for `probe_pixels` (same torch seed); names the
    device mistakes.

        trains_on_device("q3.device", "train_classifier(train_loader, device)",
                         rows=lambda rng: training_rows(labels, pixels, rng, count=512, probe=200, seed=True))
    """
    return _declare(check_id, call, "probe_train_device", judges.judge_train_device, rows=rows,
                    points=points, description=description, timeout=timeout)
