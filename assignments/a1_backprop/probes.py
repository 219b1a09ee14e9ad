"""Public probes for a1_backprop (run inside the sandbox, on the student's namespace)."""

import sys

import numpy as np

from tensorgrade.checking.inside.probing import describe_value, need, plain_number

FORBIDDEN = ("torch", "jax", "autograd", "tensorflow")


class ForbiddenCalls:
    """Records calls into torch/jax/autograd/tensorflow while the student's function runs: the
    NumPy-only constraint judged from behaviour, not from reading the source."""

    def __init__(self):
        self.calls = []

    def _hook(self, frame, event, arg):
        if event == "call":
            module = frame.f_globals.get("__name__", "")
            name = f"{module}.{frame.f_code.co_name}"
        elif event == "c_call":
            module = getattr(arg, "__module__", None) or getattr(getattr(arg, "__self__", None), "__name__", "") or ""
            name = f"{module}.{getattr(arg, '__name__', '?')}"
        else:
            return
        if module.split(".")[0] in FORBIDDEN and len(self.calls) < 20 and name not in self.calls:
            self.calls.append(name)

    def __enter__(self):
        sys.setprofile(self._hook)
        return self

    def __exit__(self, *exc):
        sys.setprofile(None)


def _array(value):
    return value if type(value) is np.ndarray else None


def mul_add(ns, inputs):
    mul_add_grads = need(ns, "mul_add_grads")
    x, w, z = (np.array(inputs[k]) for k in ("x", "w", "z"))
    with ForbiddenCalls() as forbidden:
        grads = mul_add_grads(x, w, z)
    if not isinstance(grads, (tuple, list)) or len(grads) != 3:
        return {"shape_of_result": describe_value(grads), "grads": None, "forbidden": forbidden.calls}
    return {"grads": [g if type(g) is np.ndarray else g for g in grads],
            "kinds": [describe_value(g) for g in grads], "forbidden": forbidden.calls}


def poly_loss(ns, inputs):
    poly_loss_and_grads = need(ns, "poly_loss_and_grads")
    with ForbiddenCalls() as forbidden:
        result = poly_loss_and_grads(np.array(inputs["x"]), np.array(inputs["y"]), np.array(inputs["coeffs"]))
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        return {"loss": None, "grads": None, "result_kind": describe_value(result), "forbidden": forbidden.calls}
    loss, grads = result
    # a Python float, or NumPy's own float64 (np.sum returns one), as a Python float
    return {"loss": plain_number(loss, float), "loss_kind": describe_value(loss),
            "grads": grads, "grads_kind": describe_value(grads), "forbidden": forbidden.calls}


def fit_no_mutation(ns, inputs):
    fit_poly = need(ns, "fit_poly")
    coeffs0 = np.array(inputs["coeffs0"])
    before = coeffs0.copy()
    with ForbiddenCalls() as forbidden:
        coeffs = fit_poly(np.array(inputs["x"]), np.array(inputs["y"]), coeffs0,
                          learning_rate=inputs["learning_rate"], steps=inputs["steps"])
    return {"before": before, "after": coeffs0, "coeffs": _array(coeffs), "coeffs_kind": describe_value(coeffs),
            "forbidden": forbidden.calls}


def numpy_only(ns, inputs):
    """Every function once under the recorder; a missing function does not hide the others' calls."""
    small, x, y, coeffs = (np.array(inputs[k]) for k in ("small", "x", "y", "coeffs"))
    calls, stubs = [], []
    for name, call in (("mul_add_grads", lambda f: f(small, small.copy(), small.copy())),
                       ("poly_loss_and_grads", lambda f: f(x, y, coeffs.copy())),
                       ("fit_poly", lambda f: f(x, y, coeffs.copy(), learning_rate=inputs["learning_rate"],
                                                steps=inputs["steps"]))):
        if name not in ns:
            continue
        with ForbiddenCalls() as forbidden:
            try:
                call(ns[name])
            except NotImplementedError:
                stubs.append(name)  # a stub vouches for nothing
            except Exception:
                pass  # other errors are other checks' business; only the calls made matter here
        calls += [f"{c} (in {name})" for c in forbidden.calls]
    need(ns, "fit_poly")
    return {"forbidden": calls, "stubs": stubs}
