"""`tensorgrade doctor`: which isolation layers work on this machine."""

from __future__ import annotations

import argparse

from rich.markup import escape
from rich.table import Table

from tensorgrade.cli.output import make_console


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
        table.add_row(name, state, LAYER_DESCRIPTIONS.get(name, ""), escape(layer.detail))
    console.print(table)
    if report.missing:
        console.print(f"[yellow]{len(report.missing)} layer(s) missing: grading still runs, and every result "
                      "lists them in its `isolation` field.[/yellow]")
    else:
        console.print("[green]All isolation layers are available.[/green]")
    return 0
