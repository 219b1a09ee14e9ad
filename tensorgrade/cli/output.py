"""What the commands print: the console, each submission's result table, and lines that never wrap.

Everything from a submission (its path, messages, cell errors, integrity findings that name its
threads) goes through `safe_text.for_rich_markup` before rich sees it: rich's markup escape alone
lets escape sequences through (a retitled window, an OSC 52 clipboard write, a fake "10 / 10").
A name, a path or a line of a table is one line (`safe`): a newline in it is written out.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from tensorgrade.safe_text import for_rich_markup


STATUS_STYLE = {"passed": "green", "failed": "red", "error": "magenta", "timeout": "yellow", "manual": "cyan"}


def safe(text) -> str:
    """A name, a path, a message or a line about them, for a rich markup string: one line (a newline
    in it written out, so it cannot start a line that looks like the program's), nothing raw.
    Text of several lines (a spec's error, a traceback) takes `for_rich_markup` itself."""
    return for_rich_markup(text, one_line=True)


def make_console() -> Console:
    return Console(highlight=False, soft_wrap=False)


def print_result(console: Console, result) -> None:
    title = safe(f"{result.submission}  [{result.assignment} v{result.version}]")
    if result.status != "graded":
        console.print(f"[bold]{title}[/bold]\n  [red]{safe(result.status.upper())}[/red]: "
                      f"{safe(result.error)}\n")
        return
    table = Table(title=title, title_justify="left", show_lines=False)
    table.add_column("check")
    table.add_column("points", justify="right")
    table.add_column("status")
    table.add_column("message", overflow="fold", max_width=90)
    for check in result.checks:
        # the first line by "\n" alone: a CR (or \x1c-\x1e, U+2028) of the student's is written out,
        # so a line it would overwrite stays visible
        first_line = (check.message or "").strip().split("\n")[0]
        if check.diagnosis and check.diagnosis not in first_line:
            first_line = f"[{check.diagnosis}] {first_line}"
        style = STATUS_STYLE.get(check.status, "")
        table.add_row(safe(check.id), f"{check.points:g}/{check.max_points:g}",
                      f"[{style}]{safe(check.status)}[/{style}]", safe(first_line))
    console.print(table)
    failing = [c for c in result.cells if c.status in ("error", "timeout")]
    for cell in failing:
        first = (cell.error or "").strip().split("\n")[-1:]
        console.print(f"  cell {cell.index}: [yellow]{safe(cell.status)}[/yellow] {safe(first[0])}")
    for finding in result.integrity:
        console.print(f"  [bold red]integrity:[/bold red] {safe(finding)}")
    missing = [name for name, layer in result.isolation.items() if not layer.get("active")]
    if missing:
        console.print(f"  [yellow]isolation layers missing:[/yellow] {safe(', '.join(missing))}"
                      " (see `tensorgrade doctor`)")
    console.print(f"  [bold]total: {result.score:g} / {result.max_score:g}[/bold]   "
                  f"({result.timing.get('total', 0):.2f} s)\n")


def soft_printer(console: Console):
    """Print without wrapping: paths and messages stay whole, to be copied or grepped."""
    return lambda text: console.print(text, soft_wrap=True)


class ResultTables:
    """A batch's listener for notebook files named on the command line: each submission's table, in
    the order given, printed as soon as it and every submission before it are graded.  Without a
    gradebook (as there, in `grade`) no submission is skipped, so every one is printed."""

    def __init__(self, console: Console, submissions: list):
        self.console = console
        self.waiting = list(submissions)
        self.graded: dict[int, object] = {}  # by id(submission): results that arrived ahead of their turn

    def __enter__(self) -> "ResultTables":
        return self

    def __exit__(self, *exc) -> None:
        pass

    def started(self, to_grade: int, skipped: int) -> None:
        pass

    def finished_one(self, item) -> None:
        self.graded[id(item.submission)] = item.result
        while self.waiting and id(self.waiting[0]) in self.graded:
            print_result(self.console, self.graded.pop(id(self.waiting.pop(0))))
