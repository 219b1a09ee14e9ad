"""An assignment's single source: `solutions/<id>/<id>.py`, a jupytext percent-format notebook.

Why a percent-format `.py` and not an `.ipynb`: the source is what instructors review and diff
(answers, mistakes and checks are code), it has no outputs or execution counts to strip, every editor
opens it, and it still opens and runs as a notebook (VS Code runs `# %%` cells natively, Jupyter
with jupytext). What each cell is, from its `# %%` line:

    # %% [markdown]                     the prompt (released)
    # %% tags=["given"]                 given code, locked in the release
    # %% question="q1" title="..."      the answer to q1: `### BEGIN SOLUTION` / `### END SOLUTION`
                                        regions become stubs in the template
    # %% question="q1" stub="otter"     an imported otter-grader answer: stubbed as otter stubs it
                                        (`x = 2 # SOLUTION` -> `x = ...`, BEGIN/END SOLUTION -> `...`)
    # %%                                an ordinary cell (released as is)
    # %% tags=["checks"]                public checks (vocabulary calls, judges of your own)
    # %% tags=["hidden-checks"]         hidden checks: never released
    # %% tags=["probes"] / ["hidden-probes"]  probes of your own (run inside the sandbox)
    # %% tags=["mistakes"]              known mistakes: `mistake(name, why, q3={old: new})`
    # %% tags=["samples"]               sample submissions and what each must get

The header's `tensorgrade:` mapping holds the assignment's metadata (id, title, version, limits,
preload, files, secret_seed). Nothing of this file is released but what `tensorgrade build` writes
into assignments/<id>/.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from tensorgrade.course.errors import AuthoringError
from tensorgrade.course.markers import BEGIN_SOLUTION, CODE_STUB, END_SOLUTION, cut_regions, otter_stub

INSTRUCTOR_TAGS = ("checks", "hidden-checks", "probes", "hidden-probes", "mistakes", "samples")
CELL_MARKER = re.compile(r"^# %%")


class STUB:
    """In a sample: this question's answer left as the template's stub."""


@dataclass(frozen=True)
class MistakeSpec:
    name: str
    explanation: str
    edits: dict[str, dict[str, str]]  # question -> {old: new} in the reference answer


@dataclass(frozen=True)
class SampleSpec:
    name: str
    mistakes: tuple[str, ...]
    edits: dict[str, Any]  # question -> {old: new}, STUB, or the answer's whole new source (a str)
    score: float
    diagnoses: dict[str, str]
    errors: tuple[str, ...]
    integrity: tuple[str, ...] | None = None  # the exact integrity findings, where declared


def mistake(name: str, why: str, **edits: dict[str, str]) -> MistakeSpec:
    """A known mistake: the reference answer(s) with these edits (`q3={"old text": "new text"}`), and
    one sentence saying what is wrong and how to fix it (shown to students whose output matches)."""
    if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name):
        raise AuthoringError(f"mistake {name!r}: a name is lower-case words joined by '-' (e.g. forgot-zero-grad)")
    if not edits:
        raise AuthoringError(f"mistake {name!r}: give the edit of the reference, e.g. q3={{'old': 'new'}}")
    spec = MistakeSpec(name, " ".join(why.split()), {q: dict(e) for q, e in edits.items()})
    _declared(spec)
    return spec


def sample(name: str, *mistakes: str, score: float, diagnoses: dict[str, str] | None = None,
           errors: list[str] | None = None, integrity: list[str] | None = None, **edits: Any) -> SampleSpec:
    """A sample submission: the reference with these known mistakes and edits (`q3={"old": "new"}`,
    `q3=STUB` leaves the stub, `q3="..."` is a whole answer of its own), which must score `score`
    with these diagnoses (check id -> name), errored checks and, where given, integrity findings."""
    spec = SampleSpec(name, tuple(mistakes), dict(edits), score, dict(diagnoses or {}), tuple(errors or ()),
                      None if integrity is None else tuple(integrity))
    _declared(spec)
    return spec


def _declared(spec: MistakeSpec | SampleSpec) -> None:
    kind = "MISTAKES" if isinstance(spec, MistakeSpec) else "SAMPLES"
    found = sys._getframe(2).f_globals.setdefault(kind, [])
    found[:] = [other for other in found if other.name != spec.name]
    found.append(spec)


@dataclass
class SourceCell:
    index: int  # position among the source's cells
    kind: str  # markdown | given | answer | code | one of INSTRUCTOR_TAGS
    source: str
    line: int | None  # line of its `# %%` marker in the file
    question: str | None = None
    title: str = ""
    task: bool = False  # a markdown task (nbgrader): the prompt of a question graded by hand
    stub: str = ""  # "otter": an imported otter answer, stubbed as otter stubs it (else our regions)

    def where(self, path: Path) -> str:
        return f"{path}, cell {self.index + 1}" + (f" (line {self.line})" if self.line else "")


@dataclass
class AssignmentSource:
    path: Path
    meta: dict
    cells: list[SourceCell]
    declared: dict[str, list] = field(default_factory=dict)  # MISTAKES and SAMPLES, once read

    @property
    def id(self) -> str:
        return self.meta["id"]

    def of_kind(self, kind: str) -> list[SourceCell]:
        return [cell for cell in self.cells if cell.kind == kind]

    def answers(self) -> dict[str, SourceCell]:
        return {cell.question: cell for cell in self.of_kind("answer")}

    def code_of(self, kind: str) -> str:
        """The cells of one instructor kind as one module's code, each on its own lines of the file,
        so that an error or a traceback names the source's line."""
        lines: list[str] = []
        for cell in self.of_kind(kind):
            lines += [""] * max((cell.line or 0) - len(lines), 0)
            lines += cell.source.splitlines()
        return "\n".join(lines) + "\n" if lines else ""

    def reference_answer(self, question: str) -> str:
        cell = self.answers()[question]
        if cell.stub == "otter":  # otter's autograder runs the cell as written (its markers are comments)
            return cell.source
        return cut_regions(cell.source, BEGIN_SOLUTION, END_SOLUTION, cell.where(self.path))[1]

    def stub(self, question: str) -> str:
        cell = self.answers()[question]
        if cell.stub == "otter":  # what otter's student notebook shows (imported by importers/otter.py)
            try:
                return otter_stub(cell.source)
            except AuthoringError as exc:
                raise AuthoringError(f"{cell.where(self.path)}: {exc}") from None
        stub = lambda indent: [indent + line for line in CODE_STUB]  # noqa: E731
        template, _, found = cut_regions(cell.source, BEGIN_SOLUTION, END_SOLUTION, cell.where(self.path), stub)
        if not found:
            raise AuthoringError(f"{cell.where(self.path)}: the answer to {question} has no "
                                 "`### BEGIN SOLUTION` / `### END SOLUTION` region, so the template would hold the answer")
        return template

    def edited(self, question: str, edits: dict[str, str], what: str) -> str:
        """The reference answer to `question` with `edits`; an edit that matches nothing is an error
        (a mistake or sample that silently equals the reference would test nothing)."""
        if question not in self.answers():
            raise AuthoringError(f"{self.path}: {what} edits {question}, which has no answer cell "
                                 f"(questions: {', '.join(self.answers())})")
        text = self.reference_answer(question)
        for old, new in edits.items():
            if old not in text:
                raise AuthoringError(f"{self.answers()[question].where(self.path)}: {what}: {old!r} is not in the "
                                     f"reference answer to {question}")
            text = text.replace(old, new)
        return text


def _cell_lines(path: Path, count: int) -> list[int | None]:
    lines = [number for number, line in enumerate(path.read_text().splitlines(), 1) if CELL_MARKER.match(line)]
    return lines if len(lines) == count else [None] * count


def read_source(path: Path | str) -> AssignmentSource:
    """Read and classify an assignment's source; errors name the file, the cell and its line."""
    import jupytext

    path = Path(path)
    if not path.is_file():
        raise AuthoringError(f"{path}: not found (an assignment's source is solutions/<id>/<id>.py)")
    try:
        notebook = jupytext.read(path, fmt="py:percent")
    except Exception as exc:  # jupytext raises many kinds on a malformed header
        raise AuthoringError(f"{path}: not a percent-format notebook: {exc}") from None
    meta = notebook.metadata.get("tensorgrade")
    if not isinstance(meta, dict) or "id" not in meta:
        raise AuthoringError(f"{path}: the header has no `tensorgrade:` mapping with the assignment's `id`")
    if meta["id"] != path.stem:
        raise AuthoringError(f"{path}: the header's id {meta['id']!r} does not match the file name {path.stem!r}")
    lines = _cell_lines(path, len(notebook.cells))
    cells = []
    for index, (cell, line) in enumerate(zip(notebook.cells, lines)):
        tags = [tag for tag in cell.metadata.get("tags", []) if tag in (*INSTRUCTOR_TAGS, "given")]
        question = cell.metadata.get("question")
        made = SourceCell(index=index, kind="markdown", source=cell.source, line=line)
        if len(tags) > 1 or (tags and question):
            raise AuthoringError(f"{made.where(path)}: a cell is one thing; it is tagged {tags}"
                                 + (f" and answers {question}" if question else ""))
        if cell.cell_type == "markdown":
            # A written answer or a task graded by hand (`# %% [markdown] question="q3"`, from the
            # importers): released as it is here, marked with its question for the release's headings.
            if question:
                made.question, made.task = str(question), bool(cell.metadata.get("task"))
        elif question:
            made.kind, made.question, made.title = "answer", str(question), str(cell.metadata.get("title", ""))
            made.stub = str(cell.metadata.get("stub", ""))
        elif tags:
            made.kind = tags[0]
        else:
            made.kind = "code"
        cells.append(made)
    source = AssignmentSource(path=path, meta=meta, cells=cells)
    questions = [cell.question for cell in source.of_kind("answer")]
    if len(set(questions)) != len(questions):
        raise AuthoringError(f"{path}: more than one answer cell for a question: {questions}")
    return source


def run_declarations(source: AssignmentSource, kind: str, extra: dict | None = None) -> dict:
    """Execute the cells of one instructor kind in a fresh namespace with the authoring vocabulary;
    the namespace holds what they declared (CHECKS, MISTAKES, SAMPLES) and defined. Hidden checks
    run after the public ones, as in the notebook (they may use what those define), but declare
    only their own."""
    if kind == "hidden-checks":
        extra = {**run_declarations(source, "checks", extra), "CHECKS": []}
    import math
    import re as regex

    import numpy as np

    import tensorgrade.authoring as authoring

    # The vocabulary, with numpy as np, math and re: what checks cells use (docs/authoring.md).
    namespace = {name: getattr(authoring, name) for name in authoring.__all__}
    namespace.update(np=np, math=math, re=regex)
    namespace.update(extra or {})
    namespace["__name__"] = f"tensorgrade_source_{source.id}_{kind.replace('-', '_')}"
    namespace["__tensorgrade_visibility__"] = "hidden" if kind.startswith("hidden") else "public"
    code = source.code_of(kind)
    try:
        exec(compile(code, str(source.path), "exec"), namespace)
    except AuthoringError:
        raise
    except SyntaxError as exc:
        raise AuthoringError(f"{source.path}, line {exc.lineno}: {kind} cell: {exc.msg}") from None
    except Exception as exc:
        line = _line_in(exc, str(source.path))
        raise AuthoringError(f"{source.path}{f', line {line}' if line else ''}: {kind} cell: "
                             f"{type(exc).__name__}: {exc}") from None
    return namespace


def _line_in(exc: BaseException, filename: str) -> int | None:
    tb, line = exc.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def answer_notebook(source: AssignmentSource, answers: dict[str, str]) -> nbformat.NotebookNode:
    """The released cells with these answers: the template, the reference and every sample have the
    same cells with the same ids, so they differ only in their answers."""
    made = []
    for cell in source.cells:
        if cell.kind in INSTRUCTOR_TAGS:
            continue
        if cell.kind == "markdown":
            marker = None if cell.question is None else (
                {"task": True, "question": cell.question} if cell.task else {"answer": True, "question": cell.question})
            new = nbformat.v4.new_markdown_cell(cell.source, metadata={"tensorgrade": marker} if marker else {})
        elif cell.kind == "given":
            new = nbformat.v4.new_code_cell(cell.source, metadata={"tensorgrade": {"given": True}})
        elif cell.kind == "answer":
            new = nbformat.v4.new_code_cell(answers[cell.question],
                                            metadata={"tensorgrade": {"answer": True, "question": cell.question}})
        else:
            new = nbformat.v4.new_code_cell(cell.source)
        new["id"] = f"{source.id.replace('_', '-')}-{len(made) + 1}"
        made.append(new)
    notebook = nbformat.v4.new_notebook(cells=made, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
        "tensorgrade": {"assignment": source.id, "version": str(source.meta.get("version", "1.0"))},
    })
    notebook.nbformat, notebook.nbformat_minor = 4, 5
    nbformat.validate(notebook)
    return notebook
