"""The check vocabulary for NumPy-only code: gradients written by hand, checked against the reference.

For the first weeks of a deep-learning course (backpropagation by hand, before autograd): the
student's functions get NumPy arrays, never tensors; gradients are judged entry by entry, each the
shape of its input; a loss and its gradient with their types; an argument that must not change in
place; and the NumPy-only constraint itself, judged from the calls the functions make.

Inputs are declared as everywhere (`x=normal((3, 4))`, `lambda rng: ...`), or, where some depend on
others (a shape shared by three arrays, `y = sin(x)`), as one `draw=lambda rng: {...}` giving them
all, drawn first. Probes: checking/inside/numpy_probes.py; judges: checking/outside/numpy_judges.py.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import sys
from typing import Any, Callable

from tensorgrade.checking import vocabulary
from tensorgrade.checking.checks import Check
from tensorgrade.checking.outside import numpy_judges as judges
from tensorgrade.checking.outside.standard_judges import Threshold, plain

__all__ = ["hand_gradients", "loss_and_grads", "unchanged", "numpy_only", "numpy_below"]

Drawn = Callable[[Any], dict] | None  # draws inputs that depend on each other, together


def _function(call: str) -> str:
    """The function a call expression calls: `fit_poly` in `fit_poly(x, y, coeffs0)`."""
    node = ast.parse(call, mode="eval").body
    node = node.func if isinstance(node, ast.Call) else node
    return node.id if isinstance(node, ast.Name) else ast.unparse(node)


def _declare(check_id: str, call: str, probe: str, judge: Callable, draw: Drawn, inputs: dict, **options: Any) -> Check:
    """`vocabulary.declare` with NumPy arguments, and the inputs of `draw` (drawn first) beside the others."""
    check = vocabulary.declare(check_id, call, probe, judge, depth=3, inputs=inputs, **options)
    if draw is not None:
        declared = check.inputs
        check = dataclasses.replace(check, inputs=lambda rng: {**draw(rng), **declared(rng)})
        vocabulary._declared_in(sys._getframe(2).f_globals, "CHECKS", check, "id")
    return check


def hand_gradients(check_id: str, function: str, *, cases: Callable, wrt: str | list[str],
                   rtol: float = 1e-7, atol: float = 1e-9, says: str = "the gradients match the reference's",
                   points: float = 1, description: str = "", timeout: float | None = None) -> Check:
    """`function(*arrays)` returns one gradient per input of `wrt` (`grad_x, grad_w, grad_z`), each a
    NumPy array of its input's shape (a single number is `gradient-not-per-entry`), on each case that
    `cases(rng)` draws (a list of dicts of arrays):

        hand_gradients("q1.grads", "mul_add_grads", wrt="xwz",
                       cases=lambda rng: [{k: rng.standard_normal((3, 4)) for k in "xwz"}])
    """
    names = tuple(f"grad_{name}" for name in wrt)
    judge = functools.partial(judges.judge_gradients, function=function, names=names, rtol=rtol, atol=atol, says=says)
    return _declare(check_id, function, "probe_numpy_gradients", judge, None, {"cases": cases}, points=points,
                    description=description, timeout=timeout, options={"_wrt": list(wrt)}, resembles=None)


def loss_and_grads(check_id: str, call: str, *, strict: bool = True, names: tuple[str, str] = ("loss", "grads"),
                   rtol: tuple[float, float] = (1e-7, 1e-6), atol: tuple[float, float] = (1e-8, 1e-8),
                   says: str = "loss and gradients match the reference's", draw: Drawn = None, points: float = 1,
                   description: str = "", timeout: float | None = None, **inputs: Any) -> Check:
    """`call` returns `(loss, grads)` close to the reference's (each with its own tolerance); with
    `strict`, `loss` a Python float (NumPy's exact scalars count) and `grads` a float64 array of the
    reference's shape; without, both are taken as float(loss) and a float64 array:

        loss_and_grads("q2.loss", "poly_loss_and_grads(x, y, coeffs)", names=("loss", "grads"),
                       draw=lambda rng: {"x": (x := rng.uniform(-3, 3, 100)), "y": np.sin(x)}, coeffs=normal(4))
    """
    judge = functools.partial(judges.judge_loss, function=_function(call), names=names, rtol=rtol, atol=atol,
                              strict=strict, says=says)
    return _declare(check_id, call, "probe_numpy_loss", judge, draw, inputs, points=points, description=description,
                    timeout=timeout, options={} if strict else {"_cast": True}, resembles=None)


def unchanged(check_id: str, call: str, argument: str, *, hint: str, returns: str = "the result", draw: Drawn = None,
              points: float = 1, description: str = "", timeout: float | None = None, **inputs: Any) -> Check:
    """`call` leaves the array `argument` as it was (else `modifies-<argument>`, with `hint` saying
    how to fix it) and returns a NumPy array of finite numbers shaped as the reference's:

        unchanged("q3.no_mutation", "fit(x, y, coeffs0)", "coeffs0", hint="copy it first (coeffs0.copy())",
                  returns="the coefficients", x=normal(50), y=normal(50), coeffs0=normal(4))
    """
    judge = functools.partial(judges.judge_unchanged, function=_function(call), argument=argument, hint=hint,
                              returns=returns)
    return _declare(check_id, call, "probe_numpy_unchanged", judge, draw, inputs, points=points,
                    description=description, timeout=timeout, options={"_unchanged": argument}, resembles=None)


FORBIDDEN = ("torch", "jax", "autograd", "tensorflow")  # libraries that differentiate for you


def numpy_only(check_id: str, calls: list[str], *, forbidden: tuple[str, ...] = FORBIDDEN,
               draw: Drawn = None, points: float = 1, description: str = "", timeout: float | None = None,
               **inputs: Any) -> Check:
    """Each of `calls` (one call of each graded function) runs once while calls into the `forbidden`
    libraries are recorded: any is `uses-torch`, a stub is `not-implemented`:

        numpy_only("q4.numpy_only", ["grads(x)", "fit(x, steps=5)"], x=normal((3, 4)))
    """
    return _declare(check_id, "[" + ", ".join(calls) + "]", "probe_numpy_only", judges.judge_numpy_only, draw, inputs,
                    points=points, description=description, timeout=timeout,
                    options={"_calls": [[_function(c), c] for c in calls], "_forbidden": list(forbidden)})


def numpy_below(check_id: str, call: str, *, measure: Callable[[Any, dict], float], threshold: Threshold | float,
                shape: tuple, returned: str, what: str = "loss", name: str | None = None, draw: Drawn = None,
                points: float = 1, description: str = "", timeout: float | None = None, **inputs: Any) -> Check:
    """`below` for NumPy code: what `call` returns (`returned`, e.g. "the coefficients fit returned")
    is an array of `shape` of finite numbers, and `measure(it, inputs)` stays below `threshold`
    (a number or `from_reference(...)`); a known mistake is named when it returned the same numbers:

        numpy_below("q3.final_loss", "fit(x, y, coeffs0)", shape=(4,), returned="the coefficients fit returned",
                    measure=lambda c, i: float(((c[0] + c[1] * i["x"] - i["y"]) ** 2).sum()),
                    threshold=from_reference(seeds=25, times=1.5), x=normal(50), y=normal(50), coeffs0=normal(4))
    """
    if not isinstance(threshold, Threshold):
        threshold = Threshold(value=float(threshold))
    judge = functools.partial(judges.judge_array_below, shape=tuple(shape), returned=returned, name=name or call,
                              measure=measure, threshold=threshold, what=what)
    return _declare(check_id, call, "probe_value", judge, draw, inputs, points=points, description=description,
                    timeout=timeout, options={"_numpy": True}, resembles=judges.same_returned, threshold=threshold,
                    measure=lambda output, drawn: measure(plain(output["value"]), drawn))
