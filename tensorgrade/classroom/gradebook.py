"""The gradebook: every grading of every submission, and the TA's overrides, in one SQLite file.

Each grading is written in its own transaction the moment it completes, so a batch killed at any
point (even SIGKILL) keeps everything it finished and nothing half-written; a rerun skips each
student whose latest grading was of the same file content (sha256), the same assignment version
and the same assignment fingerprint (spec, checks, probes, solution, mistakes), unless it was a
grader error.  Gradings are never updated or deleted: a regrade appends a row, and the latest row
per student is the grade.  Overrides live in their own table, keyed by student and check, and are
applied when results are read, so they survive regrades.

WAL mode lets readers (reports, exports) run while a batch writes; the busy timeout makes a second
writer (an `override` during a batch) wait instead of failing.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from tensorgrade.grading.results import SubmissionResult

SCHEMA_VERSION = "1"
BUSY_TIMEOUT_MS = 30_000

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS gradings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    assignment TEXT NOT NULL,
    student TEXT NOT NULL,
    submission TEXT NOT NULL,        -- the file graded, as the TA named it (or archive.zip:member)
    content_hash TEXT NOT NULL,      -- sha256 of the file's bytes
    version TEXT NOT NULL,           -- the assignment's version
    fingerprint TEXT NOT NULL,       -- the assignment's content fingerprint
    status TEXT NOT NULL,            -- graded | invalid | error
    score REAL NOT NULL,
    max_score REAL NOT NULL,
    error TEXT,
    lms_id TEXT,
    late INTEGER NOT NULL DEFAULT 0,
    seconds REAL,
    graded_at TEXT NOT NULL,         -- UTC, ISO 8601
    result_json TEXT NOT NULL        -- the whole SubmissionResult, as `grade --json` writes it
);
CREATE INDEX IF NOT EXISTS gradings_by_student ON gradings (assignment, student, id);
CREATE TABLE IF NOT EXISTS check_results (
    grading_id INTEGER NOT NULL REFERENCES gradings (id),
    check_id TEXT NOT NULL,
    question TEXT NOT NULL,
    points REAL NOT NULL,
    max_points REAL NOT NULL,
    status TEXT NOT NULL,
    diagnosis TEXT,
    visibility TEXT NOT NULL,
    message TEXT,
    PRIMARY KEY (grading_id, check_id)
);
CREATE TABLE IF NOT EXISTS integrity_findings (
    grading_id INTEGER NOT NULL REFERENCES gradings (id),
    position INTEGER NOT NULL,
    finding TEXT NOT NULL,
    PRIMARY KEY (grading_id, position)
);
CREATE TABLE IF NOT EXISTS overrides (
    assignment TEXT NOT NULL,
    student TEXT NOT NULL,
    check_id TEXT NOT NULL,
    points REAL NOT NULL,
    comment TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (assignment, student, check_id)
);
"""


class GradebookError(ValueError):
    """A request the gradebook cannot honour; the message says what to do instead."""


@dataclass
class Override:
    assignment: str
    student: str
    check: str
    points: float
    comment: str
    created_at: str


@dataclass
class GradebookEntry:
    """A student's current grade for one assignment: the latest grading, overrides applied."""
    grading_id: int
    student: str
    result: SubmissionResult
    submission: str
    content_hash: str
    version: str
    fingerprint: str
    lms_id: str | None
    late: bool
    graded_at: str
    overrides: list[Override] = field(default_factory=list)  # applied ones, and any whose check is gone


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def apply_overrides(result: SubmissionResult, overrides: list[Override]) -> SubmissionResult:
    """A copy of `result` with each override's points in place of the autograder's (and the status
    they imply), marked in the check's `details["override"]` (points, autograder_points,
    autograder_status, comment, at) and a "TA override" line of its message; the score recomputed."""
    result = SubmissionResult.from_json(result.to_json())
    by_check = {check.id: check for check in result.checks}
    applied = False
    for override in overrides:
        check = by_check.get(override.check)
        if check is None:
            continue
        check.details = {**check.details, "override": {
            "points": override.points, "autograder_points": check.points, "autograder_status": check.status,
            "comment": override.comment, "at": override.created_at}}
        note = f"TA override: {override.points:g}/{check.max_points:g} points (autograder: {check.points:g})"
        check.message = f"{check.message}\n{note}" + (f": {override.comment}" if override.comment else "")
        check.points = override.points
        # The status follows the points the TA gave, so every view agrees; the autograder's is kept above.
        if override.points >= check.max_points:
            check.status = "passed"
        elif check.status in ("passed", "manual"):  # a manual question graded by the TA: no longer awaiting
            check.status = "failed"
        applied = True
    if applied:
        result.score = round(sum(check.points for check in result.checks), 6)
    return result


SQLITE_HEADER = b"SQLite format 3\x00"
JSON_READ_LIMIT = 64 * 1024 * 1024


def _sqlite_tables(path: Path) -> list[str] | None:
    """The tables of an SQLite file, read without writing to it; None if it cannot be read as one."""
    try:
        db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            return sorted(row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))
        finally:
            db.close()
    except sqlite3.Error:
        return None


def describe_file(path: Path | str) -> str:
    """What a file is, in words, for a TA who gave the wrong one: "a CSV file (first line: ...)",
    "a results file from `tensorgrade grade --json` (31 results)", "an SQLite database, but not a
    gradebook", ...  Reads an SQLite file's table names, and at most the first 64 MiB of others."""
    path = Path(path)
    if not path.exists():
        return "no such file"
    if path.is_dir():
        return "a folder"
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(SQLITE_HEADER))
            if head and head != SQLITE_HEADER:
                head += handle.read(JSON_READ_LIMIT)
    except OSError as exc:
        return f"a file that cannot be read ({exc.strerror or type(exc).__name__})"
    if not head:
        return "an empty file"
    if head == SQLITE_HEADER:
        tables = _sqlite_tables(path)
        if tables is None:
            return "an SQLite database that cannot be read (damaged?)"
        if "gradings" in tables and "meta" in tables:
            return "a gradebook"
        return ("an SQLite database of another kind (its tables: " + (", ".join(tables[:8]) or "none")
                + "; a gradebook's are gradings, check_results, overrides, ...)")
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "a zip archive"
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = None
    if text is None or "\x00" in text[:4096]:
        return f"a binary file, not SQLite (it starts with {head[:16]!r})"
    stripped = text.lstrip()
    if stripped[:1] in ("[", "{") and len(head) <= JSON_READ_LIMIT:
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if data is not None:
            return _describe_json(data)
    first = stripped.splitlines()[0][:120] if stripped else ""
    if "," in first or "\t" in first:
        return f"a CSV file (first line: {first!r})"
    return f"a text file (first line: {first!r})"


def _describe_json(data) -> str:
    results = data if isinstance(data, list) else [data]
    if results and all(isinstance(r, dict) and {"assignment", "status", "checks"} <= set(r) for r in results):
        ids = sorted({str(r["assignment"]) for r in results})
        return (f"a results file from `tensorgrade grade --json` ({len(results)} result(s) of "
                f"{', '.join(ids)})")
    if isinstance(data, dict) and "tests" in data and ("score" in data or "output" in data):
        return "a Gradescope results.json"
    if isinstance(data, dict) and ("cells" in data or "nbformat" in data):
        return "a Jupyter notebook"
    return "a JSON file"


def results_file_assignments(path: Path | str) -> list[str] | None:
    """The assignment ids in a `grade --json` results file, or None if the file is not one."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):
        return None
    results = data if isinstance(data, list) else [data]
    if not all(isinstance(r, dict) and {"assignment", "status", "checks"} <= set(r) for r in results):
        return None
    return sorted({str(r["assignment"]) for r in results})


class Gradebook:
    def __init__(self, path: Path | str, create: bool = True):
        """Open the gradebook at `path`; with `create` (grading), a missing or empty file becomes a new
        gradebook.  Anything that is not a gradebook (a results JSON, a CSV, another program's SQLite
        database) is a GradebookError naming the file and what it is: it is never written to."""
        self.path = Path(path)
        what = describe_file(self.path)
        if what != "a gradebook" and not (create and what in ("no such file", "an empty file")):
            if what == "no such file":
                raise GradebookError(f"{self.path}: no such gradebook (`tensorgrade grade ... --gradebook "
                                     f"{self.path}` makes one)")
            raise GradebookError(f"{self.path} is {what}, not a gradebook (the SQLite file that "
                                 "`tensorgrade grade ... --gradebook grades.db` writes)")
        # One connection, shared by threads behind a lock: writes come from the batch's driver thread,
        # but a caller may read from another.
        self._lock = threading.RLock()
        try:
            self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                       check_same_thread=False)
            self._open()
        except sqlite3.DatabaseError as exc:
            raise GradebookError(f"{self.path}: the gradebook cannot be opened: {exc}") from None

    def _open(self) -> None:
        self._db.row_factory = sqlite3.Row
        self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self._db.execute("PRAGMA journal_mode = WAL")
        # FULL (the default) fsyncs each commit: a stored result survives a power cut, not only a kill.
        self._db.execute("PRAGMA synchronous = FULL")
        self._db.execute("PRAGMA foreign_keys = ON")
        with self._transaction():
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    self._db.execute(statement)
            row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is None:
                self._db.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
            elif row[0] != SCHEMA_VERSION:
                raise GradebookError(f"{self.path}: gradebook schema version {row[0]}, this tensorgrade "
                                     f"reads version {SCHEMA_VERSION}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> "Gradebook":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._lock:
            # IMMEDIATE takes the write lock up front, so a second writer waits (busy timeout) at
            # BEGIN instead of failing halfway through.
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # --- writing -------------------------------------------------------------------------------

    def record(self, result: SubmissionResult, *, student: str, content_hash: str, fingerprint: str,
               lms_id: str | None = None, late: bool = False) -> int:
        """Store one grading, whole or not at all; returns its id."""
        data = result.to_json() | {"student": student}
        with self._transaction():
            cursor = self._db.execute(
                "INSERT INTO gradings (assignment, student, submission, content_hash, version, fingerprint, status, "
                "score, max_score, error, lms_id, late, seconds, graded_at, result_json) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (result.assignment, student, result.submission, content_hash, result.version, fingerprint,
                 result.status, result.score, result.max_score, result.error, lms_id, int(late),
                 result.timing.get("total"), _now(), json.dumps(data)))
            grading_id = cursor.lastrowid
            self._db.executemany(
                "INSERT INTO check_results (grading_id, check_id, question, points, max_points, status, diagnosis, "
                "visibility, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(grading_id, c.id, c.question, c.points, c.max_points, c.status, c.diagnosis, c.visibility,
                  c.message) for c in result.checks])
            self._db.executemany("INSERT INTO integrity_findings (grading_id, position, finding) VALUES (?, ?, ?)",
                                 [(grading_id, i, finding) for i, finding in enumerate(result.integrity)])
        return grading_id

    def set_override(self, student: str, check: str, points: float, comment: str = "",
                     assignment: str | None = None) -> Override:
        """Replace the autograder's points for one check of one student's grade, now and after regrades."""
        assignment = assignment or self._assignment_of(student, check)
        latest = self._latest_row(assignment, student)
        if latest is None:
            raise GradebookError(f"{student} has no grading for {assignment} in {self.path}: grade first")
        result = SubmissionResult.from_json(json.loads(latest["result_json"]))
        target = next((c for c in result.checks if c.id == check), None)
        if target is None:
            known = ", ".join(c.id for c in result.checks) or f"none: the submission is {result.status}"
            raise GradebookError(f"{student}'s grading of {assignment} has no check {check!r} (checks: {known})")
        if not 0 <= points <= target.max_points:
            raise GradebookError(f"{check} is worth {target.max_points:g} point(s): an override must be between "
                                 f"0 and {target.max_points:g}, got {points:g}")
        override = Override(assignment, student, check, float(points), comment, _now())
        with self._transaction():
            self._db.execute(
                "INSERT INTO overrides (assignment, student, check_id, points, comment, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (assignment, student, check_id) DO UPDATE SET "
                "points = excluded.points, comment = excluded.comment, created_at = excluded.created_at",
                (assignment, student, check, override.points, comment, override.created_at))
        return override

    def remove_override(self, student: str, check: str, assignment: str | None = None) -> bool:
        assignment = assignment or self._assignment_of(student, check)
        with self._transaction():
            cursor = self._db.execute("DELETE FROM overrides WHERE assignment = ? AND student = ? AND check_id = ?",
                                      (assignment, student, check))
        return cursor.rowcount > 0

    def _assignment_of(self, student: str, check: str) -> str:
        """The one assignment in which `student` was graded on `check`; ambiguity is an error."""
        with self._lock:
            rows = self._db.execute(
                "SELECT DISTINCT g.assignment FROM gradings g JOIN check_results c ON c.grading_id = g.id "
                "WHERE g.student = ? AND c.check_id = ?", (student, check)).fetchall()
            if not rows:
                rows = self._db.execute("SELECT DISTINCT assignment FROM gradings WHERE student = ?",
                                        (student,)).fetchall()
        names = sorted(row[0] for row in rows)
        if len(names) == 1:
            return names[0]
        if not names:
            raise GradebookError(f"no grading of student {student!r} in {self.path}")
        raise GradebookError(f"{student} was graded in {', '.join(names)}: name one with --assignment")

    # --- reading -------------------------------------------------------------------------------

    def _latest_row(self, assignment: str, student: str) -> sqlite3.Row | None:
        with self._lock:
            return self._db.execute("SELECT * FROM gradings WHERE assignment = ? AND student = ? "
                                    "ORDER BY id DESC LIMIT 1", (assignment, student)).fetchone()

    def overrides(self, assignment: str, student: str | None = None) -> list[Override]:
        query = "SELECT * FROM overrides WHERE assignment = ?" + (" AND student = ?" if student else "")
        with self._lock:
            rows = self._db.execute(query + " ORDER BY student, check_id",
                                    (assignment, student) if student else (assignment,)).fetchall()
        return [Override(row["assignment"], row["student"], row["check_id"], row["points"], row["comment"],
                         row["created_at"]) for row in rows]

    def with_overrides(self, assignment: str, student: str, result: SubmissionResult) -> SubmissionResult:
        return apply_overrides(result, self.overrides(assignment, student))

    def unchanged_result(self, assignment: str, student: str, content_hash: str, version: str,
                         fingerprint: str) -> SubmissionResult | None:
        """The stored result if the student's latest grading was of this very file and assignment,
        and not a grader error (those are regraded); otherwise None."""
        row = self._latest_row(assignment, student)
        if (row is None or row["status"] == "error" or row["content_hash"] != content_hash
                or row["version"] != version or row["fingerprint"] != fingerprint):
            return None
        return self.with_overrides(assignment, student, self._result(row))

    @staticmethod
    def _result(row: sqlite3.Row) -> SubmissionResult:
        result = SubmissionResult.from_json(json.loads(row["result_json"]))
        result.student = row["student"]
        return result

    def entries(self, assignment: str) -> list[GradebookEntry]:
        """Every student's current grade for `assignment`, by student id."""
        with self._lock:
            rows = self._db.execute(
                "SELECT g.* FROM gradings g JOIN (SELECT student, MAX(id) AS id FROM gradings WHERE assignment = ? "
                "GROUP BY student) latest ON latest.id = g.id ORDER BY g.student", (assignment,)).fetchall()
        overrides: dict[str, list[Override]] = {}
        for override in self.overrides(assignment):
            overrides.setdefault(override.student, []).append(override)
        return [GradebookEntry(grading_id=row["id"], student=row["student"],
                               result=apply_overrides(self._result(row), overrides.get(row["student"], [])),
                               submission=row["submission"], content_hash=row["content_hash"],
                               version=row["version"], fingerprint=row["fingerprint"], lms_id=row["lms_id"],
                               late=bool(row["late"]), graded_at=row["graded_at"],
                               overrides=overrides.get(row["student"], []))
                for row in rows]

    def results(self, assignment: str) -> list[tuple[str, SubmissionResult]]:
        """(student id, result with overrides applied and marked) for every student, by student id."""
        return [(entry.student, entry.result) for entry in self.entries(assignment)]

    def assignments(self) -> list[str]:
        with self._lock:
            return [row[0] for row in self._db.execute("SELECT DISTINCT assignment FROM gradings ORDER BY 1")]

    def grading_count(self, assignment: str, student: str | None = None) -> int:
        """How many gradings were stored (regrades included): each is one grading event."""
        query = "SELECT COUNT(*) FROM gradings WHERE assignment = ?" + (" AND student = ?" if student else "")
        with self._lock:
            return self._db.execute(query, (assignment, student) if student else (assignment,)).fetchone()[0]
