"""Rendering a view: the Jinja2 environment, a student's HTML and Markdown report, and writing it.

HTML reports are self-contained files: inline CSS, plots as inline PNGs (matplotlib's Agg canvas,
no pyplot state), no script and no external resource.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from tensorgrade.grading.results import SubmissionResult
from tensorgrade.reports.formatting import safe_name
from tensorgrade.reports.view import notebook_sources, report_view

TEMPLATES = Path(__file__).resolve().parent / "templates"


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------

def _fence(text: str, lang: str = "") -> str:
    """A Markdown fenced block that no backtick run inside `text` can close."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{text}\n{fence}"


def _inline_code(text: Any) -> Markup:
    """HTML: the text escaped, with its `backtick spans` as <code>."""
    escaped = str(escape(str(text)))
    return Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped))


def _md(text: Any) -> str:
    """Inline Markdown text: HTML and Markdown syntax in it shown as text."""
    parts = re.split(r"(`[^`\n]+`)", str(text))
    out = []
    for i, part in enumerate(parts):
        if i % 2:  # a `code span`: kept as code (Markdown shows its content literally)
            out.append(part.replace("|", "\\|"))
        else:
            part = html.escape(part, quote=False)
            out.append(re.sub(r"([\\`*_\[\]|#])", r"\\\1", part))
    return "".join(out).replace("\n", " ")


_environment: Environment | None = None


def environment() -> Environment:
    global _environment
    if _environment is None:
        env = Environment(loader=FileSystemLoader(str(TEMPLATES)),
                          autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True,
                                                       default=False),
                          undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                          keep_trailing_newline=True)
        env.filters["fence"] = _fence
        env.filters["md"] = _md
        env.filters["code"] = _inline_code
        env.filters["urlpath"] = lambda p: quote(str(p))
        _environment = env
    return _environment


def render_html(result: SubmissionResult, assignment=None, *, ta: bool = False, student: str | None = None,
                sources: dict[int, str] | None = None) -> str:
    view = report_view(result, assignment, ta=ta, student=student, sources=sources)
    return environment().get_template("report.html").render(r=view)


def render_markdown(result: SubmissionResult, assignment=None, *, ta: bool = False, student: str | None = None,
                    sources: dict[int, str] | None = None) -> str:
    view = report_view(result, assignment, ta=ta, student=student, sources=sources)
    return environment().get_template("report.md").render(r=view)


def write_student_report(result: SubmissionResult, assignment=None, out_dir: str | Path = ".", *,
                         name: str | None = None, markdown: bool = False, student: str | None = None) -> Path:
    """The student's HTML report in `out_dir` (`<notebook>.report.html`; with `markdown`, the .md
    beside it); returns the HTML's path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = safe_name(name or Path(result.submission).stem or "submission")
    path = out / f"{stem}.report.html"
    sources = notebook_sources(result.submission)
    path.write_text(render_html(result, assignment, student=student, sources=sources), encoding="utf-8")
    if markdown:
        (out / f"{stem}.report.md").write_text(render_markdown(result, assignment, student=student, sources=sources),
                                               encoding="utf-8")
    return path
