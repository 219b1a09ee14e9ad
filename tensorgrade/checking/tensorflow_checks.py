"""Helpers for checks of TensorFlow assignments (a6_tensorflow), shared by public and hidden files.

Probe side (inside the sandbox, on the student's objects): `kind`, `as_array`, `weights_structure`,
`assign_if_fits` and `TapeRecorder` turn TensorFlow tensors and variables into plain data (NumPy
arrays, lists, dicts) and record how the student's code used `tf.GradientTape`.  They import
TensorFlow when called, so the grader side can import this module without it.

Judge side (outside, on plain data only): `kind_text`, `shape_text` and `same_output`.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tensorgrade.checking.outside.judging import compare

# float32 values computed by two implementations (reference and student) of the same formula
RTOL, ATOL = 1e-5, 1e-6
MAX_DEPTH = 4


def _tf():
    import tensorflow

    return tensorflow


def f32(value) -> np.ndarray:
    return np.asarray(value, dtype=np.float32)


def type_name(value) -> str:
    return f"{type(value).__module__}.{type(value).__qualname__}"


# -- probe side ---------------------------------------------------------------------------------

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

def shape_text(shape) -> str:
    """(3, 1), (4), ()"""
    return str(tuple(shape)).replace(",)", ")") if shape is not None else "no shape"


def kind_text(info: dict) -> str:
    """A `kind()` in words: `a tf.Tensor of shape (3, 1) and dtype float32`, `a float`, `None`."""
    name = info.get("type", "?")
    if name == "builtins.NoneType":
        return "None"
    if info.get("variable"):
        name = "tf.Variable"
    elif info.get("tensor"):
        name = "tf.Tensor"
    text = f"a {name.removeprefix('builtins.')}"
    if "shape" in info:
        text += f" of shape {shape_text(info['shape'])}"
    if "dtype" in info:
        text += f" and dtype {info['dtype']}"
    return text


def weights_text(structure) -> str:
    """A `weights_structure()` that is not a list, in words, with the usual cause when it is a method."""
    name = structure.get("type", "something else") if isinstance(structure, dict) else type(structure).__name__
    if name == "builtins.method":
        return "a method: make `weights` a property (@property above `def weights(self):`)"
    if name == "builtins.NoneType":
        return "None"
    if name.endswith("EagerTensor"):
        return "a tf.Tensor (not a tf.Variable, which an update can change in place)"
    return name.removeprefix("builtins.")


def same_output(a, b) -> bool:
    """Two probe outputs are the same behaviour when every value agrees to float32 precision: how
    a known mistake is recognised on checks whose judge also tests absolute properties."""
    return compare(a, b, name="output", rtol=1e-4, atol=ATOL) is None
