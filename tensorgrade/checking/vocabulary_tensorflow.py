"""The check vocabulary for TensorFlow: values kept tensors, tf.GradientTape updates of tf.Variables
in place, a training run above a threshold derived from the reference, layers and their weights.

Each declaring function is one call in a checks cell, like those of checking/vocabulary.py. In the
call expression, float arrays are float32 (as TensorFlow wants), the inputs named in `variables`
are `tf.Variable`s and those in `constants` `tf.constant`s, and `tf` is TensorFlow. Inputs whose
shapes depend on each other are drawn by one function, `draw=lambda rng: {...}`, before any other.
Messages name the call with the inputs written in (`name="model(inputs, W, b) for inputs of shape
{inputs.shape}"`); a passed check says its description. A Keras 3 `keras.Variable` counts as a
tf.Variable wherever it behaves as one (checking/inside/tensorflow_probes.is_variable).
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import sys
from typing import Any, Callable

from tensorgrade.checking.outside import tensorflow_judges as judges
from tensorgrade.checking.outside.standard_judges import Threshold
from tensorgrade.checking.vocabulary import declare

__all__ = ["tf_close", "tape_step", "tape_training", "tf_layer", "tf_sequential"]


def _declare(check_id: str, call: str, probe: str, judge: Callable, draw: Callable | None, inputs: dict,
             **options: Any):
    """vocabulary.declare, with `draw(rng)`'s inputs drawn first, where given."""
    check = declare(check_id, call, probe, judge, inputs=inputs, depth=3, **options)
    if draw is None:
        return check
    rest = check.inputs
    check = dataclasses.replace(check, inputs=lambda rng: {**draw(rng), **rest(rng)})
    found = sys._getframe(2).f_globals["CHECKS"]
    found[[c.id for c in found].index(check_id)] = check
    return check


def _each(value: Any, count: int) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value] * count


def tf_close(check_id: str, call: str, *, variables: tuple = (), constants: tuple = (), scalar: Any = False,
             hint: Any = "", name: Any = None, rtol: float = judges.RTOL, atol: float = judges.ATOL,
             draw: Callable | None = None, points: float = 1, description: str = "", timeout: float | None = None,
             **inputs: Any):
    """The value of `call` is a tensor (with `scalar`, of shape ()) close to the reference's; a tuple
    call checks each item, with `name`/`scalar`/`hint` lists. A value that left TensorFlow (a float,
    .numpy()) is named as what the tape cannot differentiate.

        tf_close("q1.loss", "square_loss(targets, predictions)", constants=["predictions"], scalar=True,
                 targets=uniform(0, 1, (8, 1)), predictions=normal((8, 1)), description="the mean squared error")
    """
    node = ast.parse(call, mode="eval").body
    count = len(node.elts) if isinstance(node, ast.Tuple) else 1
    names = _each(name, count) if name is not None else [ast.unparse(e) for e in (node.elts if count > 1 else [node])]
    judge = functools.partial(judges.judge_tf_value, names=names, scalars=_each(scalar, count),
                              hints=_each(hint, count), rtol=rtol, atol=atol,
                              success=description or "the values match the reference's")
    return _declare(check_id, call, "probe_tf_value", judge, draw, inputs, points=points, description=description,
                    timeout=timeout, options={"_variables": list(variables), "_constants": list(constants)},
                    resembles=None)


def tape_step(check_id: str, call: str, *, variables: tuple = ("W", "b"), name: str | None = None,
              draw: Callable | None = None, points: float = 1, description: str = "", timeout: float | None = None,
              **inputs: Any):
    """One call of `call` computes its gradients with tf.GradientTape (tape.gradient is called),
    returns the reference's loss and changes each of `variables` (tf.Variables) in place as the
    reference's step does; a rebinding `W = W - ...` is named as such.

        tape_step("q2.step", "training_step(inputs, targets, W, b, learning_rate=0.1)", inputs=normal((20, 2)),
                  targets=integers(0, 2, (20, 1)), W=normal((2, 1)), b=normal(1))
    """
    judge = functools.partial(judges.judge_tape_step, name=name or call, variables=list(variables),
                              success=description or "one step updates the variables in place as the reference's")
    return _declare(check_id, call, "probe_tape_step", judge, draw, inputs, points=points, description=description,
                    timeout=timeout, options={"_variables": list(variables)}, resembles=judges.same_output)


def tape_training(check_id: str, call: str, *, steps: int, measure: Callable[[dict, dict], float],
                  threshold: Threshold | float, what: str = "accuracy", percent: bool = True,
                  variables: tuple = ("W", "b"), name: str | None = None, draw: Callable | None = None,
                  points: float = 1, description: str = "", timeout: float | None = None, **inputs: Any):
    """`steps` calls of `call` on the same tf.Variables reach `measure(final values, inputs)` of at
    least `threshold` (a number or `from_reference(...)`); the message reads the loss curve (it grew,
    the variables never changed), and a known mistake is named from its loss curve.

        tape_training("q2.accuracy", "training_step(inputs, targets, W, b, learning_rate=0.1)", steps=40,
                      measure=accuracy, threshold=from_reference(seeds=100, reduce="min", plus=-0.02), draw=clouds)
    """
    if not isinstance(threshold, Threshold):
        threshold = Threshold(value=float(threshold))
    judge = functools.partial(judges.judge_tape_training, name=name or call, steps=steps, variables=list(variables),
                              measure=measure, threshold=threshold, what=what, percent=percent)
    return _declare(check_id, call, "probe_tape_training", judge, draw, inputs, points=points,
                    description=description, timeout=timeout, options={"_variables": list(variables), "_steps": steps},
                    threshold=threshold, measure=lambda output, drawn: measure(output["variables"], drawn),
                    resembles=judges.same_training_run)


def tf_layer(check_id: str, call: str, *, weights: str, record_activation: bool = False, tensor_input: bool = False,
             name: str | None = None, rtol: float = judges.RTOL, atol: float = judges.ATOL,
             draw: Callable | None = None, points: float = 1, description: str = "", timeout: float | None = None,
             **inputs: Any):
    """The layer (or stack of layers) `call` builds has `.weights`, one flat list of tf.Variables of
    the shapes of the values in the input `weights`; given those values, its output on the input `x`
    is the reference's. With `record_activation`, `activation` in the call is a function that records
    what it is given: it must be applied once, to inputs @ W + b.

        tf_layer("q3.dense", "NaiveDense(input_size=3, output_size=2, activation=tf.nn.relu)", weights="Wb",
                 x=normal((4, 3)), Wb=lambda rng: [rng.standard_normal((3, 2)), rng.standard_normal(2)])
    """
    judge = functools.partial(judges.judge_tf_layer, call=call, weights=weights, name=name, record=record_activation,
                              rtol=rtol, atol=atol, success=description or "the layer matches the reference's")
    return _declare(check_id, call, "probe_tf_layer", judge, draw, inputs, points=points, description=description,
                    timeout=timeout, resembles=judges.same_output,
                    options={"_weights": weights, "_record": record_activation, "_tensor_input": tensor_input})


def tf_sequential(check_id: str, call: str, *, draw: Callable | None = None, points: float = 1,
                  description: str = "", timeout: float | None = None, **inputs: Any):
    """The container `call` builds from `layers` (the grader's layers, tanh(x @ W + b) of the inputs
    `Ws`, `bs`, that count their calls) calls each once, in order, returns the last output on `x`, and
    its `.weights` is the flat list of the layers' own variables, in order.

        tf_sequential("q4.sequential", "NaiveSequential(layers)", x=normal((3, 2)),
                      Ws=lambda rng: [rng.standard_normal((2, 2))] * 2, bs=lambda rng: [rng.standard_normal(2)] * 2)
    """
    judge = functools.partial(judges.judge_tf_sequential, call=call,
                              success=description or "the layers run in order and weights is their flat list")
    return _declare(check_id, call, "probe_tf_sequential", judge, draw, inputs, points=points,
                    description=description, timeout=timeout, resembles=judges.same_output)
