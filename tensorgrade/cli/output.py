"""What the commands print: the console, each submission's result table, and lines that never wrap."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table


STATUS_STYLE = {"passed": "green", "failed": "red", "error": "magenta", "timeout": "yellow"}


def make_console() -> Console:
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


def soft_printer(console: Console):
    """Print without wrapping: paths and messages stay whole, to be copied or grepped."""
    return lambda text: console.print(text, soft_wrap=True)
