"""Public probes for a6_tensorflow (run inside the sandbox, on the student's namespace).

Inputs and targets are passed as float32 NumPy arrays, as the notebook's own data cell makes them;
parameters as float32 `tf.Variable`s.  Every probe turns what came back into NumPy arrays and plain
descriptions: the judges outside never see a TensorFlow object.
"""

import numpy as np
import tensorflow as tf

from tensorgrade.checking.inside.probing import need
from tensorgrade.checking.inside.tensorflow_probes import TapeRecorder, as_array, assign_if_fits, f32, kind, weights_structure


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
    described = weights_structure(weights)
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
            "weights": weights_structure(weights, [v for layer in layers for v in layer.weights])}
