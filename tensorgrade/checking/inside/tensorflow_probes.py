"""Probe helpers for TensorFlow assignments (a6_tensorflow), inside the sandbox, on the student's objects.

`kind`, `as_array`, `weights_structure`, `assign_if_fits` and `TapeRecorder` turn TensorFlow tensors
and variables into plain data (NumPy arrays, lists, dicts) and record how the student's code used
`tf.GradientTape`.  They import TensorFlow when called, so importing this module needs no TensorFlow.
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
    tf = _tf()
    for index, variable in enumerate(known):
        if value is variable:
            return index
    if isinstance(value, tf.Variable):
        return {"variable": [int(d) for d in value.shape]}
    if isinstance(value, (list, tuple)) and depth < MAX_DEPTH:
        return [weights_structure(item, known, depth + 1) for item in value]
    return {"type": type_name(value)}


def assign_if_fits(weights, values) -> bool:
    """Give the variables in `weights` the grader's values when it is a flat list of variables of
    the expected shapes, so that outputs can be compared exactly; False (nothing assigned) if not."""
    tf = _tf()
    if not isinstance(weights, (list, tuple)) or len(weights) != len(values):
        return False
    if not all(isinstance(w, tf.Variable) and list(w.shape) == list(np.shape(v)) for w, v in zip(weights, values)):
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
