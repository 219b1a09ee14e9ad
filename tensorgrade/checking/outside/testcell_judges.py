"""nbgrader-style test cells, outside the sandbox: verdicts from what `run_test_cell` observed
(`checking/inside/testcell_probe.py`), marked as decided inside the student's process."""

from __future__ import annotations

from tensorgrade.checking.outside.judging import Verdict, failed, passed


def judge_visible_test(case) -> Verdict:
    """A public test: its code is in the release, so the failing line may be shown."""
    outcome = case.student
    if outcome.get("passed") is True:
        return passed("every assertion of the test cell holds")
    where = f" at line {outcome['lineno']}: `{outcome['line']}`" if outcome.get("line") else ""
    detail = f": {outcome['message']}" if outcome.get("message") else ""
    return failed(f"the test cell's assertion failed{where}{detail}")


def judge_hidden_test(case) -> Verdict:
    """A hidden test: the failing line is hidden test code, so only the assertion's message is shown."""
    outcome = case.student
    if outcome.get("passed") is True:
        return passed("every assertion of the hidden test cell holds")
    detail = f": {outcome['message']}" if outcome.get("message") else ""
    return failed(f"an assertion of the hidden test cell failed{detail}")
