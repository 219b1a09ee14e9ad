"""Grading a batch: executors (local workers, a Dask cluster), `run_batch` and its outcome.

`run_batch` grades the submissions whose content or assignment changed since the gradebook last
saw them, writes each result to the gradebook the moment it arrives (one transaction each, so a
killed run loses only what was in flight), and never lets one submission's failure stop the rest.
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

from tensorgrade.course.assignment import Assignment
from tensorgrade.classroom.discovery import Submission
from tensorgrade.classroom.gradebook import Gradebook
from tensorgrade.grading.results import SubmissionResult

GRADER_ERROR = "grader error (not the student's fault, regrade)"


OnResult = Callable[[Path, SubmissionResult], None]


class Executor(Protocol):
    """Grades paths and hands each result to `on_result` in the calling thread, as it completes;
    `restarts` counts the grading workers it replaced meanwhile."""
    restarts: int

    def grade_all(self, paths: list[Path], on_result: OnResult) -> None: ...


@dataclass
class LocalExecutor:
    """Warm sandboxed workers on this machine, `jobs` submissions at a time."""
    assignment: Assignment
    jobs: int
    restarts: int = 0  # workers replaced during the last grade_all (grader failures, unclean slots)

    def grade_all(self, paths: list[Path], on_result: OnResult) -> None:
        from tensorgrade.grading.grader import Grader
        from tensorgrade.sandbox.host.workers import ExecutionError, GraderEnvironmentError

        with Grader(self.assignment, jobs=self.jobs) as grader:
            try:
                # First, before any student: a reference that fails its own checks stops the batch
                # (ReferenceFailure) instead of turning every submission into an error.
                grader.reference
            except GraderEnvironmentError:
                raise
            except ExecutionError:
                pass  # the grader's side failed: each submission is recorded as an error, never a score
            try:
                self._grade_each(grader, paths, on_result)
            finally:
                self.restarts = grader.pool.restarts

    def _grade_each(self, grader, paths: list[Path], on_result: OnResult) -> None:
        with ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="tensorgrade-batch") as pool:
            pending: dict[Future, Path] = {pool.submit(grader.grade, path): path for path in paths}
            try:
                while pending:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        path = pending.pop(future)
                        on_result(path, self._result(future, path))
            except BaseException:
                for future in pending:
                    future.cancel()
                raise

    def _result(self, future: Future, path: Path) -> SubmissionResult:
        try:
            return future.result()
        except Exception as exc:  # a grader bug on one submission must not stop the others
            return SubmissionResult(submission=str(path), assignment=self.assignment.id,
                                    version=self.assignment.version, status="error",
                                    error=f"{GRADER_ERROR}: {type(exc).__name__}: {exc}")


@dataclass
class DaskExecutorAdapter:
    """The Dask cluster's executor behind the same interface: results arrive in the driver."""
    executor: object  # tensorgrade.classroom.cluster.DaskExecutor
    assignment: Assignment

    @property
    def restarts(self) -> int:
        """The sandboxed workers the Dask workers' pools replaced during the last grade_all, as their
        tasks carried them back (a Dask worker that died and its nanny restarted is not counted)."""
        return self.executor.restarts

    def grade_all(self, paths: list[Path], on_result: OnResult) -> None:
        by_name = {str(path): path for path in paths}
        self.executor.grade(paths, on_result=lambda result: on_result(by_name[result.submission], result),
                            assignment_id=self.assignment.id, version=self.assignment.version)


@dataclass
class BatchItem:
    submission: Submission
    result: SubmissionResult | None = None  # None only while the batch runs
    skipped: bool = False  # unchanged since the gradebook's result, not regraded


@dataclass
class BatchOutcome:
    items: list[BatchItem]
    seconds: float = 0.0
    worker_restarts: int = 0  # grading workers replaced: the grader's side failed, or a slot was not clean

    @property
    def graded(self) -> list[BatchItem]:
        return [item for item in self.items if not item.skipped and item.result is not None]

    @property
    def skipped(self) -> list[BatchItem]:
        return [item for item in self.items if item.skipped]

    def status_counts(self) -> Counter:
        return Counter(item.result.status for item in self.items if item.result is not None)


class BatchListener(Protocol):
    """What a display learns from a batch (a progress bar, a log)."""

    def started(self, to_grade: int, skipped: int) -> None: ...

    def finished_one(self, item: BatchItem) -> None: ...


def relabel(result: SubmissionResult, submission: Submission) -> SubmissionResult:
    """The result names the file as the TA knows it (not a temporary copy) and the student."""
    if str(submission.path) != submission.label:
        if result.error:
            result.error = result.error.replace(str(submission.path), submission.label)
        result.submission = submission.label
    result.student = submission.student
    return result


def run_batch(assignment: Assignment, submissions: list[Submission], executor: Executor,
              gradebook: Gradebook | None = None, force: bool = False,
              listener: BatchListener | None = None) -> BatchOutcome:
    """Grade what changed; record each result in the gradebook as it completes."""
    started = time.perf_counter()
    fingerprint = assignment.fingerprint()
    items = [BatchItem(submission) for submission in submissions]
    to_grade: list[BatchItem] = []
    for item in items:
        stored = None if force or gradebook is None else gradebook.unchanged_result(
            assignment.id, item.submission.student, item.submission.content_hash, assignment.version, fingerprint)
        if stored is not None:
            item.result, item.skipped = stored, True
        else:
            to_grade.append(item)
    if listener:
        listener.started(len(to_grade), len(items) - len(to_grade))
    by_path = {item.submission.path: item for item in to_grade}

    def on_result(path: Path, result: SubmissionResult) -> None:
        item = by_path[path]
        result = relabel(result, item.submission)
        if gradebook is not None:
            submission = item.submission
            gradebook.record(result, student=submission.student, content_hash=submission.content_hash,
                             fingerprint=fingerprint, lms_id=submission.lms_id, late=submission.late)
            result = gradebook.with_overrides(assignment.id, submission.student, result)
        item.result = result
        if listener:
            listener.finished_one(item)

    for item in [item for item in to_grade if item.submission.refused]:
        on_result(item.submission.path, SubmissionResult(
            submission=str(item.submission.path), assignment=assignment.id, version=assignment.version,
            status="invalid", max_score=assignment.max_score,
            error=f"{item.submission.path}: {item.submission.refused}"))
    to_grade = [item for item in to_grade if not item.submission.refused]
    if to_grade:
        executor.grade_all([item.submission.path for item in to_grade], on_result)
    return BatchOutcome(items, seconds=time.perf_counter() - started,
                        worker_restarts=executor.restarts)


def _without_manual(result: SubmissionResult) -> SubmissionResult:
    kept = SubmissionResult.from_json(result.to_json())
    kept.checks = [check for check in kept.checks if check.status != "manual"]
    return kept


def main_diagnosis(result: SubmissionResult) -> str:
    """One line for the summary table: why this submission lost points, or failed to grade."""
    if result.status != "graded":
        return (result.error or result.status).strip().splitlines()[0]
    awaiting = [check.id for check in result.checks if check.status == "manual"]
    waiting = f"awaiting a TA's grade: {', '.join(awaiting)}" if awaiting else ""
    lost = [check for check in result.checks if check.points < check.max_points and check.status != "manual"]
    if not lost:
        return waiting
    if waiting:
        return f"{waiting}; {main_diagnosis(_without_manual(result))}"
    diagnoses = Counter(check.diagnosis for check in lost if check.diagnosis)
    if diagnoses:
        name, count = diagnoses.most_common(1)[0]
        others = len(lost) - count
        return f"{name} ({count} check{'s' if count > 1 else ''})" + (f", +{others} other" if others else "")
    first = lost[0]  # the summary is the TA's: hidden checks' messages are shown too
    message = (first.message or first.status).strip().splitlines()[0]
    return f"{first.id}: {message}" + (f", +{len(lost) - 1} other" if len(lost) > 1 else "")
