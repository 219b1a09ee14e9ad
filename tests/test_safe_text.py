"""tensorgrade.safe_text: student-derived text made harmless at each human boundary."""

import csv
import io
import re

import pytest
from markdown_it import MarkdownIt
from rich.console import Console

from tensorgrade.safe_text import file_name, for_markdown, for_rich_markup, for_spreadsheet, for_terminal

RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")

ATTACKS = [
    "\x1b]52;c;ZWNobyBwd25lZA==\x07",       # OSC 52: write the clipboard
    "\x1b]0;window title\x07",              # OSC 0: the window title
    "\x1b[2J\x1b[H  total: 10 / 10",        # clear the screen, a fake score
    "\x9b31m red \x9d0;c1 title\x9c",       # C1 CSI and OSC (one character each)
    "passed\rfailed",                       # CR: overwrite the line
    "\x08\x08\x08\x7f\x00\x0b\x0c",         # backspaces, DEL, NUL, VT, FF
    "admin\u202etxt.exe",                   # a bidi override reorders what is shown
    "lone \udc80 surrogate",                # cannot be encoded: printing it raises
]


# ---------------------------------------------------------------------------------------------
# for_terminal, for_rich_markup
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("attack", ATTACKS)
def test_for_terminal_writes_every_control_character_out(attack):
    safe = for_terminal(attack)
    assert not RAW_CONTROL.search(safe)
    safe.encode("utf-8")  # no lone surrogate left: it prints
    assert for_terminal(safe) == safe  # idempotent: safe text stays as it is


def test_for_terminal_escapes_are_visible_and_keep_newlines_and_tabs():
    assert for_terminal("a\x1b[31mb") == "a\\x1b[31mb"
    assert for_terminal("\x9b\x85\r\x00\x7f") == "\\x9b\\x85\\x0d\\x00\\x7f"
    assert for_terminal("\u202e\udc80") == "\\u202e\\udc80"
    assert for_terminal("line 1\n\tline 2") == "line 1\n\tline 2"
    assert for_terminal("line 1\n\tline 2", one_line=True) == "line 1\\x0a\\x09line 2"
    assert for_terminal("naïve ✓ 中文 😀") == "naïve ✓ 中文 😀"
    assert for_terminal(None) == "" and for_terminal(3.5) == "3.5"

    class Hostile:
        def __str__(self):
            raise RuntimeError("no")

    assert "str() failed" in for_terminal(Hostile())


def test_for_rich_markup_neutralises_markup_and_escapes():
    text = "[bold red]fake[/] [link=https://evil.example]x[/link] \x1b]52;c;eA==\x07"
    buffer = io.StringIO()
    Console(file=buffer, force_terminal=True, color_system="truecolor", width=200).print(
        f"[green]{for_rich_markup(text)}[/green]")
    out = re.sub(r"\x1b\[[0-9;]*m", "", buffer.getvalue())  # rich's own colour codes
    assert not RAW_CONTROL.search(out)
    assert "[bold red]fake[/]" in out and "[link=https://evil.example]" in out and "\\x1b]52;c;" in out
    assert for_rich_markup("a\nb", one_line=True) == "a\\x0ab"


# ---------------------------------------------------------------------------------------------
# for_markdown
# ---------------------------------------------------------------------------------------------

HOSTILE_MARKDOWN = [
    "\n\n<img src=x onerror=alert(1)>\n\n",
    "<script>alert(1)</script>",
    "![x](javascript:alert(1)) [click](javascript:alert(1))",
    "`code` **bold** _em_ ~~strike~~ | a | b |",
    "# heading",
    "- list item",
    "1. ordered",
    "> quote",
    "===",
    "<!-- comment",
    "&lt;img src=x onerror=alert(1)&gt;",
    "a\r\n\r\n<b>x</b>\u2028<i>y</i>",
    "\\<img src=x>",
]


@pytest.mark.parametrize("text", HOSTILE_MARKDOWN)
@pytest.mark.parametrize("where", ["{}", "# {}", "| {} | x |\n| --- | --- |\n| {} | y |", "- {}", "> {}"])
def test_for_markdown_is_text_wherever_a_template_puts_it(text, where):
    safe = for_markdown(text)
    assert "\n" not in safe and "\r" not in safe and "<" not in safe
    html = MarkdownIt("commonmark", {"html": True}).enable("table").enable("strikethrough").render(
        where.format(safe, safe))
    # No element of the student's: only what the template's own syntax makes.
    tags = set(re.findall(r"<([a-z0-9]+)", html))
    assert tags <= {"p", "h1", "table", "thead", "tbody", "tr", "th", "td", "ul", "li", "blockquote"}, (tags, html)
    assert not re.search(r"<[a-z0-9]+ [^>]*(href|src|on[a-z]+)=", html), html
    assert html.count("<p>") <= 1 and html.count("<li>") <= 1


def test_for_markdown_shows_the_text_as_written():
    safe = for_markdown("\n\n<img src=x onerror=alert(1)>\n\n")
    assert safe == "\\x0a\\x0a&lt;img src=x onerror=alert(1)&gt;\\x0a\\x0a"
    html = MarkdownIt("commonmark", {"html": True}).render(for_markdown("a *b* `c` [d](e) <f> & 1_000"))
    assert html == "<p>a *b* `c` [d](e) &lt;f&gt; &amp; 1_000</p>\n"
    assert for_markdown("\x1b]52;c;eA==\x07") == "\\x1b\\]52;c;eA==\\x07"


# ---------------------------------------------------------------------------------------------
# for_spreadsheet
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("cell", ["=HYPERLINK(\"http://evil\",\"x\")", "+1+1", "-1+cmd|' /C calc'!A0", "@SUM(A1)",
                                  "\t=1", "\r=1", "\n=1", "＝1+1"])
def test_for_spreadsheet_makes_formulas_text(cell):
    assert for_spreadsheet(cell) == "'" + cell


def test_for_spreadsheet_leaves_numbers_and_plain_text():
    assert for_spreadsheet(-1.5) == -1.5 and for_spreadsheet(7) == 7 and for_spreadsheet(None) is None
    assert for_spreadsheet("j_smith") == "j_smith" and for_spreadsheet("a=b") == "a=b" and for_spreadsheet("") == ""
    buffer = io.StringIO()
    csv.writer(buffer).writerow([for_spreadsheet(c) for c in ["=1+1", "x,y", -2]])
    assert buffer.getvalue() == "'=1+1,\"x,y\",-2\r\n"


# ---------------------------------------------------------------------------------------------
# file_name
# ---------------------------------------------------------------------------------------------

def test_file_name_never_maps_two_names_to_one_file():
    names = ["j~smith", "j_smith", "J_Smith", "j smith", "j/smith", "j\\smith", "j_smith ", "", ".", "..",
             "student", "José", "Jose", "中文", "日本", "\n\n<img src=x onerror=alert(1)>\n\n", "\udc80", "a" * 500,
             "a" * 501]
    mapped = [file_name(n) for n in names]
    assert len({m.lower() for m in mapped}) == len(names)  # apart even on a case-insensitive disk
    for name, safe in zip(names, mapped):
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*-[0-9a-f]{10}", safe), (name, safe)
        assert len(safe) <= 64 + 11 and safe == file_name(name)  # bounded, and the same every time


def test_file_name_is_readable():
    assert file_name("j~smith").startswith("j_smith-") and file_name("José Álvarez").startswith("Jose_Alvarez-")
    assert file_name("..").startswith("student-") and file_name("\n<img src=x>").startswith("img_src_x-")
