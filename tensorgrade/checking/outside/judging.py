"""Judging, outside the sandbox: probe data in, a verdict and a message a student can act on out.

Messages follow `torch.testing.assert_close`: what was expected, what came back, where they
differ (index, values, ratio) and, where it is a known mistake, its name.

Numbers that are not numbers never pass: every closeness verdict (`compare`) and every threshold
verdict (`at_least`, `at_most`, `below`, `within`) goes through one guard, `not_numbers`, which
fails NaN, +inf and -inf, empty data and data of the wrong shape with a message that says which
("your accuracy is NaN (not a number)", "your predictions are empty: 0 values where 200 were
expected").  A comparison with NaN is False, so `if accuracy < threshold: fail` passes a NaN
accuracy, and the mean of no predictions is NaN: a judge compares numbers only through these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Union

import numpy as np

from tensorgrade.sandbox.transport import OpaqueObject


@dataclass
class JudgeCase:
    student: Any  # the student's probe output, plain data
    reference: Any  # the reference's probe output on the same inputs
    inputs: Any  # what the grader drew for this check


@dataclass
class Verdict:
    passed: bool
    message: str = ""
    diagnosis: str | None = None
    fraction: float = 1.0  # share of the check's points earned when passed
    details: dict = field(default_factory=dict)  # structured data for reports (curves, mismatches)


def passed(message: str = "", details: dict | None = None) -> Verdict:
    return Verdict(True, message, details=details or {})


def failed(message: str, diagnosis: str | None = None, details: dict | None = None) -> Verdict:
    return Verdict(False, message, diagnosis=diagnosis, details=details or {})


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def _index(flat: int, shape: tuple) -> str:
    if not shape:
        return ""
    return str(tuple(int(i) for i in np.unravel_index(flat, shape))).replace(",)", ")")


def what_is(value: Any) -> str:
    if isinstance(value, OpaqueObject):
        return f"a {value.type_name}"
    if isinstance(value, np.ndarray):
        return f"an array of shape {tuple(value.shape)} and dtype {value.dtype}"
    if value is None:
        return "None"
    return f"a {type(value).__name__} ({value!r})" if isinstance(value, (int, float, bool, str)) else f"a {type(value).__name__}"


def _yours(name: str) -> str:
    """"accuracy" -> "your accuracy"; "the mean loss" and "your loss" stay as they are."""
    if name.lower().startswith(("your ", "the ", "a ", "an ")):
        return name
    return "your " + name


def _numeric_array(value: Any) -> np.ndarray | None:
    """`value` as an array of real numbers (bool included), or None when it is something else
    (None, text, objects, complex numbers, ragged lists)."""
    if value is None or isinstance(value, (str, bytes, dict, OpaqueObject)):
        return None
    try:
        array = np.asarray(value)
    except Exception:  # ragged nesting, objects that refuse conversion
        return None
    if array.dtype.kind not in "biuf":
        return None
    return array


def not_numbers(value: Any, name: str, *, like: Any = None, shape: tuple | None = None,
                details: dict | None = None) -> Verdict | None:
    """The guard every threshold and closeness verdict goes through: None when `value` is real,
    finite numbers (a number, or an array or list of them) of the expected shape; otherwise a
    failed verdict that says which: not numbers at all, NaN, +inf or -inf, empty, or the wrong shape.

    `shape` is the expected shape (() for a single number); `like`, an expected value whose shape
    is expected and whose own NaN or infinite entries excuse the same entries of `value` (a known
    mistake's output may be NaN where it diverges; matching it is `compare`'s business).  Without
    either, any shape but an empty one is accepted."""
    details = dict(details or {})
    yours = _yours(name)
    expected = None if like is None else _numeric_array(like)
    if shape is None and expected is not None:
        shape = expected.shape
    array = _numeric_array(value)
    truth_values = expected is not None and expected.dtype.kind == "b"  # where True/False is what is expected
    if array is None or array.dtype.kind == "b" and shape == () and not truth_values:
        return failed(f"{yours} should be {'a number' if shape == () else 'numbers'}, but it is {what_is(value)}",
                      details={**details, "not_a_number": "type"})
    if array.size == 0 and (shape is None or int(np.prod(shape)) != 0):
        wanted = ("" if shape is None else " where a single number was expected" if tuple(shape) == ()
                  else f" where {int(np.prod(shape))} were expected")
        extra = (f" (shape {tuple(array.shape)} where {tuple(shape)} was expected)"
                 if shape is not None and tuple(array.shape) != tuple(shape) else "")
        return failed(f"{yours}: empty, 0 values{wanted}{extra}",
                      details={**details, "not_a_number": "empty", "got_shape": list(array.shape),
                               **({"expected_shape": list(shape)} if shape is not None else {})})
    if shape is not None and tuple(array.shape) != tuple(shape):
        extra = ""
        if array.size == int(np.prod(shape)):
            extra = " (same number of entries: a reshape or transpose is missing?)"
        elif array.ndim == 0:
            extra = " (a single number: was it summed or averaged when it should not be?)"
        return failed(f"{name} has shape {tuple(array.shape)}, expected {tuple(shape)}{extra}",
                      details={**details, "not_a_number": "shape", "got_shape": list(array.shape),
                               "expected_shape": list(shape)})
    if array.dtype.kind != "f":
        return None
    bad = ~np.isfinite(array)
    if expected is not None and expected.shape == array.shape and expected.dtype.kind == "f":
        bad &= np.isfinite(expected)
    if not bad.any():
        return None
    nan = int(np.isnan(array[bad]).sum())
    infinite = int(bad.sum()) - nan
    if array.ndim == 0:
        text = "NaN (not a number)" if nan else ("+inf (infinite)" if float(array) > 0 else "-inf (infinite)")
        return failed(f"{yours} is {text}", details={**details, "not_a_number": "nan" if nan else "inf"})
    parts = []
    if nan:
        parts.append(f"{nan} of {array.size} values {'is' if nan == 1 else 'are'} NaN (not a number)")
    if infinite:
        parts.append(f"{infinite}{'' if nan else f' of {array.size} values'} {'is' if infinite == 1 else 'are'} "
                     "infinite (+inf or -inf)")
    first = int(np.flatnonzero(bad)[0])
    value = float(array.flat[first])
    return failed(f"{yours}: {' and '.join(parts)}, the first at index {_index(first, array.shape)} "
                  f"({'NaN' if np.isnan(value) else value})",
                  details={**details, "not_a_number": "nan" if nan else "inf", "non_finite": int(bad.sum()),
                           "total": int(array.size)})


def _holds_numbers(value: Any) -> bool:
    """A float, or an array or list of numbers (of which not all are Python ints): what `numbers_in`
    guards.  Python ints (counts, indices) and bools are not: they cannot be NaN."""
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (float, np.floating)):
        return True
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "biuf" and value.dtype.kind != "b"
    if isinstance(value, (list, tuple)) and value:
        numbers = all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
                      for v in value)
        return numbers and not all(isinstance(v, (int, np.integer)) for v in value)
    return False


def numbers_in(value: Any, name: str, *, like: Any = None) -> Verdict | None:
    """`not_numbers` on every number inside `value` (dicts, lists, arrays): None when each is finite
    and, where `like` (an expected output of the same structure) holds numbers at the same place,
    shaped as those; else the guard's failed verdict, naming the place.  For probe outputs whose
    numbers are compared with each other (a device run with its CPU run) rather than with the
    reference's, where `compare` alone would let NaN match NaN."""
    if isinstance(like, dict) or like is None and isinstance(value, dict):
        if not isinstance(value, dict):
            return failed(f"{name} should be a dict with keys {sorted(like)}, but it is {what_is(value)}")
        for key, item in value.items():
            verdict = numbers_in(item, f"{name}[{key!r}]", like=like.get(key) if isinstance(like, dict) else None)
            if verdict is not None:
                return verdict
        return None
    if _holds_numbers(like) or _holds_numbers(value):
        return not_numbers(value, name, like=like if _holds_numbers(like) else None)
    if isinstance(value, (list, tuple)):
        items = like if isinstance(like, (list, tuple)) and len(like) == len(value) else [None] * len(value)
        for index, (item, expected) in enumerate(zip(value, items)):
            verdict = numbers_in(item, f"{name}[{index}]", like=expected)
            if verdict is not None:
                return verdict
    return None


Message = Union[str, Callable[[], str], None]  # a text, or a function that makes it


def _threshold(value: Any, name: str, holds: Callable[[float], bool], message: Message, default: str,
               diagnosis: str | None, details: dict | None, wanted: str) -> Verdict | None:
    problem = not_numbers(value, name, shape=(), details=details)
    if problem is not None:
        problem.message += f"; it must be {wanted}"
        return problem
    if holds(float(value)):
        return None
    text = message() if callable(message) else message
    return failed(text or f"{_yours(name)} is {_fmt(float(value))}, {default}", diagnosis=diagnosis, details=details)


def at_least(value: Any, limit: float, *, name: str, message: Message = None, diagnosis: str | None = None,
             details: dict | None = None) -> Verdict | None:
    """None when `value` is a finite number >= `limit`; else a failed verdict: the guard's for a
    value that is not a number, else `message` (a text, or a function that makes it: it may format
    `value` as a number) or a plain one.  `details` go with either."""
    return _threshold(value, name, lambda v: v >= limit, message, f"below the minimum {_fmt(limit)}",
                      diagnosis, details, f"a number of at least {_fmt(limit)}")


def at_most(value: Any, limit: float, *, name: str, message: Message = None, diagnosis: str | None = None,
            details: dict | None = None) -> Verdict | None:
    """None when `value` is a finite number <= `limit`; else a failed verdict (see `at_least`)."""
    return _threshold(value, name, lambda v: v <= limit, message, f"above the maximum {_fmt(limit)}",
                      diagnosis, details, f"a number of at most {_fmt(limit)}")


def below(value: Any, limit: float, *, name: str, message: Message = None, diagnosis: str | None = None,
          details: dict | None = None) -> Verdict | None:
    """None when `value` is a finite number strictly below `limit`; else a failed verdict (see `at_least`)."""
    return _threshold(value, name, lambda v: v < limit, message, f"not below {_fmt(limit)}", diagnosis, details,
                      f"a number below {_fmt(limit)}")


def within(value: Any, target: Any, tolerance: float, *, name: str, target_name: str | None = None,
           message: Message = None, diagnosis: str | None = None,
           details: dict | None = None) -> Verdict | None:
    """None when `value` and `target` are finite numbers at most `tolerance` apart; else a failed
    verdict (the guard's when either is not a number: NaN on both sides is no agreement)."""
    problem = not_numbers(value, name, shape=(), details=details) or not_numbers(
        target, target_name or f"the expected {name}", shape=(), details=details)
    if problem is not None:
        return problem
    if abs(float(value) - float(target)) <= tolerance:
        return None
    text = message() if callable(message) else message
    return failed(text or f"{_yours(name)} is {_fmt(float(value))}, expected {_fmt(float(target))} "
                          f"(up to {tolerance:g} apart)", diagnosis=diagnosis, details=details)


def compare(got: Any, expected: Any, *, name: str, rtol: float = 1e-5, atol: float = 1e-8,
            check_dtype: bool = False) -> Verdict | None:
    """None when `got` matches `expected`; otherwise a failed verdict saying how they differ."""
    if isinstance(expected, (list, tuple)) and not isinstance(got, np.ndarray):
        if not isinstance(got, (list, tuple)):
            return failed(f"{name} should be a list/tuple of {len(expected)} items, but it is {what_is(got)}")
        if len(got) != len(expected):
            return failed(f"{name} should have {len(expected)} items, but it has {len(got)}")
        for i, (g, e) in enumerate(zip(got, expected)):
            verdict = compare(g, e, name=f"{name}[{i}]", rtol=rtol, atol=atol, check_dtype=check_dtype)
            if verdict is not None:
                return verdict
        return None
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return failed(f"{name} should be a dict with keys {sorted(expected)}, but it is {what_is(got)}")
        missing = sorted(set(expected) - set(got))
        if missing:
            return failed(f"{name} is missing the key(s) {missing}")
        for key in expected:
            verdict = compare(got[key], expected[key], name=f"{name}[{key!r}]", rtol=rtol, atol=atol,
                              check_dtype=check_dtype)
            if verdict is not None:
                return verdict
        return None
    if isinstance(got, OpaqueObject) or got is None or isinstance(got, (str, dict, list)):
        if isinstance(expected, (int, float)) or isinstance(expected, np.ndarray):
            return failed(f"{name} should be {what_is(expected)}, but it is {what_is(got)}")
        return None if got == expected else failed(f"{name}: expected {expected!r}, got {got!r}")
    if isinstance(got, bool) and not isinstance(expected, (bool, np.ndarray)):
        return failed(f"{name} should be a number, but it is {what_is(got)}")
    expected_array = _numeric_array(expected)
    if expected_array is None:  # not numbers on the reference's side either: equal or not
        return None if _same(got, expected) else failed(f"{name}: expected {expected!r}, got {what_is(got)}")
    problem = not_numbers(got, name, like=expected_array)
    if problem is not None:
        return problem
    got_array = np.asarray(got)
    if check_dtype and got_array.dtype != expected_array.dtype:
        return failed(f"{name} has dtype {got_array.dtype}, expected {expected_array.dtype}")
    if expected_array.dtype == bool or got_array.dtype == bool:
        if np.array_equal(got_array, expected_array):
            return None
        return failed(f"{name}: expected {expected_array.tolist()!r}, got {got_array.tolist()!r}")
    return _compare_numbers(got_array.astype(np.float64), expected_array.astype(np.float64), name, rtol, atol)


def _same(got: Any, expected: Any) -> bool:
    try:
        return bool(got == expected)
    except Exception:
        return False


def _compare_numbers(got: np.ndarray, expected: np.ndarray, name: str, rtol: float, atol: float) -> Verdict | None:
    close = np.isclose(got, expected, rtol=rtol, atol=atol, equal_nan=True)
    if close.all():
        return None
    if got.ndim == 0:
        lines = [f"{name} is not close: yours {_fmt(float(got))}, expected {_fmt(float(expected))}"]
        ratio = _constant_ratio(got, expected)
        if ratio is not None:
            lines[0] += f" (ratio {_fmt(ratio)})"
        return failed(lines[0], details={"got": float(got), "expected": float(expected)})
    mismatched = int((~close).sum())
    total = close.size
    abs_diff = np.abs(got - expected)
    abs_diff = np.where(np.isnan(abs_diff), np.inf, abs_diff)
    worst = int(np.argmax(abs_diff))
    with np.errstate(divide="ignore", invalid="ignore"):  # against an expected 0 it is inf, as in torch
        rel = np.where(abs_diff == 0, 0.0, abs_diff / np.abs(expected))
    worst_rel = int(np.argmax(np.where(close, -np.inf, rel)))
    lines = [
        f"{name} is not close to the expected values.",
        f"Mismatched elements: {mismatched} / {total} ({100.0 * mismatched / total:.1f}%)",
        f"Greatest absolute difference: {_fmt(float(abs_diff.flat[worst]))} at index {_index(worst, got.shape)} "
        f"(yours {_fmt(float(got.flat[worst]))}, expected {_fmt(float(expected.flat[worst]))}; up to {atol:g} allowed)",
        f"Greatest relative difference: {_fmt(float(rel.flat[worst_rel]))} at index {_index(worst_rel, got.shape)} "
        f"(up to {rtol:g} allowed)",
    ]
    ratio = _constant_ratio(got, expected)
    if ratio is not None:
        if abs(ratio + 1) < 1e-3:
            lines.append("Every entry has the opposite sign of the expected value: a sign is flipped.")
        else:
            lines.append(f"Every entry is {_fmt(ratio)} times the expected value: a constant factor is off.")
    if not np.isfinite(got).all():
        lines.append(f"{int((~np.isfinite(got)).sum())} entries are NaN or infinite.")
    bad = np.flatnonzero(~close)[:10]
    details = {"mismatches": [{"index": _index(int(i), got.shape), "got": float(got.flat[i]),
                               "expected": float(expected.flat[i])} for i in bad],
               "mismatched": mismatched, "total": total}
    return failed("\n".join(lines), details=details)


def _constant_ratio(got: np.ndarray, expected: np.ndarray) -> float | None:
    mask = np.abs(expected) > 1e-12
    if mask.sum() == 0 or not np.isfinite(got[mask]).all():
        return None
    ratios = got[mask] / expected[mask]
    ratio = float(np.median(ratios))
    if abs(ratio - 1) < 1e-6 or abs(ratio) < 1e-9:
        return None
    return ratio if np.allclose(ratios, ratio, rtol=1e-3, atol=1e-9) else None


def jacobian_mismatch(yours: np.ndarray, expected: np.ndarray, *, output: str, wrt: str,
                      rtol: float = 1e-4, atol: float = 1e-6) -> Verdict | None:
    """Gradient entries compared as `d out[i]/d input[j]: yours a, expected b (ratio r)`."""
    problem = not_numbers(yours, f"d {output}/d {wrt}", like=expected)
    if problem is not None:
        return problem
    yours, expected = np.asarray(yours, np.float64), np.asarray(expected, np.float64)
    close = np.isclose(yours, expected, rtol=rtol, atol=atol)
    if close.all():
        return None
    bad = np.argwhere(~close)
    lines = []
    for position in bad[:3]:
        out_index, in_index = (position[0], position[1]) if yours.ndim == 2 else (position[0], position[0])
        a, b = float(yours[tuple(position)]), float(expected[tuple(position)])
        ratio = f" (ratio {a / b:.3g})" if abs(b) > 1e-12 else ""
        lines.append(f"d {output}[{out_index}]/d {wrt}[{in_index}]: yours {a:.4g}, expected {b:.4g}{ratio}")
    summary = f"{len(bad)} of {close.size} gradient entries differ"
    ratio = _constant_ratio(yours, expected)
    if ratio is not None:
        summary += (": every entry has the wrong sign" if abs(ratio + 1) < 1e-3
                    else f": every entry is {ratio:.3g} times the expected one (a missing or extra factor)")
    return failed("\n".join([summary, *lines]),
                  details={"mismatches": [{"index": str(tuple(int(i) for i in p)),
                                           "got": float(yours[tuple(p)]), "expected": float(expected[tuple(p)])}
                                          for p in bad[:10]]})
