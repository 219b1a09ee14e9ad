"""Authoring in one notebook, nbgrader style: `tensorgrade split SOURCE.ipynb --id <id>`.

An instructor coming from nbgrader keeps writing one source notebook; `split` turns it into

    assignments/<id>/<id>.ipynb       the template: each `### BEGIN SOLUTION` ... `### END SOLUTION`
                                      region replaced by `# YOUR CODE HERE` + `raise NotImplementedError()`
                                      (in markdown: `YOUR ANSWER HERE`), test cells replaced by a note
    assignments/<id>/assignment.yaml  questions (from the grade_id groups) and one check per test cell
    assignments/<id>/checks.py, probes.py    the visible test cells, as public checks
    solutions/<id>/solution.ipynb     the reference: the same cells with the solution regions kept
    solutions/<id>/checks.py, probes.py      the test cells with hidden-test regions, as hidden checks
                                      (their hidden part, visible lines included, exists only here)
    solutions/<id>/secret.yaml        a fresh secret seed (for native checks added later)
    solutions/<id>/source.ipynb       a copy of the source notebook, to edit and split again

Which cell is what. With nbgrader cell metadata (`nbgrader: {grade, solution, locked, grade_id,
points}`), as nbgrader defines it: `solution` cells are answers, `grade` code cells that are not
solutions are test cells worth `points`, `locked` cells are given code (locked in the release),
`grade` + `solution` cells (graded by hand in nbgrader) become ungraded answers, with a note.
Without metadata: a cell with solution markers is an answer, a code cell with `### BEGIN HIDDEN
TESTS` is a hidden test worth 1 point (with a note), anything else is an ordinary cell.
`tensorgrade: {question: ...}` in a cell's metadata always names its question.

Questions. If every test cell's grade_id starts with the prefix of an answer cell's grade_id
(`q1_answer`, `q1_visible`, `q1_hidden` -> question `q1`; the prefix ends at the first `_`, `-`
or `.`), questions are those prefixes; otherwise each test cell belongs to the answer cell above
it (nbgrader's own example: `squares` then `correct_squares` -> check `squares.correct_squares`).
A question's points are its test cells' points.

How a test cell is graded. Its probe runs the cell's code in the student's namespace, after all of
the notebook's cells (not between them as in nbgrader), and reports pass/fail and the assertion
message as data (tensorgrade/checking/inside/testcell_probe.py). LIMITATION: an nbgrader-style assert test runs inside
the sandbox, so its verdict is an observation made in the student's process (a returned value
whose `__eq__` lies passes an `assert`), unlike our native checks, which judge plain data outside
the sandbox. Rewrite the tests that matter as native checks (probe + judge) once imported.
"""

from __future__ import annotations

import ast
import copy
import importlib.util
import re
import secrets
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import nbformat
import yaml

from tensorgrade.course.assignment import ID_PATTERN, SpecError, load_assignment
from tensorgrade.submission.notebooks import ensure_cell_ids

BEGIN_SOLUTION = re.compile(r"^\s*#+\s*BEGIN SOLUTION\s*$")
END_SOLUTION = re.compile(r"^\s*#+\s*END SOLUTION\s*$")
BEGIN_HIDDEN_TESTS = re.compile(r"^\s*#+\s*BEGIN HIDDEN TESTS\s*$")
END_HIDDEN_TESTS = re.compile(r"^\s*#+\s*END HIDDEN TESTS\s*$")
CODE_STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
ANSWER_STUB = "YOUR ANSWER HERE"
DEFAULT_TEST_POINTS = 1.0
GRADE_ID_SEPARATORS = re.compile(r"[_\-.]")


class AuthoringError(ValueError):
    """A source notebook that cannot be split; the message names the cell and the problem."""


@dataclass
class SourceCell:
    position: int  # index in the source notebook
    cell: nbformat.NotebookNode
    role: str  # answer | test | given | plain
    grade_id: str | None = None
    points: float | None = None
    question: str | None = None


@dataclass
class GeneratedCheck:
    id: str
    question: str
    points: float
    visibility: str  # public | hidden
    grade_id: str
    probe: str  # the probe function's name
    source: str  # the code the probe runs: the visible lines, or all of them for a hidden test


@dataclass
class SplitOutcome:
    assignment_dir: Path
    solutions_dir: Path
    questions: list[dict]
    checks: list[GeneratedCheck]
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Marked regions
# ---------------------------------------------------------------------------------------------

def cut_regions(source: str, begin: re.Pattern, end: re.Pattern, where: str,
                replacement: Callable[[str], list[str]] = lambda indent: []) -> tuple[str, str, bool]:
    """(outside, everything, found): `outside` keeps the lines outside the regions, with each
    region replaced by `replacement(indent of its BEGIN line)`; `everything` keeps all lines but
    the markers."""
    outside: list[str] = []
    everything: list[str] = []
    inside_since: int | None = None
    found = False
    for number, line in enumerate(source.splitlines(), 1):
        if begin.match(line):
            if inside_since is not None:
                raise AuthoringError(f"{where}, line {number}: a region begins inside the region opened at "
                                     f"line {inside_since}")
            inside_since, found = number, True
            outside += replacement(line[:len(line) - len(line.lstrip())])
        elif end.match(line):
            if inside_since is None:
                raise AuthoringError(f"{where}, line {number}: `{line.strip()}` without a region to end")
            inside_since = None
        else:
            everything.append(line)
            if inside_since is None:
                outside.append(line)
    if inside_since is not None:
        raise AuthoringError(f"{where}: the region opened at line {inside_since} never ends")
    return "\n".join(outside), "\n".join(everything), found


def template_and_solution(cell: nbformat.NotebookNode, where: str) -> tuple[str, str]:
    if cell.cell_type == "code":
        stub = lambda indent: [indent + line for line in CODE_STUB]  # noqa: E731
    else:
        stub = lambda indent: [indent + ANSWER_STUB]  # noqa: E731
    template, solution, _ = cut_regions(cell.source, BEGIN_SOLUTION, END_SOLUTION, where, stub)
    return template, solution


# ---------------------------------------------------------------------------------------------
# Reading the source notebook
# ---------------------------------------------------------------------------------------------

def sanitize(text: str | None) -> str | None:
    """A grade_id as an id part: lower-case letters, digits and _, starting with a letter."""
    if not text:
        return None
    cleaned = re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_")
    if not cleaned:
        return None
    return cleaned if cleaned[0].isalpha() else f"q{cleaned}"


def grade_id_prefix(grade_id: str | None) -> str | None:
    return sanitize(GRADE_ID_SEPARATORS.split(grade_id, maxsplit=1)[0]) if grade_id else None


def classify(cell: nbformat.NotebookNode, position: int, notes: list[str]) -> SourceCell:
    where = f"cell {position}"
    lines = cell.source.splitlines()
    has_solution = any(BEGIN_SOLUTION.match(line) for line in lines)
    has_hidden_tests = any(BEGIN_HIDDEN_TESTS.match(line) for line in lines)
    meta = cell.get("metadata", {}).get("nbgrader")
    if isinstance(meta, dict):
        grade_id = meta.get("grade_id")
        where = f"cell {position} ({grade_id})"
        if meta.get("grade") and meta.get("solution"):
            notes.append(f"{where} is graded by hand in nbgrader; here it is an ungraded answer cell "
                         "(add a native check for it)")
            return SourceCell(position, cell, "answer", grade_id)
        if meta.get("grade") and cell.cell_type == "code":
            points = meta.get("points")
            if isinstance(points, bool) or not isinstance(points, (int, float)) or points <= 0:
                raise AuthoringError(f"{where}: a test cell (nbgrader grade: true) needs positive `points`, "
                                     f"got {points!r}")
            return SourceCell(position, cell, "test", grade_id, float(points))
        if meta.get("solution") or has_solution:
            return SourceCell(position, cell, "answer", grade_id)
        return SourceCell(position, cell, "given" if meta.get("locked") else "plain", grade_id)
    if has_hidden_tests and cell.cell_type == "code":
        notes.append(f"{where} has hidden tests but no nbgrader metadata: a hidden test worth "
                     f"{DEFAULT_TEST_POINTS:g} point (set nbgrader points to change it)")
        return SourceCell(position, cell, "test", None, DEFAULT_TEST_POINTS)
    return SourceCell(position, cell, "answer" if has_solution else "plain")


def assign_questions(cells: list[SourceCell]) -> None:
    """Questions by grade_id prefix when every test cell has one shared with an answer cell, else
    by the nearest answer cell above; `tensorgrade.question` metadata always wins."""
    answers = [c for c in cells if c.role == "answer"]
    tests = [c for c in cells if c.role == "test"]
    answer_prefixes = {grade_id_prefix(c.grade_id) for c in answers} - {None}
    by_prefix = bool(tests) and all(grade_id_prefix(c.grade_id) in answer_prefixes for c in tests)
    current, answer_count = None, 0
    for cell in cells:
        marker = cell.cell.get("metadata", {}).get("tensorgrade")
        explicit = sanitize(marker.get("question")) if isinstance(marker, dict) else None
        if cell.role == "answer":
            answer_count += 1
            derived = grade_id_prefix(cell.grade_id) if by_prefix else sanitize(cell.grade_id)
            cell.question = explicit or derived or f"q{answer_count}"
            current = cell.question
        elif cell.role == "test":
            derived = grade_id_prefix(cell.grade_id) if by_prefix else current
            cell.question = explicit or derived or sanitize(cell.grade_id) or f"q{max(answer_count, 1)}"


def heading_before(cells: list[nbformat.NotebookNode], position: int) -> str | None:
    for cell in reversed(cells[:position]):
        if cell.cell_type == "markdown" and cell.source.lstrip().startswith("#"):
            return cell.source.lstrip().splitlines()[0].lstrip("#").strip()
    return None


def imported_modules(sources: list[str]) -> list[str]:
    """Modules the notebook imports that are installed here: the workers preload them once."""
    names: list[str] = []
    for source in sources:
        try:
            tree = ast.parse("\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.append(node.module)
    top_level = {name: name.split(".")[0] for name in dict.fromkeys(names)}
    return [name for name, top in top_level.items()
            if top not in sys.stdlib_module_names and importlib.util.find_spec(top) is not None]


# ---------------------------------------------------------------------------------------------
# Writing the assignment
# ---------------------------------------------------------------------------------------------

def make_checks(cells: list[SourceCell]) -> list[GeneratedCheck]:
    checks: list[GeneratedCheck] = []
    used: set[str] = set()
    for cell in (c for c in cells if c.role == "test"):
        where = f"cell {cell.position}" + (f" ({cell.grade_id})" if cell.grade_id else "")
        visible, everything, hidden = cut_regions(cell.cell.source, BEGIN_HIDDEN_TESTS, END_HIDDEN_TESTS, where)
        rest = cell.grade_id
        prefix = grade_id_prefix(cell.grade_id)
        if cell.grade_id and prefix == cell.question:
            parts = GRADE_ID_SEPARATORS.split(cell.grade_id, maxsplit=1)
            rest = parts[1] if len(parts) > 1 else None
        suffix = sanitize(rest) if sanitize(rest) != cell.question else None
        base = f"{cell.question}.{suffix or 'test'}"
        check_id, n = base, 2
        while check_id in used:
            check_id, n = f"{base}_{n}", n + 1
        used.add(check_id)
        checks.append(GeneratedCheck(
            id=check_id, question=cell.question, points=cell.points, visibility="hidden" if hidden else "public",
            grade_id=cell.grade_id or check_id, probe=check_id.replace(".", "__"),
            source=everything if hidden else visible))
    return checks


def checks_module(assignment_id: str, visibility: str, checks: list[GeneratedCheck], source_name: str) -> str:
    judge = "judge_visible_test" if visibility == "public" else "judge_hidden_test"
    lines = [f'"""{visibility.capitalize()} checks of {assignment_id}, generated by `tensorgrade split` from '
             f'{source_name}.',
             "",
             "One check per nbgrader test cell; its probe is in probes.py, its judge in tensorgrade/checking/outside/testcell_judges.py.",
             '"""', "", "from tensorgrade.checking.checks import Check", f"from tensorgrade.checking.outside.testcell_judges import {judge}", "",
             "CHECKS = ["]
    lines += [f"    Check({c.id!r}, probe={c.probe!r}, judge={judge})," for c in checks]
    return "\n".join([*lines, "]", ""])


def probes_module(assignment_id: str, visibility: str, checks: list[GeneratedCheck], source_name: str) -> str:
    lines = [f'"""{visibility.capitalize()} probes of {assignment_id}, generated by `tensorgrade split` from '
             f'{source_name}.',
             "",
             "Each runs one nbgrader test cell's code in the student's namespace, inside the sandbox, and reports",
             "pass/fail and the assertion message as data (see tensorgrade/checking/inside/testcell_probe.py for what that implies).",
             '"""', "", "from tensorgrade.checking.inside.testcell_probe import run_test_cell"]
    for check in checks:
        constant = f"{check.probe.upper()}_SOURCE"
        lines += ["", "", f"# nbgrader test cell {check.grade_id}, {check.points:g} point(s)",
                  f'{constant} = "\\n".join([', *[f"    {line!r}," for line in check.source.splitlines()], "])",
                  "", "", f"def {check.probe}(ns, inputs):", f"    return run_test_cell(ns, {constant}, {check.id!r})"]
    return "\n".join([*lines, ""])


def _clean_cell(cell: nbformat.NotebookNode, source: str, marker: dict | None) -> nbformat.NotebookNode:
    cleaned = copy.deepcopy(cell)
    cleaned.source = source
    cleaned.metadata = {k: v for k, v in cell.get("metadata", {}).items() if k not in ("nbgrader", "tensorgrade")}
    if marker:
        cleaned.metadata["tensorgrade"] = marker
    if cleaned.cell_type == "code":
        cleaned.outputs = []
        cleaned.execution_count = None
    return cleaned


def build_notebooks(source: nbformat.NotebookNode, cells: list[SourceCell], checks: list[GeneratedCheck],
                    assignment_id: str, version: str) -> tuple[nbformat.NotebookNode, nbformat.NotebookNode]:
    """(template, solution): the same cells and ids, test cells replaced by a note in both."""
    by_position = {c.position: c for c in cells}
    tests = iter(checks)
    template_cells, solution_cells = [], []
    for position, cell in enumerate(source.cells):
        info = by_position[position]
        where = f"cell {position}" + (f" ({info.grade_id})" if info.grade_id else "")
        if info.role == "test":
            check = next(tests)
            how = (f"run it yourself with `tensorgrade check {assignment_id}.ipynb`" if check.visibility == "public"
                   else "a hidden test: it runs when your notebook is graded")
            note = nbformat.v4.new_markdown_cell(
                f"*Test `{check.id}` ({check.points:g} point{'s' if check.points != 1 else ''}): {how}.*",
                metadata={"tensorgrade": {"given": True}})
            note["id"] = cell.get("id")
            template_cells.append(note)
            solution_cells.append(copy.deepcopy(note))
            continue
        template_source, solution_source = template_and_solution(cell, where)
        marker = {"answer": True, "question": info.question} if info.role == "answer" else \
            {"given": True} if info.role == "given" else None
        template_cells.append(_clean_cell(cell, template_source, marker))
        solution_cells.append(_clean_cell(cell, solution_source, marker))
    metadata = {k: v for k, v in source.metadata.items() if k not in ("nbgrader", "celltoolbar")}
    metadata["tensorgrade"] = {"assignment": assignment_id, "version": version}
    notebooks = []
    for cells_of in (template_cells, solution_cells):
        notebook = nbformat.v4.new_notebook(cells=cells_of, metadata=copy.deepcopy(metadata))
        nbformat.validate(notebook)
        notebooks.append(notebook)
    return notebooks[0], notebooks[1]


def _plain(points: float) -> int | float:
    return int(points) if float(points).is_integer() else points


def spec_of(assignment_id: str, version: str, title: str, questions: list[dict], checks: list[GeneratedCheck],
            preload: list[str]) -> dict:
    return {
        "id": assignment_id, "title": title, "version": version, "notebook": f"{assignment_id}.ipynb", "files": [],
        "worker": {"preload": preload},
        "limits": {"cell_timeout": 60, "check_timeout": 30, "submission_timeout": 300},
        "questions": questions,
        "checks": [{"id": c.id, "question": c.question, "points": _plain(c.points), "visibility": c.visibility,
                    "description": f"nbgrader test cell {c.grade_id}"} for c in checks],
    }


def split_notebook(source_path: Path | str, assignment_id: str, root: Path | str = ".", version: str = "1.0",
                   force: bool = False) -> SplitOutcome:
    """Split an nbgrader-style source notebook into assignments/<id>/ and solutions/<id>/ under `root`."""
    source_path, root = Path(source_path), Path(root)
    if not ID_PATTERN.match(assignment_id):
        raise AuthoringError(f"--id {assignment_id!r}: lower-case letters, digits and _, starting with a letter")
    try:
        source = nbformat.read(str(source_path), as_version=4)
    except Exception as exc:  # nbformat raises assorted errors on files that are not notebooks
        raise AuthoringError(f"{source_path}: not a readable notebook: {type(exc).__name__}: {exc}") from None
    assignment_dir, solutions_dir = root / "assignments" / assignment_id, root / "solutions" / assignment_id
    existing = [d for d in (assignment_dir, solutions_dir) if d.exists()]
    if existing and not force:
        raise AuthoringError(f"{', '.join(map(str, existing))} already exist(s): pass --force to overwrite")
    ensure_cell_ids(source)  # template and solution share these ids, so given cells match by id

    notes: list[str] = []
    cells = [classify(cell, position, notes) for position, cell in enumerate(source.cells)]
    assign_questions(cells)
    checks = make_checks(cells)
    if not checks:
        raise AuthoringError(f"{source_path}: no test cells (nbgrader `grade: true` code cells, or cells with "
                             "`### BEGIN HIDDEN TESTS`): there would be nothing to grade")
    question_ids = list(dict.fromkeys(c.question for c in checks))
    first_cell = {q: min(c.position for c in cells if c.question == q) for q in question_ids}
    questions = [{"id": q, "title": heading_before(source.cells, first_cell[q]) or q,
                  "points": _plain(sum(c.points for c in checks if c.question == q))} for q in question_ids]
    ungraded = sorted({c.question for c in cells if c.role == "answer"} - set(question_ids))
    if ungraded:
        notes.append(f"answer cells of {ungraded} have no test cell: they are not graded")

    template, solution = build_notebooks(source, cells, checks, assignment_id, version)
    first_heading = next((c.source.lstrip().splitlines()[0].lstrip("#").strip() for c in source.cells
                          if c.cell_type == "markdown" and c.source.lstrip().startswith("#")), None)
    preload = imported_modules([c.source for c in source.cells if c.cell_type == "code"])
    spec = spec_of(assignment_id, version, first_heading or assignment_id, questions, checks, preload)

    assignment_dir.mkdir(parents=True, exist_ok=True)
    solutions_dir.mkdir(parents=True, exist_ok=True)
    nbformat.write(template, str(assignment_dir / f"{assignment_id}.ipynb"))
    nbformat.write(solution, str(solutions_dir / "solution.ipynb"))
    (assignment_dir / "assignment.yaml").write_text(
        f"# Generated by `tensorgrade split` from {source_path.name}; edit the source and split again.\n"
        + yaml.safe_dump(spec, sort_keys=False, width=110, default_flow_style=None))
    for visibility, folder in (("public", assignment_dir), ("hidden", solutions_dir)):
        chosen = [c for c in checks if c.visibility == visibility]
        for name, render in (("checks.py", checks_module), ("probes.py", probes_module)):
            if chosen:
                (folder / name).write_text(render(assignment_id, visibility, chosen, source_path.name))
            elif (folder / name).exists():
                (folder / name).unlink()  # left from an earlier split with checks of this kind
    (solutions_dir / "secret.yaml").write_text(
        "# Secret seed for hidden inputs (generated by `tensorgrade split`). Never released. nbgrader-style\n"
        "# tests have fixed inputs; native checks added later draw theirs from this seed.\n"
        f"seed: {secrets.randbelow(9 * 10**8) + 10**8}\n")
    if source_path.resolve() != (solutions_dir / "source.ipynb").resolve():
        shutil.copyfile(source_path, solutions_dir / "source.ipynb")
    try:
        load_assignment(assignment_dir, solutions_dir)
    except SpecError as exc:
        raise AuthoringError(f"the generated assignment does not load: {exc}") from None
    return SplitOutcome(assignment_dir=assignment_dir, solutions_dir=solutions_dir, questions=questions,
                        checks=checks, notes=notes)
