"""Hidden probes for a6_tensorflow (run inside the sandbox, on the student's namespace)."""

import numpy as np
import tensorflow as tf

from tensorgrade.checking.inside.probing import need
from tensorgrade.checking.inside.tensorflow_probes import as_array, assign_if_fits, f32, kind, weights_structure


def model_and_loss(ns, inputs):
    model, square_loss = need(ns, "model"), need(ns, "square_loss")
    single = inputs["single_row"]
    out = model(f32(single["x"]), tf.Variable(f32(single["W"])), tf.Variable(f32(single["b"])))
    loss = square_loss(f32(inputs["targets"]), tf.constant(f32(inputs["predictions"])))
    return {"out": as_array(out), "kind": kind(out), "loss": as_array(loss), "loss_kind": kind(loss)}


def train_point_clouds(ns, inputs):
    """The lecture's loop: `steps` calls of training_step on the whole data set."""
    training_step = need(ns, "training_step")
    x, targets = f32(inputs["x"]), f32(inputs["targets"])
    W, b = tf.Variable(f32(inputs["W"])), tf.Variable(f32(inputs["b"]))
    losses = []
    for _ in range(inputs["steps"]):
        loss = training_step(x, targets, W, b, learning_rate=inputs["learning_rate"])
        value = as_array(loss)
        losses.append(float(value.reshape(-1)[0]) if value is not None and value.size == 1 else None)
    return {"losses": losses, "W": W.numpy().astype(np.float64), "b": b.numpy().astype(np.float64)}


def dense_activation(ns, inputs):
    """NaiveDense with an activation that records what it is given."""
    NaiveDense = need(ns, "NaiveDense")
    seen = []

    def activation(z):
        seen.append([int(d) for d in z.shape] if getattr(z, "shape", None) is not None else None)
        return tf.sigmoid(z) * 3.0 - 1.0

    layer = NaiveDense(input_size=inputs["input_size"], output_size=inputs["output_size"], activation=activation)
    weights = layer.weights
    described = weights_structure(weights)
    out = None
    if assign_if_fits(weights, [inputs["W"], inputs["b"]]):
        seen.clear()  # only calls made by __call__ count
        out = layer(tf.constant(f32(inputs["x"])))
    return {"weights": described, "out": as_array(out), "out_kind": kind(out), "activation_calls": seen}


def dense_stack(ns, inputs):
    """NaiveSequential of the submission's own NaiveDense layers, as in the lecture's MNIST model."""
    NaiveDense, NaiveSequential = need(ns, "NaiveDense"), need(ns, "NaiveSequential")
    d0, d1, d2 = inputs["sizes"]
    net = NaiveSequential([NaiveDense(input_size=d0, output_size=d1, activation=tf.nn.relu),
                           NaiveDense(input_size=d1, output_size=d2, activation=tf.nn.softmax)])
    weights = net.weights
    described = weights_structure(weights)
    assigned = assign_if_fits(weights, inputs["weights"])
    out = net(f32(inputs["x"]))
    return {"weights": described, "out_kind": kind(out), "out": as_array(out) if assigned else None,
            "out_shape": kind(out).get("shape")}
