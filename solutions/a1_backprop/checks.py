"""Hidden checks for a1_backprop: never released; inputs come from the secret seed."""

import json
from pathlib import Path

import numpy as np

from tensorgrade.checking.checks import Check
from tensorgrade.checking.outside.judging import at_most, compare, failed, not_numbers, passed

HERE = Path(__file__).parent


def final_loss_max() -> float:
    return json.loads((HERE / "thresholds.json").read_text())["final_loss_max"]


def shapes_inputs(rng):
    shapes = [(1, int(rng.integers(2, 6))), (int(rng.integers(2, 6)), 1), tuple(int(v) for v in rng.integers(3, 9, 2))]
    return {"cases": [{k: rng.standard_normal(shape) for k in "xwz"} for shape in shapes]}


def judge_shapes(case):
    for i, (got, expected) in enumerate(zip(case.student["results"], case.reference["results"])):
        shape = tuple(expected[0].shape)
        for name, g, e in zip(("grad_x", "grad_w", "grad_z"), got, expected):
            if not isinstance(g, np.ndarray):
                return failed(f"for inputs of shape {shape}, {name} is a {g}, expected an array of shape {shape}")
            verdict = compare(g, e, name=f"{name} for inputs of shape {shape}", rtol=1e-7, atol=1e-9)
            if verdict is not None:
                return verdict
    return passed("gradients are right for row, column and random shapes")


def poly_inputs(rng):
    x = rng.uniform(-2, 2, size=300)
    return {"x": x, "y": np.cos(x) + 0.1 * rng.standard_normal(300), "coeffs": rng.standard_normal(4) * 0.5}


def judge_poly(case):
    return (compare(case.student["loss"], case.reference["loss"], name="loss on hidden data", rtol=1e-7)
            or compare(case.student["grads"], case.reference["grads"], name="grads on hidden data", rtol=1e-6,
                       atol=1e-8)
            or passed("loss and gradients are right on hidden data"))


def fit_inputs(rng):
    x = np.linspace(-np.pi, np.pi, 2000)
    return {"x": x, "y": np.sin(x), "coeffs0": rng.standard_normal(4), "learning_rate": 1e-6, "steps": 2000}


def _loss(coeffs, inputs):
    x, y = np.asarray(inputs["x"]), np.asarray(inputs["y"])
    a, b, c, d = coeffs
    return float(np.square(a + b * x + c * x ** 2 + d * x ** 3 - y).sum())


def judge_fit(case):
    coeffs = case.student["coeffs"]
    if isinstance(coeffs, np.ndarray) and coeffs.shape != (4,):
        return failed(f"fit_poly returned coefficients of shape {coeffs.shape}, expected (4,)")
    threshold = final_loss_max()
    reference = _loss(case.reference["coeffs"], case.inputs)
    problem = not_numbers(coeffs, "the coefficients fit_poly returned after 2000 steps", shape=(4,),
                          details={"expected": reference, "threshold": threshold})
    if problem is not None:
        return problem
    with np.errstate(all="ignore"):  # huge coefficients overflow to inf: the guard below says so
        loss = _loss(coeffs, case.inputs)
    details = {"got": loss, "expected": reference, "threshold": threshold}
    return (at_most(loss, threshold, name="the loss of your coefficients after 2000 steps", details=details,
                    message=lambda: f"after 2000 steps the loss of your coefficients is {loss:.6g}; it must be "
                                    f"below {threshold:.4g} (the reference reaches {reference:.4g})")
            or passed(f"final loss {loss:.4g} is below {threshold:.4g} (reference {reference:.4g})", details=details))


def same_fit(a, b):
    return compare(a["coeffs"], b["coeffs"], name="coeffs", rtol=1e-4, atol=1e-6) is None


CHECKS = [
    Check("q1.shapes", probe="mul_add_shapes", inputs=shapes_inputs, judge=judge_shapes),
    Check("q2.hidden_data", probe="poly_hidden", inputs=poly_inputs, judge=judge_poly),
    Check("q3.final_loss", probe="fit", inputs=fit_inputs, judge=judge_fit, resembles=same_fit),
]
