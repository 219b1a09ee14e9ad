"""Public probes for a6_tensorflow (run inside the sandbox, on the student's namespace).

Inputs and targets are passed as float32 NumPy arrays, as the notebook's own data cell makes them;
parameters as float32 `tf.Variable`s.  Every probe turns what came back into NumPy arrays and plain
descriptions: the judges outside never see a TensorFlow object.
"""

import functools

import numpy as np
import tensorflow as tf

from autograder.probing import need


def f32(value):
    return np.asarray(value, dtype=np.float32)


def kind(value) -> dict:
    """What a value is, for messages: type, whether it is a tensor or a variable, shape, dtype."""
    info = {"type": f"{type(value).__module__}.{type(value).__qualname__}",
            "tensor": isinstance(value, tf.Tensor), "variable": isinstance(value, tf.Variable)}
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


def as_array(value):
    """A tensor, variable, array or number as a float64 NumPy array; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (tf.Tensor, tf.Variable, np.ndarray, np.generic, int, float)):
        try:
            return np.array(value, dtype=np.float64)
        except (TypeError, ValueError):
            return None
    return None


def structure(value, known: list, depth: int = 0):
    """A weights list as plain data: each of the `known` variables as its index (by identity), other
    variables as {"variable": shape}, lists as lists, anything else as {"type": name}."""
    for index, variable in enumerate(known):
        if value is variable:
            return index
    if isinstance(value, tf.Variable):
        return {"variable": [int(d) for d in value.shape]}
    if isinstance(value, (list, tuple)) and depth < 4:
        return [structure(item, known, depth + 1) for item in value]
    return {"type": f"{type(value).__module__}.{type(value).__qualname__}"}


def shapes(value, depth: int = 0):
    """The shapes in a weights list, nesting kept: [[2, 3], [3]] for [W, b]."""
    if isinstance(value, tf.Variable):
        return [int(d) for d in value.shape]
    if isinstance(value, (list, tuple)) and depth < 4:
        return [shapes(item, depth + 1) for item in value]
    return {"type": f"{type(value).__module__}.{type(value).__qualname__}"}


def assign_if_fits(weights, values) -> bool:
    """Give the variables in `weights` the grader's values when it is a flat list of variables of
    the expected shapes (so outputs can be compared exactly); False when it is not."""
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

    def __enter__(self):
        self.original = tf.GradientTape.gradient
        original = self.original

        @functools.wraps(original)
        def gradient(tape, *args, **kwargs):
            self.calls += 1
            return original(tape, *args, **kwargs)

        tf.GradientTape.gradient = gradient
        return self

    def __exit__(self, *exc):
        tf.GradientTape.gradient = self.original


def linear_model(ns, inputs):
    model = need(ns, "model")
    W, b = tf.Variable(f32(inputs["W"])), tf.Variable(f32(inputs["b"]))
    out = model(f32(inputs["x"]), W, b)
    return {"out": as_array(out), "kind": kind(out)}


def loss_value(ns, inputs):
    square_loss = need(ns, "square_loss")
    loss = square_loss(f32(inputs["targets"]), tf.constant(f32(inputs["predictions"])))
    return {"loss": as_array(loss), "kind": kind(loss)}


def one_training_step(ns, inputs):
    training_step = need(ns, "training_step")
    W, b = tf.Variable(f32(inputs["W"])), tf.Variable(f32(inputs["b"]))
    before = {"W": W.numpy().astype(np.float64), "b": b.numpy().astype(np.float64)}
    with TapeRecorder() as tape:
        loss = training_step(f32(inputs["x"]), f32(inputs["targets"]), W, b, learning_rate=inputs["learning_rate"])
    return {"loss": as_array(loss), "loss_kind": kind(loss), "gradient_calls": tape.calls, "before": before,
            "after": {"W": W.numpy().astype(np.float64), "b": b.numpy().astype(np.float64)}}


def dense_layer(ns, inputs):
    NaiveDense = need(ns, "NaiveDense")
    layer = NaiveDense(input_size=inputs["input_size"], output_size=inputs["output_size"],
                       activation=getattr(tf.nn, inputs["activation"]))
    weights = layer.weights
    described = structure(weights, [])
    out = layer(f32(inputs["x"])) if assign_if_fits(weights, [inputs["W"], inputs["b"]]) else None
    return {"weights": described, "out": as_array(out), "out_kind": kind(out)}


class ProbeLayer:
    """A layer with a known effect, tanh(x @ W + b), that counts its calls: NaiveSequential is
    checked on its own, whatever the submission's NaiveDense does."""

    def __init__(self, W, b):
        self.W, self.b = tf.Variable(f32(W)), tf.Variable(f32(b))
        self.calls = 0

    def __call__(self, inputs):
        self.calls += 1
        return tf.tanh(tf.matmul(inputs, self.W) + self.b)

    @property
    def weights(self):
        return [self.W, self.b]


def sequential(ns, inputs):
    NaiveSequential = need(ns, "NaiveSequential")
    layers = [ProbeLayer(W, b) for W, b in zip(inputs["Ws"], inputs["bs"])]
    net = NaiveSequential(layers)
    out = net(f32(inputs["x"]))
    calls = [layer.calls for layer in layers]
    weights = net.weights
    return {"out": as_array(out), "out_kind": kind(out), "calls": calls,
            "weights": structure(weights, [v for layer in layers for v in layer.weights])}
