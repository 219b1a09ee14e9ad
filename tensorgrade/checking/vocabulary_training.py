"""The check vocabulary of training loops: device choice, a classifier's outputs, one epoch, a fit.

The functions checked have the course's classic signatures: `get_device() -> torch.device`, a model
builder (`build_classifier()`, (B, 784) images to (B, 10) logits), `train_one_epoch(model, loader,
loss_fn, optimizer, device) -> float` and `fit(model, loader, epochs, device) -> list[float]`. Each
is run on the grader's own small model and loss (checking/inside/training_probes.py), on rows drawn
by `csv_batches` (`data=`), and judged outside (checking/outside/training_judges.py): by behaviour,
never by source. Device checks run the code on a simulated accelerator (devicesim) and name each
device mistake. Inputs are drawn in the order they are written, as in vocabulary.py.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any

from tensorgrade.checking import vocabulary
from tensorgrade.checking.checks import Check
from tensorgrade.checking.outside import training_judges as judges
from tensorgrade.checking.outside.standard_judges import Threshold
from tensorgrade.checking.vocabulary import Draw

__all__ = ["csv_batches", "returns_device", "device_availability", "classifier_shapes", "raw_logits",
           "epoch_mean_loss", "epoch_update", "resets_gradients", "trains_in_train_mode", "epoch_on_device",
           "fit_losses", "fit_decreases", "fit_on_device"]


def csv_batches(path: str, count: int, batch_size: int, min_rows: int = 600) -> Draw:
    """`count` distinct rows of a CSV in the lecture's format (label, then 784 pixels 0..255) and the
    loader settings of the training probes: `{labels, pixels, batch_size, seed}` (the seed of the
    model's start). `path` is relative to the assignment folder (its `files:`), found from the checks
    cell wherever it runs: the source under solutions/<id>/, or the generated checks.py beside the data.

        data=csv_batches("data/mnist_train.csv", 64, 16)
    """
    caller = Path(sys._getframe(1).f_code.co_filename).resolve()
    folder = caller.parents[2] / "assignments" / caller.parent.name if caller.parent.parent.name == "solutions" \
        else caller.parent
    file = folder / path

    def draw(rng):
        from tensorgrade.course.datasets import read_csv

        labels, pixels = read_csv(file, min_rows=min_rows)
        chosen = rng.choice(len(labels), size=count, replace=False)
        return {"labels": labels[chosen], "pixels": pixels[chosen], "batch_size": batch_size,
                "seed": int(rng.integers(0, 2**31 - 1))}

    return Draw(draw, f"csv_batches({path!r}, {count}, {batch_size})")


def _declare(check_id: str, call: str, probe: str, judge, *, needs: tuple[str, ...], inputs: dict[str, Any],
             points: float, description: str, timeout: float | None, judged: dict | None = None,
             resembles=None, **extra) -> Check:
    missing = [key for key in needs if key not in inputs]
    if missing:
        raise ValueError(f"{check_id}: give the input(s) {', '.join(missing)} (e.g. data=csv_batches(...))")
    # resembles=None: the judge compares with the reference or observes behaviour, so it names a known
    # mistake itself, against the variant's output.
    judge = functools.partial(judge, name=call, **(judged or {}))
    return vocabulary.declare(check_id, call, probe, judge, points=points, description=description, timeout=timeout,
                              inputs=inputs, resembles=resembles, depth=3, **extra)


def returns_device(check_id: str, function: str = "get_device", *, points: float = 1, description: str = "",
                   timeout: float | None = None) -> Check:
    """`function()` returns a torch.device (not a string).

        returns_device("q1.returns_device", "get_device")
    """
    return _declare(check_id, function, "probe_device_returned", judges.judge_device_returned, needs=(), inputs={},
                    points=points, description=description, timeout=timeout)


def device_availability(check_id: str, function: str = "get_device", *, points: float = 1, description: str = "",
                        timeout: float | None = None) -> Check:
    """`function()` answers cuda when torch.cuda.is_available() and cpu when not, both simulated
    (diagnosis get-device-ignores-availability).

        device_availability("q1.availability", "get_device")
    """
    return _declare(check_id, function, "probe_device_availability", judges.judge_availability, needs=(), inputs={},
                    points=points, description=description, timeout=timeout)


def classifier_shapes(check_id: str, builder: str, *, points: float = 1, description: str = "",
                      timeout: float | None = None, **inputs: Any) -> Check:
    """The model `builder` gives maps each batch of `batch_sizes` images of `data` (B, 784) to float32
    (B, 10) logits, with trainable parameters.

        classifier_shapes("q2.shapes", "build_classifier()", batch_sizes=[1, 16, 64],
                          data=csv_batches("data/mnist_train.csv", 64, 64))
    """
    return _declare(check_id, builder, "probe_classifier_outputs", judges.judge_classifier_shapes,
                    needs=("data", "batch_sizes"), inputs=inputs, points=points, description=description,
                    timeout=timeout)


def raw_logits(check_id: str, builder: str, *, points: float = 1, description: str = "",
               timeout: float | None = None, **inputs: Any) -> Check:
    """The model outputs raw scores, not probabilities (diagnosis softmax-output: rows in [0, 1] summing to 1).

        raw_logits("q2.logits", "build_classifier()", data=csv_batches("data/mnist_train.csv", 48, 48),
                   batch_sizes=[16])
    """
    return _declare(check_id, builder, "probe_classifier_outputs", judges.judge_logits, needs=("data", "batch_sizes"),
                    inputs=inputs, points=points, description=description, timeout=timeout)


def epoch_mean_loss(check_id: str, function: str = "train_one_epoch", *, points: float = 1, description: str = "",
                    timeout: float | None = None, **inputs: Any) -> Check:
    """One epoch (SGD at `lr` on the grader's model) returns the mean batch loss as a Python float,
    the reference's (diagnoses returns-tensor; a sum is said to be one).

        epoch_mean_loss("q3.mean_loss", "train_one_epoch", data=csv_batches("data/mnist_train.csv", 64, 16), lr=0.1)
    """
    return _declare(check_id, function, "probe_one_epoch", judges.judge_mean_loss, needs=("data", "lr"),
                    inputs=inputs, points=points, description=description, timeout=timeout)


def epoch_update(check_id: str, function: str = "train_one_epoch", *, points: float = 1, description: str = "",
                 timeout: float | None = None, **inputs: Any) -> Check:
    """After one epoch, one forward pass per batch and the grader's model's weights are the reference's.

        epoch_update("q3.update", "train_one_epoch", data=csv_batches("data/mnist_train.csv", 64, 16), lr=0.1)
    """
    return _declare(check_id, function, "probe_one_epoch", judges.judge_update, needs=("data", "lr"),
                    inputs=inputs, points=points, description=description, timeout=timeout)


def resets_gradients(check_id: str, function: str = "train_one_epoch", *, points: float = 1, description: str = "",
                     timeout: float | None = None, **inputs: Any) -> Check:
    """At every optimizer.step(), each p.grad is that step's own gradient: not accumulated
    (forgot-zero-grad), not reset between backward() and step() (zero-grad-after-backward).

        resets_gradients("q3.zero_grad", "train_one_epoch", data=csv_batches("data/mnist_train.csv", 96, 16), lr=0.1)
    """
    return _declare(check_id, function, "probe_gradient_freshness", judges.judge_zero_grad, needs=("data", "lr"),
                    inputs=inputs, points=points, description=description, timeout=timeout)


def trains_in_train_mode(check_id: str, function: str = "train_one_epoch", *, points: float = 1,
                         description: str = "", timeout: float | None = None, **inputs: Any) -> Check:
    """A model given in eval mode (as after an evaluation) trains in training mode (missing-train-mode).

        trains_in_train_mode("q3.train_mode", "train_one_epoch", data=csv_batches("data/mnist_train.csv", 96, 16),
                             lr=0.1)
    """
    return _declare(check_id, function, "probe_training_mode", judges.judge_training_mode, needs=("data", "lr"),
                    inputs=inputs, points=points, description=description, timeout=timeout)


def epoch_on_device(check_id: str, function: str = "train_one_epoch", *, points: float = 1, description: str = "",
                    timeout: float | None = None, **inputs: Any) -> Check:
    """One epoch with the model already on the (simulated) GPU gives results identical to the CPU run,
    with no device mistake (each named: batch-not-on-device, hardcoded-cuda, ...).

        epoch_on_device("q3.device", "train_one_epoch", data=csv_batches("data/mnist_train.csv", 64, 16), lr=0.1)
    """
    return _declare(check_id, function, "probe_one_epoch_on_device", judges.judge_on_device, needs=("data", "lr"),
                    inputs=inputs, points=points, description=description, timeout=timeout)


def fit_losses(check_id: str, function: str = "fit", *, points: float = 1, description: str = "",
               timeout: float | None = None, **inputs: Any) -> Check:
    """`fit` returns one Python float per epoch (diagnosis returns-tensor for tensors).

        fit_losses("q4.losses", "fit", data=csv_batches("data/mnist_train.csv", 256, 32), epochs=3)
    """
    return _declare(check_id, function, "probe_fit_losses", judges.judge_fit_losses, needs=("data", "epochs"),
                    inputs=inputs, points=points, description=description, timeout=timeout)


def _fall(output: dict, inputs: dict) -> float:
    """What the threshold bounds, measured on the reference: its last epoch's loss over its first."""
    return output["losses"][-1] / output["losses"][0]


def _same_training_run(a: Any, b: Any) -> bool:
    """Two fits behave alike when what they did to the model agrees: the loss the probe measured after
    each number of epochs (not the losses fit returned)."""
    from tensorgrade.checking.outside.judging import compare

    if not a.get("measured") or not b.get("measured") or None in a["measured"] or None in b["measured"]:
        return False
    return compare(a["measured"], b["measured"], name="losses", rtol=1e-3, atol=1e-4) is None


def fit_decreases(check_id: str, function: str = "fit", *, threshold: Threshold | float, points: float = 1,
                  description: str = "", timeout: float | None = None, **inputs: Any) -> Check:
    """The loss the grader measures on the training rows after 0, 1, ... `epochs` epochs of `function`
    (never what it returns) falls every epoch, and last/first is at most `threshold`: a number, or
    `from_reference(...)` over the reference's returned last/first.

        fit_decreases("q4.decreases", "fit", data=csv_batches("data/mnist_train.csv", 512, 32), epochs=4,
                      threshold=from_reference(seeds=25, reduce="max", times=0.1, plus=0.9))
    """
    if not isinstance(threshold, Threshold):
        threshold = Threshold(value=float(threshold))
    return _declare(check_id, function, "probe_fit_losses", judges.judge_decreasing, needs=("data", "epochs"),
                    inputs=inputs, points=points, description=description, timeout=timeout,
                    judged={"threshold": threshold}, threshold=threshold, measure=_fall, resembles=_same_training_run)


def fit_on_device(check_id: str, function: str = "fit", *, points: float = 1, description: str = "",
                  timeout: float | None = None, **inputs: Any) -> Check:
    """`function`, given a model built on the CPU and the (simulated) GPU, moves the model there and
    trains with results identical to the CPU run, with no device mistake (model-not-on-device, ...).

        fit_on_device("q4.device", "fit", data=csv_batches("data/mnist_train.csv", 96, 32), epochs=2)
    """
    return _declare(check_id, function, "probe_fit_on_device", judges.judge_on_device, needs=("data", "epochs"),
                    inputs=inputs, points=points, description=description, timeout=timeout)
