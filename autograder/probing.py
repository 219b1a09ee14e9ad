"""Helpers for probes: the code that runs inside the sandbox and calls the student's functions.

A probe is a plain function `probe(ns, inputs) -> data` in an assignment's `probes.py`: `ns` is the
submission's namespace, `inputs` what the grader drew (arrays arrive as numpy arrays), and the
return value is plain data (numbers, strings, lists, dicts, numpy arrays, torch tensors) that the
judge compares outside.  Probes observe; they never decide pass or fail.
"""

from __future__ import annotations

from typing import Any


class NotDefined(Exception):
    """A name the check needs is missing from the submission."""


def need(ns: dict, name: str, kind: type | tuple[type, ...] | None = None, what: str | None = None) -> Any:
    """The student's definition of `name`, or a NotDefined the judge reports as such."""
    if name not in ns:
        raise NotDefined(f"`{name}` is not defined: define it in your notebook "
                         "(check its spelling and that its cell runs without an error)")
    value = ns[name]
    if kind is not None:
        ok = isinstance(value, type) and issubclass(value, kind) if isinstance(kind, type) and isinstance(value, type) \
            else isinstance(value, kind)
        if not ok:
            expected = what or getattr(kind, "__name__", str(kind))
            raise NotDefined(f"`{name}` should be {expected}, but it is {type(value).__name__}")
    return value


def need_subclass(ns: dict, name: str, base: type) -> type:
    value = need(ns, name)
    if not (isinstance(value, type) and issubclass(value, base)):
        raise NotDefined(f"`{name}` should be a class derived from {base.__module__}.{base.__qualname__}, "
                         f"but it is {value!r}")
    return value


def describe_value(value: Any) -> dict:
    """Type, shape, dtype and device of whatever came back, for messages about wrong kinds."""
    info: dict[str, Any] = {"type": f"{type(value).__module__}.{type(value).__qualname__}"}
    for attr in ("shape", "dtype", "device"):
        if hasattr(value, attr):
            try:
                info[attr] = str(tuple(getattr(value, attr))) if attr == "shape" else str(getattr(value, attr))
            except Exception:
                pass
    return info
