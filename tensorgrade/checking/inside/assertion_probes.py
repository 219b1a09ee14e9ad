"""Assert-style tests (nbgrader, otter-grader), inside the sandbox: the probe of a lifted test.

The plan comes from outside (checking/outside/assertion_judges.plan): ordinary statements of the
test run in the student's namespace as the original test would; of each lifted assertion only the
leaves are evaluated here, with `np`, `numpy`, `math` and `torch` bound to the grader's own modules
(a notebook that shadows `np` changes nothing), and returned as typed plain data for the judge; an
assertion that could not be lifted runs here and its outcome is reported, marked as decided inside.
"""

from __future__ import annotations

import math
import sys

import numpy
import torch

from tensorgrade.checking.inside.probing import NotDefined
from tensorgrade.checking.inside.standard_probes import typed

__all__ = ["probe_assertions"]

GENUINE = {"np": numpy, "numpy": numpy, "math": math, "torch": torch}
MAX_MESSAGE_CHARS = 2000


def _not_defined(exc: NameError, ns: dict) -> NotDefined | None:
    if exc.name and exc.name not in ns and exc.name not in GENUINE:
        return NotDefined(f"`{exc.name}` is not defined: define it in your notebook (check its spelling "
                          "and that its cell runs without an error)")
    return None


PLAIN_TYPES = ("None", "bool", "str", "int", "float", "tensor", "ndarray")


def _faithful(tree: dict) -> bool:
    """Whether a typed tree holds the whole value (not only its type's name, nor part of a container)."""
    kind = tree.get("type")
    if kind in PLAIN_TYPES:
        return True
    if kind in ("list", "tuple"):
        return len(tree["items"]) == tree["length"] and all(_faithful(item) for item in tree["items"])
    if kind == "dict":
        return len(tree["items"]) == len(tree["keys"]) and all(_faithful(item) for item in tree["items"].values())
    return False


SCALARS = (int, float, complex, str, bytes, bool, type(None))
ITERATORS = tuple(type(x) for x in (map(str, ()), filter(None, ()), zip(), range(0), enumerate(()), reversed(()),
                                     {}.keys(), {}.values(), {}.items()))


def _builtin(value, depth: int = 0) -> bool:
    """Whether a value is of Python's own types all through (no class of the student's can lie in it):
    scalars and containers of them, classes whose metaclass is `type`, the builtin iterators."""
    kind = type(value)
    if depth > 8:
        return False
    if kind in SCALARS or kind in ITERATORS:
        return True
    if kind is type:
        return True
    if kind in (list, tuple, set, frozenset):
        return all(_builtin(item, depth + 1) for item in list(value)[:10_000])
    if kind is dict:
        return all(_builtin(k, depth + 1) and _builtin(v, depth + 1) for k, v in list(dict.items(value))[:10_000])
    return False


def _library(value) -> bool:
    """Whether a value's class comes from an installed module (pandas' Series, a collections.Counter),
    not from the notebook: its own comparisons and len() are the library's."""
    module = type(value).__module__
    return module not in ("__main__", "builtins") and getattr(sys.modules.get(module), "__file__", None) is not None


def _students(value) -> bool:
    """A value the notebook's own classes may answer for: judged outside, where it is only its type."""
    return not _builtin(value) and not _library(value)


def probe_assertions(ns: dict, inputs: dict) -> dict:
    filename = f"<test {inputs['_check']}>"
    records = []
    for step in inputs["steps"]:
        try:
            if step["kind"] == "lifted":
                env = {**ns, **GENUINE}
                raw = [eval(compile(leaf, filename, "eval"), env) for leaf in step["leaves"]]
                values = [typed(value) for value in raw]
                if all(_faithful(value) for value in values) or any(map(_students, raw)):
                    records.append({"values": values})  # judged outside (an object of the student's fails there)
                    continue
                # Leaves of Python's or a library's own types that are not plain data (a class, an
                # iterator, a set, a pandas Series): judged outside, their str() or len() would not be
                # the original's, so the assertion is decided here, with the grader's np/math/torch.
                exec(compile(step["code"], filename, "exec"), env)
                records.append({"passed": True, "inside": True})
                continue
            # An ordinary statement changes the namespace as the original test would; an assertion
            # decided inside sees the grader's np/math/torch, not a notebook's shadowing ones.
            exec(compile(step["code"], filename, "exec"), ns if step["kind"] == "exec" else {**ns, **GENUINE})
            records.append({"passed": True})
        except AssertionError as exc:
            records.append({"passed": False, "raised": step["kind"] != "inside", "message": str(exc)[:MAX_MESSAGE_CHARS]})
            break
        except NameError as exc:
            missing = _not_defined(exc, ns)
            if missing is not None:
                raise missing from None
            raise
    return {"steps": records}
