"""Judging, outside the sandbox: probe data in, a verdict and a message a student can act on out.

Messages follow `torch.testing.assert_close`: what was expected, what came back, where they
differ (index, values, ratio) and, where it is a known mistake, its name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
    got_array, expected_array = np.asarray(got), np.asarray(expected)
    if got_array.shape != expected_array.shape:
        extra = ""
        if got_array.size == expected_array.size:
            extra = " (same number of entries: a reshape or transpose is missing?)"
        elif got_array.ndim == 0:
            extra = " (a single number: was it summed or averaged when it should not be?)"
        return failed(f"{name} has shape {tuple(got_array.shape)}, expected {tuple(expected_array.shape)}{extra}",
                      details={"got_shape": list(got_array.shape), "expected_shape": list(expected_array.shape)})
    if check_dtype and got_array.dtype != expected_array.dtype:
        return failed(f"{name} has dtype {got_array.dtype}, expected {expected_array.dtype}")
    if expected_array.dtype == bool or got_array.dtype == bool:
        if np.array_equal(got_array, expected_array):
            return None
        return failed(f"{name}: expected {expected_array.tolist()!r}, got {got_array.tolist()!r}")
    return _compare_numbers(got_array.astype(np.float64), expected_array.astype(np.float64), name, rtol, atol)


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
    yours, expected = np.asarray(yours, np.float64), np.asarray(expected, np.float64)
    if yours.shape != expected.shape:
        return failed(f"d {output}/d {wrt} has shape {yours.shape}, expected {expected.shape}")
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
