"""Hidden checks for a6_tensorflow: never released; inputs come from the secret seed."""

import json
from pathlib import Path

import numpy as np

from tensorgrade.checking.checks import Check
from tensorgrade.checking.outside.judging import at_least, compare, failed, not_numbers, passed
from tensorgrade.checking.outside.tensorflow_judges import ATOL, RTOL, kind_text, same_output, shape_text, weights_text

HERE = Path(__file__).parent
STEPS, LEARNING_RATE = 40, 0.1


def min_accuracy() -> float:
    return json.loads((HERE / "thresholds.json").read_text())["accuracy_min"]


def draw_sizes(rng, low: int, high: int, count: int) -> list[int]:
    """`count` integers from low to high, both included."""
    return rng.integers(low, high + 1, size=count).tolist()


# -- q1: several outputs, a single row ---------------------------------------------------------

def hidden_shapes_inputs(rng):
    d, k = draw_sizes(rng, 2, 5, 1)[0], draw_sizes(rng, 2, 4, 1)[0]
    n = draw_sizes(rng, 6, 15, 1)[0]
    return {"single_row": {"x": rng.standard_normal((1, d)), "W": rng.standard_normal((d, k)),
                           "b": rng.standard_normal(k)},
            "targets": rng.integers(0, 2, size=(n, k)).astype(np.float64), "predictions": rng.standard_normal((n, k))}


def judge_hidden_shapes(case):
    s, r = case.student, case.reference
    d, k = np.shape(case.inputs["single_row"]["W"])
    what = f"model(inputs, W, b) for one row (inputs of shape (1, {d})) and {k} outputs"
    if s["out"] is None or not s["kind"].get("tensor"):
        return failed(f"{what} should return a tensor of shape (1, {k}), but it returned {kind_text(s['kind'])}")
    verdict = compare(s["out"], r["out"], name=what, rtol=RTOL, atol=ATOL)
    if verdict is not None:
        return verdict
    n, k = np.shape(case.inputs["targets"])
    what = f"square_loss(targets, predictions) for {n} samples of {k} outputs"
    if not s["loss_kind"].get("tensor") or s["loss"] is None or s["loss"].shape != ():
        return failed(f"{what} should be a scalar tensor (the mean over every entry), but it is "
                      f"{kind_text(s['loss_kind'])}")
    return (compare(s["loss"], r["loss"], name=f"{what} (the mean over all {n * k} entries)", rtol=RTOL, atol=ATOL)
            or passed("model and square_loss are right with several outputs and a single row"))


# -- q2: 40 steps on two point clouds -----------------------------------------------------------

def point_cloud_inputs(rng):
    """The lecture's data (two Gaussian clouds centred at (0, 3) and (3, 0), covariance
    [[1, 0.5], [0.5, 1]]), fresh points, either cloud as class 1; W from uniform [0, 1), b zeros."""
    per_class = 1000
    cov = [[1.0, 0.5], [0.5, 1.0]]
    means = [[0.0, 3.0], [3.0, 0.0]]
    if rng.integers(2):
        means.reverse()
    x = np.vstack([rng.multivariate_normal(mean, cov, size=per_class) for mean in means])
    targets = np.vstack([np.zeros((per_class, 1)), np.ones((per_class, 1))])
    return {"x": x, "targets": targets, "W": rng.uniform(0, 1, size=(2, 1)), "b": np.zeros(1),
            "learning_rate": LEARNING_RATE, "steps": STEPS}


def accuracy(W, b, inputs) -> float:
    """Share of points on the right side of prediction = 0.5, as the lecture classifies them."""
    x = np.asarray(inputs["x"], dtype=np.float32).astype(np.float64)
    predictions = x @ np.asarray(W) + np.asarray(b)
    return float(np.mean((predictions > 0.5) == (np.asarray(inputs["targets"]) > 0.5)))


def judge_accuracy(case):
    s, r = case.student, case.reference
    threshold = min_accuracy()
    problem = (not_numbers(s["W"], f"W after {STEPS} steps", like=r["W"])
               or not_numbers(s["b"], f"b after {STEPS} steps", like=r["b"]))
    if problem is not None:  # diverged to NaN or inf, or of another shape
        problem.message += loss_hint(case)
        problem.details.update(threshold=threshold, curve={"got": s["losses"], "expected": r["losses"]})
        return problem
    got, reference = accuracy(s["W"], s["b"], case.inputs), accuracy(r["W"], r["b"], case.inputs)
    details = {"got": got, "expected": reference, "threshold": threshold,
               "curve": {"got": s["losses"], "expected": r["losses"]}}
    verdict = at_least(got, threshold, name=f"the accuracy after {STEPS} steps", details=details,
                       message=lambda: accuracy_shortfall(case, got, reference, threshold))
    if verdict is None:
        return passed(f"accuracy {got:.3f} after {STEPS} steps is at least {threshold:.3f} (reference {reference:.3f})",
                      details=details)
    return verdict


def accuracy_shortfall(case, got: float, reference: float, threshold: float) -> str:
    return (f"after {STEPS} calls of training_step(inputs, targets, W, b, learning_rate={LEARNING_RATE:g}) on "
            f"two point clouds of {len(case.inputs['x'])} points, W and b classify {got:.1%} of the points "
            f"right; at least {threshold:.1%} is needed (the reference reaches {reference:.1%})" + loss_hint(case))


def loss_hint(case) -> str:
    """What the losses of the run say about why it did not reach the accuracy."""
    s = case.student
    losses = [v for v in s["losses"] if v is not None] if isinstance(s["losses"], list) else []
    if len(losses) != STEPS or not all(isinstance(v, float) for v in losses):
        return ""
    first, last = losses[0], losses[-1]
    if not np.isfinite(last) or last > first:
        return (f"\nThe loss grew from {first:.4g} to {last:.4g}: each step should move W and b against "
                "the gradient, and by a small amount")
    if np.array_equal(s["W"], np.asarray(case.inputs["W"], dtype=np.float32)):
        return "\nW never changed: are the tf.Variables updated in place (assign_sub)?"
    return ""


def same_training_run(a, b) -> bool:
    """Two runs behave alike when their loss curves agree (NaN and infinity included)."""
    la, lb = (np.array([np.nan if v is None else v for v in run["losses"]], dtype=np.float64) for run in (a, b))
    return la.shape == lb.shape and bool(np.allclose(la, lb, rtol=1e-3, atol=1e-6, equal_nan=True))


# -- q3: the activation -------------------------------------------------------------------------

def activation_inputs(rng):
    i, o = draw_sizes(rng, 3, 7, 2)
    n = draw_sizes(rng, 1, 5, 1)[0]
    return {"input_size": i, "output_size": o, "x": rng.standard_normal((n, i)),
            "W": rng.standard_normal((i, o)), "b": rng.standard_normal(o)}


def judge_activation(case):
    s, r, inputs = case.student, case.reference, case.inputs
    i, o, n = inputs["input_size"], inputs["output_size"], len(inputs["x"])
    weights = s["weights"]
    if not (isinstance(weights, list) and len(weights) == 2 and all(isinstance(w, dict) for w in weights)
            and [w.get("variable") for w in weights] == [[i, o], [o]]):
        return failed(f"NaiveDense(input_size={i}, output_size={o}, ...).weights should be [W, b], tf.Variables "
                      f"of shapes ({i}, {o}) and ({o},)"
                      + ("" if isinstance(weights, list) else f", but it is {weights_text(weights)}"))
    calls = s["activation_calls"]
    if not calls:
        return failed("the activation given to NaiveDense was never called: __call__ should return "
                      "self.activation(tf.matmul(inputs, self.W) + self.b)")
    if len(calls) > 1:
        return failed(f"the activation given to NaiveDense was called {len(calls)} times for one call of the "
                      "layer; apply it once, to inputs @ W + b")
    if calls[0] != [n, o]:
        return failed(f"the activation was given a tensor of shape {shape_text(calls[0])}; it should get "
                      f"inputs @ W + b, of shape ({n}, {o})")
    if s["out"] is None:
        return failed(f"the layer should return a tensor, but it returned {kind_text(s['out_kind'])}")
    return (compare(s["out"], r["out"], name=f"layer(inputs) for {n} row(s) with a custom activation", rtol=RTOL,
                    atol=ATOL)
            or passed("the given activation is applied once, to inputs @ W + b"))


# -- q4: a stack of NaiveDense layers -----------------------------------------------------------

def stack_inputs(rng):
    d0, d1, d2 = draw_sizes(rng, 3, 6, 1) + draw_sizes(rng, 4, 8, 1) + draw_sizes(rng, 2, 4, 1)
    n = draw_sizes(rng, 4, 8, 1)[0]
    return {"sizes": [d0, d1, d2], "x": rng.standard_normal((n, d0)),
            "weights": [rng.standard_normal((d0, d1)), rng.standard_normal(d1),
                        rng.standard_normal((d1, d2)), rng.standard_normal(d2)]}


def judge_stack(case):
    s, r = case.student, case.reference
    d0, d1, d2 = case.inputs["sizes"]
    n = len(case.inputs["x"])
    net = (f"NaiveSequential([NaiveDense(input_size={d0}, output_size={d1}, activation=tf.nn.relu), "
           f"NaiveDense(input_size={d1}, output_size={d2}, activation=tf.nn.softmax)])")
    if s["out_kind"].get("shape") != [n, d2]:
        return failed(f"{net} on inputs of shape ({n}, {d0}) should return a tensor of shape ({n}, {d2}), but it "
                      f"returned {kind_text(s['out_kind'])}")
    weights = s["weights"]
    if weights != r["weights"]:
        got = "a list of lists (one per layer)" if isinstance(weights, list) and any(
            isinstance(w, list) for w in weights) else f"{weights!r}"[:200]
        return failed(f"{net}.weights should be one flat list of 4 tf.Variables of shapes ({d0}, {d1}), ({d1},), "
                      f"({d1}, {d2}), ({d2},); it is {got}")
    return (compare(s["out"], r["out"], name=f"the output of {net} with given weights", rtol=RTOL, atol=ATOL)
            or passed("a stack of NaiveDense layers has the right output and weights"))


CHECKS = [
    Check("q1.hidden_shapes", probe="model_and_loss", inputs=hidden_shapes_inputs, judge=judge_hidden_shapes),
    Check("q2.accuracy", probe="train_point_clouds", inputs=point_cloud_inputs, judge=judge_accuracy,
          resembles=same_training_run),
    Check("q3.activation", probe="dense_activation", inputs=activation_inputs, judge=judge_activation,
          resembles=same_output),
    Check("q4.stack", probe="dense_stack", inputs=stack_inputs, judge=judge_stack, resembles=same_output),
]
