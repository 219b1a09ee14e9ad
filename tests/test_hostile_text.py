"""Student-derived text at every human boundary of the `tensorgrade` command, with real data.

A class of real a2 notebooks is graded through the command, in folders named with escape sequences
(the window title, an OSC 52 clipboard write, a screen clear, a C1 CSI), spreadsheet formulas
(`=HYPERLINK(...)`, `+cmd`, `-1+1`, `@SUM(1)`), names that sanitise alike (`j~smith`, `j_smith`)
and a name that is not UTF-8 (it stopped a class's grading at the gradebook before), the notebooks printing escape sequences, raising exceptions that hold them and leaving a thread
named with them running.  Then:

* the TA's terminal (`grade` with a class: students found, warnings, progress, `--details` tables,
  summary; notebook files named on the command line: each submission's table; `--dry-run`; a
  typo'd path; `check` on a typo'd notebook; `override`; every `export`): no raw ESC, no other C0
  control but newline and tab, no C1 control, in colour too, where rich's own colours aside there
  is no escape sequence; the names and the attack are still there, written out;
* the CSV and Canvas exports (and a Canvas roster with hostile names): no cell that a spreadsheet
  would evaluate (`=`, `+`, `-`, `@`, tab, CR) unless it is a number, numbers left numeric, no raw
  control character;
* Gradescope's results.json: a folder for each student (j~smith and j_smith apart, each with their
  own results), named recognisably, an index saying whose each folder is, every output plain text.

(A slash cannot be in a folder name, so the HYPERLINK's address here has none.)
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tensorgrade.classroom.discovery import readable
from tensorgrade.classroom.gradebook import Gradebook
from tensorgrade.safe_text import file_name
from conftest import ROOT

A2 = ROOT / "assignments" / "a2_autograd"
SAMPLES = ROOT / "solutions" / "a2_autograd" / "samples"

TITLE = "\x1b]0;pwned\x07"                  # retitles the TA's terminal window
CLIPBOARD = "\x1b]52;c;ZWNobyBvd25lZA==\x07"  # OSC 52: writes the TA's clipboard
CLEAR = "\x1b[2J"                            # clears the screen
C1 = "c1\x9b31mred"                          # a one-character CSI (U+009B)
HYPERLINK = '=HYPERLINK("x.example","y")'
NOT_UTF8 = os.fsdecode(b"not-utf8-\xff")       # a folder name's byte that is not UTF-8: a lone surrogate
FORMULAS = (HYPERLINK, "+cmd", "-1+1", "@SUM(1)")

# Printed output, an exception, a thread's name: escape sequences that would fake a clean result.
ESCAPES_CELL = r'''
import threading
import time

CLIPBOARD = "\x1b]52;c;ZWNobyBvd25lZA==\x07"
FAKE = "\x1b[2J\x1b[H\x1b[32m  total: 10 / 10  \x1b[0m"
print(CLIPBOARD + FAKE + "\x9b31m C1 CSI \r overwritten")
threading.Thread(target=lambda: time.sleep(10 ** 6), daemon=True,
                 name="\x1b]0;thread-title\x07\x9d0;c1-title\x9c").start()
raise RuntimeError("cell failed" + CLIPBOARD + FAKE + "\r\x1b[1A")
'''

# A check's error whose message is the student's own exception.
STRING_CELL = r'''
def _string(self):
    raise ValueError("\x1b]52;c;cHduZWQ=\x07\x1b[2K\r q2.string passed 10 / 10")

Polynomial3.string = _string
'''

STUDENTS = {  # folder (the student id) -> (sample, cells appended)
    TITLE: ("correct", [ESCAPES_CELL]),
    CLIPBOARD: ("wrong_gradient_sign", [STRING_CELL]),
    CLEAR: ("forgot_zero_grad", []),
    C1: ("correct", []),
    HYPERLINK: ("stub_left", []),
    "+cmd": ("correct", []),
    "-1+1": ("no_save_for_backward", []),
    "@SUM(1)": ("parameters_not_registered", []),
    "j~smith": ("correct", []),
    "j_smith": ("wrong_gradient_sign", []),
    NOT_UTF8: ("correct", []),
}
IDS = {readable(folder): folder for folder in STUDENTS}  # student id -> folder: not-utf8-\xff for NOT_UTF8

RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # every C0 but \t and \n, DEL, C1
SGR = re.compile(r"\x1b\[[0-9;]*m")  # rich's own colours
SPREADSHEET_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def cli(*args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tensorgrade", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "COLUMNS": "200", **(env or {})})


def assert_clean(proc: subprocess.CompletedProcess, colour: bool = False) -> str:
    """stdout and stderr together, with no raw control character of anyone's (rich's own colours
    stripped when `colour`)."""
    text = proc.stdout + proc.stderr
    rest = SGR.sub("", text) if colour else text
    found = RAW_CONTROL.search(rest)
    assert found is None, repr(rest[max(0, found.start() - 60):found.start() + 60])
    assert "Traceback" not in text, text[-3000:]
    return text


def message_cells(text: str, check_id: str) -> list[str]:
    """The message column of each result-table row for `check_id` (cli/output.py print_result: check,
    points, status, message), its folded lines put back together and its whitespace dropped: what
    the cell says, wherever rich folded the column (a longer message moves every fold after it)."""
    cells, current = [], None
    for line in SGR.sub("", text).splitlines():
        parts = line.split("│")
        if len(parts) < 6:  # not a body row of a result table
            current = None
            continue
        first, message = parts[1].strip(), "│".join(parts[4:-1])
        if first == check_id:
            current = [message]
            cells.append(current)
        elif first == "" and current is not None:  # the same row's message, folded onto the next line
            current.append(message)
        else:
            current = None
    return [without_space("".join(cell)) for cell in cells]


def without_space(text: str) -> str:
    return re.sub(r"\s+", "", text)


def write_student(folder: Path, sample: str, cells: list[str]) -> Path:
    notebook = nbformat.read(SAMPLES / f"{sample}.ipynb", as_version=4)
    for source in cells:
        notebook.cells.append(nbformat.v4.new_code_cell(source))
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, folder / "a2_autograd.ipynb")
    return folder / "a2_autograd.ipynb"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The class graded once through `tensorgrade grade --gradebook --details`."""
    root = tmp_path_factory.mktemp("hostile-text")
    folder = root / "submissions"
    for student, (sample, cells) in STUDENTS.items():
        write_student(folder / student, sample, cells)
    # a second, older notebook beside the graded one (a warning names both), a file that is not a notebook
    old = folder / TITLE / f"{CLEAR}old.ipynb"
    old.write_bytes((SAMPLES / "stub_left.ipynb").read_bytes())
    os.utime(old, (1_000_000_000, 1_000_000_000))
    (folder / "+cmd" / f"notes{CLIPBOARD}.txt").write_text("not a notebook")
    database = root / "grades.db"
    proc = cli("grade", str(A2), str(folder), "--gradebook", str(database), "--details", "-j", "2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {"root": root, "folder": folder, "database": database, "proc": proc}


def test_the_class_is_graded_with_the_attacks_in_its_results(graded):
    with Gradebook(graded["database"]) as gradebook:
        results = dict(gradebook.results("a2_autograd"))
    assert set(results) == set(IDS) and "not-utf8-\\xff" in results
    assert all(result.status == "graded" for result in results.values())
    escapes = results[TITLE]
    assert any("\x1b]52;c;" in (cell.error or "") for cell in escapes.cells)
    assert any("\x1b]0;thread-title\x07" in finding for finding in escapes.integrity)
    string_check = next(check for check in results[CLIPBOARD].checks if check.id == "q2.string")
    assert string_check.status == "error" and "\x1b]52;c;cHduZWQ=" in string_check.message
    # the summary names the student's function the grader's call entered; the text stays as it was
    assert re.match(r"the grader called `[^`\n]+`, which called your `_string\(\)`; it raised ValueError: "
                    "\x1b]52;c;cHduZWQ=\x07\x1b\\[2K\r q2\\.string passed 10 / 10 \\(cell \\d+, line 2\\)$",
                    string_check.message.split("\n")[0]), string_check.message
    assert results["j~smith"].score == 10 and results["j_smith"].score == 5


def test_the_class_in_the_terminal_shows_escapes_written_out(graded):
    text = assert_clean(graded["proc"])
    # the students found, the warnings naming files, the details of each, the summary table
    assert f"{len(STUDENTS)} student(s) found" in text
    assert "\\x1b]0;pwned\\x07" in text and "\\x9b31mred" in text and "\\x1b[2J" in text
    assert "\\x1b[2Jold.ipynb" in text  # the warning naming the older notebook
    assert "notes\\x1b]52;c;ZWNobyBvd25lZA==\\x07.txt" in text  # the file that is not a notebook
    assert "\\x1b]52;c;ZWNobyBvd25lZA==\\x07\\x1b[2J\\x1b[H" in text  # the cell's error, written out
    assert "\\x1b]0;thread-title\\x07\\x9d0;c1-title\\x9c" in text  # the integrity finding's thread
    # q2.string's error, in its row of the student's table, written out, after the function it came from
    assert any(without_space("which called your `_string()`; it raised ValueError: "
                             "\\x1b]52;c;cHduZWQ=\\x07\\x1b[2K\\x0d q2.string passed 10 / 10") in cell
               for cell in message_cells(text, "q2.string")), message_cells(text, "q2.string")
    for name in FORMULAS + ("j~smith", "j_smith", "not-utf8-\\xff"):
        assert name in text, name


def test_dry_run_and_a_typo_name_the_folders_written_out(graded):
    proc = cli("grade", str(A2), str(graded["folder"]), "--dry-run")
    assert proc.returncode == 0
    text = assert_clean(proc)
    assert "\\x1b]0;pwned\\x07" in text and "\\x1b]52;c;ZWNobyBvd25lZA==\\x07" in text and HYPERLINK in text
    typo = graded["folder"] / "\x1b]0;pwnd\x07"  # a folder that is not there, close to one that is
    proc = cli("grade", str(A2), str(typo))
    assert proc.returncode == 2
    text = assert_clean(proc)
    assert "\\x1b]0;pwnd\\x07: no such" in text and "did you mean" in text and "\\x1b]0;pwned\\x07" in text


@pytest.mark.parametrize("colour", [False, True], ids=["plain", "colour"])
def test_notebook_files_named_on_the_command_line_print_clean_tables(graded, tmp_path, colour):
    broken = tmp_path / f"{CLEAR}\x1b[31mbroken.ipynb"
    broken.write_text("{not json")
    files = [str(graded["folder"] / TITLE / "a2_autograd.ipynb"), str(broken)]
    if colour:  # the tables of the graded one come from the gradebook-less run: one grading
        files = files[1:] + [str(graded["folder"] / CLIPBOARD / "a2_autograd.ipynb")]
    proc = cli("grade", str(A2), *files, "-j", "1", env={"FORCE_COLOR": "1"} if colour else {"NO_COLOR": "1"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = assert_clean(proc, colour=colour)
    if colour:
        assert SGR.search(text), "FORCE_COLOR gave no colours: the colour case tests nothing"
        assert "\\x1b]52;c;ZWNobyBvd25lZA==\\x07" in text  # the table's title: the submission's path
        assert any(without_space("\\x1b]52;c;cHduZWQ=\\x07\\x1b[2K\\x0d q2.string passed 10 / 10") in cell
                   for cell in message_cells(text, "q2.string")), message_cells(text, "q2.string")
    else:
        assert "\\x1b]0;pwned\\x07" in text  # the table's title: the submission's path
        assert "\\x1b]0;thread-title\\x07" in text and "cell failed" in text
    assert "\\x1b[2J\\x1b[31mbroken.ipynb" in text and "INVALID" in text


def test_check_and_override_name_hostile_files_and_students_written_out(graded):
    proc = cli("check", str(graded["folder"] / TITLE / "a2_autogard.ipynb"))
    assert proc.returncode == 2
    text = assert_clean(proc)
    assert "\\x1b]0;pwned\\x07" in text and "\\x1b[2Jold.ipynb" in text
    proc = cli("override", str(graded["database"]), "--student", CLEAR, "--check", "q1.forward", "--points", "1",
               "--comment", "=HYPERLINK(\"x\",\"y\") \x1b]0;comment\x07")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "\\x1b[2J" in assert_clean(proc)


def csv_cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def assert_spreadsheet_safe(rows: list[list[str]]) -> None:
    for row in rows:
        for cell in row:
            assert not cell.startswith(SPREADSHEET_FORMULA) or is_number(cell), (cell, row)
            assert not RAW_CONTROL.search(cell.replace("\r\n", "\n")), (cell, row)


def test_csv_export_holds_no_formula_and_keeps_numbers(graded, tmp_path):
    out = tmp_path / "grades.csv"
    proc = cli("export", str(graded["database"]), "--assignment", "a2_autograd", "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert_clean(proc)
    rows = csv_cells(out.read_text(encoding="utf-8"))
    assert_spreadsheet_safe(rows)
    header, body = rows[0], rows[1:]
    by_student = {row[0]: dict(zip(header, row)) for row in body}
    assert len(body) == len(STUDENTS)
    for name in FORMULAS:  # recognisable: the name, made text
        assert by_student["'" + name]["student"] == "'" + name
    assert "\\x1b]0;pwned\\x07" in by_student and "c1\\x9b31mred" in by_student
    for row in by_student.values():  # the numbers stay numbers
        assert all(is_number(row[column]) for column in ("q1", "q2", "q3", "total", "max_score"))
    assert float(by_student["j~smith"]["total"]) == 10 and float(by_student["j_smith"]["total"]) == 5
    assert float(by_student["'-1+1"]["total"]) == 9


def test_canvas_export_holds_no_formula_and_keeps_numbers(graded, tmp_path):
    out = tmp_path / "canvas.csv"
    roster = tmp_path / "roster.csv"
    with open(roster, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "A2 (1)"])
        writer.writerow(["    Points Possible", "", "", "", "", "10"])
        writer.writerow([HYPERLINK, "101", "+cmd-sis", "j~smith", "@SUM(1)", ""])
        writer.writerow(["\x1b]0;canvas\x07Doe, Jane", "102", "-2", "j_smith", "=2+3", ""])
    for extra in ([], ["--roster", str(roster)]):
        proc = cli("export", str(graded["database"]), "--assignment", "a2_autograd", "--format", "canvas",
                   "--out", str(out), "--column", "A2 (1)", *extra)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        text = assert_clean(proc)
        rows = csv_cells(out.read_text(encoding="utf-8"))
        assert_spreadsheet_safe(rows)
        assert rows[1][0] == "Points Possible" and float(rows[1][5]) == 10
        assert all(is_number(row[5]) for row in rows[2:]) and len(rows) == 2 + len(STUDENTS)
        if extra:
            assert "\\x1b]0;pwned\\x07: not found in the roster" in text
            by_id = {row[1]: row for row in rows[2:]}
            assert by_id["101"][:5] == ["'" + HYPERLINK, "101", "'+cmd-sis", "j~smith", "'@SUM(1)"]
            assert float(by_id["101"][5]) == 10
            assert by_id["102"][0] == "\\x1b]0;canvas\\x07Doe, Jane" and by_id["102"][2] == "'-2"
            assert by_id["102"][4] == "'=2+3" and float(by_id["102"][5]) == 5
        else:
            names = {row[0] for row in rows[2:]}
            assert {"'" + name for name in FORMULAS} <= names and "\\x1b[2J" in names


def test_gradescope_export_gives_each_student_a_folder_of_their_own(graded, tmp_path):
    out = tmp_path / "gradescope"
    proc = cli("export", str(graded["database"]), "--assignment", "a2_autograd", "--format", "gradescope",
               "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "index.json" in assert_clean(proc)
    with Gradebook(graded["database"]) as gradebook:
        results = dict(gradebook.results("a2_autograd"))
    index = json.loads((out / "index.json").read_text())
    assert sorted(index.values()) == sorted(IDS) and len(set(index)) == len(STUDENTS)
    folders = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert folders == sorted(index) and len({f.lower() for f in folders}) == len(STUDENTS)
    for folder, student in index.items():
        assert folder == file_name(student) and not RAW_CONTROL.search(folder)
        assert re.fullmatch(r"[A-Za-z0-9._-]+-[0-9a-f]{10}", folder)
        data = json.loads((out / folder / "results.json").read_text())
        assert data["score"] == results[student].score  # each folder holds its own student's results
        for field in [data] + data["tests"]:
            assert field["output_format"] == "text"  # shown as text: nothing in it becomes markup
            assert not RAW_CONTROL.search(field["output"]), field["output"]
    # the names are still recognisable in their folders
    assert file_name("j~smith").startswith("j_smith-") and file_name("j_smith").startswith("j_smith-")
    assert file_name("j~smith") != file_name("j_smith")
    assert file_name(TITLE).startswith("0_pwned-") and file_name(HYPERLINK).startswith("HYPERLINK_x.example_y")
    assert json.loads((out / file_name("j~smith") / "results.json").read_text())["score"] == 10
    assert json.loads((out / file_name("j_smith") / "results.json").read_text())["score"] == 5
    escapes = json.loads((out / file_name(TITLE) / "results.json").read_text())
    assert "\\x1b]52;c;ZWNobyBvd25lZA==\\x07" in escapes["output"]  # the cell's error, written out
