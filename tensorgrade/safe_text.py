"""Student-derived text made harmless where a person reads it: the one place that does it.

Everything a student controls is hostile text wherever a person reads it: their code's output and
exception messages, thread names, file and folder names, notebook metadata, the values their
functions return. Each human boundary gets one small function here, applied to that text just
before it crosses (not earlier: the result keeps the text as it was, for the next boundary):

    for_terminal(text)      before anything from a submission reaches a terminal (one_line=True:
                            a name or a path, newlines written out too)
    for_rich_markup(text)   the same, for text put inside a rich markup string ("[red]...[/red]")
    for_markdown(text)      one line of inline Markdown: a name, a message, a table cell
    for_spreadsheet(cell)   a CSV / Canvas / Gradescope cell that no spreadsheet evaluates
    file_name(name)         a file or folder name, different for every different name

HTML needs nothing here: the Jinja2 templates autoescape every value.  The functions take any value
(`str()` of it; `None` is the empty string) and never raise.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from typing import Any

__all__ = ["for_terminal", "for_rich_markup", "for_markdown", "for_spreadsheet", "file_name", "file_names"]

# Characters that change what a terminal or a page shows instead of being shown: C0 controls
# (ESC starts every terminal escape sequence: colours, cursor moves, the window title, OSC 52
# clipboard writes; CR overwrites a line), DEL, C1 controls (U+009B is a one-character CSI, U+009D
# an OSC), Unicode bidirectional overrides (they reorder what is displayed), the Unicode line and
# paragraph separators, and lone surrogates (they cannot be encoded, so printing one raises).
_CONTROL = "\x00-\x1f\x7f-\x9f"
_INVISIBLE = "\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_TERMINAL_UNSAFE = re.compile(f"[{_CONTROL}{_INVISIBLE}]")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|#~!{}])")
_MARKDOWN_BLOCK_START = re.compile(r"^(\s*)([-+=>]|\d+(?=[.)](?:\s|$)))")
_SPREADSHEET_FORMULA = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    try:
        return str(value)
    except Exception as exc:  # a value whose __str__ fails still gets a name
        return f"<{type(value).__name__}: str() failed: {type(exc).__name__}>"


def _visible(char: str) -> str:
    """`\\x1b`, `\\x9b`, `\\u202e`: the character's code, written out."""
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _escape_unsafe(text: str, keep: str = "") -> str:
    return _TERMINAL_UNSAFE.sub(lambda m: m.group() if m.group() in keep else _visible(m.group()), text)


def for_terminal(text: Any, *, one_line: bool = False) -> str:
    """The text with every control character written out as a visible escape (ESC as `\\x1b`,
    CR as `\\x0d`, U+009B as `\\x9b`, a bidi override as `\\u202e`, a lone surrogate as `\\udc80`);
    newlines and tabs are kept, unless `one_line` (for a name or a path in a line of its own
    making: a newline in it could start a line that looks like the program's).  Nothing in the
    result can move the cursor, recolour, retitle the window, write the clipboard or overwrite a line.

    rich markup is a separate matter: text put inside a markup string (`console.print(f"[red]{x}")`)
    also needs `rich.markup.escape`, which `for_rich_markup` adds; a `rich.text.Text` needs only this.
    """
    return _escape_unsafe(_text(text), keep="" if one_line else "\n\t")


def for_rich_markup(text: Any, *, one_line: bool = False) -> str:
    """`for_terminal`, then rich's markup escape: for text inside a rich markup string, so that
    neither an escape sequence nor a `[bold]`/`[link=...]` tag of the student's takes effect."""
    from rich.markup import escape

    return escape(for_terminal(text, one_line=one_line))


def for_markdown(text: Any) -> str:
    """The text as one line of inline Markdown that shows exactly as text: HTML escaped (`<img ...>`
    shows as `&lt;img ...&gt;`), Markdown syntax escaped (emphasis, links, images, code spans, table
    pipes, headings), line breaks and other control characters written out as visible escapes
    (`\\x0a`), so nothing in it becomes raw HTML, a link or a new Markdown block, wherever a
    template puts it on a line (a paragraph, a list item, a heading, a table cell).

    For text inside a fenced code block use a fence no backtick run in the text can close, and
    `for_terminal` on the text (a Markdown file is also read with `cat`)."""
    out = html.escape(_text(text), quote=False)
    out = _MARKDOWN_SPECIAL.sub(r"\\\1", out)
    out = _MARKDOWN_BLOCK_START.sub(lambda m: m.group(1) + (m.group(2) + "\\" if m.group(2)[0].isdigit()
                                                            else "\\" + m.group(2)), out, count=1)
    return _escape_unsafe(out)


def for_spreadsheet(cell: Any) -> Any:
    """A CSV / Canvas / Gradescope cell that Excel, LibreOffice and Google Sheets show as text: a
    string starting with `=`, `+`, `-`, `@`, a tab, CR or LF (or their full-width forms) gets a leading
    `'` (so `=HYPERLINK(...)` is not a formula).  Numbers, None and other strings are returned as
    they are (a score of -1.5 stays a number).  Pass each cell; let the csv module do the quoting."""
    if isinstance(cell, str) and cell.startswith(_SPREADSHEET_FORMULA):
        return "'" + cell
    return cell


def file_name(name: Any, *, limit: int = 64) -> str:
    """A file or folder name for `name`: its ASCII letters, digits, `.`, `_`, `-` (accents dropped,
    everything else `_`, at most `limit` characters, no leading dot), then `-` and the first 10 hex
    digits of the SHA-256 of the original.  Different names give different file names, even where
    the readable part is the same (`j~smith` and `j_smith`, `J_Smith` on a case-insensitive disk);
    the same name always gives the same file name.  Never empty, `.` or `..`; no path separator."""
    original = _text(name)
    digest = hashlib.sha256(original.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    ascii_text = unicodedata.normalize("NFKD", original).encode("ascii", "ignore").decode("ascii")
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", ascii_text)[:max(1, limit)].strip("._-") or "student"
    return f"{readable}-{digest}"


def file_names(names) -> dict[Any, str]:
    """`file_name` of each of `names`, kept apart also on a disk that ignores case (a `-2`, `-3`
    suffix where two would differ only in case): {name: file name}."""
    mapped: dict[Any, str] = {}
    used: set[str] = set()
    for name in names:
        if name in mapped:
            continue
        base = file_name(name)
        candidate, n = base, 2
        while candidate.lower() in used:
            candidate, n = f"{base}-{n}", n + 1
        used.add(candidate.lower())
        mapped[name] = candidate
    return mapped
