"""Grades out of the gradebook, in the formats LMSs read.

* a CSV gradebook: one row per student, a column per question, the total;
* a Canvas gradebook import CSV: Student, ID, SIS User ID, SIS Login ID, Section, then one column
  for the assignment (names and ids from a Canvas gradebook export given as the roster).

Gradescope's formats are in `gradescope.py`.

Every cell of text (student ids and names from folders, files or the Canvas roster, sections,
diagnoses, paths, comments) is made harmless for whoever opens the file (`text_cell`): its control
characters written out (`safe_text.for_terminal`: a TA's `cat` of the file, a lone surrogate that
no UTF-8 file can hold) and, starting like a formula, shown as text (`safe_text.for_spreadsheet`:
`=HYPERLINK(...)`, `+cmd`, `-1+1`, `@SUM(1)` get a leading `'`).  Scores stay numbers (`_number`).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from tensorgrade.classroom.gradebook import GradebookEntry
from tensorgrade.grading.results import SubmissionResult
from tensorgrade.safe_text import for_spreadsheet, for_terminal

CANVAS_FIXED_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]


# ---------------------------------------------------------------------------------------------
# CSV gradebook
# ---------------------------------------------------------------------------------------------

def question_ids(results: list[SubmissionResult]) -> list[str]:
    """Questions in the order the checks list them (results of invalid files have no checks)."""
    seen: dict[str, None] = {}
    for result in results:
        for check in result.checks:
            seen.setdefault(check.question, None)
    return list(seen)


def override_summary(result: SubmissionResult) -> str:
    notes = []
    for check in result.checks:
        override = check.details.get("override")
        if override:
            note = f"{check.id}={override['points']:g} (was {override['autograder_points']:g})"
            notes.append(note + (f": {override['comment']}" if override["comment"] else ""))
    return "; ".join(notes)


def gradebook_csv(entries: list[GradebookEntry]) -> str:
    from tensorgrade.classroom.batch import main_diagnosis

    questions = question_ids([entry.result for entry in entries])
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["student", "lms_id", "status", *questions, "total", "max_score", "late", "overrides",
                     "diagnosis", "submission", "sha256", "version", "graded_at"])
    for entry in entries:
        result = entry.result
        scores = result.question_scores()
        # A grader error has no score yet (blank, never 0): it is the grader's to regrade.
        points = ["" for _ in questions] + [""] if result.status == "error" else [
            *(_number(scores.get(q, 0.0)) for q in questions), _number(result.score)]
        writer.writerow([*map(text_cell, (entry.student, entry.lms_id or "", result.status)), *points,
                         _number(result.max_score),
                         *map(text_cell, ("yes" if entry.late else "", override_summary(result), main_diagnosis(result),
                                          entry.submission, entry.content_hash, entry.version, entry.graded_at))])
    return out.getvalue()


def _number(value: float) -> str:
    """A score's cell: a number as a spreadsheet reads it (never through `text_cell`)."""
    return f"{value:g}"


def text_cell(value) -> str:
    """A cell of text for a CSV a person opens: no control character, no formula (see the top)."""
    return for_spreadsheet(for_terminal(value))


# ---------------------------------------------------------------------------------------------
# Canvas
# ---------------------------------------------------------------------------------------------

@dataclass
class RosterRow:
    student: str  # as Canvas shows it: "Last, First"
    canvas_id: str
    sis_user_id: str
    sis_login_id: str
    section: str


def read_canvas_roster(path: Path) -> list[RosterRow]:
    """The students of a Canvas gradebook export (its "Points Possible" and test-student rows skipped)."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in CANVAS_FIXED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: not a Canvas gradebook export: no column(s) {', '.join(missing)}")
        rows = []
        for raw in reader:
            name = (raw["Student"] or "").strip()
            if not name or name == "Points Possible" or name.lower() == "student, test":
                continue
            rows.append(RosterRow(name, (raw["ID"] or "").strip(), (raw["SIS User ID"] or "").strip(),
                                  (raw["SIS Login ID"] or "").strip(), (raw["Section"] or "").strip()))
        return rows


def canvas_sortable_key(name: str) -> str:
    """"Last, First" as Canvas writes it in submission file names: lower case, letters and digits."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _roster_match(entry: GradebookEntry, roster: list[RosterRow]) -> RosterRow | None:
    for row in roster:
        if entry.lms_id and row.canvas_id == entry.lms_id:
            return row
    for row in roster:
        if entry.student in (row.sis_login_id, row.sis_user_id) and entry.student:
            return row
    matches = [row for row in roster if canvas_sortable_key(row.student) == entry.student]
    return matches[0] if len(matches) == 1 else None


def canvas_csv(entries: list[GradebookEntry], column: str, roster: list[RosterRow] | None = None
               ) -> tuple[str, list[str]]:
    """The Canvas import CSV and warnings (students not in the roster, grader errors left blank)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*CANVAS_FIXED_COLUMNS, text_cell(column)])
    max_score = max((entry.result.max_score for entry in entries), default=0.0)
    # Canvas's own exports carry this row; its importer reads it as the column's points, not a student.
    writer.writerow(["Points Possible", "", "", "", "", _number(max_score)])
    warnings = []
    for entry in entries:
        row = _roster_match(entry, roster) if roster else None
        if roster and row is None:  # (the command prints warnings through safe_text)
            warnings.append(f"{entry.student}: not found in the roster (by Canvas ID, SIS id or name); "
                            "written with the ids the submission gave")
        if entry.result.status == "error":
            warnings.append(f"{entry.student}: grader error, left blank in Canvas: regrade it")
        awaiting = [c.id for c in entry.result.checks if c.status == "manual"]
        if awaiting and entry.result.status != "error":
            warnings.append(f"{entry.student}: {', '.join(awaiting)} awaiting a TA's grade (`tensorgrade override`): "
                            "the score written leaves them out")
        points = "" if entry.result.status == "error" else _number(entry.result.score)
        if row:
            cells = [row.student, row.canvas_id, row.sis_user_id, row.sis_login_id, row.section]
        else:
            cells = [entry.student, entry.lms_id or "", "", entry.student if not entry.lms_id else "", ""]
        writer.writerow([*map(text_cell, cells), points])
    return out.getvalue(), warnings
