"""Helpers for probes: the code that runs inside the sandbox and calls the student's functions.

A probe is a plain function `probe(ns, inputs) -> data` in an assignment's `probes.py`: `ns` is the
submission's namespace, `inputs` what the grader drew (arrays arrive as numpy arrays), and the
return value is plain data (numbers, strings, lists, dicts, numpy arrays, torch tensors) that the
judge compares outside.  Probes observe; they never decide pass or fail.
"""

from __future__ import annotations

from typing import Any

import numpy as np


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


# ---------------------------------------------------------------------------------------------
# Numbers a contract calls a Python float or int
# ---------------------------------------------------------------------------------------------

# The exact NumPy scalar types (COURSE.md, "Numbers and variables"): `np.sum` returns a numpy.float64, a
# label read from an array is a numpy.int64.  Their conversion is NumPy's own, which no submission can
# change (a C type's methods cannot be replaced); a subclass of float or int defined by the submission
# may convert to anything, so it is not one of them (nor is numpy.bool_, nor numpy.timedelta64).
NUMPY_FLOATS = frozenset({np.float16, np.float32, np.float64, np.longdouble})
NUMPY_INTS = frozenset({np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
                        np.intc, np.uintc, np.longlong, np.ulonglong})


def plain_number(value: Any, kind: type = float) -> float | int | None:
    """`value` as a Python `kind` (float or int) when the contract's type is what it is: exactly a
    Python `kind`, or exactly one of NumPy's scalar types of that kind (converted here, by NumPy's
    own conversion); None for anything else (a tensor, an array, a bool, a subclass of float or int,
    a float where an int is wanted), which the judge reports by its type (`describe_value`)."""
    exact = type(value)
    if kind is float:
        if exact is float:
            return value
        if exact in NUMPY_FLOATS:
            return float(value)
    elif kind is int:
        if exact is int:
            return value
        if exact in NUMPY_INTS:
            return int(value)
    else:
        raise ValueError(f"plain_number: kind must be float or int, not {kind!r}")
    return None


# ---------------------------------------------------------------------------------------------
# Structural observations that the submission's own objects cannot answer for themselves
# ---------------------------------------------------------------------------------------------

def genuine(obj: Any, owner: type, name: str) -> Any:
    """`obj.<name>` as the library class `owner` defines it (a C-level attribute, or a method of
    torch's own class), not as the submission's subclass may redefine it: a Function whose backward
    node claims `saved_tensors`, or a Module whose `named_parameters` lists parameters it never
    registered, must not answer a structural check by itself."""
    return owner.__dict__[name].__get__(obj, type(obj))


def registered_parameters(module: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """(name, parameter) of every parameter nn.Module registered in `module` and its submodules,
    read from the modules' own state rather than through methods a subclass can override."""
    state = object.__getattribute__(module, "__dict__")
    found = []
    parameters, children = state.get("_parameters"), state.get("_modules")
    if isinstance(parameters, dict):
        found += [(prefix + name, p) for name, p in dict.items(parameters) if p is not None]
    if isinstance(children, dict):
        for name, child in dict.items(children):
            if child is not None:
                found += registered_parameters(child, f"{prefix}{name}.")
    return found
