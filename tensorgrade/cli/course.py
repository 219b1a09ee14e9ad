"""The course's commands: `release` (the gate), `check` (a student's public checks), `split` (authoring).

Paths, file names and notebook-derived text go through `safe` (one line) or `for_rich_markup`
(text of several lines: a gate's problem, a spec's error) before rich prints them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tensorgrade.cli.output import make_console, safe, soft_printer
from tensorgrade.safe_text import for_rich_markup


def cmd_release(args: argparse.Namespace) -> int:
    from tensorgrade.course.release.gate import release_assignment

    console = make_console()
    say = soft_printer(console)
    if args.solutions and len(args.assignments) > 1:
        say("[red]error:[/red] --solutions names one assignment's solutions: release one assignment")
        return 2
    refused = 0
    for folder in args.assignments:
        say(f"[bold]{safe(folder)}[/bold]: release gate ...")
        report = release_assignment(folder, args.out, args.solutions, jobs=args.jobs)
        for stage in report.stages_passed:
            say(f"  [green]passed[/green]  {safe(stage)}")
        for problem in report.problems:
            say(f"  [red]FAILED[/red]  {safe(problem.stage)}: {for_rich_markup(problem.message)}")
        for stage in report.stages_not_run:
            say(f"  [yellow]not run[/yellow] {safe(stage)}")
        for note in report.notes:
            say(f"  [yellow]note:[/yellow] {for_rich_markup(note)}")
        if report.ok:
            say(f"  released to {safe(report.release_dir)} and {safe(report.zip_path)}\n")
        else:
            refused += 1
            say(f"  [bold red]release refused: nothing was written for {safe(report.assignment)}[/bold red]\n")
    return 1 if refused else 0


def cmd_check(args: argparse.Namespace) -> int:
    from tensorgrade.course.release.student_check import ReleaseError, check_notebook, find_release_folder

    console = make_console()
    say = soft_printer(console)
    notebook = Path(args.notebook)
    if not notebook.is_file():  # a typo: nothing is checked and no report file is written
        from tensorgrade.cli.grade import missing_paths

        problem = (missing_paths([args.notebook]) or [f"{args.notebook}: a folder, not a notebook"])[0]
        beside = notebook if notebook.is_dir() else notebook.parent
        notebooks = sorted(p.name for p in beside.glob("*.ipynb")) if beside.is_dir() else []
        say(f"[red]error:[/red] {safe(problem)}" + (f"; the notebooks in {safe(beside)}: "
                                                    f"{safe(', '.join(notebooks))}" if notebooks else ""))
        return 2
    try:
        folder = Path(args.release) if args.release else find_release_folder(notebook)
        result, release = check_notebook(folder, notebook)
    except ReleaseError as exc:
        say(f"[red]error:[/red] {for_rich_markup(exc)}")
        return 2
    from tensorgrade.reports.render import write_student_report
    from tensorgrade.reports.terminal import print_terminal_report

    print_terminal_report(console, result, release.assignment)
    hidden = release.hidden_checks
    if hidden:
        by_question: dict[str, float] = {}
        for check in hidden:
            by_question[check.question] = by_question.get(check.question, 0) + check.points
        total = sum(c.points for c in release.assignment.checks)
        say(f"  public checks only: {len(hidden)} hidden check(s) worth {sum(c.points for c in hidden):g} point(s) "
            f"run when your submission is graded ("
            + ", ".join(f"{safe(question)} {points:g}" for question, points in by_question.items())
            + f"): your grade is out of {total:g}.")
    if not args.no_html:
        try:
            page = write_student_report(result, release.assignment, notebook.resolve().parent)
            say(f"  report: {safe(page)}")
        except OSError as exc:
            say(f"  [yellow]note:[/yellow] the HTML report could not be written: {safe(exc)}")
    return 0 if result.status == "graded" else 1


def cmd_split(args: argparse.Namespace) -> int:
    """Deprecated: `tensorgrade import nbgrader` does what `split` did, faithfully to nbgrader (stubs
    unmarked solution cells, expands AUTOTEST, counts manual questions) into the single-source format."""
    from tensorgrade.cli.authoring import cmd_import

    say = soft_printer(make_console())
    say("[yellow]note:[/yellow] `tensorgrade split` is deprecated: it runs `tensorgrade import nbgrader "
        f"{safe(args.source)} --id {safe(args.id)}`, which writes solutions/{safe(args.id)}/{safe(args.id)}.py and builds it")
    args.tool, args.notebook = "nbgrader", args.source
    return cmd_import(args)
