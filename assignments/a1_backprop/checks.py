"""Public checks for a1_backprop: inputs drawn by the grader, judged outside the sandbox."""

import numpy as np

from tensorgrade.checking.checks import Check
from tensorgrade.checking.outside.judging import compare, failed, not_numbers, passed


def mul_add_inputs(rng):
    n, d = (int(v) for v in rng.integers(2, 7, size=2))
    return {"x": rng.standard_normal((n, d)), "w": rng.standard_normal((n, d)), "z": rng.standard_normal((n, d))}


def judge_mul_add(case):
    s = case.student
    if s["grads"] is None:
        return failed(f"mul_add_grads should return a tuple (grad_x, grad_w, grad_z), but returned "
                      f"{s['shape_of_result']['type']}")
    for name, got, expected, kind in zip(("grad_x", "grad_w", "grad_z"), s["grads"], case.reference["grads"],
                                         s["kinds"]):
        if not isinstance(got, np.ndarray):
            return failed(f"{name} should be a NumPy array the shape of its input {tuple(expected.shape)}, "
                          f"but it is {kind['type']}" + (" (a single number: gradients are per entry, "
                                                         "not summed)" if np.ndim(got) == 0 else ""),
                          diagnosis="gradient-not-per-entry" if np.ndim(got) == 0 else None)
        verdict = compare(got, expected, name=f"{name} for inputs of shape {tuple(expected.shape)}", rtol=1e-7,
                          atol=1e-9)
        if verdict is not None:
            return verdict
    return passed("gradients of sum(x * w + z) match autograd on a random shape")


def poly_inputs(rng):
    x = rng.uniform(-np.pi, np.pi, size=int(rng.integers(50, 200)))
    return {"x": x, "y": np.sin(x), "coeffs": rng.standard_normal(4)}


def judge_poly(case):
    s, r = case.student, case.reference
    if s["loss"] is None:
        return failed(f"loss should be a Python float (use float(...)), but it is {s['loss_kind']['type']}")
    if not isinstance(s["grads"], np.ndarray):
        return failed(f"grads should be a float64 NumPy array of shape (4,), but it is {s['grads_kind']['type']}")
    if s["grads"].shape != (4,) or s["grads"].dtype != np.float64:
        return failed(f"grads should have shape (4,) and dtype float64, got shape {s['grads'].shape} "
                      f"and dtype {s['grads'].dtype}")
    return (compare(s["loss"], r["loss"], name="loss", rtol=1e-7)
            or compare(s["grads"], r["grads"], name="grads [dL/da, dL/db, dL/dc, dL/dd]", rtol=1e-6, atol=1e-8)
            or passed("loss and gradients match autograd on random coefficients"))


def fit_inputs(rng):
    x = np.linspace(-np.pi, np.pi, 500)
    return {"x": x, "y": np.sin(x), "coeffs0": rng.standard_normal(4), "learning_rate": 1e-6, "steps": 20}


def judge_no_mutation(case):
    s = case.student
    if not np.array_equal(s["before"], s["after"]):
        return failed(f"fit_poly changed coeffs0 in place: it was {s['before'].round(4).tolist()} and is "
                      f"{s['after'].round(4).tolist()} after the call; copy it first (coeffs = coeffs0.copy())",
                      diagnosis="modifies-coeffs0")
    if s["coeffs"] is None:
        return failed(f"fit_poly should return the coefficients as a NumPy array of shape (4,), "
                      f"but returned {s['coeffs_kind']['type']}")
    return (not_numbers(s["coeffs"], "the coefficients fit_poly returned", like=case.reference["coeffs"])
            or passed("fit_poly leaves coeffs0 unchanged and returns new coefficients"))


def numpy_only_inputs(rng):
    x = np.linspace(-np.pi, np.pi, 200)
    return {"small": rng.standard_normal((3, 4)), "x": x, "y": np.sin(x), "coeffs": rng.standard_normal(4),
            "learning_rate": 1e-6, "steps": 5}


def judge_numpy_only(case):
    stubs = case.student.get("stubs") or []
    if stubs:
        return failed(f"not implemented yet: {', '.join(stubs)} still raise NotImplementedError; the NumPy-only "
                      "constraint is checked on working functions", diagnosis="not-implemented")
    calls = case.student.get("forbidden") or []
    if calls:
        return failed("these functions must use NumPy only, but calls into "
                      + ", ".join(sorted({c.split('.')[0] for c in calls})) + " were made: "
                      + ", ".join(calls[:6]) + ". Write the gradients by hand with NumPy (the point of the exercise)",
                      diagnosis="uses-torch")
    return passed("only NumPy is used")


CHECKS = [
    Check("q1.grads", probe="mul_add", inputs=mul_add_inputs, judge=judge_mul_add),
    Check("q2.loss_and_grads", probe="poly_loss", inputs=poly_inputs, judge=judge_poly),
    Check("q3.no_mutation", probe="fit_no_mutation", inputs=fit_inputs, judge=judge_no_mutation),
    Check("q4.numpy_only", probe="numpy_only", inputs=numpy_only_inputs, judge=judge_numpy_only),
]
