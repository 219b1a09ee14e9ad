"""The `tensorgrade` command."""

from __future__ import annotations

import argparse
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

STATUS_STYLE = {"passed": "green", "failed": "red", "error": "magenta", "timeout": "yellow"}


def _console() -> Console:
    return Console(highlight=False, soft_wrap=False)


def print_result(console: Console, result) -> None:
    title = f"{result.submission}  [{result.assignment} v{result.version}]"
    if result.status != "graded":
        console.print(f"[bold]{escape(title)}[/bold]\n  [red]{result.status.upper()}[/red]: {escape(str(result.error))}\n")
        return
    table = Table(title=escape(title), title_justify="left", show_lines=False)
    table.add_column("check")
    table.add_column("points", justify="right")
    table.add_column("status")
    table.add_column("message", overflow="fold", max_width=90)
    for check in result.checks:
        first_line = (check.message or "").strip().splitlines()[0] if check.message else ""
        if check.diagnosis and check.diagnosis not in first_line:
            first_line = f"[{check.diagnosis}] {first_line}"
        style = STATUS_STYLE.get(check.status, "")
        table.add_row(check.id, f"{check.points:g}/{check.max_points:g}", f"[{style}]{check.status}[/{style}]",
                      escape(first_line))
    console.print(table)
    failing = [c for c in result.cells if c.status in ("error", "timeout")]
    for cell in failing:
        first = (cell.error or "").strip().splitlines()[-1:] or [""]
        console.print(f"  cell {cell.index}: [yellow]{cell.status}[/yellow] {escape(first[0])}")
    for finding in result.integrity:
        console.print(f"  [bold red]integrity:[/bold red] {escape(finding)}")
    missing = [name for name, layer in result.isolation.items() if not layer.get("active")]
    if missing:
        console.print(f"  [yellow]isolation layers missing:[/yellow] {', '.join(missing)} (see `tensorgrade doctor`)")
    console.print(f"  [bold]total: {result.score:g} / {result.max_score:g}[/bold]   "
                  f"({result.timing.get('total', 0):.2f} s)\n")


def cmd_grade(args: argparse.Namespace) -> int:
    from tensorgrade.course.assignment import SpecError, load_assignment
    from tensorgrade.sandbox.host.workers import GraderEnvironmentError
    from tensorgrade.grading.grader import Grader, ReferenceFailure

    console = _console()
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

    say = _soft_printer(console)
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


def _soft_printer(console: Console):
    """Print without wrapping: paths and messages stay whole, to be copied or grepped."""
    return lambda text: console.print(text, soft_wrap=True)


def cmd_release(args: argparse.Namespace) -> int:
    from tensorgrade.course.release import release_assignment

    console = _console()
    say = _soft_printer(console)
    if args.solutions and len(args.assignments) > 1:
        say("[red]error:[/red] --solutions names one assignment's solutions: release one assignment")
        return 2
    refused = 0
    for folder in args.assignments:
        say(f"[bold]{escape(str(folder))}[/bold]: release gate ...")
        report = release_assignment(folder, args.out, args.solutions, jobs=args.jobs)
        for stage in report.stages_passed:
            say(f"  [green]passed[/green]  {stage}")
        for problem in report.problems:
            say(f"  [red]FAILED[/red]  {problem.stage}: {escape(problem.message)}")
        for stage in report.stages_not_run:
            say(f"  [yellow]not run[/yellow] {stage}")
        for note in report.notes:
            say(f"  [yellow]note:[/yellow] {escape(note)}")
        if report.ok:
            say(f"  released to {escape(str(report.release_dir))} and {escape(str(report.zip_path))}\n")
        else:
            refused += 1
            say(f"  [bold red]release refused: nothing was written for {report.assignment}[/bold red]\n")
    return 1 if refused else 0


def cmd_check(args: argparse.Namespace) -> int:
    from tensorgrade.course.release import ReleaseError, check_notebook, find_release_folder

    console = _console()
    say = _soft_printer(console)
    notebook = Path(args.notebook)
    try:
        folder = Path(args.release) if args.release else find_release_folder(notebook)
        result, release = check_notebook(folder, notebook)
    except ReleaseError as exc:
        say(f"[red]error:[/red] {escape(str(exc))}")
        return 2
    from tensorgrade.reports.report import print_terminal_report, write_student_report

    print_terminal_report(console, result, release.assignment)
    hidden = release.hidden_checks
    if hidden:
        say(f"  public checks only: {len(hidden)} hidden check(s) worth "
            f"{sum(c.points for c in hidden):g} point(s) run when your submission is graded.")
    if not args.no_html:
        try:
            page = write_student_report(result, release.assignment, notebook.resolve().parent)
            say(f"  report: {escape(str(page))}")
        except OSError as exc:
            say(f"  [yellow]note:[/yellow] the HTML report could not be written: {escape(str(exc))}")
    return 0 if result.status == "graded" else 1


def cmd_report(args: argparse.Namespace) -> int:
    from tensorgrade.course.assignment import SpecError, load_assignment
    from tensorgrade.reports.report import load_entries, write_reports

    console = _console()
    say = _soft_printer(console)
    given = Path(args.assignment)
    if (given / "assignment.yaml").is_file():  # a folder, as `grade` takes it: its id, and it is the spec
        args.assignment_dir = args.assignment_dir or str(given)
        args.assignment = given.resolve().name
    try:
        entries = load_entries(args.source, args.assignment)
    except (OSError, ValueError, ImportError) as exc:
        say(f"[red]error:[/red] {escape(str(exc))}")
        return 2
    if not entries:
        say(f"[red]error:[/red] no results for assignment {escape(args.assignment)} in {escape(args.source)}")
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
                say(f"[yellow]note:[/yellow] {escape(str(exc))}; reports show check ids without titles")
    else:
        say(f"[yellow]note:[/yellow] {escape(str(folder))} not found (--assignment-dir): reports show check ids "
            "without question titles or mistake explanations")
    written = write_reports(entries, assignment, args.out)
    say(f"wrote {len(entries)} student report(s) (HTML and Markdown) under {escape(str(Path(args.out) / 'students'))}, "
        f"their TA views under {escape(str(Path(args.out) / 'ta'))}, and the dashboard "
        f"{escape(str(written['dashboard']))}")
    return 0


def cmd_split(args: argparse.Namespace) -> int:
    from tensorgrade.course.authoring import AuthoringError, split_notebook

    console = _console()
    say = _soft_printer(console)
    try:
        outcome = split_notebook(args.source, args.id, root=args.root, version=args.version, force=args.force)
    except AuthoringError as exc:
        say(f"[red]error:[/red] {escape(str(exc))}")
        return 2
    say(f"wrote {escape(str(outcome.assignment_dir))} (template, spec, public checks) and "
        f"{escape(str(outcome.solutions_dir))} (reference, hidden checks, secret seed)")
    for check in outcome.checks:
        say(f"  {check.id:<28} {check.points:g} point(s)  {check.visibility:<7} from test cell "
            f"{escape(check.grade_id)}")
    for note in outcome.notes:
        say(f"  [yellow]note:[/yellow] {escape(note)}")
    say(f"next: tensorgrade release {escape(str(outcome.assignment_dir))} --out release/")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from tensorgrade.sandbox.host.layers import LAYER_DESCRIPTIONS, detect_layers

    console = _console()
    report = detect_layers()
    table = Table(title="Isolation layers on this machine", title_justify="left")
    table.add_column("layer")
    table.add_column("state")
    table.add_column("what it stops")
    table.add_column("detail", overflow="fold")
    for name, layer in report.layers.items():
        state = "[green]active[/green]" if layer.active else "[red]MISSING[/red]"
        table.add_row(name, state, LAYER_DESCRIPTIONS.get(name, ""), escape(layer.detail))
    console.print(table)
    if report.missing:
        console.print(f"[yellow]{len(report.missing)} layer(s) missing: grading still runs, and every result "
                      "lists them in its `isolation` field.[/yellow]")
    else:
        console.print("[green]All isolation layers are available.[/green]")
    return 0


def cmd_cluster(args: argparse.Namespace) -> int:
    import signal
    import sys as _sys
    import threading

    from tensorgrade.classroom.cluster import SLURM_TEMPLATE, LocalCluster

    console = _console()
    if args.mode == "slurm":
        console.print(escape(SLURM_TEMPLATE.format(python=_sys.executable)), soft_wrap=True)
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


def cmd_export(args: argparse.Namespace) -> int:
    from tensorgrade.classroom import exports, gradescope
    from tensorgrade.classroom.gradebook import Gradebook, GradebookError

    say = _soft_printer(_console())
    if not Path(args.gradebook).is_file():
        say(f"[red]error:[/red] {escape(args.gradebook)}: no such gradebook")
        return 2
    try:
        with Gradebook(args.gradebook) as gradebook:
            entries = gradebook.entries(args.assignment)
            known = gradebook.assignments()
    except GradebookError as exc:
        say(f"[red]error:[/red] {escape(str(exc))}")
        return 2
    if not entries:
        say(f"[red]error:[/red] no results for {escape(args.assignment)} in {escape(args.gradebook)} "
            f"(it has: {escape(', '.join(known) or 'nothing')})")
        return 2
    out = Path(args.out)
    if args.format == "gradescope":
        written = gradescope.write_gradescope_results(entries, out)
        say(f"wrote {len(written)} results.json under {escape(str(out))}/<student>/")
        return 0
    if args.format == "canvas":
        try:
            roster = exports.read_canvas_roster(Path(args.roster)) if args.roster else None
        except (OSError, ValueError) as exc:
            say(f"[red]error:[/red] {escape(str(exc))}")
            return 2
        text, warnings = exports.canvas_csv(entries, args.column or args.assignment, roster)
        for warning in warnings:
            say(f"[yellow]warning:[/yellow] {escape(warning)}")
    else:
        text = exports.gradebook_csv(entries)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    say(f"wrote {escape(str(out))}: {len(entries)} student(s)")
    return 0


def cmd_override(args: argparse.Namespace) -> int:
    from tensorgrade.classroom.gradebook import Gradebook, GradebookError

    say = _soft_printer(_console())
    if not Path(args.gradebook).is_file():
        say(f"[red]error:[/red] {escape(args.gradebook)}: no such gradebook")
        return 2
    try:
        with Gradebook(args.gradebook) as gradebook:
            if args.remove:
                removed = gradebook.remove_override(args.student, args.check, args.assignment)
                say(f"override of {escape(args.check)} for {escape(args.student)} "
                    + ("removed" if removed else "not found: nothing removed"))
                return 0 if removed else 1
            if args.points is None:
                say("[red]error:[/red] --points is needed (or --remove)")
                return 2
            override = gradebook.set_override(args.student, args.check, args.points, args.comment or "",
                                              args.assignment)
    except GradebookError as exc:
        say(f"[red]error:[/red] {escape(str(exc))}")
        return 2
    say(f"{escape(override.student)} {escape(override.assignment)} {escape(override.check)}: "
        f"{override.points:g} point(s) (TA override; kept through regrades)")
    return 0


def cmd_gradescope(args: argparse.Namespace) -> int:
    from tensorgrade.course.assignment import SpecError, load_assignment
    from tensorgrade.classroom.gradescope import build_gradescope_zip

    say = _soft_printer(_console())
    try:
        assignment = load_assignment(args.assignment, args.solutions)
        names = build_gradescope_zip(assignment, Path(args.out))
    except (SpecError, OSError) as exc:
        say(f"[red]error:[/red] {escape(str(exc))}")
        return 2
    say(f"wrote {escape(args.out)} ({len(names)} files): upload it as the autograder of a Gradescope "
        "programming assignment (Ubuntu 24.04 base image)")
    return 0


def cmd_gradescope_run(args: argparse.Namespace) -> int:
    from tensorgrade.classroom.gradescope import run_gradescope_submission

    results = run_gradescope_submission(Path(args.assignment), Path(args.solutions) if args.solutions else None,
                                        Path(args.submission), Path(args.results))
    print(f"score {results['score']:g}; wrote {args.results}")
    return 0  # Gradescope reads results.json; a failure is reported there, not by the exit status


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tensorgrade", description="tensorgrade: sandboxed grading for deep-learning courses")
    sub = parser.add_subparsers(dest="command", required=True)

    grade = sub.add_parser("grade", help="grade submissions of one assignment")
    grade.add_argument("assignment", help="the assignment folder (assignments/<id>)")
    grade.add_argument("submissions", nargs="+", help="notebooks, or folders of notebooks")
    grade.add_argument("--json", metavar="FILE", help="write the results as a JSON array")
    grade.add_argument("--solutions", metavar="DIR", help="the solutions folder (default: solutions/<id> beside assignments/)")
    grade.add_argument("-j", "--jobs", type=int, default=None,
                       help="parallel sandboxed workers (default: the number of cores)")
    grade.add_argument("--gradebook", metavar="DB", help="record every result in this SQLite gradebook; unchanged "
                       "submissions (same file, same assignment) are skipped, a killed run resumes")
    grade.add_argument("--force", action="store_true", help="regrade submissions the gradebook already has")
    grade.add_argument("--details", action="store_true", help="in a batch, print each submission's checks too")
    grade.add_argument("--dry-run", action="store_true", help="list the students and files found; grade nothing")
    grade.add_argument("--executor", choices=["local", "dask"], default="local",
                       help="local sandboxed workers, or the workers of a Dask cluster")
    grade.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler address, for --executor dask")
    grade.set_defaults(func=cmd_grade)

    doctor = sub.add_parser("doctor", help="which isolation layers work on this machine")
    doctor.set_defaults(func=cmd_doctor)

    cluster = sub.add_parser("cluster", help="start a local Dask cluster, or print a SLURM recipe")
    cluster.add_argument("mode", choices=["local", "slurm"])
    cluster.add_argument("-n", "--workers", type=int, default=2, help="worker processes (local)")
    cluster.add_argument("--port", type=int, default=8786, help="scheduler port (local)")
    cluster.set_defaults(func=cmd_cluster)

    release = sub.add_parser("release", help="validate assignments and write their student releases")
    release.add_argument("assignments", nargs="+", help="assignment folders (assignments/<id>)")
    release.add_argument("--out", default="release", help="where release/<id>/ and <id>.zip go (default: release)")
    release.add_argument("--solutions", metavar="DIR", help="the solutions folder (default: solutions/<id>)")
    release.add_argument("-j", "--jobs", type=int, default=1, help="parallel sandboxed workers")
    release.set_defaults(func=cmd_release)

    check = sub.add_parser("check", help="run a released assignment's public checks on your notebook")
    check.add_argument("notebook", help="your notebook, in (or below) the released assignment folder")
    check.add_argument("--release", metavar="DIR", help="the released assignment folder (default: found from the notebook)")
    check.add_argument("--no-html", action="store_true", help="do not write <notebook>.report.html beside it")
    check.set_defaults(func=cmd_check)

    report = sub.add_parser("report", help="students' reports (HTML, Markdown) and the class dashboard")
    report.add_argument("source", help="the gradebook (grades.db), or a results file from `grade --json`")
    report.add_argument("--assignment", required=True, metavar="ID",
                        help="the assignment id, or its folder (assignments/<id>) as `grade` takes it")
    report.add_argument("--out", default="reports", help="where the reports go (default: reports)")
    report.add_argument("--assignment-dir", metavar="DIR",
                        help="the assignment folder, for question titles and mistake explanations "
                             "(default: assignments/<id>, if present)")
    report.add_argument("--solutions", metavar="DIR", help="the solutions folder (default: solutions/<id>)")
    report.set_defaults(func=cmd_report)

    split = sub.add_parser("split", help="turn an nbgrader-style source notebook into an assignment and its solutions")
    split.add_argument("source", help="the source notebook (### BEGIN SOLUTION regions, nbgrader test cells)")
    split.add_argument("--id", required=True, help="the new assignment's id (lower-case letters, digits, _)")
    split.add_argument("--root", default=".", help="the course folder holding assignments/ and solutions/")
    split.add_argument("--version", default="1.0", help="the assignment's version (default 1.0)")
    split.add_argument("--force", action="store_true", help="overwrite an existing assignment of that id")
    split.set_defaults(func=cmd_split)

    export = sub.add_parser("export", help="grades from the gradebook as CSV, Canvas import CSV or Gradescope results")
    export.add_argument("gradebook", help="the gradebook (grades.db)")
    export.add_argument("--assignment", required=True, metavar="ID", help="the assignment id")
    export.add_argument("--format", choices=["csv", "canvas", "gradescope"], default="csv",
                        help="csv: a row per student, a column per question; canvas: Canvas gradebook import; "
                             "gradescope: OUT/<student>/results.json")
    export.add_argument("--out", required=True, help="the file to write (a folder for --format gradescope)")
    export.add_argument("--roster", metavar="CSV", help="canvas: a Canvas gradebook export, for names, ids, sections")
    export.add_argument("--column", metavar="NAME", help="canvas: the assignment column, as Canvas names it "
                        "(e.g. 'A2 autograd (123456)'; default: the assignment id)")
    export.set_defaults(func=cmd_export)

    override = sub.add_parser("override", help="set a student's points on one check (kept through regrades)")
    override.add_argument("gradebook", help="the gradebook (grades.db)")
    override.add_argument("--student", required=True, help="the student id, as the gradebook has it")
    override.add_argument("--check", required=True, help="the check id, e.g. q3.final_loss")
    override.add_argument("--points", type=float, help="the points to give, 0 to the check's maximum")
    override.add_argument("--comment", help="why (shown with the override in reports and exports)")
    override.add_argument("--assignment", metavar="ID", help="needed only if the student has several assignments")
    override.add_argument("--remove", action="store_true", help="remove the override: the autograder's points again")
    override.set_defaults(func=cmd_override)

    gradescope = sub.add_parser("gradescope", help="build a Gradescope autograder zip for an assignment")
    gradescope.add_argument("assignment", help="the assignment folder (assignments/<id>)")
    gradescope.add_argument("--out", default="autograder.zip", help="the zip to write (default: autograder.zip)")
    gradescope.add_argument("--solutions", metavar="DIR", help="the solutions folder (default: solutions/<id>)")
    gradescope.set_defaults(func=cmd_gradescope)

    gradescope_run = sub.add_parser("gradescope-run", help="grade one Gradescope submission (run by run_autograder)")
    gradescope_run.add_argument("assignment", help="the assignment folder")
    gradescope_run.add_argument("--solutions", metavar="DIR", help="the solutions folder")
    gradescope_run.add_argument("--submission", default="/autograder/submission", help="the student's upload folder")
    gradescope_run.add_argument("--results", default="/autograder/results/results.json", help="results.json to write")
    gradescope_run.set_defaults(func=cmd_gradescope_run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
