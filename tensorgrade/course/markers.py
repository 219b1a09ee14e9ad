"""The marked regions of a cell, as nbgrader and otter mark them, and what the template shows instead.

`### BEGIN SOLUTION` ... `### END SOLUTION` in an answer cell of a source (course/source.py) or of an
nbgrader notebook (importers/nbgrader.py) is the reference's code; the template shows `CODE_STUB` (in
markdown, `ANSWER_STUB`) in its place. `### BEGIN HIDDEN TESTS` ... `### END HIDDEN TESTS` in an
nbgrader test cell is the part students never see. An answer cell imported from otter
(`stub="otter"` in the source, importers/otter.py) is stubbed as otter stubs it: `otter_stub`.
"""

from __future__ import annotations

import re
from typing import Callable

from tensorgrade.course.errors import AuthoringError

BEGIN_SOLUTION = re.compile(r"^\s*#+\s*BEGIN SOLUTION\s*$")
END_SOLUTION = re.compile(r"^\s*#+\s*END SOLUTION\s*$")
BEGIN_HIDDEN_TESTS = re.compile(r"^\s*#+\s*BEGIN HIDDEN TESTS\s*$")
END_HIDDEN_TESTS = re.compile(r"^\s*#+\s*END HIDDEN TESTS\s*$")
CODE_STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
ANSWER_STUB = "YOUR ANSWER HERE"


def cut_regions(source: str, begin: re.Pattern, end: re.Pattern, where: str,
                replacement: Callable[[str], list[str]] = lambda indent: []) -> tuple[str, str, bool]:
    """(outside, everything, found): `outside` keeps the lines outside the regions, with each
    region replaced by `replacement(indent of its BEGIN line)`; `everything` keeps all lines but
    the markers."""
    outside: list[str] = []
    everything: list[str] = []
    inside_since: int | None = None
    found = False
    for number, line in enumerate(source.splitlines(), 1):
        if begin.match(line):
            if inside_since is not None:
                raise AuthoringError(f"{where}, line {number}: a region begins inside the region opened at "
                                     f"line {inside_since}")
            inside_since, found = number, True
            outside += replacement(line[:len(line) - len(line.lstrip())])
        elif end.match(line):
            if inside_since is None:
                raise AuthoringError(f"{where}, line {number}: `{line.strip()}` without a region to end")
            inside_since = None
        else:
            everything.append(line)
            if inside_since is None:
                outside.append(line)
    if inside_since is not None:
        raise AuthoringError(f"{where}: the region opened at line {inside_since} never ends")
    return "\n".join(outside), "\n".join(everything), found


# ---------------------------------------------------------------------------------------------
# Otter's stubbing (otter/assign/solutions.py, 7.0.0), for a source's `stub="otter"` answer cells
# ---------------------------------------------------------------------------------------------

BLOCK_PROMPT = "..."
SOLUTION_ASSIGNMENT = re.compile(r"(\s*(?:[\w.]+(?=[^\w.])(?:\[['\"]?.*['\"]?\])*(?:,\s*)?)+\s*=).* ?# ?SOLUTION")
SOLUTION_LINE = re.compile(r"(\s*).* ?# ?SOLUTION")
OTTER_BEGIN_SOLUTION = re.compile(r"(\s*)# BEGIN SOLUTION( NO PROMPT)?")
SKIP_SUFFIXES = ("# SOLUTION NO PROMPT", "# BEGIN PROMPT", "# END PROMPT", "# SEED")


def otter_stub(source: str) -> str:
    """What otter's student notebook shows of a solution cell (solutions.replace_solutions)."""
    stripped, inside = [], False
    for line in source.split("\n"):
        if any(line.rstrip().endswith(s) for s in SKIP_SUFFIXES):
            continue
        if inside and not line.rstrip().endswith("# END SOLUTION"):
            continue
        if line.rstrip().endswith("# END SOLUTION"):
            if not inside:
                raise AuthoringError("END SOLUTION without BEGIN SOLUTION")
            inside = False
            continue
        begin = OTTER_BEGIN_SOLUTION.match(line)
        if begin:
            if inside:
                raise AuthoringError("a BEGIN SOLUTION inside another")
            inside = True
            if begin.group(2):
                continue
            line = begin.group(1) + BLOCK_PROMPT
        for pattern, keep in ((SOLUTION_ASSIGNMENT, " ..."), (SOLUTION_LINE, "...")):
            match = pattern.match(line)
            if match:
                line = match.group(1) + keep
                break
        stripped.append(line)
    if inside:
        raise AuthoringError("BEGIN SOLUTION without END SOLUTION")
    return "\n".join(stripped)

