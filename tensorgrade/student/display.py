"""What a check cell shows: a compact HTML block (Jupyter, JupyterLab, VS Code, Colab) and the same
as text elsewhere.

Everything in a result may come from the student's code (exception messages, returned values
quoted in a message, names), so every piece of text is written out with its control characters
visible (`safe_text.for_terminal`) and, in HTML, escaped (`html.escape`): inline styles only, no
script, nothing fetched.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

from tensorgrade.safe_text import for_terminal

STATUS_COLOURS = {"passed": "#1a7f37", "failed": "#cf222e", "error": "#cf222e", "timeout": "#9a6700",
                  "not implemented": "#6e7781"}
NOT_IMPLEMENTED = "not-implemented"
MAX_MESSAGE_LINES = 40  # a long traceback is cut in the cell (the whole of it stays in .results)


def _h(text) -> str:
    return html.escape(for_terminal(text), quote=True)


def _points(value: float) -> str:
    return f"{value:g}"


def _plural(count: float, word: str) -> str:
    return f"{_points(count)} {word}" + ("" if count == 1 else "s")


def _cut(message: str) -> str:
    lines = message.split("\n")
    if len(lines) <= MAX_MESSAGE_LINES:
        return message
    return "\n".join([*lines[:5], f"... ({len(lines) - MAX_MESSAGE_LINES} lines left out)",
                      *lines[-(MAX_MESSAGE_LINES - 6):]])


@dataclass
class Message:
    """A line of the checker's own (init's status, a checker that cannot run): text and HTML."""

    text: str
    ok: bool = True

    def _repr_html_(self) -> str:
        colour = "#1a7f37" if self.ok else "#9a6700"
        lines = "<br>".join(_h(line) for line in self.text.split("\n"))
        return (f'<div style="border-left:4px solid {colour};padding:4px 8px;margin:2px 0;'
                f'font-family:system-ui,sans-serif;font-size:13px">{lines}</div>')

    def __repr__(self) -> str:
        return for_terminal(self.text)

    __str__ = __repr__


@dataclass
class CheckReport:
    """The result of `tg.check(...)` / `tg.check_all()`.

    `.results`: one dict per public check run, with the keys of a graded check (id, question,
    status, points, max_points, message, diagnosis; `explanation` where a diagnosis is named).
    `.hidden`: question -> (number of hidden checks, their points), graded after submission."""

    assignment: str
    questions: list[str]
    results: list[dict] = field(default_factory=list)
    hidden: dict[str, tuple[int, float]] = field(default_factory=dict)
    note: str | None = None  # why nothing ran (no release, an unknown question), or None

    @property
    def points(self) -> float:
        return round(sum(r["points"] for r in self.results), 6)

    @property
    def max_points(self) -> float:
        return round(sum(r["max_points"] for r in self.results), 6)

    @property
    def passed(self) -> bool:
        return self.note is None and all(r["status"] == "passed" for r in self.results)

    def _by_question(self) -> list[tuple[str, list[dict]]]:
        return [(q, [r for r in self.results if r["question"] == q]) for q in self.questions]

    def _hidden_line(self, question: str) -> str:
        count, points = self.hidden.get(question, (0, 0.0))
        return f"+ {_plural(points, 'point')} graded after submission" if count else ""

    @staticmethod
    def _stub(results: list[dict]) -> bool:
        return bool(results) and all(r["diagnosis"] == NOT_IMPLEMENTED for r in results)

    # -- text ---------------------------------------------------------------------------------

    def __repr__(self) -> str:
        if self.note is not None:
            return for_terminal(self.note)
        lines = []
        for question, results in self._by_question():
            points = sum(r["points"] for r in results)
            total = sum(r["max_points"] for r in results)
            hidden = self._hidden_line(question)
            head = f"{question}: {_points(points)} / {_points(total)} points" + (f" ({hidden})" if hidden else "")
            if self._stub(results):
                lines.append(f"{head}: not implemented yet (the stub still raises NotImplementedError)")
                continue
            lines.append(head)
            for r in results:
                status = r["status"].upper()
                message = _cut(r["message"]).split("\n")
                lines.append(f"  {status:7} {r['id']}  {_points(r['points'])}/{_points(r['max_points'])}  {message[0]}")
                lines += [f"          {line}" for line in message[1:]]
                if r.get("diagnosis"):
                    explanation = r.get("explanation")
                    lines.append(f"          diagnosis: {r['diagnosis']}" + (f": {explanation}" if explanation else ""))
        if len(self.questions) > 1:
            hidden = sum(points for _, points in self.hidden.values())
            lines.append(f"public checks: {_points(self.points)} / {_points(self.max_points)} points"
                         + (f"; {_plural(hidden, 'point')} in hidden checks, graded after submission" if hidden else ""))
        return for_terminal("\n".join(lines))

    __str__ = __repr__

    # -- HTML ---------------------------------------------------------------------------------

    def _repr_html_(self) -> str:
        box = ('<div style="font-family:system-ui,sans-serif;font-size:13px;line-height:1.4;'
               'border:1px solid #d0d7de;border-radius:6px;padding:6px 10px;margin:2px 0">')
        if self.note is not None:
            return Message(self.note, ok=False)._repr_html_()
        parts = [box]
        for question, results in self._by_question():
            points = sum(r["points"] for r in results)
            total = sum(r["max_points"] for r in results)
            hidden = self._hidden_line(question)
            colour = STATUS_COLOURS["passed" if points >= total and results else "failed"]
            stub = self._stub(results)
            if stub:
                colour = STATUS_COLOURS["not implemented"]
            parts.append(f'<div style="margin:2px 0"><b style="color:{colour}">{_h(question)}</b> '
                         f'{_h(_points(points))} / {_h(_points(total))} points'
                         + (f' <span style="color:#6e7781">{_h(hidden)}</span>' if hidden else "")
                         + (' &middot; not implemented yet: the stub still raises NotImplementedError'
                            if stub else "") + "</div>")
            if stub:
                continue
            parts.append('<table style="border-collapse:collapse;margin:0 0 4px 12px">')
            for r in results:
                colour = STATUS_COLOURS.get(r["status"], "#cf222e")
                message = _cut(r["message"])
                cell = (f'<pre style="margin:0;white-space:pre-wrap;font-size:12px">{_h(message)}</pre>'
                        if "\n" in message else _h(message))
                if r.get("diagnosis"):
                    explanation = r.get("explanation")
                    cell += (f'<div style="margin-top:2px"><b>{_h(r["diagnosis"])}</b>'
                             + (f": {_h(explanation)}" if explanation else "") + "</div>")
                parts.append(
                    '<tr style="vertical-align:top">'
                    f'<td style="padding:1px 6px;color:{colour};font-weight:600">{_h(r["status"])}</td>'
                    f'<td style="padding:1px 6px"><code>{_h(r["id"])}</code></td>'
                    f'<td style="padding:1px 6px;white-space:nowrap">{_h(_points(r["points"]))} / '
                    f'{_h(_points(r["max_points"]))}</td>'
                    f'<td style="padding:1px 6px">{cell}</td></tr>')
            parts.append("</table>")
        if len(self.questions) > 1:
            hidden = sum(points for _, points in self.hidden.values())
            parts.append(f'<div style="margin-top:4px"><b>public checks: {_h(_points(self.points))} / '
                         f'{_h(_points(self.max_points))} points</b>'
                         + (f' <span style="color:#6e7781">+ {_h(_plural(hidden, "point"))} in hidden checks, '
                            'graded after submission</span>' if hidden else "") + "</div>")
        parts.append("</div>")
        return "".join(parts)
