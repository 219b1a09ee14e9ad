"""Finding the students in what a TA hands over: folders and zips of notebooks, archive safety.

    submissions/<student>/*.ipynb      one folder per student (any depth below it)
    submissions/<student>.ipynb        flat files, the file name is the student
    submissions.zip                    an LMS download: either layout, or Canvas-style flat names
                                       `lastfirst_[LATE_]<user id>_<submission id>_<file>.ipynb`

Where every notebook sits below one top folder (what "compress folder" makes of a class's folder, or
a Canvas download unzipped into a folder), the students are found below it: the top folder is not a
student, and Canvas file names below it keep their ids.  The layout says which folder was looked
into.

A student with two notebooks is a warning naming both files; the one named like the assignment's
notebook (`<id>.ipynb`, or Canvas's `<id>-1.ipynb` of a resubmission) is graded, else the newest (by
modification time), and the warning says which and why.  A zip is extracted into a private temporary folder only after every
member was checked (no absolute paths, no `..`, no links, caps on member count, sizes and compression
ratio); an archive that fails a check is refused whole, with the reason.
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
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Iterable

NOTEBOOK_SUFFIX = ".ipynb"
# Folders that editors and archivers add beside real work; never a submission.
IGNORED_FOLDERS = {".ipynb_checkpoints", "__MACOSX", "__pycache__"}
# Canvas "Download submissions": <sortable name, lower case, no spaces>_[LATE_]<user id>_<submission id>_<file>
CANVAS_NAME = re.compile(r"^(?P<name>[^_]+)_(?:(?P<late>LATE)_)?(?P<user_id>\d+)_(?P<submission_id>\d+)_(?P<file>.+)$")


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


def readable(name: str) -> str:
    """A name from the file system as text that every file, database and terminal can hold: bytes of
    a file or folder name that are not UTF-8 (which Python keeps as lone surrogates, and SQLite,
    a UTF-8 file or a terminal then refuses) written out as `\\xff`.  Student ids and labels are
    made of it; the path itself is kept as it is, to open the file."""
    try:
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that no file name decodes to
        return name.encode("utf-8", "backslashreplace").decode("utf-8")


def _ignored(relative: PurePosixPath) -> bool:
    return any(part in IGNORED_FOLDERS or part.startswith(".") for part in relative.parts)


def _holds_a_class(relatives: list[PurePosixPath], notebook_name: str | None) -> bool:
    """Whether these notebooks (paths inside one folder) look like a class rather than one student's
    work: Canvas-named files, or several student folders and no notebook beside them, or (when the
    assignment's notebook name is known) several notebooks none of which is named like it."""
    files = [r for r in relatives if len(r.parts) == 1]
    folders = {r.parts[0] for r in relatives if len(r.parts) > 1}
    if any(CANVAS_NAME.match(r.name) for r in files):
        return True
    if len(folders) >= 2 and not files:
        return True
    if notebook_name and len(files) >= 2 and not folders:
        stem = PurePosixPath(notebook_name).stem.lower()
        return not any(r.stem.lower().startswith(stem) for r in files)
    return False


def class_folder(relatives: list[PurePosixPath], notebook_name: str | None = None) -> PurePosixPath:
    """The folder the students are in, relative to the root given: the root itself, or, where every
    notebook sits below one top folder (a zip made with "compress folder", a Canvas download inside a
    folder), the folder below it that holds the class."""
    tops = {r.parts[0] for r in relatives}
    if len(tops) != 1 or any(len(r.parts) == 1 for r in relatives):
        return PurePosixPath()
    top = tops.pop()
    inner = [PurePosixPath(*r.parts[1:]) for r in relatives]
    if _holds_a_class(inner, notebook_name):
        return PurePosixPath(top)
    deeper = class_folder(inner, notebook_name)
    return PurePosixPath(top, deeper) if deeper.parts else PurePosixPath()


def discover_folder(root: Path, label_prefix: str | None = None, notebook_name: str | None = None) -> Discovery:
    """Every student's notebook under `root`; `label_prefix` names the archive it was extracted from;
    `notebook_name` is the assignment's notebook (`<id>.ipynb`): of a student's several notebooks,
    the one so named is graded."""
    root = Path(root)
    candidates: list[_Candidate] = []
    ignored: list[str] = []
    layouts: set[str] = set()
    notebooks: list[tuple[Path, PurePosixPath, bool]] = []
    for path in sorted(root.rglob("*")):
        relative = PurePosixPath(path.relative_to(root).as_posix())
        # A link is never followed: a submission folder that came from students (a repository, a
        # shared drive) may link to the grader's files, or to another student's notebook.
        link = path.is_symlink()
        if not (link or path.is_file()) or _ignored(relative):
            continue
        if path.suffix != NOTEBOOK_SUFFIX:
            ignored.append(readable(f"{label_prefix}:{relative}" if label_prefix else str(path)))
            continue
        notebooks.append((path, relative, link))
    base = class_folder([relative for _, relative, _ in notebooks], notebook_name)
    for path, relative, link in notebooks:
        label = readable(f"{label_prefix}:{relative}" if label_prefix else str(path))
        relative = PurePosixPath(*relative.parts[len(base.parts):])
        mtime = path.lstat().st_mtime
        refused = ("a symbolic link, not a file: links in a submissions folder are not followed (they could point "
                   "to the grader's files or another student's work); submit the notebook itself") if link else None
        if len(relative.parts) > 1:
            layouts.add("one folder per student")
            candidates.append(_Candidate(readable(relative.parts[0]), path, label, mtime, refused=refused))
            continue
        canvas = CANVAS_NAME.match(path.name)
        if canvas:
            layouts.add("Canvas file names (name_[LATE_]userid_submissionid_file)")
            candidates.append(_Candidate(readable(canvas["name"]), path, label, mtime, lms_id=canvas["user_id"],
                                         late=bool(canvas["late"]), refused=refused))
        else:
            layouts.add("one file per student (file name)")
            candidates.append(_Candidate(readable(path.stem), path, label, mtime, refused=refused))
    _separate_namesakes(candidates)
    by_student: dict[str, list[_Candidate]] = {}
    for candidate in candidates:
        by_student.setdefault(candidate.student, []).append(candidate)
    warnings: list[str] = []
    submissions: list[Submission] = []
    for student in sorted(by_student):
        chosen = _choose(student, by_student[student], warnings, notebook_name)
        content_hash = (hashlib.sha256(os.readlink(chosen.path).encode()).hexdigest() if chosen.refused
                        else sha256_file(chosen.path))
        submissions.append(Submission(student=student, path=chosen.path, label=chosen.label,
                                      content_hash=content_hash, lms_id=chosen.lms_id,
                                      late=chosen.late, refused=chosen.refused))
    layout = " + ".join(sorted(layouts)) or "no notebooks"
    if base.parts:
        layout += f", below the single top folder {base.as_posix()}/"
    return Discovery(submissions, warnings, layout=layout, ignored=ignored)


def _separate_namesakes(candidates: list[_Candidate]) -> None:
    """Two Canvas users with the same sortable name are two students: suffix each with their user id."""
    users: dict[str, set[str]] = {}
    for candidate in candidates:
        if candidate.lms_id:
            users.setdefault(candidate.student, set()).add(candidate.lms_id)
    for candidate in candidates:
        if candidate.lms_id and len(users[candidate.student]) > 1:
            candidate.student = f"{candidate.student}_{candidate.lms_id}"


CANVAS_RESUBMISSION = re.compile(r"-\d+$")  # Canvas renames a file uploaded again: a2.ipynb, a2-1.ipynb


def named_like(candidate: _Candidate, notebook_name: str | None) -> bool:
    """The file is the assignment's notebook: `<id>.ipynb`, or (a Canvas file) `<id>-1.ipynb`."""
    if not notebook_name:
        return False
    name = candidate.path.name
    canvas = CANVAS_NAME.match(name) if candidate.lms_id else None
    if canvas:
        name = canvas["file"]
        stem = CANVAS_RESUBMISSION.sub("", PurePosixPath(name).stem)
        return f"{stem}{NOTEBOOK_SUFFIX}" == notebook_name
    return name == notebook_name


def _choose(student: str, files: list[_Candidate], warnings: list[str], notebook_name: str | None = None
            ) -> _Candidate:
    """A student's notebook: the only one; else the one named like the assignment's notebook (the
    newest of those); else the newest.  The warning names every file and says why."""
    if len(files) == 1:
        return files[0]
    ordered = sorted(files, key=lambda c: (c.mtime, c.label))
    named = [c for c in ordered if named_like(c, notebook_name)]
    pool = named or ordered
    chosen = pool[-1]
    listing = ", ".join(f"{c.label} (modified {datetime.fromtimestamp(c.mtime):%Y-%m-%d %H:%M:%S})" for c in ordered)
    tie = " (same modification time: the last by name)" if len(pool) > 1 and pool[-2].mtime == chosen.mtime else ""
    if named:
        why = f"the one named like the assignment's notebook {notebook_name}" if len(named) == 1 else \
            f"the newest of those named like the assignment's notebook {notebook_name}{tie}"
    else:
        why = f"the newest{tie}" + (f" (none is named {notebook_name})" if notebook_name else "")
    warnings.append(f"{student}: {len(files)} notebooks: {listing}; grading {why}, {chosen.label}")
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

    def __init__(self, archive: Path, limits: ArchiveLimits = ArchiveLimits(), notebook_name: str | None = None):
        self.archive = Path(archive)
        self.limits = limits
        self.notebook_name = notebook_name
        self.folder: Path | None = None

    def __enter__(self) -> Discovery:
        self.folder = Path(tempfile.mkdtemp(prefix="tensorgrade-submissions-"))  # 0700: grader only
        try:
            skipped = extract_archive(self.archive, self.folder, self.limits)
        except BaseException:
            self.__exit__()
            raise
        discovery = discover_folder(self.folder, label_prefix=str(self.archive), notebook_name=self.notebook_name)
        discovery.ignored = [f"{self.archive}:{name}" for name in skipped] + discovery.ignored
        return discovery

    def __exit__(self, *exc) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


def merge_discoveries(discoveries: Iterable[Discovery], in_order_given: bool = False) -> Discovery:
    """Several sources at once (folders, archives, files): a student found in two is a warning too.
    The students are sorted by id, or with `in_order_given` kept in the order the sources gave them
    (notebook files named on the command line)."""
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
            newer = max((earlier, submission), key=lambda s: (_modified(s.path), s.label))
            merged.warnings.append(f"{submission.student}: 2 notebooks: {earlier.label}, {submission.label}; "
                                   f"grading the newest, {newer.label}")
            seen[submission.student] = newer
    merged.submissions = list(seen.values()) if in_order_given else [seen[student] for student in sorted(seen)]
    return merged


def _modified(path: Path) -> float:
    """A file's modification time; a notebook named that does not exist is older than any that does."""
    try:
        return path.lstat().st_mtime
    except OSError:
        return float("-inf")


def single_file(path: Path) -> Discovery:
    """A notebook named on the command line: its file name is the student."""
    path = Path(path)
    content_hash = sha256_file(path) if path.is_file() else ""
    return Discovery([Submission(student=readable(path.stem), path=path, label=readable(str(path)),
                                 content_hash=content_hash)],
                     layout="the file names of the notebooks named")
