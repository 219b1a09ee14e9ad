"""Probes of the NumPy vocabulary (tensorgrade/checking/vocabulary_numpy.py), run inside the sandbox.

For courses where gradients are written by hand with NumPy: the student's functions get NumPy
arrays (copies of the drawn inputs), never tensors, and what comes back is a typed tree
(standard_probes.typed) for the judges outside (checking/outside/numpy_judges.py). The NumPy-only
constraint is judged from behaviour: a profile hook records calls into torch and other autograd
libraries while the student's functions run, whatever the source looks like.
"""

from __future__ import annotations

import sys

import numpy as np

from tensorgrade.checking.inside import standard_probes as standard  # read at call time (it imports us)
from tensorgrade.checking.inside.probing import NotDefined

__all__ = ["probe_numpy_gradients", "probe_numpy_loss", "probe_numpy_unchanged", "probe_numpy_only"]


class ForbiddenCalls:
    """Records calls into the forbidden libraries (torch, jax, autograd, tensorflow) while installed
    as the profile function: the NumPy-only constraint judged from behaviour, not from the source."""

    def __init__(self, forbidden: tuple[str, ...]):
        self.forbidden, self.calls = tuple(forbidden), []

    def hook(self, frame, event, arg):
        if event == "call":
            module = frame.f_globals.get("__name__", "")
            name = f"{module}.{frame.f_code.co_name}"
        elif event == "c_call":
            module = getattr(arg, "__module__", None) or getattr(getattr(arg, "__self__", None), "__name__", "") or ""
            name = f"{module}.{getattr(arg, '__name__', '?')}"
        else:
            return
        if module.split(".")[0] in self.forbidden and len(self.calls) < 20 and name not in self.calls:
            self.calls.append(name)


def _numpy(inputs: dict) -> dict:
    """The inputs as NumPy-only code sees them: arrays, each a fresh copy."""
    return {**{k: np.array(v) if isinstance(v, np.ndarray) else v for k, v in inputs.items()}, "_numpy": True}


def probe_numpy_gradients(ns: dict, inputs: dict) -> dict:
    """`function(*arrays)` on each drawn case (a dict of arrays, passed in the order of `_wrt`):
    what it returned, as a typed tree, with the shape of each input."""
    function = standard.evaluate(ns, inputs)
    results = []
    for case in inputs["cases"]:
        arrays = [np.array(case[name]) for name in inputs["_wrt"]]
        results.append({"value": standard.typed(function(*arrays)), "shapes": [list(a.shape) for a in arrays]})
    return {"results": results}


def probe_numpy_loss(ns: dict, inputs: dict) -> dict:
    """`(loss, grads)` of the call, as returned, or with `_cast` as float(loss) and a float64 array
    (what a check of the numbers alone asks, whatever their types)."""
    value = standard.evaluate(ns, _numpy(inputs))
    if inputs.get("_cast"):
        loss, grads = value
        value = (float(loss), np.asarray(grads, dtype=np.float64))
    return {"value": standard.typed(value)}


def probe_numpy_unchanged(ns: dict, inputs: dict) -> dict:
    """The argument `_unchanged` before and after the call (the very array passed in), and what came back."""
    arguments = _numpy(inputs)
    argument = arguments[inputs["_unchanged"]]
    before = argument.copy()
    value = standard.evaluate(ns, arguments)
    return {"before": before, "after": argument.copy(), "value": standard.typed(value)}


def probe_numpy_only(ns: dict, inputs: dict) -> dict:
    """Every call of `_calls` once under the recorder; a missing function does not hide the others'
    calls, a stub vouches for nothing, other errors are other checks' business."""
    calls, stubs, missing = [], [], []
    for name, call in inputs["_calls"]:
        forbidden = ForbiddenCalls(tuple(inputs["_forbidden"]))
        # sys.setprofile is called here, in the probe itself: the audit hook trusts the probes' own
        # code (and reports a call of it from anywhere else, the student's code included).
        sys.setprofile(forbidden.hook)
        try:
            standard.evaluate(ns, _numpy(inputs), call)
        except NotDefined:
            missing.append(name)
        except NotImplementedError:
            stubs.append(name)
        except Exception:
            pass  # only the calls made matter here
        finally:
            sys.setprofile(None)
        calls += [f"{c} (in {name})" for c in forbidden.calls]
    if missing and not calls:
        standard.need(ns, missing[0])  # says what is not defined, as every check does
    return {"forbidden": calls, "stubs": stubs}
