"""Hidden probes for a6_tensorflow (run inside the sandbox, on the student's namespace)."""

import numpy as np
import tensorflow as tf

from autograder.probing import need


def f32(value):
    return np.asarray(value, dtype=np.float32)


def kind(value) -> dict:
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
    if isinstance(value, bool):
        return None
    if isinstance(value, (tf.Tensor, tf.Variable, np.ndarray, np.generic, int, float)):
        try:
            return np.array(value, dtype=np.float64)
        except (TypeError, ValueError):
            return None
    return None


def structure(value, depth: int = 0):
    """A weights list as plain data: variables as {"variable": shape}, lists as lists."""
    if isinstance(value, tf.Variable):
        return {"variable": [int(d) for d in value.shape]}
    if isinstance(value, (list, tuple)) and depth < 4:
        return [structure(item, depth + 1) for item in value]
    return {"type": f"{type(value).__module__}.{type(value).__qualname__}"}


def assign_if_fits(weights, values) -> bool:
    if not isinstance(weights, (list, tuple)) or len(weights) != len(values):
        return False
    if not all(isinstance(w, tf.Variable) and list(w.shape) == list(np.shape(v)) for w, v in zip(weights, values)):
        return False
    for variable, value in zip(weights, values):
        variable.assign(f32(value))
    return True


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
    described = structure(weights)
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
    described = structure(weights)
    assigned = assign_if_fits(weights, inputs["weights"])
    out = net(f32(inputs["x"]))
    return {"weights": described, "out_kind": kind(out), "out": as_array(out) if assigned else None,
            "out_shape": kind(out).get("shape")}
