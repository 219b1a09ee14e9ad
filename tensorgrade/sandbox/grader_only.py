"""Files inside folders the sandbox must see that no submission may read (both sides use the list:
bubblewrap covers them, landlock leaves them out of its read rules)."""

from __future__ import annotations

from pathlib import Path


def grader_only_files() -> list[Path]:
    """Files inside folders a sandbox must see (the virtualenv) that no submission may read: the
    dataset the held-out rows are cut from, whose labels decide held-out grades.  Inside bubblewrap
    they are covered by an empty file; landlock leaves them out of its read rules."""
    try:
        from tensorgrade.course import datasets

        return [path for path in datasets.raw_data_files() if path.exists()]
    except Exception:  # the dataset's package is not installed: nothing to hide
        return []


def under(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents
