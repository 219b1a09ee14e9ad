"""`tensorgrade grade`: grade notebooks, folders, zips of one assignment; tables, a gradebook, JSON."""

from __future__ import annotations

import argparse
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tensorgrade.cli.output import make_console, print_result, soft_printer


def cmd_grade(args: argparse.Namespace) -> int:
    from tensorgrade.course.assignment import SpecError, load_assignment
    from tensorgrade.sandbox.host.workers import GraderEnvironmentError
    from tensorgrade.grading.grader import Grader, ReferenceFailure

    console = make_console()
    try:
        assignment = load_assignment(args.assignment, args.solutions)
    except SpecError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        return 2
    args.jobs = args.jobs or default_jobs()
    if wants_batch(args):
        return cmd_grade_batch(args, assignment, console)
    paths = _expand(args.submissions)
    if not paths:
        console.print("[red]error:[/red] no submissions given (notebook files or folders of them)")
        return 2
    results = []
    try:
        if args.executor == "dask":
            from tensorgrade.classroom.cluster import DaskExecutor

            if not args.scheduler:
                console.print("[red]error:[/red] --executor dask needs --scheduler tcp://HOST:PORT "
                              "(start one with `tensorgrade cluster local -n 2`)")
                return 2
            executor = DaskExecutor(args.scheduler, Path(args.assignment), Path(args.solutions) if args.solutions else None)
            results = executor.grade(paths, on_result=lambda result: print_result(console, result),
                                     assignment_id=assignment.id, version=assignment.version)
        else:
            with Grader(assignment, jobs=args.jobs) as grader, ThreadPoolExecutor(max_workers=args.jobs) as pool:
                for result in pool.map(grader.grade, paths):  # in the order given, `jobs` at a time
                    results.append(result)
                    print_result(console, result)
                environment_error = grader.pool.start_error
            if isinstance(environment_error, GraderEnvironmentError):
                if args.json:
                    Path(args.json).write_text(json.dumps([r.to_json() for r in results], indent=1))
                console.print("[red]error:[/red] this grading machine cannot grade the assignment (above): nothing "
                              "was judged; fix the installation and grade again")
                return 2
    except (ReferenceFailure, GraderEnvironmentError) as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        return 2
    if args.json:
        Path(args.json).write_text(json.dumps([r.to_json() for r in results], indent=1))
        console.print(f"wrote {args.json}")
    return 0


def default_jobs() -> int:
    """The cores this process may use (its CPU affinity, which containers and `taskset` narrow)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def wants_batch(args: argparse.Namespace) -> bool:
    """Folders, zips or a gradebook mean a class's batch (students, progress, summary); notebook
    files alone keep the per-submission tables."""
    return bool(args.gradebook or args.force or args.dry_run or any(
        Path(item).is_dir() or item.lower().endswith(".zip") for item in args.submissions))


def cmd_grade_batch(args: argparse.Namespace, assignment, console: Console) -> int:
    from contextlib import ExitStack

    from tensorgrade.classroom import batch, discovery, display
    from tensorgrade.sandbox.host.workers import GraderEnvironmentError
    from tensorgrade.grading.grader import ReferenceFailure

    say = soft_printer(console)
    with ExitStack() as stack:
        discoveries = []
        for item in args.submissions:
            path = Path(item)
            try:
                if path.is_dir():
                    discoveries.append(discovery.discover_folder(path))
                elif item.lower().endswith(".zip"):
                    discoveries.append(stack.enter_context(discovery.ExtractedArchive(path)))
                else:
                    discoveries.append(discovery.single_file(path))
            except discovery.UnsafeArchive as exc:
                say(f"[red]error:[/red] {escape(str(exc))}")
                return 2
        found = discovery.merge_discoveries(discoveries)
        if not found.submissions:
            say(f"[red]error:[/red] no notebooks found in {escape(' '.join(args.submissions))}")
            return 2
        say(f"{len(found.submissions)} student(s) found (student ids from: {escape(found.layout)})")
        for warning in found.warnings:
            say(f"[yellow]warning:[/yellow] {escape(warning)}")
        if found.ignored:
            say(f"[dim]{len(found.ignored)} file(s) that are not notebooks ignored, e.g. "
                f"{escape(found.ignored[0])}[/dim]")
        if args.dry_run:
            table = Table(title="Submissions found (nothing graded: --dry-run)", title_justify="left")
            for column in ("student", "file", "LMS id", "late"):
                table.add_column(column, overflow="fold")
            for submission in found.submissions:
                table.add_row(escape(submission.student), escape(submission.label), submission.lms_id or "",
                              "LATE" if submission.late else "")
            console.print(table)
            return 0
        gradebook = None
        if args.gradebook:
            from tensorgrade.classroom.gradebook import Gradebook

            gradebook = stack.enter_context(Gradebook(args.gradebook))
        if args.executor == "dask":
            from tensorgrade.classroom.cluster import DaskExecutor

            if not args.scheduler:
                say("[red]error:[/red] --executor dask needs --scheduler tcp://HOST:PORT")
                return 2
            executor = batch.DaskExecutorAdapter(
                DaskExecutor(args.scheduler, Path(args.assignment), Path(args.solutions) if args.solutions else None),
                assignment)
        else:
            executor = batch.LocalExecutor(assignment, jobs=args.jobs)
        try:
            with display.RichBatchDisplay(console, details=args.details, print_result=print_result) as live:
                outcome = batch.run_batch(assignment, found.submissions, executor, gradebook=gradebook,
                                          force=args.force, listener=live)
        except (ReferenceFailure, GraderEnvironmentError) as exc:
            say(f"[red]error:[/red] {escape(str(exc))}")
            return 2
        console.print(display.summary_table(outcome))
        say(display.outcome_line(outcome) + (f"; gradebook {escape(str(args.gradebook))}" if args.gradebook else ""))
        if args.json:
            Path(args.json).write_text(json.dumps([item.result.to_json() for item in outcome.items], indent=1))
            say(f"wrote {escape(args.json)}")
    return 0


def _expand(items: list[str]) -> list[Path]:
    paths: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            paths.extend(sorted(p for p in path.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts))
        else:
            paths.append(path)  # a missing file is reported as an invalid submission, not skipped
    return paths
