"""How reports write values: numbers, points, and the student's own notebook's report file name.

The names of files written for a class (one per student) come from `tensorgrade.safe_text.file_name`,
which never maps two students to one file; `safe_name` is for the one report `tensorgrade check`
writes beside a student's own notebook.
"""

from __future__ import annotations

import re
from typing import Any


MAX_VALUE_CHARS = 2000  # a value written longer is cut, and says how long it was


def format_value(value: Any) -> str:
    """A value as a report writes it (numbers to 6 significant digits); never raises, and never
    longer than about MAX_VALUE_CHARS characters, whatever the value (an int of 5000 digits, a
    megabyte string, a list of a million numbers)."""
    try:
        text = _format(value, MAX_VALUE_CHARS)
    except Exception as exc:  # noqa: BLE001 (a value that cannot be written still gets a line)
        text = f"<{type(value).__name__} that cannot be written: {type(exc).__name__}>"
    if len(text) > MAX_VALUE_CHARS:
        text = text[:MAX_VALUE_CHARS] + f"… ({len(text)} characters)"
    return text


def _format(value: Any, budget: int) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        if value.bit_length() > 1000:  # too large for a float, and for str() past 4300 digits
            digits = int(value.bit_length() * 0.30103) + 1
            return f"{'-' if value < 0 else ''}(an int of about {digits} digits)"
        return f"{value:.6g}"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        parts, used = [], 0
        for item in value:
            if used > budget:
                parts.append(f"… {len(value) - len(parts)} more")
                break
            parts.append(_format(item, budget - used))
            used += len(parts[-1]) + 2
        return "(" + ", ".join(parts) + ("," if len(value) == 1 else "") + ")"
    text = str(value)
    return text if len(text) <= budget else text[:budget] + f"… ({len(text)} characters)"


def format_points(value: float) -> str:
    return f"{round(value, 4):g}"


def shown_score(result) -> str:
    """A result's score as people read it: a grader error has none yet (not the student's fault; it
    is regraded), so a dash, never 0, which is what a poisoned worker looked like."""
    return "–" if result.status == "error" else format_points(result.score)


def score_class(result, percent: float) -> str:
    """The style of a score: error, full marks, good (60% or more) or low."""
    if result.status == "error":
        return "error"
    return "full" if percent >= 99.99 else ("good" if percent >= 60 else "low")


def safe_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", str(name)).strip("._") or "student"
    return cleaned[:120]
