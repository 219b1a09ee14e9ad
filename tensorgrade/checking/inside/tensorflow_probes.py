"""The TensorFlow probes of the check vocabulary (checking/vocabulary_tensorflow.py), inside the sandbox.

The `probe_*` functions (the only names exported) evaluate the check's call expression with the
drawn inputs as float32 arrays, those named in `_variables` as `tf.Variable`s and those in
`_constants` as `tf.constant`s, and `tf` bound to TensorFlow.

`kind`, `as_array`, `weights_structure`, `assign_if_fits` and `TapeRecorder` turn TensorFlow tensors
and variables into plain data (NumPy arrays, lists, dicts) and record how the student's code used
`tf.GradientTape`.  They import TensorFlow when called, so importing this module needs no TensorFlow.

A variable is what behaves as a `tf.Variable` for the course's contract (`is_variable`): a tf.Variable,
or an object that `.assign` changes in place and whose reads `tf.GradientTape` tracks, such as the
Keras 3 `keras.Variable` of the textbook's current NaiveDense (which is no tf.Variable subclass).
"""

from __future__ import annotations

import ast
import functools
from typing import Any

import numpy as np

MAX_DEPTH = 4
__all__ = ["probe_tf_value", "probe_tape_step", "probe_tape_training", "probe_tf_layer", "probe_tf_sequential"]


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


# -- the vocabulary's probes ----------------------------------------------------------------------

def tf_arguments(inputs: dict, extra: dict | None = None) -> dict:
    """The check's inputs as its call sees them (float arrays in float32, as TensorFlow wants)."""
    tf = _tf()
    arguments: dict[str, Any] = {"tf": tf, **(extra or {})}
    for name, value in inputs.items():
        if name.startswith("_"):
            continue
        if name in inputs.get("_variables", ()):
            value = tf.Variable(f32(value))
        elif name in inputs.get("_constants", ()):
            value = tf.constant(f32(value))
        elif isinstance(value, np.ndarray) and value.dtype.kind == "f":
            value = f32(value)
        arguments[name] = value
    return arguments


def tf_evaluate(ns: dict, inputs: dict, arguments: dict):
    from tensorgrade.checking.inside.standard_probes import evaluate  # here: it imports this module

    return evaluate(ns, {**arguments, "_call": inputs["_call"], "_numpy": True,
                         "_subclass_of": inputs.get("_subclass_of")})


def _variables(arguments: dict, inputs: dict) -> dict:
    return {name: arguments[name].numpy().astype(np.float64) for name in inputs["_variables"]}


def probe_tf_value(ns: dict, inputs: dict) -> dict:
    """Each value of the call (a tuple expression gives several) as an array and its kind."""
    value = tf_evaluate(ns, inputs, tf_arguments(inputs))
    several = isinstance(ast.parse(inputs["_call"], mode="eval").body, ast.Tuple)
    return {"items": [{"out": as_array(item), "kind": kind(item)} for item in (value if several else (value,))]}


def probe_tape_step(ns: dict, inputs: dict) -> dict:
    """One call that should update the `_variables` in place with tf.GradientTape's gradients:
    what it returned, how often tape.gradient ran, the variables before and after."""
    arguments = tf_arguments(inputs)
    before = _variables(arguments, inputs)
    with TapeRecorder() as tape:
        loss = tf_evaluate(ns, inputs, arguments)
    return {"loss": as_array(loss), "loss_kind": kind(loss), "gradient_calls": tape.calls, "before": before,
            "after": _variables(arguments, inputs)}


def probe_tape_training(ns: dict, inputs: dict) -> dict:
    """`_steps` calls on the same variables: each returned loss (None if not one number), and the
    variables reached."""
    arguments, losses = tf_arguments(inputs), []
    for _ in range(inputs["_steps"]):
        value = as_array(tf_evaluate(ns, inputs, arguments))
        losses.append(float(value.reshape(-1)[0]) if value is not None and value.size == 1 else None)
    return {"losses": losses, "variables": _variables(arguments, inputs)}


def probe_tf_layer(ns: dict, inputs: dict) -> dict:
    """The layer the call builds: its `weights` (structure()), and its output on `x` once they are
    given the values `inputs[_weights]` (when they fit); with `_record`, the call's `activation`
    records the shape of each tensor it is given."""
    tf, seen = _tf(), []

    def activation(z):
        seen.append([int(d) for d in z.shape] if getattr(z, "shape", None) is not None else None)
        return tf.sigmoid(z) * 3.0 - 1.0

    layer = tf_evaluate(ns, inputs, tf_arguments(inputs, {"activation": activation} if inputs.get("_record") else {}))
    weights = layer.weights
    found = {"weights": weights_structure(weights), "out": None, "out_kind": kind(None)}
    if assign_if_fits(weights, inputs[inputs["_weights"]]):
        seen.clear()  # only calls made by __call__ count
        x = f32(inputs["x"])
        out = layer(tf.constant(x) if inputs.get("_tensor_input") else x)
        found.update(out=as_array(out), out_kind=kind(out))
    return {**found, "activation_calls": seen} if inputs.get("_record") else found


class ProbeLayer:
    """A layer with a known effect, tanh(x @ W + b), that counts its calls: a container of layers
    is checked on its own, whatever the submission's layers do."""

    def __init__(self, W, b):
        tf = _tf()
        self.W, self.b = tf.Variable(f32(W)), tf.Variable(f32(b))
        self.calls = 0

    def __call__(self, inputs):
        self.calls += 1
        tf = _tf()
        return tf.tanh(tf.matmul(inputs, self.W) + self.b)

    @property
    def weights(self):
        return [self.W, self.b]


def probe_tf_sequential(ns: dict, inputs: dict) -> dict:
    """The container the call builds from `layers` (probe layers of weights Ws, bs): its output on
    x, the calls of each layer, and its `weights` (each probe variable as its index)."""
    layers = [ProbeLayer(W, b) for W, b in zip(inputs["Ws"], inputs["bs"])]
    net = tf_evaluate(ns, inputs, tf_arguments(inputs, {"layers": layers}))
    out = net(f32(inputs["x"]))
    calls = [layer.calls for layer in layers]
    weights = net.weights
    return {"out": as_array(out), "out_kind": kind(out), "calls": calls,
            "weights": weights_structure(weights, [v for layer in layers for v in layer.weights])}
