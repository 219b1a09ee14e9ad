"""The result of grading one submission: what `--json` writes and the gradebook stores.

Documented in README.md ("The result object").  Plain dataclasses, JSON in and out.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

STATUSES = ("graded", "invalid", "error")
CHECK_STATUSES = ("passed", "failed", "error", "timeout", "manual")  # manual: awaiting a TA's grade
CELL_STATUSES = ("ok", "error", "timeout", "skipped")


@dataclass
class CheckResult:
    id: str
    question: str
    points: float
    max_points: float
    status: str  # passed | failed | error | timeout | manual (awaiting a TA's grade: vocabulary_manual)
    message: str
    diagnosis: str | None
    visibility: str  # public | hidden
    details: dict[str, Any] = field(default_factory=dict)  # for reports; never shown for hidden checks


@dataclass
class CellResult:
    index: int  # position among all the notebook's cells, from 0
    status: str  # ok | error | timeout | skipped
    error: str | None = None
    seconds: float = 0.0
    output: str = ""


@dataclass
class SubmissionResult:
    submission: str
    assignment: str
    version: str
    status: str  # graded | invalid (the file cannot be graded) | error (the grader failed: regrade)
    error: str | None = None
    score: float = 0.0
    max_score: float = 0.0
    checks: list[CheckResult] = field(default_factory=list)
    cells: list[CellResult] = field(default_factory=list)
    integrity: list[str] = field(default_factory=list)
    isolation: dict[str, dict] = field(default_factory=dict)
    timing: dict[str, float] = field(default_factory=dict)
    student: str | None = None

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "SubmissionResult":
        data = dict(data)
        data["checks"] = [CheckResult(**c) for c in data.get("checks", [])]
        data["cells"] = [CellResult(**c) for c in data.get("cells", [])]
        return cls(**data)

    def question_scores(self) -> dict[str, float]:
        scores: dict[str, float] = {}
        for check in self.checks:
            scores[check.question] = scores.get(check.question, 0.0) + check.points
        return scores
