"""`tensorgrade grade`: grade notebooks, folders, zips of one assignment; tables, a gradebook, JSON.

Every grading goes through `run_batch`: notebook files named on the command line are submissions
like the students found in folders and zips.  What differs is what the TA sees: a class (folders,
zips, a gradebook) gets the students found, a progress bar and a summary; notebook files alone get
each submission's table, in the order given.

What is printed of the students (names, files, folders, warnings naming them) goes through
`safe_text.for_rich_markup`, one line each (`safe`): no escape sequence in a student's folder or
file name reaches the TA's terminal.
"""

from __future__ import annotations

import argparse
import json
import os
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

from rich.table import Table

from tensorgrade.cli.output import ResultTables, make_console, print_result, safe, soft_printer
from tensorgrade.safe_text import for_rich_markup


def cmd_grade(args: argparse.Namespace) -> int:
    from tensorgrade.classroom import batch, discovery, display
    from tensorgrade.course.assignment import SpecError, load_assignment
    from tensorgrade.sandbox.host.workers import GraderEnvironmentError
    from tensorgrade.grading.grader import ReferenceFailure

    console = make_console()
    try:
        assignment = load_assignment(args.assignment, args.solutions)
    except SpecError as exc:
        console.print(f"[red]error:[/red] {for_rich_markup(exc)}")
        return 2
    args.jobs = args.jobs or default_jobs()
    say = soft_printer(console)
    class_view = wants_class_view(args)
    missing = missing_paths(args.submissions)
    if missing:
        for line in missing:
            say(f"[red]error:[/red] {safe(line)}")
        say("nothing graded: name the submissions folders, zips or notebook files that exist")
        return 2
    with ExitStack() as stack:
        try:
            found = find_submissions(args.submissions, stack, files_only=not class_view,
                                     notebook_name=assignment.notebook)
        except discovery.UnsafeArchive as exc:
            say(f"[red]error:[/red] {safe(exc)}")
            return 2
        if not found.submissions:
            say(f"[red]error:[/red] no notebooks found in {safe(' '.join(args.submissions))}")
            return 2
        if class_view:
            say(f"{len(found.submissions)} student(s) found (student ids from: {safe(found.layout)})")
        for warning in found.warnings:
            say(f"[yellow]warning:[/yellow] {safe(warning)}")
        if found.ignored:
            say(f"[dim]{len(found.ignored)} file(s) that are not notebooks ignored, e.g. "
                f"{safe(found.ignored[0])}[/dim]")
        if args.dry_run:
            console.print(found_table(found))
            return 0
        gradebook = None
        if args.gradebook:
            from tensorgrade.classroom.gradebook import Gradebook, GradebookError

            try:  # a new file, or a gradebook: never a results file or a CSV given by mistake
                gradebook = stack.enter_context(Gradebook(args.gradebook))
            except GradebookError as exc:
                say(f"[red]error:[/red] {safe(exc)}")
                return 2
        if args.executor == "dask":
            from tensorgrade.classroom.cluster import DaskExecutor

            if not args.scheduler:
                say("[red]error:[/red] --executor dask needs --scheduler tcp://HOST:PORT "
                    "(start one with `tensorgrade cluster local -n 2`)")
                return 2
            executor = batch.DaskExecutorAdapter(
                DaskExecutor(args.scheduler, Path(args.assignment), Path(args.solutions) if args.solutions else None),
                assignment)
        else:
            executor = batch.LocalExecutor(assignment, jobs=args.jobs)
        if class_view:
            listener = display.RichBatchDisplay(console, details=args.details, print_result=print_result)
        else:
            listener = ResultTables(console, found.submissions)
        try:
            with listener:
                outcome = batch.run_batch(assignment, found.submissions, executor, gradebook=gradebook,
                                          force=args.force, listener=listener)
        except (ReferenceFailure, GraderEnvironmentError) as exc:
            say(f"[red]error:[/red] {for_rich_markup(exc)}")
            return 2
        if class_view:
            console.print(display.summary_table(outcome))
            say(display.outcome_line(outcome)
                + (f"; gradebook {safe(args.gradebook)}" if args.gradebook else ""))
        if args.json:
            Path(args.json).write_text(json.dumps([item.result.to_json() for item in outcome.items], indent=1))
            say(f"wrote {safe(args.json)}")
    return 0


def default_jobs() -> int:
    """The cores this process may use (its CPU affinity, which containers and `taskset` narrow)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def wants_class_view(args: argparse.Namespace) -> bool:
    """Folders, zips or a gradebook mean a class's batch (students, progress, summary); notebook
    files alone keep the per-submission tables."""
    return bool(args.gradebook or args.force or args.dry_run or any(
        Path(item).is_dir() or item.lower().endswith(".zip") for item in args.submissions))


def missing_paths(items: list[str]) -> list[str]:
    """A line for each submissions path that does not exist (a typo'd folder, zip or notebook), with
    the names beside it that come close; nothing is graded while one is missing, so a typo never
    becomes a student with 0 points."""
    import difflib

    lines = []
    for item in items:
        path = Path(item)
        if path.exists() or path.is_symlink():
            continue
        parent = path.parent if path.parent.is_dir() else None
        near = difflib.get_close_matches(path.name, sorted(p.name for p in parent.iterdir()), n=3,
                                         cutoff=0.75) if parent is not None else []
        what = "notebook" if path.suffix == ".ipynb" else "zip" if path.suffix.lower() == ".zip" else "folder or file"
        lines.append(f"{item}: no such {what}" + (f" (did you mean {', '.join(str(parent / n) for n in near)}?)"
                                                 if near else ""))
    return lines


def find_submissions(items: list[str], stack: ExitStack, files_only: bool = False, notebook_name: str | None = None):
    """The students in folders, zips (extracted until `stack` closes) and notebook files, merged.
    `notebook_name` (the assignment's `<id>.ipynb`) picks a student's notebook among several.

    `files_only`: notebook files alone, each one named is graded, in the order given; two of the same
    name (alice/a2.ipynb, bob/a2.ipynb) are two submissions, each student named by the file's path."""
    from tensorgrade.classroom import discovery

    discoveries = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            discoveries.append(discovery.discover_folder(path, notebook_name=notebook_name))
        elif item.lower().endswith(".zip"):
            discoveries.append(stack.enter_context(discovery.ExtractedArchive(path, notebook_name=notebook_name)))
        else:
            discoveries.append(discovery.single_file(path))
    if files_only:
        names = Counter(submission.student for found in discoveries for submission in found.submissions)
        for found in discoveries:
            for submission in found.submissions:
                if names[submission.student] > 1:
                    submission.student = submission.label
    return discovery.merge_discoveries(discoveries, in_order_given=files_only)


def found_table(found) -> Table:
    """--dry-run: who was found, in which file; nothing graded."""
    table = Table(title="Submissions found (nothing graded: --dry-run)", title_justify="left")
    for column in ("student", "file", "LMS id", "late"):
        table.add_column(column, overflow="fold")
    for submission in found.submissions:
        table.add_row(safe(submission.student), safe(submission.label), safe(submission.lms_id or ""),
                      "LATE" if submission.late else "")
    return table
