"""Public checks for torchdl: inputs drawn by the grader, judged outside the sandbox."""

import math

import numpy as np

from tensorgrade.checking.checks import Check
from tensorgrade.checking.outside.judging import compare, failed, jacobian_mismatch, passed


def poly_inputs(rng):
    """Points and coefficients the student never saw: a shifted, scaled sine on random points."""
    x = np.sort(rng.uniform(-math.pi, math.pi, size=500))
    y = rng.uniform(0.8, 1.2) * np.sin(x + rng.uniform(-0.3, 0.3))
    return {"x": x, "y": y, "coefficients": rng.uniform(-0.5, 0.5, size=4).tolist()}


def judge_poly_grads(case):
    s, r = case.student, case.reference
    if s["grads"] is None or s["length"] != 5:
        return failed(f"poly_grads should return 5 numbers (loss, grad_a, grad_b, grad_c, grad_d), but it "
                      f"returned {s['kind']['type']}" + (f" of length {s['length']}" if s["length"] else ""))
    return (compare(s["loss"], r["autograd_loss"], name="loss", rtol=1e-6, atol=1e-8)
            or compare(s["grads"], r["autograd_grads"], name="[grad_a, grad_b, grad_c, grad_d]", rtol=1e-6, atol=1e-6)
            or passed("the loss and the four gradients match torch autograd on hidden data and coefficients"))


def same_gradients(a, b):
    """For naming a known mistake: the student's poly_grads returns what the mistake's returns."""
    if a["grads"] is None or b["grads"] is None:
        return False
    return compare(a["grads"], b["grads"], name="grads", rtol=1e-6, atol=1e-6) is None


def legendre_inputs(rng):
    return {"x": rng.uniform(-1.5, 1.5, size=(3, 5))}


def judge_legendre_forward(case):
    if case.student["y"] is None:
        return failed(f"LegendrePolynomial3.apply(x) should return a tensor, but it returned "
                      f"{case.student['kind']['type']}")
    return (compare(case.student["y"], case.reference["y"], name="LegendrePolynomial3.apply(x)",
                    rtol=1e-7, atol=1e-9)
            or passed("forward matches 0.5 * (5x^3 - 3x) on a 3x5 float64 input"))


def jacobian_inputs(rng):
    return {"x": rng.uniform(-1.0, 1.0, size=8)}


def judge_jacobian(case):
    s, r = case.student, case.reference
    verdict = jacobian_mismatch(s["analytic"], r["analytic"], output="out", wrt="input")
    if verdict is None:
        return passed("backward's Jacobian (float64) matches the derivative of P3, as gradcheck requires")
    consistent = jacobian_mismatch(s["analytic"], s["numeric"], output="out", wrt="input", rtol=1e-4, atol=1e-5)
    verdict.message = ("backward's gradient (float64) differs from the derivative of P3. " + verdict.message
                       + ("\ntorch.autograd.gradcheck on your Function fails too: backward is not the "
                          "derivative of your forward." if consistent is not None else ""))
    return verdict


def judge_model(case):
    s, r = case.student, case.reference
    if not s["sequential"]:
        return failed(f"model should be an nn.Sequential, but it is {s['type']}")
    if s["layers"] != r["layers"]:
        def show(layers):
            return ", ".join(f"{l['type']}({l['in_features']}, {l['out_features']})" if "in_features" in l
                             else f"{l['type']}()" for l in layers)
        return failed(f"model is Sequential({show(s['layers'])}), expected Sequential({show(r['layers'])})")
    return passed("model is Sequential(Linear(1, 10), ReLU(), Linear(10, 1))")


CHECKS = [
    Check("q1.grads", probe="poly_gradients", inputs=poly_inputs, judge=judge_poly_grads,
          resembles=same_gradients),
    Check("q2.forward", probe="legendre_forward", inputs=legendre_inputs, judge=judge_legendre_forward),
    Check("q2.gradcheck", probe="legendre_jacobian", inputs=jacobian_inputs, judge=judge_jacobian),
    Check("q3.model", probe="model_architecture", judge=judge_model),
]
