"""What the TA sees of a batch: a live progress bar while grading, a summary table and a line at the end.

Student names, file names and diagnoses go through `safe_text.for_rich_markup` (one line each)
before rich sees them: no escape sequence of a student's reaches the TA's terminal.
"""

from __future__ import annotations

from collections import Counter
from typing import Callable

from tensorgrade.classroom.batch import BatchItem, BatchOutcome, main_diagnosis
from tensorgrade.safe_text import for_rich_markup


class RichBatchDisplay:
    """A progress bar with ETA and counts per status, and the running total of failed checks.
    With `details`, each result's check table is printed as it completes."""

    def __init__(self, console, details: bool = False, print_result: Callable | None = None):
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)

        self.console = console
        self.details = details
        self.print_result = print_result
        self.counts: Counter = Counter()
        self.failed_checks = 0
        self.below_full = 0
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(bar_width=20),
                                 MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("ETA"),
                                 TimeRemainingColumn(), TextColumn("{task.fields[counts]}"),
                                 console=console, transient=False)
        self.task = None

    def __enter__(self) -> "RichBatchDisplay":
        return self

    def __exit__(self, *exc) -> None:
        if self.task is not None:
            self.progress.stop()

    def _counts_text(self) -> str:
        return (f"[green]graded {self.counts['graded']}[/green] [yellow]invalid {self.counts['invalid']}[/yellow] "
                f"[magenta]error {self.counts['error']}[/magenta] | failed checks {self.failed_checks} "
                f"(below full marks {self.below_full})")

    def started(self, to_grade: int, skipped: int) -> None:
        if skipped:
            self.console.print(f"{skipped} submission(s) unchanged since the gradebook's result: skipped "
                               "(--force regrades them)")
        if not to_grade:
            return
        self.progress.start()
        self.task = self.progress.add_task("grading", total=to_grade, counts=self._counts_text())

    def finished_one(self, item: BatchItem) -> None:
        result = item.result
        assert result is not None
        self.counts[result.status] += 1
        self.failed_checks += sum(1 for check in result.checks if check.points < check.max_points)
        if result.status == "graded" and result.score < result.max_score:
            self.below_full += 1
        if self.details and self.print_result:
            self.print_result(self.progress.console, result)
        self.progress.update(self.task, advance=1, counts=self._counts_text())


def summary_table(outcome: BatchOutcome):
    from rich.table import Table

    def safe(text) -> str:  # a name, a file, a diagnosis: one line
        return for_rich_markup(text, one_line=True)

    table = Table(title="Batch summary", title_justify="left")
    table.add_column("student")
    table.add_column("score", justify="right")
    table.add_column("status")
    table.add_column("main diagnosis", overflow="fold", max_width=70)
    table.add_column("file", overflow="fold", max_width=40)
    styles = {"graded": "green", "invalid": "yellow", "error": "magenta"}
    for item in outcome.items:
        result = item.result
        if result is None:  # the batch was interrupted before this one was graded
            table.add_row(safe(item.submission.student), "", "[dim]not graded[/dim]", "", "")
            continue
        style = styles.get(result.status, "")
        status = f"[{style}]{safe(result.status)}[/{style}]" + (" [dim](unchanged)[/dim]" if item.skipped else "")
        overridden = any(check.details.get("override") for check in result.checks)
        # A grader error has no score (never 0, which is what a poisoned worker looked like): a dash.
        score = ("[magenta]–[/magenta]" if result.status == "error" else f"{result.score:g}/{result.max_score:g}"
                 + (" [cyan](override)[/cyan]" if overridden else ""))
        late = " [red]LATE[/red]" if item.submission.late else ""
        table.add_row(safe(item.submission.student) + late, score, status, safe(main_diagnosis(result)),
                      safe(item.submission.path.name))
    return table


def outcome_line(outcome: BatchOutcome) -> str:
    counts = outcome.status_counts()
    parts = [f"{counts[status]} {status}" for status in ("graded", "invalid", "error") if counts[status]]
    return (f"{len(outcome.items)} submission(s): {', '.join(parts) or 'none graded'}; "
            f"{len(outcome.graded)} graded now, {len(outcome.skipped)} unchanged (skipped); "
            f"{outcome.seconds:.1f} s"
            + (f"; {outcome.worker_restarts} grading worker(s) replaced (a grader failure or a submission's "
               "leftovers; see each error)" if outcome.worker_restarts else ""))
