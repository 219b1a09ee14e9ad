"""Paths as a student sees them: relative to the submissions root, never the grader's own.

Everything a student reads (their report, the `tensorgrade check` report, Gradescope's output) goes
through `for_student`, which returns a copy of the result whose texts hold no absolute path of the
grading machine:

* the submission is named relative to the submissions root (`alice/a4_training.ipynb`; the member
  of a zip, `archive.zip:alice/a4.ipynb` -> `alice/a4.ipynb`; without a root, the notebook's own
  folder: `a4_training.ipynb`), wherever its path or label appears;
* the sandbox's working folder (where the notebook ran, `/tmp/work/<job>`) is the notebook's own
  folder: `/tmp/work/1a7ae3/mnist.csv` -> `mnist.csv`;
* the grader's install paths (the Python, its site-packages, this package) keep their last folder
  on: `/work/main/.venv/lib/python3.11/site-packages/torch/nn/functional.py` ->
  `site-packages/torch/nn/functional.py`;
* any other absolute path under a folder graders live in (/tmp, /work, /root, /home, /var, /opt,
  /usr, /srv, /mnt, /autograder, ...) keeps only its file name: `…/name`.

The student's own code (a cell's listing) is not changed: what they wrote is theirs to see. The TA
views keep the paths, where they say which file on the grading machine was graded.
"""

from __future__ import annotations

import os
import re
import site
import sys
import sysconfig
import tempfile
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any, Iterable

from tensorgrade.grading.results import SubmissionResult

# Where the sandbox runs a notebook: /tmp/work/<job> inside the bubblewrap sandbox, else a private
# tensorgrade-work-* folder of the host's temporary folder (tensorgrade/sandbox/host/workers.py).
_PATH_CHARS = r"[^\s'\"`<>|,;:()\[\]{}]"
_WORK_DIRS = (re.escape("/tmp/work"),
              re.escape(tempfile.gettempdir().rstrip("/")) + r"/tensorgrade-work-" + _PATH_CHARS + r"+?/work")
WORK_DIR = re.compile(r"(?<![\w.~/-])(?:" + "|".join(_WORK_DIRS) + r")/[0-9A-Za-z_.-]+(/|(?!" + _PATH_CHARS + "))")
# The folders a grading machine's paths start with (a student's own /content/drive/... is theirs).
GRADER_ROOTS = ("tmp", "var", "work", "root", "home", "opt", "usr", "srv", "mnt", "autograder", "jobs",
                "assignment", "private", "Users", "builds", "scratch", "run", "data", "workspace", "app")
ABSOLUTE = re.compile(r"(?<![\w.~/-])/(?:" + "|".join(GRADER_ROOTS) + r")(?:/" + _PATH_CHARS + r"*)?(?!" +
                      _PATH_CHARS + ")")


@lru_cache(maxsize=1)
def install_dirs() -> tuple[str, ...]:
    """The grader's install folders, longest first: each is shown from its last folder on."""
    from tensorgrade import package_dir

    found: set[str] = set()
    candidates: list[Any] = [sys.prefix, sys.base_prefix, sys.exec_prefix, str(package_dir())]
    try:
        candidates += list(site.getsitepackages()) + [site.getusersitepackages()]
    except Exception:  # noqa: BLE001 (a virtualenv's site module may lack them)
        pass
    candidates += [value for key, value in sysconfig.get_paths().items() if key in ("stdlib", "platstdlib",
                                                                                   "purelib", "platlib", "scripts")]
    for candidate in candidates:
        if not candidate:
            continue
        for form in {str(candidate), os.path.realpath(str(candidate))}:
            form = form.rstrip("/")
            if form.count("/") >= 2:  # never "/" or "/usr" alone
                found.add(form)
    return tuple(sorted(found, key=len, reverse=True))


def shown_submission(submission: str | None, root: str | Path | None = None) -> str:
    """The submission as a student sees it: relative to `root` (the submissions root) when it is
    below it, the member of a zip (`archive.zip:member` -> `member`), else its file name."""
    text = str(submission or "")
    if ".zip:" in text:
        return text.split(".zip:", 1)[1].lstrip("/")
    if root:
        try:
            return Path(text).resolve().relative_to(Path(root).resolve()).as_posix()
        except Exception:  # noqa: BLE001 (not below it; a NUL byte, a symlink loop)
            pass
    return PurePosixPath(text.replace("\\", "/")).name or text


def class_root(submissions: Iterable[str | None]) -> str | None:
    """The submissions root of a class: the folder every (non-zip) submission lies below, as deep as
    they agree; None when they share none (or all are zip members, already relative)."""
    try:
        folders = [str(Path(s).resolve().parent) for s in submissions if s and ".zip:" not in str(s)]
        common = os.path.commonpath(folders) if folders else None
    except Exception:  # noqa: BLE001 (a name with a NUL byte, a symlink loop: no root, file names only)
        return None
    if common is None:
        return None
    return common if common.strip("/") else None


def _short(match: re.Match) -> str:
    path = match.group()
    name = path.rstrip("/").rsplit("/", 1)[-1]
    return "…/" + name if path.strip("/").count("/") else "…"


class PathScrubber:
    """Text with the grading machine's absolute paths made relative (see the module's docstring)."""

    def __init__(self, submission: str | None = None, root: str | Path | None = None):
        self.pairs: list[tuple[str, str]] = []
        shown = shown_submission(submission, root)
        if submission:
            self.pairs.append((str(submission), shown))
            try:
                resolved = str(Path(str(submission)).resolve())
                if resolved != str(submission) and ".zip:" not in str(submission):
                    self.pairs.append((resolved, shown))
            except Exception:  # noqa: BLE001 (a NUL byte, a symlink loop)
                pass
        if root:
            forms = {str(root).rstrip("/")}
            try:
                forms.add(str(Path(root).resolve()))
            except Exception:  # noqa: BLE001
                pass
            for form in forms:
                if form.strip("/"):
                    self.pairs.append((form + "/", ""))
        self.pairs.sort(key=lambda pair: len(pair[0]), reverse=True)

    def __call__(self, text: Any) -> Any:
        if not isinstance(text, str) or "/" not in text:
            return text
        text = WORK_DIR.sub(lambda m: "" if m.group(1) else ".", text)
        for old, new in self.pairs:
            text = text.replace(old, new)
        for folder in install_dirs():
            if folder in text:
                keep = folder.rsplit("/", 1)[-1]
                text = re.sub(r"(?<![\w.~/-])" + re.escape(folder) + r"(?=/|(?!" + _PATH_CHARS + "))", keep, text)
        return ABSOLUTE.sub(_short, text)

    def deep(self, value: Any, depth: int = 0) -> Any:
        """Every string in a JSON-like value (dicts, lists) scrubbed; numbers as they are. Past
        MAX_DEPTH levels a value is written as its text, scrubbed (no report shows deeper)."""
        if isinstance(value, str):
            return self(value)
        if depth >= MAX_DEPTH and isinstance(value, (dict, list, tuple)):
            return self(_text_of(value))
        if isinstance(value, dict):
            return {key: self.deep(item, depth + 1) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            if value and all(isinstance(item, (int, float)) for item in value):
                return value  # a curve: nothing to scrub
            return [self.deep(item, depth + 1) for item in value]
        return value


MAX_DEPTH = 40


def _text_of(value: Any) -> str:
    try:
        return str(value)[:2000]
    except RecursionError:
        return f"<a {type(value).__name__} nested too deep to write>"


def for_student(result: SubmissionResult, root: str | Path | None = None) -> SubmissionResult:
    """A copy of `result` as a student may read it: its submission named relative to `root` (or
    its own folder), and no absolute path of the grading machine in its error, messages, details,
    cells' errors and printed output, or integrity findings."""
    scrub = PathScrubber(result.submission, root)
    copy = SubmissionResult.from_json(result.to_json())
    copy.submission = shown_submission(result.submission, root)
    copy.error = scrub(copy.error)
    for check in copy.checks:
        check.message = scrub(check.message)
        check.details = scrub.deep(check.details)
    for cell in copy.cells:
        cell.error = scrub(cell.error)
        cell.output = scrub(cell.output)
    copy.integrity = [scrub(finding) for finding in copy.integrity]
    return copy
