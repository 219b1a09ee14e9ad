"""`tensorgrade doctor`: which isolation layers work on this machine, and whether grading does."""

from __future__ import annotations

import argparse

from rich.table import Table

from tensorgrade.cli.output import make_console, safe
from tensorgrade.safe_text import for_rich_markup


def cmd_doctor(args: argparse.Namespace) -> int:
    from tensorgrade.sandbox.host.layers import LAYER_DESCRIPTIONS, detect_layers

    console = make_console()
    report = detect_layers()
    table = Table(title="Isolation layers on this machine", title_justify="left")
    table.add_column("layer")
    table.add_column("state")
    table.add_column("what it stops")
    table.add_column("detail", overflow="fold")
    for name, layer in report.layers.items():
        state = "[green]active[/green]" if layer.active else "[red]MISSING[/red]"
        table.add_row(safe(name), state, safe(LAYER_DESCRIPTIONS.get(name, "")), safe(layer.detail))
    console.print(table)
    if report.missing:
        console.print(f"[yellow]{len(report.missing)} layer(s) missing: every result lists them in its "
                      "`isolation` field.[/yellow]")
    else:
        console.print("[green]All isolation layers are available.[/green]")
    return 0 if canary_works(console) else 1


def canary_works(console) -> bool:
    """Grade a canary submission under the layers grading uses, and say plainly whether it works."""
    from tensorgrade.sandbox.host.canary import run_canary

    console.print("A canary submission, graded under these layers:")
    outcome = run_canary()
    for what, ok, problem in outcome.steps:
        mark = "[green]ok[/green]    " if ok else "[red]FAILED[/red]"
        console.print(f"  {mark} {safe(what)}" + (f": {for_rich_markup(problem)}" if problem else ""))
    if outcome.works:
        console.print("[green]Grading works on this machine.[/green]")
        return True
    if outcome.problem:
        console.print(f"  [red]{for_rich_markup(outcome.problem)}[/red]")
    console.print("[bold red]Grading would not work on this machine:[/bold red] every submission would be "
                  "recorded as a grader error (never a score) until the problem above is fixed.")
    return False
