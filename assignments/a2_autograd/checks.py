"""Public checks for a2_autograd: inputs drawn by the grader, judged outside the sandbox."""

import math
import re

import numpy as np

from tensorgrade.checking.checks import Check
from tensorgrade.checking.outside.judging import compare, failed, passed


def forward_inputs(rng):
    return {"x": rng.uniform(-1.5, 1.5, size=(4, 5))}


def judge_forward(case):
    return (compare(case.student["y"], case.reference["y"], name="LegendrePolynomial3.apply(x)",
                    rtol=1e-5, atol=1e-6)
            or passed("forward matches 0.5 * (5x^3 - 3x) on a 4x5 input"))


def backward_inputs(rng):
    return {"x": rng.uniform(-1.5, 1.5, size=(3, 4)), "grad_output": rng.standard_normal((3, 4))}


def judge_backward(case):
    raw, shape = case.student["raw_shape"], case.student["input_shape"]
    if raw is not None and raw != shape:
        return failed(f"backward returned a gradient of shape {tuple(raw)} for an input of shape {tuple(shape)}; "
                      "it must return one gradient the shape of `input` (autograd may hide this by summing)",
                      diagnosis="wrong-gradient-shape")
    return (compare(case.student["grad"], case.reference["grad"], name="x.grad after y.backward(grad_output)",
                    rtol=1e-5, atol=1e-6)
            or passed("backward matches grad_output * 1.5 * (5x^2 - 1)"))


def judge_parameters(case):
    params = case.student["parameters"]
    names = [p["name"] for p in params]
    if sorted(names) != ["a", "b", "c", "d"]:
        hint = ""
        if not names:
            hint = (" No parameters are registered: tensors assigned as plain attributes are not parameters; "
                    "wrap them in torch.nn.Parameter so model.parameters() (and the optimizer) sees them.")
        return failed(f"Polynomial3().named_parameters() gives {names}, expected ['a', 'b', 'c', 'd'].{hint}",
                      diagnosis="parameters-not-registered" if not names else None)
    wrong = [p for p in params if math.prod(p["shape"]) != 1]
    if wrong:
        return failed("each parameter should hold a single number (a scalar), but "
                      + ", ".join(f"{p['name']} has shape {tuple(p['shape'])}" for p in wrong))
    frozen = [p["name"] for p in params if not p["requires_grad"]]
    if frozen:
        return failed(f"parameters {frozen} do not require gradients, so training cannot change them")
    return passed("four scalar parameters a, b, c, d are registered")


def string_inputs(rng):
    return {"coefficients": [round(float(v), 3) for v in rng.uniform(-2, 2, size=4)]}


def judge_string(case):
    text = case.student["text"]
    if not isinstance(text, str) or not text.strip():
        return failed(f"string() should return a non-empty str, but it returned {case.student['kind']['type']}")
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?", text)]
    missing = [c for c in case.inputs["coefficients"] if not any(abs(n - c) < 0.01 + 1e-9 for n in numbers)
               and not any(abs(n + c) < 0.01 + 1e-9 for n in numbers)]
    if missing:
        return failed(f"string() returned {text!r}, which does not show the coefficient value(s) {missing}; "
                      "expected a formula like 'y = a + b x + c x^2 + d x^3' with the four current values")
    return passed(f"string() gives {text!r}")


def train_inputs(rng):
    x = np.linspace(-math.pi, math.pi, 200, dtype=np.float32)
    return {"x": x, "y": np.sin(x).astype(np.float32), "steps": 5, "learning_rate": 5e-6}


def judge_train_short(case):
    s = case.student
    if s["params"] is None:
        return failed(f"train_legendre should return (params, losses) with params a dict, "
                      f"but params is {s['params_kind']['type']}")
    if sorted(s["params"]) != ["a", "b", "c", "d"]:
        return failed(f"params has keys {sorted(s['params'])}, expected ['a', 'b', 'c', 'd']")
    not_float = {k: s["param_types"][k] for k, v in s["params"].items() if v is None}
    if not_float:
        return failed(f"params values should be Python floats, but {not_float} (use .item())")
    if s["losses"] is None:
        return failed(f"losses should be a list of floats, but it is {s['losses_kind']['type']}")
    if len(s["losses"]) != case.inputs["steps"]:
        return failed(f"losses has {len(s['losses'])} entries after steps={case.inputs['steps']}; expected one per step")
    if any(v is None for v in s["losses"]):
        return failed(f"losses should hold Python floats, but holds {s['loss_types']} (use loss.item())")
    return (compare(s["losses"], case.reference["losses"], name="losses of a 5-step run", rtol=1e-4, atol=1e-4)
            or compare(s["params"], case.reference["params"], name="params after 5 steps", rtol=1e-4, atol=1e-6)
            or passed("returns params and per-step losses that match the reference's first steps"))


CHECKS = [
    Check("q1.forward", probe="legendre_forward", inputs=forward_inputs, judge=judge_forward),
    Check("q1.backward", probe="legendre_backward", inputs=backward_inputs, judge=judge_backward),
    Check("q2.parameters", probe="polynomial_parameters", judge=judge_parameters),
    Check("q2.string", probe="polynomial_string", inputs=string_inputs, judge=judge_string),
    Check("q3.returns", probe="train_short", inputs=train_inputs, judge=judge_train_short),
]
