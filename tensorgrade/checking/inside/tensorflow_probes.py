"""Probe helpers for TensorFlow assignments (a6_tensorflow), inside the sandbox, on the student's objects.

`kind`, `as_array`, `weights_structure`, `assign_if_fits` and `TapeRecorder` turn TensorFlow tensors
and variables into plain data (NumPy arrays, lists, dicts) and record how the student's code used
`tf.GradientTape`.  They import TensorFlow when called, so importing this module needs no TensorFlow.

A variable is what behaves as a `tf.Variable` for the course's contract (`is_variable`): a tf.Variable,
or an object that `.assign` changes in place and whose reads `tf.GradientTape` tracks, such as the
Keras 3 `keras.Variable` of the textbook's current NaiveDense (which is no tf.Variable subclass).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

MAX_DEPTH = 4


def _tf():
    import tensorflow

    return tensorflow


def f32(value) -> np.ndarray:
    return np.asarray(value, dtype=np.float32)


def type_name(value) -> str:
    return f"{type(value).__module__}.{type(value).__qualname__}"


def kind(value) -> dict:
    """What a value is, for messages: type, whether it is a tensor or a variable, shape, dtype."""
    tf = _tf()
    info: dict[str, Any] = {"type": type_name(value), "tensor": isinstance(value, tf.Tensor),
                            "variable": isinstance(value, tf.Variable)}
    shape = getattr(value, "shape", None)
    if shape is not None:
        try:
            info["shape"] = [None if d is None else int(d) for d in shape]
        except (TypeError, ValueError):
            pass
    dtype = getattr(value, "dtype", None)
    if dtype is not None:
        info["dtype"] = getattr(dtype, "name", str(dtype))
    return info


def is_variable(value) -> bool:
    """Whether `value` behaves as a tf.Variable for the contract: it is one, or (tried here, on the
    object itself) a float variable of another class, a Keras 3 `keras.Variable` say, that reads as a
    tensor of its own shape, that `tf.GradientTape` tracks (the gradient of the sum of its entries
    is all ones, without `tape.watch`), and that `.assign` changes in place (its value is put back
    after)."""
    tf = _tf()
    if isinstance(value, tf.Variable):
        return True
    if isinstance(value, (tf.Tensor, np.ndarray, list, tuple, dict, str, bytes, int, float)) or value is None:
        return False
    try:
        if not callable(getattr(value, "assign", None)):
            return False
        current = tf.identity(tf.convert_to_tensor(value))
        if not current.dtype.is_floating or [int(d) for d in value.shape] != current.shape.as_list():
            return False
        with tf.GradientTape() as tape:
            total = tf.reduce_sum(tf.convert_to_tensor(value))
        gradient = tape.gradient(total, value)
        if gradient is None or not isinstance(gradient, tf.Tensor) or gradient.shape != current.shape:
            return False
        if not bool(tf.reduce_all(gradient == tf.ones_like(current))):
            return False
        changed = current + tf.ones_like(current)
        value.assign(changed)
        assigned = bool(tf.reduce_all(tf.convert_to_tensor(value) == changed))
        value.assign(current)
        return assigned and bool(tf.reduce_all(tf.convert_to_tensor(value) == current))
    except Exception:  # whatever it is, it does not behave as a variable
        return False


def as_array(value) -> np.ndarray | None:
    """A tensor, variable, array or number as a float64 NumPy array; None for anything else."""
    tf = _tf()
    if isinstance(value, bool):
        return None
    if isinstance(value, (tf.Tensor, tf.Variable, np.ndarray, np.generic, int, float)):
        try:
            return np.array(value, dtype=np.float64)
        except (TypeError, ValueError):
            return None
    return None


def weights_structure(value, known: list = (), depth: int = 0):
    """A `weights` value as plain data, nesting kept: each of the `known` variables as its index
    (by identity), other variables as {"variable": shape}, lists as lists, anything else as
    {"type": name}."""
    for index, variable in enumerate(known):
        if value is variable:
            return index
    if is_variable(value):
        return {"variable": [int(d) for d in value.shape]}
    if isinstance(value, (list, tuple)) and depth < MAX_DEPTH:
        return [weights_structure(item, known, depth + 1) for item in value]
    return {"type": type_name(value)}


def assign_if_fits(weights, values) -> bool:
    """Give the variables in `weights` the grader's values when it is a flat list of variables of
    the expected shapes, so that outputs can be compared exactly; False (nothing assigned) if not."""
    if not isinstance(weights, (list, tuple)) or len(weights) != len(values):
        return False
    if not all(is_variable(w) and [int(d) for d in w.shape] == list(np.shape(v)) for w, v in zip(weights, values)):
        return False
    for variable, value in zip(weights, values):
        variable.assign(f32(value))
    return True


class TapeRecorder:
    """Counts calls of tf.GradientTape.gradient while the student's code runs (put back after)."""

    def __init__(self):
        self.calls = 0

    def __enter__(self) -> "TapeRecorder":
        tape_class = _tf().GradientTape
        self.original = original = tape_class.gradient

        @functools.wraps(original)
        def gradient(tape, *args, **kwargs):
            self.calls += 1
            return original(tape, *args, **kwargs)

        tape_class.gradient = gradient
        return self

    def __exit__(self, *exc) -> None:
        _tf().GradientTape.gradient = self.original


# -- judge side ---------------------------------------------------------------------------------
