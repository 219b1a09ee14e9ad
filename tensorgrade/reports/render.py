"""Rendering a view: the Jinja2 environment, a student's HTML and Markdown report, and writing it.

HTML reports are self-contained files: inline CSS, plots as inline PNGs (matplotlib's Agg canvas,
no pyplot state), no script and no external resource.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from tensorgrade.grading.results import SubmissionResult
from tensorgrade.reports.formatting import safe_name
from tensorgrade.reports.view import notebook_sources, report_view
from tensorgrade.safe_text import for_markdown, for_terminal

TEMPLATES = Path(__file__).resolve().parent / "templates"


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------

def _fence(text: Any, lang: str = "") -> str:
    """A Markdown fenced block that no backtick run inside `text` can close; its control characters
    written out (`for_terminal`: a Markdown file is also read with `cat`)."""
    text = for_terminal(text)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{text}\n{fence}"


def _inline_code(text: Any) -> Markup:
    """HTML: the text escaped, with its `backtick spans` as <code>."""
    escaped = str(escape(str(text)))
    return Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped))


def _md_course(text: Any) -> str:
    """Inline Markdown for the course's own text (diagnoses, descriptions, titles): escaped as
    `for_markdown` escapes, except that its `code spans` stay code. Never for student text."""
    parts = re.split(r"(`[^`\n]+`)", re.sub(r"\s*\n\s*", " ", str(text)))
    return "".join(part.replace("|", "\\|") if i % 2 else for_markdown(part) for i, part in enumerate(parts))


def _visible_controls(value: Any) -> Any:
    """Every value a template writes, with its control characters written out (`for_terminal`): in a
    page, a raw ESC or a bidi override would hide or reorder what the TA reads."""
    if isinstance(value, Markup):
        return Markup(for_terminal(str(value)))  # already escaped HTML: the escapes add no markup
    return for_terminal(value) if isinstance(value, str) else value


def _md_code(text: Any) -> str:
    """A Markdown code span of one line for an identifier of the course's (a check id, a diagnosis
    name): no backtick run, newline or table pipe inside can end it early."""
    text = for_terminal(text, one_line=True).replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


_environment: Environment | None = None


def environment() -> Environment:
    global _environment
    if _environment is None:
        env = Environment(loader=FileSystemLoader(str(TEMPLATES)),
                          autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True,
                                                       default=False),
                          undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                          keep_trailing_newline=True, finalize=_visible_controls)
        env.filters["fence"] = _fence
        env.filters["md"] = for_markdown  # anything a student may have written
        env.filters["md_course"] = _md_course
        env.filters["md_code"] = _md_code
        env.filters["code"] = _inline_code
        env.filters["urlpath"] = lambda p: quote(str(p))
        _environment = env
    return _environment


def render_view(view: dict, kind: str) -> str:
    """A report view rendered: `kind` "html" (self-contained page) or "md" (Markdown)."""
    return environment().get_template("report.html" if kind == "html" else "report.md").render(r=view)


def render_html(result: SubmissionResult, assignment=None, *, ta: bool = False, student: str | None = None,
                sources: dict[int, str] | None = None) -> str:
    return render_view(report_view(result, assignment, ta=ta, student=student, sources=sources), "html")


def render_markdown(result: SubmissionResult, assignment=None, *, ta: bool = False, student: str | None = None,
                    sources: dict[int, str] | None = None) -> str:
    return render_view(report_view(result, assignment, ta=ta, student=student, sources=sources), "md")


def failure_page(student: Any, kind: str, *, reason: str | None = None, title: str = "report") -> str:
    """What is written in place of a report that could not be rendered (built without the templates,
    which may be what failed): HTML or Markdown, the student's name escaped; the reason only where
    given (the TA's copies: an exception's text is not for the student's eyes)."""
    told = f"could not be rendered: {reason}" if reason else \
        "could not be rendered; the course staff have been told and will send it to you"
    if kind == "md":
        return (f"# {for_markdown(title)}: {for_markdown(student)}\n\n"
                f"**This {for_markdown(title)} {for_markdown(told)}.**\n")
    from html import escape as html_escape

    return ("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{html_escape(str(student))}: {html_escape(title)} not rendered</title>\n</head>\n<body>\n"
            f"<main><h1>{html_escape(title)}: {html_escape(str(student))}</h1>\n"
            f"<p class=\"render-failed\"><b>This {html_escape(title)} {html_escape(told)}.</b></p></main>\n"
            "</body>\n</html>\n")


def write_text(path: Path, text: str) -> None:
    """UTF-8, with what UTF-8 cannot hold (a lone surrogate from a notebook) written as its escape."""
    path.write_text(text, encoding="utf-8", errors="backslashreplace")


def write_student_report(result: SubmissionResult, assignment=None, out_dir: str | Path = ".", *,
                         name: str | None = None, markdown: bool = False, student: str | None = None) -> Path:
    """The student's HTML report in `out_dir` (`<notebook>.report.html`; with `markdown`, the .md
    beside it); returns the HTML's path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = safe_name(name or Path(result.submission).stem or "submission")
    path = out / f"{stem}.report.html"
    sources = notebook_sources(result.submission)
    write_text(path, render_html(result, assignment, student=student, sources=sources))
    if markdown:
        write_text(out / f"{stem}.report.md", render_markdown(result, assignment, student=student, sources=sources))
    return path
