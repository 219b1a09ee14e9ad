"""Assert-style tests in the vocabulary (what the nbgrader and otter-grader importers write).

    asserts("q1.test_add", '''
    assert add(1, 2) == 3
    assert np.allclose(scale(np.ones(3), 2), [2, 2, 2])
    ''', points=2)

The test's assertions are lifted where they can be (checking/outside/assertion_judges.py): the
student's values come out of the sandbox as data and the comparison is made here; the rest of the
test runs inside as the original would, and the verdict marks what was decided inside. A test in a
`hidden-checks` cell never shows its lines in a message.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
import textwrap

from tensorgrade.checking.checks import Check
from tensorgrade.checking.outside.assertion_judges import judge_assertions, plan
from tensorgrade.checking.vocabulary import declare

__all__ = ["asserts"]

VISIBILITY = "__tensorgrade_visibility__"  # set by the loader in the namespace of a checks cell


def asserts(check_id: str, code: str, *, points: float = 1, description: str = "",
            timeout: float | None = None) -> Check:
    """A test of assertions worth `points` when every one holds, as in nbgrader and otter-grader."""
    code = textwrap.dedent(code).strip("\n") + "\n"
    try:
        steps = plan(code)
    except SyntaxError as exc:
        raise ValueError(f"{check_id}: the test is not valid Python (line {exc.lineno}: {exc.msg})") from None
    hidden = sys._getframe(1).f_globals.get(VISIBILITY) == "hidden"
    judge = functools.partial(judge_assertions, code=code, hidden=hidden)
    return declare(check_id, "None", "probe_assertions", judge, points=points, description=description,
                   timeout=timeout, options={"steps": [dataclasses.asdict(s) for s in steps], "_check": check_id},
                   depth=2)
