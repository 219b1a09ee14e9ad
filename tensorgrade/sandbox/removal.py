"""Removing what a submission wrote, whatever its depth, size or links (both sides of the boundary).

`shutil.rmtree` first (no process to start); where it fails, for any exception (it raised
RecursionError, not an OSError, on a tree a few thousand levels deep), GNU `rm -rf`, which walks a
tree of any depth without recursion and never follows links.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path


class CleanupError(OSError):
    """A folder could not be emptied; the worker that holds it must not take another submission."""


def remove_tree(path: Path) -> None:
    """Remove `path` (a file, a link or a folder of any depth and size), never following links."""
    if not os.path.lexists(path):
        return
    if path.is_symlink() or not path.is_dir():
        path.unlink()
        return
    try:  # the common case, without starting a process (rmtree never follows links either)
        shutil.rmtree(path)
        return
    except Exception:  # RecursionError on a deep tree (not an OSError), a permission, a path too long
        pass
    rm = shutil.which("rm") or "/bin/rm"
    done = subprocess.run([rm, "-rf", "--one-file-system", "--", str(path)], capture_output=True, text=True)
    if os.path.lexists(path):
        raise CleanupError(f"{path} could not be removed: {done.stderr.strip()[:300] or f'rm exit {done.returncode}'}")


def empty_folder(folder: Path) -> None:
    """Remove everything inside `folder`, keeping the folder itself."""
    if not folder.is_dir():
        return
    for entry in list(os.scandir(folder)):
        remove_tree(Path(entry.path))
