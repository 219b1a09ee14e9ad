"""Manually graded questions in the vocabulary: written answers, plots, free-form code a TA reads.

    manual("q3.explanation", points=2, description="explain why the loss oscillates")

Such a check runs no student code (its probe returns nothing and reads nothing) and its points
count in the assignment's maximum, as nbgrader's manually graded cells and tasks and otter's manual
questions do. Its result has the status "manual": every report and export shows it as awaiting a
TA's grade, worth 0 until `tensorgrade override` gives it points (classroom/gradebook.py).
"""

from __future__ import annotations

from tensorgrade.checking.checks import Check
from tensorgrade.checking.outside.judging import JudgeCase, Verdict
from tensorgrade.checking.vocabulary import declare

__all__ = ["manual"]

MANUAL_PROBE = "probe_manual"  # how the grader tells a manual check (grading/grader.py judge_probe)
AWAITING = "awaiting a TA's grade"


def judge_manual(case: JudgeCase) -> Verdict:
    """Grading never uses it (judge_probe answers "manual" first). It holds for any output, so that a
    known mistake is never said to show on a question only a TA grades (grader.silent_mistakes)."""
    return Verdict(True, AWAITING, details={"manual": True})


def manual(check_id: str, *, points: float, description: str = "", blank: str | None = None,
           nbgrader_cell: str | None = None) -> Check:
    """A question (or part) graded by hand, worth `points`: "awaiting a TA's grade" until overridden.

    With `blank` (the template's text of the answer cell), an answer left exactly as released gets 0
    without a TA, as nbgrader does with an unchanged manually graded cell; the answer cell is the one
    the release marks with the question, or (a notebook nbgrader released) the cell `nbgrader_cell`."""
    if isinstance(points, bool) or not isinstance(points, (int, float)) or points < 0:
        raise ValueError(f"{check_id}: a manual question's points must be a number >= 0, got {points!r}")
    options = {"_blank": blank, "_nbgrader_cell": nbgrader_cell} if blank is not None else {}
    return declare(check_id, "None", MANUAL_PROBE, judge_manual, points=points, description=description,
                   resembles=None, options=options, depth=2)


def left_blank(check_id: str, inputs: dict, cells: list) -> bool:
    """Whether the submission's answer cell(s) for this manual check are the template's, unchanged
    (`cells`: the submission's nbformat cells). No such cell found: not blank (the TA decides)."""
    blank = inputs.get("_blank") if isinstance(inputs, dict) else None
    if blank is None:
        return False
    question = check_id.split(".", 1)[0]
    found = []
    for cell in cells:
        metadata = cell.get("metadata", {}) or {}
        ours, theirs = metadata.get("tensorgrade"), metadata.get("nbgrader")
        if (isinstance(ours, dict) and ours.get("answer") and ours.get("question") == question) or \
                (isinstance(theirs, dict) and inputs.get("_nbgrader_cell") and
                 theirs.get("grade_id") == inputs["_nbgrader_cell"]):
            found.append(cell.get("source", ""))
    return bool(found) and all(_same(source, blank) for source in found)


def _same(source, blank: str) -> bool:
    text = "".join(source) if isinstance(source, list) else str(source)
    return text.strip() == blank.strip()


def is_manual(check: Check | None) -> bool:
    return check is not None and check.probe == MANUAL_PROBE
