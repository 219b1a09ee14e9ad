"""A student's report in the terminal (rich): what `tensorgrade check` prints."""

from __future__ import annotations

import re

from typing import Any

from tensorgrade.grading.results import SubmissionResult
from tensorgrade.reports.view import report_view
from tensorgrade.safe_text import for_terminal


# ---------------------------------------------------------------------------------------------
# The terminal (the student-side `tensorgrade check`)
# ---------------------------------------------------------------------------------------------

TERMINAL_STYLE = {"passed": "bold green", "failed": "bold red", "error": "bold red", "timeout": "bold yellow",
                  "manual": "bold cyan"}  # manual: awaiting a TA's grade
TERMINAL_MARK = {"passed": "✓", "failed": "✗", "error": "✗", "timeout": "⏱", "manual": "…"}


def _terminal_text(text: str, style: str = ""):
    """Rich Text with `backtick spans` shown as code (cyan, without the backticks)."""
    from rich.text import Text

    out = Text(style=style)
    for i, part in enumerate(re.split(r"`([^`\n]+)`", text)):
        out.append(part, style="cyan" if i % 2 else "")
    return out


def _safe_view(value: Any) -> Any:
    """The view with every string in it through `safe_text.for_terminal`: whatever of it the report
    prints (a message, a traceback, a cell's code, a name, a path), no escape sequence of the
    student's reaches the terminal. rich's markup escape is still applied where markup is built."""
    if isinstance(value, str):
        return for_terminal(value)
    if isinstance(value, dict):
        return {key: _safe_view(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_safe_view(item) for item in value)
    return value


def print_terminal_report(console, result: SubmissionResult, assignment=None, *, ta: bool = False,
                          student: str | None = None) -> None:
    """A rich report: per question, per check, with colours, the diagnosis explained, expected
    versus got and the failing cell with its trimmed traceback. Hidden checks, where the result has
    any, show only passed/failed and points (unless `ta`)."""
    from rich.console import Group
    from rich.markup import escape
    from rich.padding import Padding
    from rich.syntax import Syntax
    from rich.table import Table
    from rich.text import Text

    view = _safe_view(report_view(result, assignment, ta=ta, student=student, plots=False))
    say = lambda text: console.print(text, soft_wrap=True, highlight=False)  # noqa: E731
    say(f"[bold]{escape(view['assignment_title'])}[/bold]  [dim]{escape(view['assignment_id'])} "
        f"v{escape(view['version'])}  ·  {escape(for_terminal(view['submission'], one_line=True))}[/dim]")
    if view["status"] != "graded":
        say(f"  [bold red]{view['status'].upper()}[/bold red]: {escape(str(view['error']))}")
        return
    width = max((len(c["id"]) for q in view["questions"] for c in q["checks"]), default=0)
    for question in view["questions"]:
        colour = {"full": "green", "part": "yellow", "none": "red"}[question["state"]]
        say("")
        say(f"[bold]{escape(question['id'])}[/bold] {escape(question['title'])}  "
            f"[{colour}]{question['score']} / {question['max']}[/{colour}]"
            + (f"  [dim]+ {question['hidden_points']} in hidden checks[/dim]" if question.get("hidden_points") else ""))
        for check in question["checks"]:
            style = TERMINAL_STYLE.get(check["status"], "bold")
            line = Text("  ")
            line.append(f"{TERMINAL_MARK.get(check['status'], '?')} {check['label']:<7}", style=style)
            line.append(f" {check['id']:<{width}}", style="bold")
            line.append(f"  {check['points'] + '/' + check['max_points']:>5}", style="dim")
            if check["hidden"]:
                line.append("  hidden", style="dim italic")
            if check["override"]:
                override = check["override"]
                line.append(f"  TA override (autograder: {override['autograder_points']})", style="bold yellow")
            if not check["redacted"] and check["summary"]:
                line.append("  " + check["summary"], style="" if check["status"] != "passed" else "dim")
            console.print(line, soft_wrap=True, highlight=False)
            if check["override"] and check["override"]["comment"]:
                console.print(Padding(Text(f"TA: {check['override']['comment']}", style="yellow"), (0, 0, 0, 14),
                                      expand=False), highlight=False)
            if check["redacted"] or check["status"] == "passed":
                continue
            body = []
            if check["more"]:
                body.append(Text(check["more"], style="dim"))
            for row in check["comparisons"]:
                body.append(Text.assemble(("expected ", "dim"), (row["expected"], "green"), ("  yours ", "dim"),
                                          (row["got"], "red"), (f"  ({row['what']})", "dim")))
            if check["mismatches"]:
                table = Table(box=None, padding=(0, 2, 0, 0), show_edge=False, header_style="dim")
                for column in ("index", "yours", "expected", "ratio"):
                    table.add_column(column, justify="right" if column != "index" else "left")
                for row in check["mismatches"][:6]:
                    table.add_row(Text(row["index"]), Text(row["got"], style="red"),
                                  Text(row["expected"], style="green"), Text(row["ratio"]))  # never markup
                body.append(table)
            if check["curve"]:
                c = check["curve"]
                text = f"loss curve: {c['length']}, final {c['final']}"
                if c["threshold"]:
                    text += f", threshold {c['threshold']}"
                if c["reference_final"]:
                    text += f", reference final {c['reference_final']}"
                if c["diverged_at"] is not None:
                    text += f"; NaN/inf from {c['diverged_label']}"
                body.append(Text(text, style="dim"))
            diagnosis = check["diagnosis"]
            if diagnosis:
                parts = [Text.assemble(("⚑ ", "bold magenta"), (diagnosis["title"], "bold magenta"),
                                       (f" ({diagnosis['name']})", "magenta"))]
                if diagnosis["explanation"]:
                    parts.append(Padding(_terminal_text(diagnosis["explanation"]), (0, 0, 0, 2), expand=False))
                if diagnosis["mistake"]:
                    parts.append(Padding(Text.assemble(("In this assignment: ", "dim"), _terminal_text(diagnosis["mistake"])),
                                         (0, 0, 0, 2), expand=False))
                if diagnosis["lecture"]:
                    parts.append(Padding(Text.assemble(("Lecture: ", "dim"), (diagnosis["lecture"], "italic")),
                                         (0, 0, 0, 2), expand=False))
                body.append(Group(*parts))
            cell = check["cell"]
            if cell and cell["lines"]:
                numbers = [row["number"] for row in cell["lines"]]
                code = "\n".join(row["text"] for row in cell["lines"])
                body.append(Text(f"cell {cell['index']}, line {cell['line']}:", style="bold"))
                body.append(Syntax(code, "python", line_numbers=True, start_line=numbers[0],
                                   highlight_lines={cell["line"]} if cell["line"] else set(),
                                   theme="ansi_dark", background_color="default", word_wrap=True))
            if check["traceback"]:
                body.append(Text(check["traceback"], style="yellow"))
            failure = check["failure"]
            if failure:
                text = (("a cell failed while your notebook ran: " if failure["blocked"] else "your code raised in ")
                        + f"{failure['title']}: failure {failure['number']}, below")
                if failure["others"]:
                    text += f" (it also broke {', '.join(failure['others'])})"
                body.append(Text("→ " + text, style="bold"))
            for item in body:
                console.print(Padding(item, (0, 0, 0, 14), expand=False), highlight=False)
    if view["failures"]:
        say("")
        say("[bold]Where your code failed[/bold] [dim](each failure once; the checks above refer to it)[/dim]")
    for failure in view["failures"]:
        say("")
        say(f"[bold yellow]failure {failure['number']}: {escape(failure['title'])}[/bold yellow]")
        if failure["lines"]:
            numbers = [row["number"] for row in failure["lines"]]
            console.print(Padding(Syntax("\n".join(row["text"] for row in failure["lines"]), "python",
                                         line_numbers=True, start_line=numbers[0],
                                         highlight_lines={failure["line"]} if failure["line"] else set(),
                                         theme="ansi_dark", background_color="default", word_wrap=True),
                                  (0, 0, 0, 4), expand=False), highlight=False)
        for entry in failure["tracebacks"]:
            who = []
            if entry["run"]:
                who.append(f"while your notebook ran (cell {entry['run']['cell']} "
                           + ("failed)" if entry["run"]["status"] == "error" else "reached its time limit)"))
            if entry["checks"]:
                who.append("when " + ", ".join(entry["checks"]) + " called your code")
            console.print(Padding(Text("; ".join(who) + ":", style="dim"), (0, 0, 0, 4), expand=False),
                          highlight=False)
            console.print(Padding(Text(entry["text"], style="yellow"), (0, 0, 0, 4), expand=False), highlight=False)
        if failure["blocked"]:
            console.print(Padding(Text("checks that need what this cell defines: " + ", ".join(failure["blocked"]),
                                       style="dim"), (0, 0, 0, 4), expand=False), highlight=False)
    if ta:
        for finding in view["integrity"]:
            say(f"  [bold red]integrity:[/bold red] {escape(finding)}")
    colour = {"full": "green", "good": "yellow", "low": "red"}[view["grade_class"]]
    say("")
    say(f"[bold {colour}]total: {view['score']} / {view['max_score']}[/bold {colour}]  "
        f"[dim]({view['passed']} of {view['check_count']} checks passed)[/dim]")
