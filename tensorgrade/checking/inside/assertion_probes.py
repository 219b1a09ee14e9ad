"""Assert-style tests (nbgrader, otter-grader), inside the sandbox: the probe of a lifted test.

The plan comes from outside (checking/outside/assertion_judges.plan): ordinary statements of the
test run in the student's namespace as the original test would; of each lifted assertion only the
leaves are evaluated here, with `np`, `numpy`, `math` and `torch` bound to the grader's own modules
(a notebook that shadows `np` changes nothing), and returned as typed plain data for the judge; an
assertion that could not be lifted runs here and its outcome is reported, marked as decided inside.
"""

from __future__ import annotations

import math

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


def probe_assertions(ns: dict, inputs: dict) -> dict:
    filename = f"<test {inputs['_check']}>"
    records = []
    for step in inputs["steps"]:
        try:
            if step["kind"] == "lifted":
                env = {**ns, **GENUINE}
                records.append({"values": [typed(eval(compile(leaf, filename, "eval"), env)) for leaf in step["leaves"]]})
                continue
            exec(compile(step["code"], filename, "exec"), ns)
            records.append({"passed": True})
        except AssertionError as exc:
            records.append({"passed": False, "raised": step["kind"] == "exec", "message": str(exc)[:MAX_MESSAGE_CHARS]})
            break
        except NameError as exc:
            missing = _not_defined(exc, ns)
            if missing is not None:
                raise missing from None
            raise
    return {"steps": records}
