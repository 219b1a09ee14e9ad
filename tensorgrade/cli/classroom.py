"""The class's commands: reports, exports, overrides, Gradescope, and a Dask cluster to grade on.

Student ids, file names, gradebook and roster contents, and messages naming them go through
`safe` (`safe_text.for_rich_markup`, one line) before rich prints them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tensorgrade.cli.output import make_console, safe, soft_printer
from tensorgrade.safe_text import for_rich_markup, for_terminal


def cmd_report(args: argparse.Namespace) -> int:
    from tensorgrade.course.assignment import SpecError, load_assignment
    from tensorgrade.reports.dashboard import load_entries, write_reports

    console = make_console()
    say = soft_printer(console)
    given = Path(args.assignment)
    if (given / "assignment.yaml").is_file():  # a folder, as `grade` takes it: its id, and it is the spec
        args.assignment_dir = args.assignment_dir or str(given)
        args.assignment = given.resolve().name
    known = report_source_assignments(args.source)
    if isinstance(known, str):  # not a gradebook nor a results file: what it is instead
        say(f"[red]error:[/red] {safe(known)}")
        return 2
    try:
        entries = load_entries(args.source, args.assignment)
    except (OSError, ValueError, ImportError, KeyError, TypeError) as exc:
        say(f"[red]error:[/red] {safe(args.source)}: cannot be read: {safe(exc)}")
        return 2
    if not entries:
        say(f"[red]error:[/red] no results for assignment {safe(args.assignment)} in {safe(args.source)} "
            f"(it has: {safe(', '.join(known) or 'nothing')})")
        return 2
    folder = Path(args.assignment_dir) if args.assignment_dir else Path("assignments") / args.assignment
    assignment = None
    if (folder / "assignment.yaml").is_file():
        try:
            assignment = load_assignment(folder, args.solutions)
        except SpecError as exc:
            try:  # no solutions here: titles and descriptions still come from the spec
                assignment = load_assignment(folder, with_hidden=False)
            except SpecError:
                say(f"[yellow]note:[/yellow] {for_rich_markup(exc)}; reports show check ids without titles")
    else:
        say(f"[yellow]note:[/yellow] {safe(folder)} not found (--assignment-dir): reports show check ids "
            "without question titles or mistake explanations")
    written = write_reports(entries, assignment, args.out)
    say(f"wrote {len(entries)} student report(s) (HTML and Markdown) under {safe(Path(args.out) / 'students')}, "
        f"their TA views under {safe(Path(args.out) / 'ta')}, and the dashboard {safe(written['dashboard'])}")
    failed = written.get("failed") or []
    if failed:  # each marked on its report and listed on the dashboard; the rest were written
        say(f"[yellow]{len(failed)} report(s) or part(s) could not be rendered:[/yellow]")
        for failure in failed:
            say(f"  {safe(failure['student'])}: {safe(failure['what'])} could not be rendered: "
                f"{safe(failure['reason'])}")
    return 0


def report_source_assignments(source: str) -> list[str] | str:
    """The assignment ids a `report` source holds (a gradebook, or a results file from `grade
    --json`), or a message saying what the file is instead."""
    from tensorgrade.classroom.gradebook import Gradebook, GradebookError, describe_file, results_file_assignments

    what = describe_file(source)
    if what == "a gradebook":
        try:
            with Gradebook(source, create=False) as gradebook:
                return gradebook.assignments()
        except GradebookError as exc:
            return str(exc)
    if what.startswith("a results file") and Path(source).suffix == ".json":
        return results_file_assignments(source) or []
    if what == "no such file":
        return f"{source}: no such file (report reads a gradebook, grades.db, or a results file from `grade --json`)"
    return (f"{source} is {what}: report reads a gradebook (the grades.db that `grade --gradebook` writes) "
            "or a results file from `grade --json` (named .json)")


def cmd_export(args: argparse.Namespace) -> int:
    from tensorgrade.classroom import exports, gradescope
    from tensorgrade.classroom.gradebook import Gradebook, GradebookError, describe_file

    say = soft_printer(make_console())
    if args.roster and describe_file(args.roster) in ("no such file", "a folder"):
        say(f"[red]error:[/red] --roster {safe(args.roster)}: {safe(describe_file(args.roster))} (the roster "
            "is the CSV of Canvas's gradebook export: Grades > Export > CSV)")
        return 2
    try:
        with Gradebook(args.gradebook, create=False) as gradebook:
            entries = gradebook.entries(args.assignment)
            known = gradebook.assignments()
    except GradebookError as exc:
        say(f"[red]error:[/red] {safe(exc)}")
        return 2
    if not entries:
        say(f"[red]error:[/red] no results for {safe(args.assignment)} in {safe(args.gradebook)} "
            f"(it has: {safe(', '.join(known) or 'nothing')})")
        return 2
    out = Path(args.out)
    if args.format == "gradescope":
        written = gradescope.write_gradescope_results(entries, out)
        for entry in entries:
            if entry.result.status == "error":
                say(f"[yellow]warning:[/yellow] {safe(entry.student)}: grader error, no results.json (blank, "
                    "never 0; Gradescope's \"autograder failed\" state): regrade it")
        say(f"wrote {len(written)} results.json under {safe(out)}/<student>-<hash>/ (one folder per student, "
            f"named by `safe_text.file_name`; {safe(out / gradescope.INDEX_NAME)} says whose each folder is)")
        return 0
    if args.format == "canvas":
        try:
            roster = exports.read_canvas_roster(Path(args.roster)) if args.roster else None
        except (OSError, ValueError) as exc:
            what = describe_file(args.roster)
            reason = str(exc) if isinstance(exc, ValueError) and not isinstance(exc, UnicodeError) else \
                f"{args.roster}: cannot be read as CSV ({exc})"
            say(f"[red]error:[/red] --roster: {safe(reason)}; {safe(args.roster)} is {safe(what)}, not "
                "a Canvas gradebook export (Grades > Export > CSV)")
            return 2
        text, warnings = exports.canvas_csv(entries, args.column or args.assignment, roster)
        for warning in warnings:
            say(f"[yellow]warning:[/yellow] {safe(warning)}")
    else:
        text = exports.gradebook_csv(entries)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    say(f"wrote {safe(out)}: {len(entries)} student(s)")
    return 0


def cmd_override(args: argparse.Namespace) -> int:
    from tensorgrade.classroom.gradebook import Gradebook, GradebookError

    say = soft_printer(make_console())
    try:
        with Gradebook(args.gradebook, create=False) as gradebook:
            if args.remove:
                removed = gradebook.remove_override(args.student, args.check, args.assignment)
                say(f"override of {safe(args.check)} for {safe(args.student)} "
                    + ("removed" if removed else "not found: nothing removed"))
                return 0 if removed else 1
            if args.points is None:
                say("[red]error:[/red] --points is needed (or --remove)")
                return 2
            override = gradebook.set_override(args.student, args.check, args.points, args.comment or "",
                                              args.assignment)
    except GradebookError as exc:
        say(f"[red]error:[/red] {safe(exc)}")
        return 2
    say(f"{safe(override.student)} {safe(override.assignment)} {safe(override.check)}: "
        f"{override.points:g} point(s) (TA override; kept through regrades)")
    return 0


def cmd_gradescope(args: argparse.Namespace) -> int:
    from tensorgrade.course.assignment import SpecError, load_assignment
    from tensorgrade.classroom.gradescope import build_gradescope_zip

    say = soft_printer(make_console())
    try:
        assignment = load_assignment(args.assignment, args.solutions)
        names = build_gradescope_zip(assignment, Path(args.out))
    except (SpecError, OSError) as exc:
        say(f"[red]error:[/red] {for_rich_markup(exc)}")
        return 2
    say(f"wrote {safe(args.out)} ({len(names)} files): upload it as the autograder of a Gradescope "
        "programming assignment (Ubuntu 24.04 base image)")
    return 0


def cmd_gradescope_run(args: argparse.Namespace) -> int:
    from tensorgrade.classroom.gradescope import run_gradescope_submission

    results = run_gradescope_submission(Path(args.assignment), Path(args.solutions) if args.solutions else None,
                                        Path(args.submission), Path(args.results))
    if results is None:  # the grader failed: no results.json, Gradescope's "autograder failed" state
        return 1
    print(f"score {results['score']:g}; wrote {for_terminal(args.results, one_line=True)}")
    return 0  # Gradescope reads results.json; a failure is reported there, not by the exit status


def cmd_cluster(args: argparse.Namespace) -> int:
    import signal
    import sys as _sys
    import threading

    from tensorgrade.classroom.cluster import SLURM_TEMPLATE, LocalCluster

    console = make_console()
    if args.mode == "slurm":
        console.print(for_rich_markup(SLURM_TEMPLATE.format(python=_sys.executable)), soft_wrap=True)
        return 0
    cluster = LocalCluster(workers=args.workers, port=args.port)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with cluster:
        console.print(f"local Dask cluster: scheduler [bold]{cluster.address}[/bold], {args.workers} worker(s)\n"
                      f"grade on it: tensorgrade grade ASSIGNMENT SUBMISSIONS --executor dask --scheduler "
                      f"{cluster.address}\n(Ctrl-C stops the scheduler and the workers)", soft_wrap=True)
        stop.wait()
    console.print("cluster stopped")
    return 0
