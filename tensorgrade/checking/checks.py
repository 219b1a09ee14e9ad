"""A check: inputs drawn outside, a probe run inside, a judge run outside.

An assignment's `checks.py` declares

    CHECKS = [
        Check("q1.forward", probe="legendre_forward", inputs=forward_inputs, judge=judge_forward),
    ]

- `inputs(rng) -> data`: called by the grader with a numpy Generator seeded from the assignment's
  secret seed and the check id, so regrading draws the same inputs and no check shares a stream.
- `probe`: the name of a function in the matching `probes.py`, called inside the sandbox as
  `probe(ns, inputs)` on the student's namespace, and on the reference's, with the same inputs.
- `judge(case) -> Verdict`: compares the student's probe output with the reference's (both plain
  data), outside the sandbox.  The same judge names known mistakes: a student whose output passes
  against a mistake variant's output made that mistake.
- `resembles(a, b) -> bool` (optional): for checks whose judge tests a threshold rather than a
  comparison (a final loss, an accuracy), says whether two outputs are the same behaviour, which
  is what naming a mistake needs.  Without it, `judge` against the variant's output decides.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from tensorgrade.checking.outside.judging import JudgeCase, Verdict


@dataclass(frozen=True)
class Check:
    id: str
    probe: str
    judge: Callable[[JudgeCase], Verdict]
    inputs: Callable[[np.random.Generator], Any] | None = None
    resembles: Callable[[Any, Any], bool] | None = None
    # Which probes.py holds `probe`: its own visibility's by default.  A hidden check may use a
    # public probe on hidden inputs (probes are not secret); a public one never uses a hidden probe.
    probe_module: str | None = None
    # Declared with the check in a single-source assignment (tensorgrade/checking/vocabulary.py);
    # a legacy checks.py leaves them unset and its assignment.yaml says them.
    points: float | None = None
    description: str = ""
    timeout: float | None = None
    threshold: Any = None  # a standard_judges.Threshold derived from the reference, if any
    measure: Callable[[Any, Any], float] | None = None  # what the threshold bounds, from (output, inputs)
    line: int | None = None  # where the source declares it: checks are listed in the order written


def check_rng(seed: int, check_id: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(check_id.encode())])


def draw_inputs(check: Check, seed: int) -> Any:
    if check.inputs is None:
        return {}
    return check.inputs(check_rng(seed, check.id))
