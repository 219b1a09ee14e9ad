"""Hidden checks for a2_autograd: never released; inputs come from the secret seed."""

import json
import math
from pathlib import Path

import numpy as np

from tensorgrade.checking.checks import Check
from tensorgrade.checking.outside.judging import at_most, compare, failed, jacobian_mismatch, passed

THRESHOLDS = json.loads((Path(__file__).parent / "thresholds.json").read_text())


def gradcheck_inputs(rng):
    return {"x": rng.uniform(-1.0, 1.0, size=6)}


def judge_gradcheck(case):
    s, r = case.student, case.reference
    verdict = jacobian_mismatch(s["analytic"], r["analytic"], output="out", wrt="input")
    if verdict is None:
        return passed("gradcheck passes in float64: backward is the derivative of forward")
    consistent = jacobian_mismatch(s["analytic"], s["numeric"], output="out", wrt="input", rtol=1e-4, atol=1e-5)
    verdict.message = ("backward's gradient (float64) differs from the derivative of P3. " + verdict.message
                       + ("\ntorch.autograd.gradcheck on your Function fails too: backward is not the "
                          "derivative of your forward." if consistent is not None else ""))
    return verdict


def saved_inputs(rng):
    return {"x": rng.uniform(-1.0, 1.0, size=5)}


def _saved_difference(tensor, x, input_dtype):
    """How one saved tensor differs from the input the probe passed in, or None if it is the input."""
    if tensor["is_input"]:
        return None
    if tensor["type"] != "torch.Tensor":
        return f"a {tensor['type']}, not the input tensor"
    shape, expected = tuple(tensor["shape"]), tuple(np.shape(x))
    if shape != expected:
        return f"a tensor of shape {shape} while the input has shape {expected}"
    if tensor["values"] is None:
        return "a tensor whose values could not be read"
    values = np.asarray(tensor["values"])
    if not np.array_equal(values, np.asarray(x)):
        dtype = f" ({tensor['dtype']}, the input is {input_dtype})" if tensor["dtype"] != input_dtype else ""
        gap = float(np.max(np.abs(values.astype(np.float64) - np.asarray(x, np.float64)))) \
            if np.issubdtype(values.dtype, np.number) else math.nan
        return f"a tensor of the input's shape but other values{dtype}, off by up to {gap:.3g}"
    return None


def judge_saved(case):
    s = case.student
    if not s["has_grad_fn"]:
        return failed("the output of LegendrePolynomial3.apply has no grad_fn: forward must not detach its result")
    advice = ("save the input in forward with ctx.save_for_backward(input) and read it in backward "
              "with ctx.saved_tensors: tensors stored as plain ctx attributes escape autograd's "
              "checks for in-place changes and leak memory")
    if s["saved"] == 0:
        return failed("nothing was saved with ctx.save_for_backward (out.grad_fn.saved_tensors is empty); " + advice,
                      diagnosis="no-save-for-backward")
    # What autograd holds, compared with the input the probe passed in: saving some other tensor
    # (a placeholder, while backward reads the input from a plain ctx attribute) does not count.
    differences = [_saved_difference(t, s["input"], s["input_dtype"]) for t in s["tensors"]]
    if None in differences:
        return passed("forward saves its input with ctx.save_for_backward")
    listed = "; ".join(f"saved tensor {i + 1} is {d}" for i, d in enumerate(differences))
    return failed(f"the input was not saved with ctx.save_for_backward: out.grad_fn.saved_tensors holds "
                  f"{s['saved']} tensor{'s' if s['saved'] != 1 else ''}, none of them the input of shape "
                  f"{tuple(np.shape(s['input']))} ({listed}); " + advice, diagnosis="no-save-for-backward")


def polynomial_inputs(rng):
    return {"coefficients": rng.uniform(-2, 2, size=4).tolist(), "x": rng.uniform(-3, 3, size=50)}


def judge_polynomial_forward(case):
    return (compare(case.student["y"], case.reference["y"], name="Polynomial3()(x) with a, b, c, d set",
                    rtol=1e-5, atol=1e-5)
            or passed("forward computes a + b x + c x^2 + d x^3"))


def train_inputs(rng):
    """The lecture's fit of sin(x), with an amplitude and phase the student never saw."""
    x = np.linspace(-math.pi, math.pi, 2000, dtype=np.float32)
    amplitude, phase = rng.uniform(0.8, 1.2), rng.uniform(-0.3, 0.3)
    y = (amplitude * np.sin(x + phase)).astype(np.float32)
    return {"x": x, "y": y, "steps": 2000, "learning_rate": 5e-6}


def loss_of_coefficients(params, inputs):
    """The fit's loss on the hidden target, computed here from the returned coefficients: what the
    training achieved, whatever losses the student's code reports."""
    x = np.asarray(inputs["x"], dtype=np.float64)
    y = np.asarray(inputs["y"], dtype=np.float64)
    with np.errstate(all="ignore"):
        z = params["c"] + params["d"] * x
        prediction = params["a"] + params["b"] * 0.5 * (5 * z ** 3 - 3 * z)
        return float(np.sum((prediction - y) ** 2))


def judge_final_loss(case):
    s = case.student
    losses, threshold = s["losses"], THRESHOLDS["final_loss_max"]
    details = {"curve": losses, "reference_curve": case.reference["losses"], "threshold": threshold,
               "ylabel": "loss", "xlabel": "step"}
    if sorted(s["params"]) != ["a", "b", "c", "d"] or any(v is None for v in s["params"].values()):
        types = {k: t for k, t in sorted(s["param_types"].items())}
        return failed(f"train_legendre should return params as a dict of Python floats a, b, c, d (use .item()), "
                      f"but returned {types}", details=details)
    if len(losses) != case.inputs["steps"]:
        return failed(f"{len(losses)} losses returned for steps={case.inputs['steps']}", details=details)
    final = loss_of_coefficients(s["params"], case.inputs)
    reference = loss_of_coefficients(case.reference["params"], case.inputs)
    verdict = at_most(final, threshold, name=f"the loss of your returned coefficients on the hidden target after "
                                             f"{len(losses)} steps",
                      details=details, message=lambda: (
                          f"after {len(losses)} steps the loss of your returned coefficients on the hidden target "
                          f"is {final:.6g}; it must be below {threshold:.4g} (the reference's coefficients reach "
                          f"{reference:.4g})"))
    if verdict is not None:
        return verdict
    return passed(f"the loss of your returned coefficients is {final:.4g}, below {threshold:.4g} "
                  f"(reference {reference:.4g})", details=details)


def same_training_run(a, b):
    """Two runs behave alike when their loss curves agree (NaN where the other diverges too)."""
    return compare(a["losses"], b["losses"], name="losses", rtol=1e-3, atol=1e-3) is None


CHECKS = [
    Check("q1.gradcheck", probe="legendre_gradcheck", inputs=gradcheck_inputs, judge=judge_gradcheck),
    Check("q1.saved_tensors", probe="legendre_saved", inputs=saved_inputs, judge=judge_saved),
    Check("q2.forward", probe="polynomial_forward", inputs=polynomial_inputs, judge=judge_polynomial_forward),
    Check("q3.final_loss", probe="train_full", inputs=train_inputs, judge=judge_final_loss,
          resembles=same_training_run),
]
