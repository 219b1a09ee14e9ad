"""When a grading machine lacks a module an assignment preloads: how to install it, in one message."""

from __future__ import annotations

import sys


def package_extra(module: str) -> tuple[str, list[str]] | None:
    """tensorgrade's optional extra named after `module`'s top-level package (`tensorflow` for
    `tensorflow`, `dask` for `dask.distributed`) with its pinned requirements, or None."""
    from importlib import metadata

    top = module.split(".")[0]
    try:
        dist = metadata.distribution("tensorgrade")
    except metadata.PackageNotFoundError:
        return None
    if top not in (dist.metadata.get_all("Provides-Extra") or []):
        return None
    return top, [r.split(";")[0].strip() for r in dist.requires or []
                 if r.replace(" ", "").replace("'", '"').endswith(f'extra=="{top}"')]


def install_hint(module: str) -> str:
    """How to install `module` for the grader: tensorgrade's extra of that name when it has one, at
    the versions the grader is tested with (`pip install -c constraints.txt '.[tensorflow]'`, and the
    extra's requirement), otherwise the module itself."""
    extra = package_extra(module)
    if extra is not None:
        name, required = extra
        return (f"pip install -c constraints.txt '.[{name}]'" + (f" ({', '.join(required)})" if required else "")
                + f" from tensorgrade's source folder, into the grader's Python ({sys.executable})")
    top = module.split(".")[0]
    return f"pip install {top} (or the package that provides the module `{top}`) into the grader's Python ({sys.executable})"


def preload_failure_message(assignment: str, module: str, error: str) -> str:
    what = ("is not installed on this grading machine" if error.startswith("ModuleNotFoundError")
            else "cannot be imported on this grading machine")
    return (f"`{module}` {what}: assignment {assignment} preloads it (worker.preload in its assignment.yaml), so "
            f"no submission of it can be graded here ({error}). Install it with {install_hint(module)}, "
            "then grade again. The submission itself was not judged.")
