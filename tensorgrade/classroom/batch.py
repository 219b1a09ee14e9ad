"""Batch grading for TAs: find every student's notebook, grade what changed, record each result at once.

    submissions/<student>/*.ipynb      one folder per student (any depth below it)
    submissions/<student>.ipynb        flat files, the file name is the student
    submissions.zip                    an LMS download: either layout, or Canvas-style flat names
                                       `lastfirst_[LATE_]<user id>_<submission id>_<file>.ipynb`

A student with two notebooks is a warning naming both files; the newest (by modification time) is
graded and the warning says so.  A zip is extracted into a private temporary folder only after every
member was checked (no absolute paths, no `..`, no links, caps on member count, sizes and compression
ratio); an archive that fails a check is refused whole, with the reason.

`run_batch` grades the submissions whose content or assignment changed since the gradebook last
saw them, writes each result to the gradebook the moment it arrives (one transaction each, so a
killed run loses only what was in flight), and never lets one submission's failure stop the rest.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import tempfile
import time
import zipfile
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Callable, Iterable, Protocol

from tensorgrade.course.assignment import Assignment
from tensorgrade.classroom.gradebook import Gradebook
from tensorgrade.grading.results import SubmissionResult

NOTEBOOK_SUFFIX = ".ipynb"
# Folders that editors and archivers add beside real work; never a submission.
IGNORED_FOLDERS = {".ipynb_checkpoints", "__MACOSX", "__pycache__"}
# Canvas "Download submissions": <sortable name, lower case, no spaces>_[LATE_]<user id>_<submission id>_<file>
CANVAS_NAME = re.compile(r"^(?P<name>[^_]+)_(?:(?P<late>LATE)_)?(?P<user_id>\d+)_(?P<submission_id>\d+)_(?P<file>.+)$")
GRADER_ERROR = "grader error (not the student's fault, regrade)"


class UnsafeArchive(ValueError):
    """A submissions archive refused whole: the message says which member and why."""


@dataclass(frozen=True)
class ArchiveLimits:
    """Caps against zip bombs; a class's download of notebooks is far below each of them."""
    max_members: int = 20_000
    max_member_bytes: int = 200 * 1024 * 1024
    max_total_bytes: int = 4 * 1024 * 1024 * 1024
    # Notebooks compress 3-10x; a member that inflates far more than that is built to.
    max_ratio: float = 200.0
    ratio_applies_above_bytes: int = 1024 * 1024


@dataclass
class Submission:
    student: str
    path: Path  # the file graded: the student's notebook, or its extracted copy for a zip member
    label: str  # what the TA sees and the gradebook stores: the path, or `archive.zip:member`
    content_hash: str  # sha256 of the file's bytes
    lms_id: str | None = None  # the LMS's user id (Canvas), for LMS exports
    late: bool = False  # the LMS marked it late
    refused: str | None = None  # why the file is not read at all (it is recorded as invalid)


@dataclass
class Discovery:
    submissions: list[Submission]
    warnings: list[str] = field(default_factory=list)
    layout: str = ""  # how student ids were derived, for the TA
    ignored: list[str] = field(default_factory=list)  # files that are not notebooks


@dataclass
class _Candidate:
    student: str
    path: Path
    label: str
    mtime: float
    lms_id: str | None = None
    late: bool = False
    refused: str | None = None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _ignored(relative: PurePosixPath) -> bool:
    return any(part in IGNORED_FOLDERS or part.startswith(".") for part in relative.parts)


def discover_folder(root: Path, label_prefix: str | None = None) -> Discovery:
    """Every student's notebook under `root`; `label_prefix` names the archive it was extracted from."""
    root = Path(root)
    candidates: list[_Candidate] = []
    ignored: list[str] = []
    layouts: set[str] = set()
    for path in sorted(root.rglob("*")):
        relative = PurePosixPath(path.relative_to(root).as_posix())
        # A link is never followed: a submission folder that came from students (a repository, a
        # shared drive) may link to the grader's files, or to another student's notebook.
        link = path.is_symlink()
        if not (link or path.is_file()) or _ignored(relative):
            continue
        label = f"{label_prefix}:{relative}" if label_prefix else str(path)
        if path.suffix != NOTEBOOK_SUFFIX:
            ignored.append(label)
            continue
        mtime = path.lstat().st_mtime
        refused = ("a symbolic link, not a file: links in a submissions folder are not followed (they could point "
                   "to the grader's files or another student's work); submit the notebook itself") if link else None
        if len(relative.parts) > 1:
            layouts.add("one folder per student")
            candidates.append(_Candidate(relative.parts[0], path, label, mtime, refused=refused))
            continue
        canvas = CANVAS_NAME.match(path.name)
        if canvas:
            layouts.add("Canvas file names (name_[LATE_]userid_submissionid_file)")
            candidates.append(_Candidate(canvas["name"], path, label, mtime, lms_id=canvas["user_id"],
                                         late=bool(canvas["late"]), refused=refused))
        else:
            layouts.add("one file per student (file name)")
            candidates.append(_Candidate(path.stem, path, label, mtime, refused=refused))
    _separate_namesakes(candidates)
    by_student: dict[str, list[_Candidate]] = {}
    for candidate in candidates:
        by_student.setdefault(candidate.student, []).append(candidate)
    warnings: list[str] = []
    submissions: list[Submission] = []
    for student in sorted(by_student):
        chosen = _newest(student, by_student[student], warnings)
        content_hash = (hashlib.sha256(os.readlink(chosen.path).encode()).hexdigest() if chosen.refused
                        else sha256_file(chosen.path))
        submissions.append(Submission(student=student, path=chosen.path, label=chosen.label,
                                      content_hash=content_hash, lms_id=chosen.lms_id,
                                      late=chosen.late, refused=chosen.refused))
    return Discovery(submissions, warnings, layout=" + ".join(sorted(layouts)) or "no notebooks", ignored=ignored)


def _separate_namesakes(candidates: list[_Candidate]) -> None:
    """Two Canvas users with the same sortable name are two students: suffix each with their user id."""
    users: dict[str, set[str]] = {}
    for candidate in candidates:
        if candidate.lms_id:
            users.setdefault(candidate.student, set()).add(candidate.lms_id)
    for candidate in candidates:
        if candidate.lms_id and len(users[candidate.student]) > 1:
            candidate.student = f"{candidate.student}_{candidate.lms_id}"


def _newest(student: str, files: list[_Candidate], warnings: list[str]) -> _Candidate:
    if len(files) == 1:
        return files[0]
    ordered = sorted(files, key=lambda c: (c.mtime, c.label))
    chosen = ordered[-1]
    listing = ", ".join(f"{c.label} (modified {datetime.fromtimestamp(c.mtime):%Y-%m-%d %H:%M:%S})" for c in ordered)
    tie = " (same modification time: the last by name)" if ordered[-2].mtime == chosen.mtime else ""
    warnings.append(f"{student}: {len(files)} notebooks: {listing}; grading the newest{tie}, {chosen.label}")
    return chosen


def _member_problem(info: zipfile.ZipInfo, limits: ArchiveLimits) -> str | None:
    name = info.filename.replace("\\", "/")
    parts = PurePosixPath(name).parts
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "has an absolute path"
    if ".." in parts:
        return "would be written outside the extraction folder (`..` in its path)"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "is a symbolic link"
    if info.flag_bits & 0x1:
        return "is encrypted"
    if info.file_size > limits.max_member_bytes:
        return f"is {info.file_size} bytes uncompressed, over the cap of {limits.max_member_bytes}"
    if (info.file_size > limits.ratio_applies_above_bytes
            and info.file_size > limits.max_ratio * max(info.compress_size, 1)):
        return (f"inflates {info.file_size / max(info.compress_size, 1):.0f}x "
                f"({info.compress_size} -> {info.file_size} bytes), over the cap of {limits.max_ratio:g}x")
    return None


def extract_archive(archive: Path, destination: Path, limits: ArchiveLimits = ArchiveLimits()) -> list[str]:
    """Extract the archive's notebooks into `destination`, after checking every member; returns
    the names of members that were not extracted (not notebooks).  Raises UnsafeArchive."""
    archive = Path(archive)
    try:
        bundle = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UnsafeArchive(f"{archive}: not a readable zip archive ({exc})") from None
    with bundle:
        members = bundle.infolist()
        if len(members) > limits.max_members:
            raise UnsafeArchive(f"{archive}: refused: {len(members)} members, over the cap of {limits.max_members}")
        for info in members:
            problem = _member_problem(info, limits)
            if problem:
                raise UnsafeArchive(f"{archive}: refused: member {info.filename!r} {problem}")
        declared = sum(info.file_size for info in members)
        if declared > limits.max_total_bytes:
            raise UnsafeArchive(f"{archive}: refused: {declared} bytes uncompressed in all, over the cap of "
                                f"{limits.max_total_bytes}")
        destination = Path(destination).resolve()
        skipped: list[str] = []
        written = 0
        for info in members:
            relative = PurePosixPath(info.filename.replace("\\", "/"))
            if info.is_dir() or _ignored(relative):
                continue
            if relative.suffix != NOTEBOOK_SUFFIX:
                skipped.append(info.filename)
                continue
            target = (destination / relative).resolve()
            if destination not in target.parents:
                raise UnsafeArchive(f"{archive}: refused: member {info.filename!r} would be written outside "
                                    "the extraction folder")
            target.parent.mkdir(parents=True, exist_ok=True)
            # The header's sizes can lie: count what really comes out and stop at the caps.
            member_bytes = 0
            try:
                with bundle.open(info) as source, open(target, "wb") as sink:
                    for block in iter(lambda: source.read(1 << 20), b""):
                        member_bytes += len(block)
                        written += len(block)
                        if member_bytes > limits.max_member_bytes or member_bytes > info.file_size:
                            raise UnsafeArchive(f"{archive}: refused: member {info.filename!r} inflates beyond "
                                                f"its declared size ({info.file_size} bytes)")
                        if written > limits.max_total_bytes:
                            raise UnsafeArchive(f"{archive}: refused: more than {limits.max_total_bytes} bytes "
                                                "uncompressed in all")
                        sink.write(block)
            except (zipfile.BadZipFile, RuntimeError, EOFError, OSError) as exc:
                raise UnsafeArchive(f"{archive}: refused: member {info.filename!r} cannot be read ({exc})") from None
            # Keep the member's own time: the newest of two notebooks is picked by it.
            modified = time.mktime((*info.date_time, 0, 0, -1))
            os.utime(target, (modified, modified))
        return skipped


class ExtractedArchive:
    """A context manager: the archive's notebooks in a private temporary folder, removed on exit."""

    def __init__(self, archive: Path, limits: ArchiveLimits = ArchiveLimits()):
        self.archive = Path(archive)
        self.limits = limits
        self.folder: Path | None = None

    def __enter__(self) -> Discovery:
        self.folder = Path(tempfile.mkdtemp(prefix="tensorgrade-submissions-"))  # 0700: grader only
        try:
            skipped = extract_archive(self.archive, self.folder, self.limits)
        except BaseException:
            self.__exit__()
            raise
        discovery = discover_folder(self.folder, label_prefix=str(self.archive))
        discovery.ignored = [f"{self.archive}:{name}" for name in skipped] + discovery.ignored
        return discovery

    def __exit__(self, *exc) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


def merge_discoveries(discoveries: Iterable[Discovery]) -> Discovery:
    """Several sources at once (folders, archives, files): a student found in two is a warning too."""
    merged = Discovery(submissions=[])
    seen: dict[str, Submission] = {}
    for discovery in discoveries:
        merged.warnings += discovery.warnings
        merged.ignored += discovery.ignored
        merged.layout = " + ".join(filter(None, sorted({*merged.layout.split(" + "), discovery.layout})))
        for submission in discovery.submissions:
            earlier = seen.get(submission.student)
            if earlier is None:
                seen[submission.student] = submission
                continue
            newer = max((earlier, submission), key=lambda s: (s.path.lstat().st_mtime, s.label))
            merged.warnings.append(f"{submission.student}: 2 notebooks: {earlier.label}, {submission.label}; "
                                   f"grading the newest, {newer.label}")
            seen[submission.student] = newer
    merged.submissions = [seen[student] for student in sorted(seen)]
    return merged


def single_file(path: Path) -> Discovery:
    """A notebook named on the command line: its file name is the student."""
    path = Path(path)
    content_hash = sha256_file(path) if path.is_file() else ""
    return Discovery([Submission(student=path.stem, path=path, label=str(path), content_hash=content_hash)],
                     layout="the file names of the notebooks named")


# ---------------------------------------------------------------------------------------------
# Grading a batch
# ---------------------------------------------------------------------------------------------

OnResult = Callable[[Path, SubmissionResult], None]


class Executor(Protocol):
    """Grades paths and hands each result to `on_result` in the calling thread, as it completes."""

    def grade_all(self, paths: list[Path], on_result: OnResult) -> None: ...


@dataclass
class LocalExecutor:
    """Warm sandboxed workers on this machine, `jobs` submissions at a time."""
    assignment: Assignment
    jobs: int

    def grade_all(self, paths: list[Path], on_result: OnResult) -> None:
        from tensorgrade.grading.grader import Grader

        with Grader(self.assignment, jobs=self.jobs) as grader:
            # First, before any student: a reference that fails its own checks stops the batch
            # (ReferenceFailure) instead of turning every submission into an error.
            grader.reference
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
    return BatchOutcome(items, seconds=time.perf_counter() - started)


def main_diagnosis(result: SubmissionResult) -> str:
    """One line for the summary table: why this submission lost points, or failed to grade."""
    if result.status != "graded":
        return (result.error or result.status).strip().splitlines()[0]
    lost = [check for check in result.checks if check.points < check.max_points]
    if not lost:
        return ""
    diagnoses = Counter(check.diagnosis for check in lost if check.diagnosis)
    if diagnoses:
        name, count = diagnoses.most_common(1)[0]
        others = len(lost) - count
        return f"{name} ({count} check{'s' if count > 1 else ''})" + (f", +{others} other" if others else "")
    first = lost[0]  # the summary is the TA's: hidden checks' messages are shown too
    message = (first.message or first.status).strip().splitlines()[0]
    return f"{first.id}: {message}" + (f", +{len(lost) - 1} other" if len(lost) > 1 else "")


# ---------------------------------------------------------------------------------------------
# What the TA sees: a progress bar while grading, a table at the end
# ---------------------------------------------------------------------------------------------

class RichBatchDisplay:
    """A progress bar with ETA and counts per status, and the running total of failed checks.
    With `details`, each result's check table is printed as it completes."""

    def __init__(self, console, details: bool = False, print_result: Callable | None = None):
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)

        self.console = console
        self.details = details
        self.print_result = print_result
        self.counts: Counter = Counter()
        self.failed_checks = 0
        self.below_full = 0
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(bar_width=20),
                                 MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("ETA"),
                                 TimeRemainingColumn(), TextColumn("{task.fields[counts]}"),
                                 console=console, transient=False)
        self.task = None

    def __enter__(self) -> "RichBatchDisplay":
        return self

    def __exit__(self, *exc) -> None:
        if self.task is not None:
            self.progress.stop()

    def _counts_text(self) -> str:
        return (f"[green]graded {self.counts['graded']}[/green] [yellow]invalid {self.counts['invalid']}[/yellow] "
                f"[magenta]error {self.counts['error']}[/magenta] | failed checks {self.failed_checks} "
                f"(below full marks {self.below_full})")

    def started(self, to_grade: int, skipped: int) -> None:
        if skipped:
            self.console.print(f"{skipped} submission(s) unchanged since the gradebook's result: skipped "
                               "(--force regrades them)")
        if not to_grade:
            return
        self.progress.start()
        self.task = self.progress.add_task("grading", total=to_grade, counts=self._counts_text())

    def finished_one(self, item: BatchItem) -> None:
        result = item.result
        assert result is not None
        self.counts[result.status] += 1
        self.failed_checks += sum(1 for check in result.checks if check.points < check.max_points)
        if result.status == "graded" and result.score < result.max_score:
            self.below_full += 1
        if self.details and self.print_result:
            self.print_result(self.progress.console, result)
        self.progress.update(self.task, advance=1, counts=self._counts_text())


def summary_table(outcome: BatchOutcome):
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="Batch summary", title_justify="left")
    table.add_column("student")
    table.add_column("score", justify="right")
    table.add_column("status")
    table.add_column("main diagnosis", overflow="fold", max_width=70)
    table.add_column("file", overflow="fold", max_width=40)
    styles = {"graded": "green", "invalid": "yellow", "error": "magenta"}
    for item in outcome.items:
        result = item.result
        if result is None:  # the batch was interrupted before this one was graded
            table.add_row(escape(item.submission.student), "", "[dim]not graded[/dim]", "", "")
            continue
        style = styles.get(result.status, "")
        status = f"[{style}]{result.status}[/{style}]" + (" [dim](unchanged)[/dim]" if item.skipped else "")
        overridden = any(check.details.get("override") for check in result.checks)
        score = f"{result.score:g}/{result.max_score:g}" + (" [cyan](override)[/cyan]" if overridden else "")
        late = " [red]LATE[/red]" if item.submission.late else ""
        table.add_row(escape(item.submission.student) + late, score, status, escape(main_diagnosis(result)),
                      escape(item.submission.path.name))
    return table


def outcome_line(outcome: BatchOutcome) -> str:
    counts = outcome.status_counts()
    parts = [f"{counts[status]} {status}" for status in ("graded", "invalid", "error") if counts[status]]
    return (f"{len(outcome.items)} submission(s): {', '.join(parts) or 'none graded'}; "
            f"{len(outcome.graded)} graded now, {len(outcome.skipped)} unchanged (skipped); "
            f"{outcome.seconds:.1f} s")
