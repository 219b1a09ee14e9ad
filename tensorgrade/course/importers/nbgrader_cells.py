"""Reading an nbgrader source notebook, as nbgrader 0.9.6 reads it (nbgrader/utils.py,
preprocessors/): what each cell is (answer, written answer, test, manual answer, task, given code),
which question it belongs to and its title, and the files beside the notebook that it uses. What
each kind of cell becomes in our source is described in importers/nbgrader.py.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from tensorgrade.course.errors import AuthoringError
from tensorgrade.course.importers.shared import sanitize
from tensorgrade.course.markers import BEGIN_HIDDEN_TESTS, BEGIN_SOLUTION

AUTOTEST_LINE = re.compile(r"^\s*#.*AUTOTEST")
GRADE_ID_SEPARATORS = re.compile(r"[_\-.]")  # `q1_answer`, `q1-visible`, `q1.hidden`: question q1
IMAGE_LINK = re.compile(r"!\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)|<img[^>]*\bsrc\s*=\s*[\"']([^\"']+)[\"']",
                        re.IGNORECASE)


class ImportFailure(AuthoringError):
    """The notebook cannot be imported; the message names the cell and the reason."""


@dataclass
class Cell:
    position: int
    cell: nbformat.NotebookNode
    kind: str  # markdown | code | given | answer | written | test | manual | task
    grade_id: str | None = None
    points: float = 0.0
    question: str | None = None

    @property
    def where(self) -> str:
        return f"cell {self.position}" + (f" ({self.grade_id})" if self.grade_id else "")


def metadata_of(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta if isinstance(meta, dict) else {}


def _points(cell: Cell, meta: dict) -> float:
    points = meta.get("points", 0)
    if isinstance(points, bool) or not isinstance(points, (int, float)) or points < 0:
        raise ImportFailure(f"{cell.where}: nbgrader `points` must be a number >= 0, got {points!r}")
    return float(points)


def classify(notebook: nbformat.NotebookNode, notes: list[str]) -> list[Cell]:
    cells = []
    for position, raw in enumerate(notebook.cells):
        meta = metadata_of(raw)
        lines = raw.source.splitlines()
        cell = Cell(position, raw, "markdown" if raw.cell_type == "markdown" else "code", meta.get("grade_id"))
        has_solution = any(BEGIN_SOLUTION.match(line) for line in lines)
        has_hidden = any(BEGIN_HIDDEN_TESTS.match(line) for line in lines)
        has_autotest = raw.cell_type == "code" and any(AUTOTEST_LINE.match(line) for line in lines)
        grade, solution, task = bool(meta.get("grade")), bool(meta.get("solution")), bool(meta.get("task"))
        if raw.cell_type not in ("code", "markdown"):
            if has_solution or meta:
                raise ImportFailure(f"{cell.where}: a {raw.cell_type} cell with nbgrader metadata or solution "
                                    "markers: nbgrader grades code and markdown cells only")
            cell.kind = "markdown" if raw.cell_type == "raw" else cell.kind
            cells.append(cell)
            continue
        # nbgrader (enforce_metadata, its default) refuses markers in cells of the wrong kind; so do we.
        if has_solution and not solution:
            raise ImportFailure(f"{cell.where}: `### BEGIN SOLUTION` in a cell that is not an nbgrader solution "
                                "cell (nbgrader refuses it too): mark the cell 'Autograded answer' or 'Manually graded answer'")
        if has_hidden and not (grade and not solution and raw.cell_type == "code"):
            raise ImportFailure(f"{cell.where}: `### BEGIN HIDDEN TESTS` in a cell that is not an nbgrader test cell "
                                "(nbgrader refuses it too): mark the cell 'Autograder tests'")
        if has_autotest and not grade:
            raise ImportFailure(f"{cell.where}: an `### AUTOTEST` line in a cell that is not an nbgrader test cell "
                                "(nbgrader refuses it too): mark the cell 'Autograder tests'")
        if task:
            if raw.cell_type != "markdown":
                raise ImportFailure(f"{cell.where}: an nbgrader task must be a markdown cell")
            cell.kind, cell.points = "task", _points(cell, meta)
        elif grade and solution:
            cell.kind, cell.points = "manual", _points(cell, meta)
        elif grade:
            if raw.cell_type != "code":
                raise ImportFailure(f"{cell.where}: a graded markdown cell that is not a solution cell: "
                                    "nbgrader needs `solution: true` for a manually graded answer")
            cell.kind, cell.points = "test", _points(cell, meta)
        elif solution:
            cell.kind = "answer" if raw.cell_type == "code" else "written"
        elif meta.get("locked") and raw.cell_type == "code":
            cell.kind = "given"
        elif raw.cell_type == "code" and _has_assert(raw.source):
            notes.append(f"{cell.where} has assert statements but no nbgrader metadata: an ordinary cell, "
                         "not graded (as in nbgrader); mark it 'Autograder tests' to grade it")
        if cell.kind in ("answer", "manual", "task", "written", "test") and not cell.grade_id:
            raise ImportFailure(f"{cell.where}: an nbgrader {cell.kind} cell without a grade_id")
        cells.append(cell)
    ids = [c.grade_id for c in cells if c.grade_id and metadata_of(c.cell)]
    twice = sorted({g for g in ids if ids.count(g) > 1})
    if twice:
        raise ImportFailure(f"grade_id(s) {twice} are used by more than one cell (nbgrader refuses them too)")
    return cells


def _has_assert(source: str) -> bool:
    try:
        tree = ast.parse(_without_magics(source))
    except SyntaxError:
        return False
    return any(isinstance(node, ast.Assert) for node in ast.walk(tree))


def _without_magics(source: str) -> str:
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def grade_id_prefix(grade_id: str | None) -> str | None:
    return sanitize(GRADE_ID_SEPARATORS.split(grade_id, maxsplit=1)[0]) if grade_id else None


def _question_name(grade_id: str, taken: set[str]) -> str:
    name = sanitize(grade_id) or "q"
    base, n = name, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    taken.add(name)
    return name


def assign_questions(cells: list[Cell]) -> None:
    """A question per answer, written answer and task (named after its grade_id); a test cell belongs
    to the nearest answer above it, or is a question of its own where none is above. Where grade_ids
    share prefixes (`q1_answer`, `q1_visible`, `q1_hidden`), each prefix is a question."""
    answers = [c for c in cells if c.kind in ("answer", "manual", "written", "task")]
    tests = [c for c in cells if c.kind == "test"]
    prefixes = [grade_id_prefix(c.grade_id) for c in answers]
    if answers and tests and None not in prefixes and len(set(prefixes)) == len(prefixes) \
            and all(grade_id_prefix(c.grade_id) in prefixes for c in tests):
        for cell in answers + tests:
            cell.question = grade_id_prefix(cell.grade_id)
        return
    taken: set[str] = set()
    current = None
    for cell in cells:
        if cell.kind in ("answer", "manual", "written", "task"):
            cell.question = _question_name(cell.grade_id, taken)
            current = cell.question if cell.kind in ("answer", "manual") else current
            if cell.kind == "written":
                current = cell.question
        elif cell.kind == "test":
            cell.question = current or _question_name(cell.grade_id, taken)
            current = cell.question


def heading_of(text: str) -> str | None:
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            return line.lstrip().lstrip("#").strip()
    return None


def question_title(cells: list[Cell], cell: Cell) -> str:
    """The heading just above the question's first cell (nbgrader's "## Part A (2 points)"), or its own."""
    own = heading_of(cell.cell.source) if cell.cell.cell_type == "markdown" else None
    if own:
        return own
    for other in reversed(cells[:cell.position]):
        if other.cell.cell_type == "markdown" and other.kind in ("markdown",):
            found = heading_of(other.cell.source)
            if found:
                return found
        if other.question and other.question != cell.question:
            break
    return cell.question or ""


# ---------------------------------------------------------------------------------------------
# Files the notebook uses
# ---------------------------------------------------------------------------------------------

def used_files(notebook_path: Path, cells: list[Cell]) -> list[str]:
    """Files beside the notebook that it names: images of its markdown, string literals of its code
    that are the path of an existing file (`open("data.txt")`). nbgrader releases the whole
    assignment folder; here only what the notebook uses, so another notebook's files stay out."""
    folder = notebook_path.parent.resolve()
    found: list[str] = []

    def consider(name: str) -> None:
        name = name.split("#")[0].split("?")[0]
        if not name or "://" in name or name.startswith(("data:", "attachment:")):
            return
        path = (folder / name).resolve()
        if path.is_file() and path.is_relative_to(folder) and path.suffix != ".ipynb" and path.name != "autotests.yml":
            relative = path.relative_to(folder).as_posix()
            if relative not in found:
                found.append(relative)

    for cell in cells:
        source = cell.cell.source
        if cell.cell.cell_type == "markdown":
            for match in IMAGE_LINK.finditer(source):
                consider(match[1] or match[2])
        else:
            try:
                tree = ast.parse(_without_magics(source))
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) < 300 \
                        and "\n" not in node.value:
                    consider(node.value)
    return found
