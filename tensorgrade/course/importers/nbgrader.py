"""`tensorgrade import nbgrader SOURCE.ipynb --id ID [--root COURSE]`: an nbgrader source notebook
(the instructor's, with solutions) -> our single source `solutions/<ID>/<ID>.py`, built.

What each nbgrader cell becomes, as nbgrader 0.9.6 defines it (nbgrader/utils.py, preprocessors/):

    solution code cell                  an answer cell: each `### BEGIN/END SOLUTION` region becomes
                                        `# YOUR CODE HERE` + `raise NotImplementedError()`; without
                                        regions the whole cell is stubbed (ClearSolutions does the same)
    solution markdown cell              the template's `YOUR ANSWER HERE` (regions or whole cell);
                                        the instructor's answer is kept for the TA in a hidden-checks cell
    grade (test) code cell, P points    one check `asserts(...)` worth P: the cell's code as nbgrader
                                        runs it (assertions lifted out of the sandbox where they can be)
      with `### AUTOTEST` lines         expanded with the notebook's autotests.yml as nbgrader would,
                                        by running the source notebook (importers/nbgrader_autotest.py);
                                        the expansion holds the expected values, so it is a hidden check
      with `### BEGIN HIDDEN TESTS`     a hidden check of the whole cell, worth P (nbgrader grades the
                                        cell as one test, visible and hidden lines together), and a
                                        public check of the visible lines worth 0, which students run
    grade + solution cell, task cell    a manual question worth P: `manual(...)`, awaiting a TA's grade
    locked (read-only) code cell        a given cell (locked in the release, restored at grading)
    any other cell                      as it is

Questions: each answer, written answer and task is a question (its grade_id); a test cell belongs to
the answer cell above it, as nbgrader's own example course is laid out (`squares`, then
`correct_squares`). Files the notebook uses (images in its markdown, file names in its code) are
copied into assignments/<ID>/ and listed in `files`.

All or nothing: written and built in a temporary course folder, moved into place only when the build
and the load succeed. Errors name the notebook's cell (index and grade_id) and the reason.

Here: AUTOTEST expansion, the source written and the import (`make_source`, `import_nbgrader`,
`summary`). Reading the notebook (each cell's kind, questions, titles, files used):
importers/nbgrader_cells.py; the AUTOTEST process: importers/nbgrader_autotest.py.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import yaml

from tensorgrade.checking.outside.assertion_judges import lifted_count
from tensorgrade.course.assignment import ID_PATTERN
from tensorgrade.course.errors import AuthoringError
from tensorgrade.course.importers.nbgrader_cells import (GRADE_ID_SEPARATORS, Cell, ImportFailure, assign_questions,
                                                         classify, grade_id_prefix, metadata_of, question_title,
                                                         used_files)
from tensorgrade.course.importers.shared import imported_modules, sanitize
from tensorgrade.course.markers import (ANSWER_STUB, BEGIN_HIDDEN_TESTS, BEGIN_SOLUTION, CODE_STUB, END_HIDDEN_TESTS,
                                        END_SOLUTION, cut_regions)

AUTOTEST = "AUTOTEST"
KERNELS = ("python", "python3")  # the kernels nbgrader's InstantiateTests knows for Python
AUTOTEST_TIMEOUT = 300


@dataclass
class ImportedTest:
    check: str
    grade_id: str
    points: float
    visibility: str
    code: str
    lifted: int
    assertions: int


@dataclass
class ImportOutcome:
    source: Path
    questions: list[dict]
    tests: list[ImportedTest]
    manual: list[dict]
    files: list[str]
    notes: list[str] = field(default_factory=list)
    grade_ids: dict[str, str] = field(default_factory=dict)  # check id -> nbgrader grade_id

    @property
    def max_score(self) -> float:
        return sum(q["points"] for q in self.questions)

# ---------------------------------------------------------------------------------------------
# AUTOTEST
# ---------------------------------------------------------------------------------------------

def autotest_config(notebook_path: Path, kernel: str, where: str) -> dict:
    """The kernel's section of autotests.yml beside the notebook (nbgrader's own lookup: the
    assignment folder, then the folder the command runs in)."""
    for candidate in (notebook_path.parent / "autotests.yml", Path.cwd() / "autotests.yml"):
        if candidate.is_file():
            try:
                tests = yaml.safe_load(candidate.read_text())
            except yaml.YAMLError as exc:
                raise ImportFailure(f"{candidate}: not valid YAML ({exc})") from None
            if not isinstance(tests, dict) or not isinstance(tests.get(kernel), dict):
                raise ImportFailure(f"{candidate}: no section for the notebook's kernel {kernel!r}")
            section = tests[kernel]
            missing = [key for key in ("dispatch", "normalize", "check", "templates") if key not in section]
            if missing or "default" not in (section.get("templates") or {}):
                raise ImportFailure(f"{candidate}: the {kernel!r} section lacks {missing or ['templates.default']}")
            return section
    raise ImportFailure(f"{where} has AUTOTEST lines, but there is no autotests.yml beside {notebook_path.name} "
                        "(nbgrader reads it from the assignment's folder)")


def expand_autotests(notebook_path: Path, notebook: nbformat.NotebookNode, cells: list[Cell]) -> dict[int, str]:
    """Each test cell's source with its AUTOTEST lines expanded, as nbgrader's generate_assignment
    writes it, computed by running the source notebook in a separate process in a copy of its folder."""
    with_autotest = [c for c in cells if c.kind == "test" and AUTOTEST in c.cell.source]
    if not with_autotest:
        return {}
    kernel = notebook.metadata.get("kernelspec", {}).get("name", "")
    if kernel not in KERNELS:
        raise ImportFailure(f"{with_autotest[0].where} has AUTOTEST lines, but the notebook's kernel is {kernel!r}: "
                            f"nbgrader's autotests know {', '.join(KERNELS)} (and R)")
    tests = autotest_config(notebook_path, kernel, with_autotest[0].where)
    request = {"tests": tests, "cells": [
        {"index": c.position, "position": c.position, "source": c.cell.source,
         "grade": bool(metadata_of(c.cell).get("grade"))}
        for c in cells if c.cell.cell_type == "code"]}
    with tempfile.TemporaryDirectory(prefix="tensorgrade-autotest-") as scratch:
        work = Path(scratch) / "notebook"
        shutil.copytree(notebook_path.parent, work, symlinks=True,
                        ignore=shutil.ignore_patterns("*.ipynb", ".ipynb_checkpoints"))
        (Path(scratch) / "request.json").write_text(json.dumps(request))
        answer_path = Path(scratch) / "answer.json"
        try:
            done = subprocess.run([sys.executable, "-m", "tensorgrade.course.importers.nbgrader_autotest",
                                   str(Path(scratch) / "request.json"), str(answer_path)], cwd=work,
                                  capture_output=True, text=True, timeout=AUTOTEST_TIMEOUT,
                                  env={**os.environ, "MPLBACKEND": "Agg"})
        except subprocess.TimeoutExpired:
            raise ImportFailure(f"running the source notebook to expand its AUTOTEST lines took over "
                                f"{AUTOTEST_TIMEOUT} s") from None
        if not answer_path.is_file():
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise ImportFailure(f"running the source notebook to expand its AUTOTEST lines failed: {tail[0]}")
        answer = json.loads(answer_path.read_text())
    if "error" in answer:
        by_position = {c.position: c for c in cells}
        where = by_position[answer["cell"]].where if answer.get("cell") in by_position else "the notebook"
        raise ImportFailure(f"{where}: {answer['error']}")
    return {int(k): v for k, v in answer["expanded"].items()}



# ---------------------------------------------------------------------------------------------
# The source
# ---------------------------------------------------------------------------------------------

def _literal(code: str) -> str:
    """The test's code as a Python string literal in the source, readable where it can be."""
    if "'''" not in code and "\\" not in code and not code.endswith("'"):
        return "'''\n" + code + "\n'''"
    return repr(code)


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


def _stub_markdown(cell: Cell) -> tuple[str, str]:
    """(template, answer) of a markdown solution cell: regions, or the whole cell, as YOUR ANSWER HERE."""
    stub = lambda indent: [indent + ANSWER_STUB]  # noqa: E731
    template, answer, found = cut_regions(cell.cell.source, BEGIN_SOLUTION, END_SOLUTION, cell.where, stub)
    return (template, answer) if found else (ANSWER_STUB, cell.cell.source)


def _answer_source(cell: Cell) -> str:
    """An answer cell's source with solution regions; an unmarked solution cell is one region whole."""
    source = cell.cell.source
    cut_regions(source, BEGIN_SOLUTION, END_SOLUTION, cell.where)  # refuses unbalanced markers, naming the cell
    if any(BEGIN_SOLUTION.match(line) for line in source.splitlines()):
        return source
    return "### BEGIN SOLUTION\n" + source + "\n### END SOLUTION"


def _check_name(cell: Cell) -> str:
    """The check's name after its question: the grade_id (`correct_squares`), less the question's prefix
    where questions are prefixes (`q1_visible` -> `visible`)."""
    name = cell.grade_id
    if grade_id_prefix(cell.grade_id) == cell.question:
        parts = GRADE_ID_SEPARATORS.split(cell.grade_id, maxsplit=1)
        name = parts[1] if len(parts) > 1 else "test"
    return sanitize(name) or "test"


def _blank_of(cell: Cell) -> str:
    """The template's text of a manually graded answer cell (what a student who answered nothing has)."""
    if cell.cell.cell_type == "markdown":
        return _stub_markdown(cell)[0]
    stub = lambda indent: [indent + line for line in CODE_STUB]  # noqa: E731
    return cut_regions(_answer_source(cell), BEGIN_SOLUTION, END_SOLUTION, cell.where, stub)[0]


def _code_cell(source: str, **metadata) -> nbformat.NotebookNode:
    return nbformat.v4.new_code_cell(source, metadata={k: v for k, v in metadata.items() if v is not None})


def make_source(notebook_path: Path, notebook: nbformat.NotebookNode, assignment_id: str,
                notes: list[str], version: str = "1.0") -> tuple[str, ImportOutcome]:
    cells = classify(notebook, notes)
    for cell in cells:  # unbalanced markers are refused first, naming the cell, before anything runs
        cut_regions(cell.cell.source, BEGIN_SOLUTION, END_SOLUTION, cell.where)
        cut_regions(cell.cell.source, BEGIN_HIDDEN_TESTS, END_HIDDEN_TESTS, cell.where)
    assign_questions(cells)
    expanded = expand_autotests(notebook_path, notebook, cells)
    files = used_files(notebook_path, cells)
    made: list[nbformat.NotebookNode] = []
    tests: list[ImportedTest] = []
    manual: list[dict] = []
    questions: dict[str, dict] = {}
    answer_questions: set[str] = set()
    first_checks = [True]
    used: set[str] = set()  # check ids

    def checks_cell(lines: list[str], hidden: bool) -> None:
        if not hidden and first_checks[0]:
            lines = ["from tensorgrade.authoring import *  # the check vocabulary (docs/authoring.md)", "", *lines]
            first_checks[0] = False
        made.append(_code_cell("\n".join(lines), tags=["hidden-checks" if hidden else "checks"]))

    def question(cell: Cell) -> dict:
        return questions.setdefault(cell.question, {"id": cell.question, "title": question_title(cells, cell),
                                                    "points": 0.0})

    for cell in cells:
        raw = cell.cell
        if cell.kind == "markdown":
            made.append(nbformat.v4.new_markdown_cell(raw.source))
        elif cell.kind == "code":
            made.append(_code_cell(raw.source))
        elif cell.kind == "given":
            made.append(_code_cell(raw.source, tags=["given"]))
        elif cell.kind == "answer" or (cell.kind == "manual" and raw.cell_type == "code"):
            question(cell)
            answer_questions.add(cell.question)
            if not any(BEGIN_SOLUTION.match(line) for line in raw.source.splitlines()):
                notes.append(f"{cell.where}: a solution cell without BEGIN/END SOLUTION: stubbed whole in the "
                             "template, as nbgrader does")
            made.append(_code_cell(_answer_source(cell), question=cell.question))
        elif cell.kind in ("written", "manual"):  # a markdown answer
            question(cell)
            template, answer = _stub_markdown(cell)
            made.append(nbformat.v4.new_markdown_cell(template, metadata={"question": cell.question}))
            checks_cell([f"# The instructor's answer to {cell.question} (nbgrader cell {cell.grade_id}), for the TA:",
                         *[f"# {line}".rstrip() for line in answer.splitlines()]], hidden=True)
        elif cell.kind == "task":
            question(cell)
            made.append(nbformat.v4.new_markdown_cell(raw.source, metadata={"question": cell.question, "task": True}))
        if cell.kind in ("manual", "task"):
            check = f"{cell.question}.{'task' if cell.kind == 'task' else 'answer'}"
            what = "task" if cell.kind == "task" else "answer graded by hand"
            # nbgrader gives 0 without a TA to an answer left as released (its checksum unchanged)
            blank = "" if cell.kind == "task" else (
                f", blank={_blank_of(cell)!r}, nbgrader_cell={cell.grade_id!r}")
            checks_cell([f"manual({check!r}, points={_number(cell.points)!r}, "
                         f"description={('nbgrader ' + what + ' ' + cell.grade_id)!r}{blank})"], hidden=False)
            manual.append({"check": check, "grade_id": cell.grade_id, "points": cell.points, "kind": cell.kind})
            question(cell)["points"] += cell.points
        if cell.kind == "written":
            # an answer nbgrader does not grade (solution, no grade): stubbed, worth nothing
            notes.append(f"{cell.where}: a written answer nbgrader does not grade: stubbed, worth 0 (a manual "
                         "question of 0 points)")
            check = f"{cell.question}.answer"
            checks_cell([f"manual({check!r}, points=0, description={('nbgrader written answer ' + cell.grade_id)!r})"],
                        hidden=False)
            manual.append({"check": check, "grade_id": cell.grade_id, "points": 0.0, "kind": "written"})
        if cell.kind == "test":
            source = expanded.get(cell.position, raw.source)
            visible, everything, hidden = cut_regions(source, BEGIN_HIDDEN_TESTS, END_HIDDEN_TESTS, cell.where)
            autotest = cell.position in expanded
            check, n = f"{cell.question}.{_check_name(cell)}", 2
            while check in used or f"{check}_visible" in used:
                check, n = f"{cell.question}.{_check_name(cell)}_{n}", n + 1
            used.update({check, f"{check}_visible"})
            where = f"nbgrader test cell {cell.grade_id}"
            code = everything if (hidden or autotest) else visible
            try:
                lifted, total = lifted_count(code)
            except SyntaxError as exc:
                raise ImportFailure(f"{cell.where}: the test is not valid Python (line {exc.lineno}: {exc.msg})") from None
            entry = ImportedTest(check, cell.grade_id, cell.points, "hidden" if (hidden or autotest) else "public",
                                 code, lifted, total)
            tests.append(entry)
            declared = [f"asserts({check!r}, {_literal(code)}, points={_number(cell.points)!r}, "
                        f"description={where!r})"]
            if hidden or autotest:
                why = "its AUTOTEST expansion holds the expected values" if autotest else "it has hidden tests"
                checks_cell([f"# {where}: graded whole, as nbgrader does; hidden because {why}", *declared],
                            hidden=True)
                if hidden and not autotest and visible.strip():
                    # What students see of the cell in nbgrader, runnable with the public checks; worth
                    # nothing, so the cell's points stay nbgrader's (given by the whole cell above).
                    checks_cell([f"asserts({check + '_visible'!r}, {_literal(visible)}, points=0, "
                                 f"description={(where + ': its visible lines (the whole cell is graded)')!r})"],
                                hidden=False)
            else:
                checks_cell(declared, hidden=False)
            question(cell)["points"] += cell.points
    if not tests and not manual:
        raise ImportFailure(f"{notebook_path}: no nbgrader test cells, manually graded answers or tasks: "
                            "there would be nothing to grade")
    grade_ids = {t.check: t.grade_id for t in tests} | {m["check"]: m["grade_id"] for m in manual}
    meta = {
        "id": assignment_id,
        # nbgrader has no title: the notebook's level-1 heading, else its name
        "title": next((line[2:].strip() for c in notebook.cells if c.cell_type == "markdown"
                       for line in c.source.splitlines() if line.startswith("# ")), None) or notebook_path.stem,
        "version": str(version),
        # A fresh secret per import: imported tests have fixed inputs, native checks added later draw from it.
        "secret_seed": secrets.randbelow(10**9),
        "preload": imported_modules([c.source for c in notebook.cells if c.cell_type == "code"]) or ["numpy"],
        "limits": {"cell_timeout": 30, "check_timeout": 30, "submission_timeout": 300},  # nbgrader's 30 s per cell
        "files": files,
        "imported_from": {"tool": "nbgrader", "notebook": notebook_path.name, "checks": grade_ids},
    }
    without_answer = {q: info["title"] for q, info in questions.items() if q not in answer_questions}
    if without_answer:
        meta["questions"] = without_answer
    made_notebook = nbformat.v4.new_notebook(cells=made, metadata={
        "jupytext": {"formats": "py:percent", "notebook_metadata_filter": "tensorgrade"},
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "tensorgrade": meta})
    for cell in made:
        title = questions.get(cell.metadata.get("question"), {}).get("title")
        if cell.cell_type == "code" and cell.metadata.get("question") and title:
            cell.metadata["title"] = title.replace('"', "'")
    import jupytext

    text = jupytext.writes(made_notebook, fmt="py:percent")
    order = [q for q in questions]
    outcome = ImportOutcome(source=Path(), tests=tests, manual=manual, files=files, notes=notes, grade_ids=grade_ids,
                            questions=[{**questions[q], "points": _number(questions[q]["points"])} for q in order])
    return text, outcome


def import_nbgrader(source_path: Path | str, assignment_id: str, root: Path | str = ".",
                    force: bool = False, version: str = "1.0") -> ImportOutcome:
    """Import an nbgrader source notebook as `solutions/<id>/<id>.py` under `root`, built; all or nothing."""
    from tensorgrade.course.build import build_staged

    source_path, root = Path(source_path), Path(root)
    if not ID_PATTERN.match(assignment_id):
        raise ImportFailure(f"--id {assignment_id!r}: lower-case letters, digits and _, starting with a letter")
    try:
        notebook = nbformat.read(str(source_path), as_version=4)
    except Exception as exc:  # nbformat raises assorted errors on files that are not notebooks
        raise ImportFailure(f"{source_path}: not a readable notebook: {type(exc).__name__}: {exc}") from None
    targets = [root / "assignments" / assignment_id, root / "solutions" / assignment_id]
    existing = [t for t in targets if t.exists()]
    if existing and not force:
        raise ImportFailure(f"{', '.join(map(str, existing))} already exist(s): pass --force to replace")
    notes: list[str] = []
    if assignment_id != source_path.stem:
        fix = (f"use --id {source_path.stem}" if ID_PATTERN.match(source_path.stem)
               else "students' notebooks are matched by name, so rename them or the source")
        notes.append(f"the assignment's notebook is {assignment_id}.ipynb: of a student's several notebooks the one "
                     f"named so is graded, so submissions named {source_path.name} are told apart by modification "
                     f"time only ({fix})")
    try:
        text, outcome = make_source(source_path, notebook, assignment_id, notes, version)
    except AuthoringError as exc:  # (cut_regions' own, naming the cell, too)
        raise ImportFailure(f"{source_path}: {exc}" if not str(exc).startswith(str(source_path)) else str(exc)) from None
    try:
        outcome.notes += build_staged(root, assignment_id, text,
                                      {relative: source_path.parent / relative for relative in outcome.files})
    except AuthoringError as exc:
        raise ImportFailure(f"{source_path}: the imported assignment does not build: {exc}") from None
    outcome.source = root / "solutions" / assignment_id / f"{assignment_id}.py"
    return outcome


def summary(outcome: ImportOutcome) -> list[str]:
    """The import's summary, line by line: what an instructor checks before releasing."""
    lifted = sum(t.lifted for t in outcome.tests)
    assertions = sum(t.assertions for t in outcome.tests)
    inside = [t.check for t in outcome.tests if t.lifted < t.assertions or t.assertions == 0]
    lines = [f"wrote {outcome.source} and built it",
             f"questions: {len(outcome.questions)}, {_number(outcome.max_score):g} points: "
             + ", ".join(f"{q['id']} ({q['points']:g})" for q in outcome.questions),
             f"tests imported: {len(outcome.tests)} ({sum(t.visibility == 'public' for t in outcome.tests)} public, "
             f"{sum(t.visibility == 'hidden' for t in outcome.tests)} hidden)",
             f"assertions: {lifted} of {assertions} lifted (decided outside the sandbox); "
             f"{assertions - lifted} decided inside the sandbox"
             + (f"; tests decided (in part) inside the sandbox: {', '.join(inside)}" if inside else "")]
    if outcome.manual:
        lines.append(f"manual questions: {len(outcome.manual)}, "
                     f"{_number(sum(m['points'] for m in outcome.manual)):g} points, awaiting a TA's grade at "
                     "grading (`tensorgrade override`): " + ", ".join(f"{m['check']} ({m['points']:g})"
                                                                         for m in outcome.manual))
    if outcome.files:
        lines.append(f"files carried into the release: {', '.join(outcome.files)}")
    lines += [f"note: {note}" for note in outcome.notes]
    return lines
