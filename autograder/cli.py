"""The `autograder` command."""

from __future__ import annotations

import argparse
import json
import sys
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
        console.print(f"  [yellow]isolation layers missing:[/yellow] {', '.join(missing)} (see `autograder doctor`)")
    console.print(f"  [bold]total: {result.score:g} / {result.max_score:g}[/bold]   "
                  f"({result.timing.get('total', 0):.2f} s)\n")


def cmd_grade(args: argparse.Namespace) -> int:
    from autograder.assignment import SpecError, load_assignment
    from autograder.grading import Grader, ReferenceFailure

    console = _console()
    try:
        assignment = load_assignment(args.assignment, args.solutions)
    except SpecError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        return 2
    paths = _expand(args.submissions)
    if not paths:
        console.print("[red]error:[/red] no submissions given (notebook files or folders of them)")
        return 2
    results = []
    try:
        with Grader(assignment, jobs=args.jobs) as grader:
            for path in paths:
                result = grader.grade(path)
                results.append(result)
                print_result(console, result)
    except ReferenceFailure as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        return 2
    if args.json:
        Path(args.json).write_text(json.dumps([r.to_json() for r in results], indent=1))
        console.print(f"wrote {args.json}")
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


def cmd_doctor(args: argparse.Namespace) -> int:
    from autograder.isolation import LAYER_DESCRIPTIONS, detect_layers

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="autograder", description="Sandboxed autograder for deep-learning courses")
    sub = parser.add_subparsers(dest="command", required=True)

    grade = sub.add_parser("grade", help="grade submissions of one assignment")
    grade.add_argument("assignment", help="the assignment folder (assignments/<id>)")
    grade.add_argument("submissions", nargs="+", help="notebooks, or folders of notebooks")
    grade.add_argument("--json", metavar="FILE", help="write the results as a JSON array")
    grade.add_argument("--solutions", metavar="DIR", help="the solutions folder (default: solutions/<id> beside assignments/)")
    grade.add_argument("-j", "--jobs", type=int, default=1, help="parallel sandboxed workers")
    grade.set_defaults(func=cmd_grade)

    doctor = sub.add_parser("doctor", help="which isolation layers work on this machine")
    doctor.set_defaults(func=cmd_doctor)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
