"""Judges of the NumPy vocabulary (tensorgrade/checking/vocabulary_numpy.py), outside the sandbox.

They read what checking/inside/numpy_probes.py returned (typed trees, plain arrays, names of calls)
and compare it with the reference's output on the same inputs: hand-written gradients entry by
entry, a loss with its gradient, an argument left unchanged, NumPy only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tensorgrade.checking.outside import standard_judges
from tensorgrade.checking.outside.judging import JudgeCase, Verdict, compare, failed, not_numbers, passed
from tensorgrade.checking.outside.standard_judges import plain, type_name


def judge_gradients(case: JudgeCase, *, function: str, names: tuple[str, ...], rtol: float, atol: float,
                    says: str) -> Verdict:
    """Each case: a tuple of one gradient per input, each a NumPy array of that input's shape, close
    to the reference's. A single number where an array belongs is `gradient-not-per-entry`."""
    several = len(case.reference["results"]) > 1
    for got, expected in zip(case.student["results"], case.reference["results"]):
        tree, shapes = got["value"], [tuple(s) for s in got["shapes"]]
        where = f"for inputs of shape {shapes[0]}, " if several else ""
        if tree.get("type") not in ("tuple", "list") or tree["length"] != len(names):
            return failed(f"{where}{function} should return a tuple ({', '.join(names)}), "
                          f"but returned {type_name(tree)}")
        for name, item, reference, shape in zip(names, tree["items"], plain(expected["value"]), shapes):
            if item.get("type") != "ndarray":
                single = item.get("type") in ("float", "int")
                return failed(f"{where}{name} should be a NumPy array the shape of its input {shape}, but it is "
                              f"{type_name(item)}" + (" (a single number: gradients are per entry, not summed)"
                                                      if single else ""),
                              diagnosis="gradient-not-per-entry" if single else None)
            verdict = compare(item["value"], reference, name=f"{name} for inputs of shape {shape}",
                              rtol=rtol, atol=atol)
            if verdict is not None:
                return verdict
    return passed(says)


def judge_loss(case: JudgeCase, *, function: str, names: tuple[str, str], rtol: tuple[float, float],
               atol: tuple[float, float], strict: bool, says: str) -> Verdict:
    """`(loss, grads)`: with `strict`, the loss a Python float (NumPy's exact scalar types count) and
    grads a float64 array of the reference's shape; then both close to the reference's."""
    tree, (loss_name, grads_name) = case.student["value"], names
    label = grads_name.split(" [")[0]  # "grads [dL/da, ...]" -> "grads"
    expected_loss, expected_grads = plain(case.reference["value"])
    if tree.get("type") not in ("tuple", "list") or tree["length"] != 2:
        return failed(f"{function} should return ({loss_name}, {label}), but returned {type_name(tree)}")
    loss, grads = tree["items"]
    shape = tuple(np.shape(expected_grads))
    if strict:
        if loss.get("type") != "float":
            return failed(f"{loss_name} should be a Python float (use float(...)), but it is {type_name(loss)}")
        if grads.get("type") != "ndarray":
            return failed(f"{label} should be a float64 NumPy array of shape {shape}, but it is "
                          f"{type_name(grads)}")
        if tuple(np.shape(grads["value"])) != shape or grads["dtype"] != "float64":
            return failed(f"{label} should have shape {shape} and dtype float64, got shape "
                          f"{tuple(np.shape(grads['value']))} and dtype {grads['dtype']}")
    return (compare(plain(loss), expected_loss, name=loss_name, rtol=rtol[0], atol=atol[0])
            or compare(plain(grads), expected_grads, name=grads_name, rtol=rtol[1], atol=atol[1])
            or passed(says))


def judge_unchanged(case: JudgeCase, *, function: str, argument: str, hint: str, returns: str) -> Verdict:
    """The argument is as it was after the call (else `modifies-<argument>`), and the call returned a
    NumPy array of numbers shaped like the reference's."""
    s = case.student
    if not np.array_equal(s["before"], s["after"]):
        return failed(f"{function} changed {argument} in place: it was {np.round(s['before'], 4).tolist()} and is "
                      f"{np.round(s['after'], 4).tolist()} after the call; {hint}", diagnosis=f"modifies-{argument}")
    value, expected = s["value"], plain(case.reference["value"])
    if value.get("type") != "ndarray":
        return failed(f"{function} should return {returns} as a NumPy array of shape {tuple(np.shape(expected))}, "
                      f"but returned {type_name(value)}")
    return (not_numbers(value["value"], f"the {returns.removeprefix('the ')} {function} returned", like=expected)
            or passed(f"{function} leaves {argument} unchanged and returns new {returns.removeprefix('the ')}"))


def judge_numpy_only(case: JudgeCase) -> Verdict:
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


def judge_array_below(case: JudgeCase, *, shape: tuple, returned: str, **below: Any) -> Verdict:
    """What the call `returned` is an array of `shape` holding finite numbers; then
    standard_judges.judge_below on the measure of it."""
    value = plain(case.student["value"])
    if isinstance(value, np.ndarray) and value.shape != shape:
        return failed(f"{returned} have shape {value.shape}, expected {shape}")
    return not_numbers(value, returned, shape=shape) or standard_judges.judge_below(case, **below)


def same_returned(a: Any, b: Any) -> bool:
    """Two runs returned the same numbers (what naming a known mistake of a threshold check needs)."""
    return compare(plain(a["value"]), plain(b["value"]), name="value", rtol=1e-4, atol=1e-6) is None
