"""How reports write values: numbers, points and names that are safe as file names."""

from __future__ import annotations

import re
from typing import Any


def format_value(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, (int, float)):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(format_value(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    return str(value)


def format_points(value: float) -> str:
    return f"{round(value, 4):g}"


def safe_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", str(name)).strip("._") or "student"
    return cleaned[:120]
