"""Public checks for a6_tensorflow: inputs drawn by the grader, judged outside the sandbox.

The probes run the student's TensorFlow code in float32; values are compared with the reference's
on the same inputs with float32 tolerances.
"""

import numpy as np

from tensorgrade.checking.checks import Check
from tensorgrade.checking.outside.judging import compare, failed, passed
from tensorgrade.checking.outside.tensorflow_judges import ATOL, RTOL, kind_text, same_output, shape_text, weights_text


def sizes(rng, low, high, n):
    return [int(v) for v in rng.integers(low, high + 1, size=n)]


# -- q1: model and square_loss ---------------------------------------------------------------

def model_inputs(rng):
    n, d = sizes(rng, 3, 8, 1)[0], sizes(rng, 2, 4, 1)[0]
    return {"x": rng.standard_normal((n, d)), "W": rng.standard_normal((d, 1)), "b": rng.standard_normal(1) + 1.0}


def judge_model_output(student, reference, what: str):
    if student["out"] is None or not student["kind"].get("tensor"):
        return failed(f"{what} should return a tensor of shape {shape_text(reference['out'].shape)}, "
                      f"but it returned {kind_text(student['kind'])}"
                      + (": keep it a tensor (no .numpy()), or tf.GradientTape cannot differentiate through it"
                         if student["out"] is not None else ""))
    return compare(student["out"], reference["out"], name=what, rtol=RTOL, atol=ATOL)


def judge_model(case):
    n, d = np.shape(case.inputs["x"])
    return (judge_model_output(case.student, case.reference, f"model(inputs, W, b) for inputs of shape ({n}, {d})")
            or passed("model computes inputs @ W + b"))


def loss_inputs(rng):
    n = sizes(rng, 5, 20, 1)[0]
    return {"targets": rng.integers(0, 2, size=(n, 1)).astype(np.float64), "predictions": rng.standard_normal((n, 1))}


def judge_loss_output(student, reference, what: str):
    kind = student["kind"]
    if not kind.get("tensor"):
        return failed(f"{what} should be a scalar tensor (tf.reduce_mean of tf.square(targets - predictions)), but "
                      f"it is {kind_text(kind)}: tf.GradientTape can only differentiate TensorFlow operations, so "
                      "the loss must stay a tensor")
    if student["loss"].shape != ():
        return failed(f"{what} should be a scalar tensor (shape ()), but it has shape "
                      f"{shape_text(student['loss'].shape)}: average over every sample with tf.reduce_mean "
                      "and no axis")
    return compare(student["loss"], reference["loss"], name=what, rtol=RTOL, atol=ATOL)


def judge_loss(case):
    n = len(case.inputs["targets"])
    return (judge_loss_output(case.student, case.reference, f"square_loss(targets, predictions) for {n} samples")
            or passed("square_loss is the mean of the squared errors, a scalar tensor"))


# -- q2: training_step -----------------------------------------------------------------------

def training_step_inputs(rng):
    n, d = sizes(rng, 20, 50, 1)[0], sizes(rng, 2, 3, 1)[0]
    return {"x": rng.standard_normal((n, d)), "targets": rng.integers(0, 2, size=(n, 1)).astype(np.float64),
            "W": 0.5 * rng.standard_normal((d, 1)), "b": 0.5 * rng.standard_normal(1),
            "learning_rate": round(float(rng.uniform(0.05, 0.2)), 3)}


def judge_training_step(case):
    s, r = case.student, case.reference
    call = f"training_step(inputs, targets, W, b, learning_rate={case.inputs['learning_rate']:g})"
    if s["gradient_calls"] == 0:
        return failed(f"{call} never called tape.gradient: compute the gradients with tf.GradientTape (the loss "
                      "inside `with tf.GradientTape() as tape:`, then tape.gradient(loss, [W, b]))")
    if s["loss"] is None or s["loss"].size != 1:
        return failed(f"{call} should return the loss (a scalar tensor), but it returned {kind_text(s['loss_kind'])}")
    verdict = compare(s["loss"].reshape(()), r["loss"].reshape(()), name=f"the loss returned by {call}",
                      rtol=RTOL, atol=ATOL)
    if verdict is not None:
        return verdict
    if all(np.array_equal(s["before"][k], s["after"][k]) for k in ("W", "b")):
        return failed(f"W and b are unchanged after {call}: update the tf.Variables passed in, in place, with "
                      "W.assign_sub(learning_rate * grad_W) and b.assign_sub(learning_rate * grad_b); "
                      "`W = W - ...` (or `W = tf.Variable(...)`) inside the function only gives the local name W "
                      "a new value, and the caller's variable stays as it was")
    for name in ("W", "b"):
        got = s["after"][name] - s["before"][name]
        expected = r["after"][name] - r["before"][name]
        verdict = compare(got, expected, name=f"the change of {name} made by one step (after - before)",
                          rtol=1e-4, atol=1e-6)
        if verdict is not None:
            if not got.any():
                verdict.message += f"\n{name} did not change: is it updated in place ({name}.assign_sub)?"
            return verdict
    return passed("one step returns the loss and moves W and b against the gradient, in place")


# -- q3: NaiveDense --------------------------------------------------------------------------

def dense_inputs(rng):
    i, o, n = sizes(rng, 2, 5, 2) + sizes(rng, 3, 6, 1)
    return {"input_size": i, "output_size": o, "activation": "relu", "x": rng.standard_normal((n, i)),
            "W": rng.standard_normal((i, o)), "b": rng.standard_normal(o)}


def judge_dense_weights(weights, input_size: int, output_size: int):
    """None when `weights` (a probe's structure()) is a list of two variables of shapes
    (input_size, output_size) and (output_size,)."""
    expected = [[input_size, output_size], [output_size]]
    what = f"NaiveDense(input_size={input_size}, output_size={output_size}, ...).weights"
    if not isinstance(weights, list):
        return failed(f"{what} should be the list [W, b] of the layer's two tf.Variables, but it is "
                      f"{weights_text(weights)}")
    if len(weights) != 2 or not all(isinstance(w, dict) and "variable" in w for w in weights):
        found = ", ".join("a list" if isinstance(w, list) else
                          ("a tf.Variable" if "variable" in w else weights_text(w)) for w in weights)
        return failed(f"{what} should be the list [W, b] of the layer's two tf.Variables, but it holds "
                      f"{len(weights)} item(s): {found or 'nothing'}")
    for name, got, want in zip(("W", "b"), (w["variable"] for w in weights), expected):
        if got != want:
            return failed(f"{what}: {name} has shape {shape_text(got)}, expected {shape_text(want)} "
                          "(W: (input_size, output_size), b: (output_size,))")
    return None


def judge_dense(case):
    s, r, inputs = case.student, case.reference, case.inputs
    verdict = judge_dense_weights(s["weights"], inputs["input_size"], inputs["output_size"])
    if verdict is not None:
        return verdict
    activation = f"tf.nn.{inputs['activation']}"
    if s["out"] is None:
        return failed(f"a NaiveDense layer should return a tensor, but it returned {kind_text(s['out_kind'])}")
    verdict = compare(s["out"], r["out"], name=f"layer(inputs) with activation={activation} and given W, b",
                      rtol=RTOL, atol=ATOL)
    if verdict is not None:
        if inputs["activation"] == "relu" and (s["out"] < 0).any():
            verdict.message += "\nSome outputs are negative, which relu never returns: is the activation applied?"
        return verdict
    return passed("weights is [W, b] and the layer computes activation(inputs @ W + b)")


# -- q4: NaiveSequential ---------------------------------------------------------------------

def sequential_inputs(rng):
    dims = sizes(rng, 2, 5, 4)
    n = sizes(rng, 3, 6, 1)[0]
    return {"x": rng.standard_normal((n, dims[0])),
            "Ws": [rng.standard_normal((dims[i], dims[i + 1])) for i in range(3)],
            "bs": [rng.standard_normal(dims[i + 1]) for i in range(3)]}


def judge_flat_weights(got, expected_count: int, layers: int):
    """None when `got` (a probe's structure() of NaiveSequential.weights) is the flat list 0..n-1."""
    expected = list(range(expected_count))
    if got == expected:
        return None
    names = ", ".join(f"W{i + 1}, b{i + 1}" for i in range(layers))
    want = f"one flat list [{names}] of {expected_count} tf.Variables"
    if not isinstance(got, list):
        return failed(f"NaiveSequential.weights should be {want}, but it is {weights_text(got)}")
    if any(isinstance(item, list) for item in got):
        return failed(f"NaiveSequential.weights should be {want}, but it is a list of {len(got)} items of which "
                      f"{sum(isinstance(item, list) for item in got)} are lists (one per layer?): add each layer's "
                      "weights to one list (weights += layer.weights, or extend) instead of appending the lists")
    if sorted(i for i in got if isinstance(i, int)) == expected:
        return failed(f"NaiveSequential.weights holds the right variables in the wrong order: expected {want}, "
                      "layer by layer")
    if any(isinstance(item, dict) and "variable" in item for item in got):
        return failed(f"NaiveSequential.weights should be {want}: the layers' own variables, not copies "
                      "(an optimizer must update the variables the layers use)")
    return failed(f"NaiveSequential.weights should be {want}, but it holds {len(got)} item(s) that are not "
                  "all the layers' weights")


def judge_sequential(case):
    s, r = case.student, case.reference
    layers = len(case.inputs["Ws"])
    if s["calls"] != [1] * layers:
        return failed(f"calling a NaiveSequential of {layers} layers once should call each layer once, in order; "
                      f"the layers were called {s['calls']} time(s)")
    if s["out"] is None:
        return failed(f"NaiveSequential should return the last layer's output, but it returned "
                      f"{kind_text(s['out_kind'])}")
    verdict = compare(s["out"], r["out"], name=f"the output of NaiveSequential([layer1, ..., layer{layers}])",
                      rtol=RTOL, atol=ATOL)
    if verdict is not None:
        verdict.message += "\n(each layer's output is the next layer's input, from the first layer to the last)"
        return verdict
    return (judge_flat_weights(s["weights"], 2 * layers, layers)
            or passed("the layers run in order and weights is one flat list of their weights"))


CHECKS = [
    Check("q1.model", probe="linear_model", inputs=model_inputs, judge=judge_model),
    Check("q1.square_loss", probe="loss_value", inputs=loss_inputs, judge=judge_loss),
    Check("q2.training_step", probe="one_training_step", inputs=training_step_inputs, judge=judge_training_step,
          resembles=same_output),
    Check("q3.dense", probe="dense_layer", inputs=dense_inputs, judge=judge_dense, resembles=same_output),
    Check("q4.sequential", probe="sequential", inputs=sequential_inputs, judge=judge_sequential,
          resembles=same_output),
]
