"""`tensorgrade import otter MASTER.ipynb --id ID [--root COURSE]`: an otter-grader master notebook
-> our single source `solutions/<ID>/<ID>.py`, built.

Read as otter-grader 7.0.0's `otter assign` reads it (otter/assign/notebook_transformer.py, blocks.py,
solutions.py, tests_manager.py; ported here, not imported: otter lives in its own virtualenv):

    # ASSIGNMENT CONFIG raw cell        the header (name -> title, files/student_files carried into
                                        the release, seed, tests.ok_format); otter-only keys noted
    # BEGIN/END QUESTION (name, points, manual, all_or_nothing)
                                        a question; cells directly inside it are its locked prompt
                                        (markdown) or given code
    # BEGIN/END SOLUTION                its code cells are answer cells, stubbed as otter stubs them
                                        (`x = 2 # SOLUTION` -> `x = ...`, BEGIN/END SOLUTION regions ->
                                        `...`, `# SOLUTION NO PROMPT`, `# SEED` lines dropped): the
                                        source marks them `stub="otter"`; markdown solutions are
                                        dropped from the release (kept for the TA in a hidden-checks
                                        comment), `otter_include` ones kept
    # BEGIN/END PROMPT                  released as is (a manual question without one gets otter's
                                        response cell)
    # BEGIN/END TESTS                   one `asserts(...)` check per test case, hidden with `# HIDDEN`
                                        or `hidden: true`; points per case as otter resolves them
                                        (question `points` total, list, `each`, test config points);
                                        `all_or_nothing` makes one check of all cases
    # IGNORE, BEGIN/END IGNORE          removed everywhere, as otter does
    manual questions                    `manual(...)` worth the question's points

OK-format (doctest) cases are translated example by example, as doctest compares them: an expression
with an expected output becomes `assert repr(expr) == "<output>"` (so NumPy 2's `np.True_` fails as in
otter), one without `assert (expr) is None`; the comparison is made outside the sandbox. A case that
prints (compared as text) runs as otter's own doctest inside the sandbox, and is marked so. Exception-format cases
(`def test_x(f): assert ...`) are inlined, their parameters being the student's names.

The v0 format (`BEGIN QUESTION` YAML in a markdown cell's fenced block, `## Test ##` cells) is
converted to v1 first, as otter 4's `otter assign --v0` converter did. Notebooks of otter's docs
saved with raw cells rendered as HTML (`<pre># BEGIN QUESTION ...</pre>`) are read through the
`<pre>`. R notebooks and otter plugins have no equivalent here: refused / dropped with a note.

All or nothing: written and built in a temporary course folder, moved into place only when the build
succeeds. Errors name the notebook's cell (index and question name) and the reason.

Here: the source written and the import (`make_source`, `import_otter`, `summary`). Reading the master
notebook, v0 included: importers/otter_master.py; test cases -> test code and points:
importers/otter_cases.py; otter's stubbing of answer cells: course/markers.py `otter_stub`.
"""

from __future__ import annotations

import copy
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from tensorgrade.course.errors import AuthoringError
from tensorgrade.course.importers.otter_cases import NUMPY_BOOLS, resolve_points, translate_exception, translate_ok
from tensorgrade.course.importers.otter_master import ImportFailure, Out, from_v0, is_v0, read_master
from tensorgrade.course.importers.shared import imported_modules, sanitize
from tensorgrade.course.markers import otter_stub


@dataclass
class ImportedTest:
    check: str
    question: str
    points: float
    visibility: str
    code: str
    lifted: int
    assertions: int
    cells: list[int]


@dataclass
class ImportOutcome:
    source: Path
    format: str
    questions: list[dict]
    tests: list[ImportedTest]
    manual: list[dict]
    files: list[str]
    notes: list[str] = field(default_factory=list)

    @property
    def max_score(self) -> float:
        return sum(q["points"] for q in self.questions)


# ---------------------------------------------------------------------------------------------
# The source
# ---------------------------------------------------------------------------------------------

IMAGE_LINK = re.compile(r"!\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)|<img[^>]*\bsrc\s*=\s*[\"']([^\"']+)[\"']",
                        re.IGNORECASE)


def used_files(notebook_path: Path, config: dict, out: list[Out], notes: list[str]) -> list[str]:
    """The config's `files` and `student_files` (otter puts them in the autograder and the student zip)
    and the images the markdown shows, beside the notebook."""
    folder = notebook_path.parent.resolve()
    found: list[str] = []
    named = [str(f) for key in ("files", "student_files") for f in (config.get(key) or [])]
    shown = [m[1] or m[2] for cell in out if cell.kind == "markdown" for m in IMAGE_LINK.finditer(cell.source)]
    for name in named + shown:
        path = (folder / name.split("#")[0]).resolve()
        if "://" in name or name.startswith(("data:", "attachment:")):
            continue
        if not path.is_relative_to(folder):
            raise ImportFailure(f"ASSIGNMENT CONFIG: the file {name!r} is outside the notebook's folder")
        if path.is_dir():
            found += [p.relative_to(folder).as_posix() for p in sorted(path.rglob("*")) if p.is_file()]
        elif path.is_file():
            found.append(path.relative_to(folder).as_posix())
        elif name in named:
            raise ImportFailure(f"ASSIGNMENT CONFIG: `files` names {name!r}, which is not beside the notebook")
    return list(dict.fromkeys(found))


def _literal(code: str) -> str:
    """The test's code as a string literal in the source, on its own lines where it can be."""
    for quote in ("'''", '"""'):
        if quote not in code and "\\" not in code:
            return quote + "\n" + code + "\n" + quote
    return repr(code)


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


OTTER_ONLY = ("requirements", "environment", "generate", "export_cell", "init_cell", "check_all_cell",
              "solutions_pdf", "template_pdf", "runs_on", "show_question_points", "python_version", "overwrite_requirements")


def make_source(notebook_path: Path, notebook: nbformat.NotebookNode, assignment_id: str,
                notes: list[str]) -> tuple[str, ImportOutcome]:
    language = (notebook.metadata.get("kernelspec", {}).get("language") or
                notebook.metadata.get("language_info", {}).get("name") or "python").lower()
    if language != "python":
        shown = language.upper() if len(language) == 1 else language
        raise ImportFailure(f"{notebook_path}: the notebook's kernel is {shown}: tensorgrade grades Python notebooks only")
    fmt = "v1"
    if is_v0(notebook.cells):
        fmt = "v0"
        notebook = copy.deepcopy(notebook)
        notebook.cells = from_v0(notebook.cells)
        notes.append("otter's v0 format, converted to v1 as otter's converter does")
    config, out, questions = read_master(notebook, notes)
    ok_format = bool(config["tests"].get("ok_format", True))
    skipped = sorted(set(config) & set(OTTER_ONLY))
    if skipped:
        notes.append("ASSIGNMENT CONFIG keys for otter's own tooling, not used here: " + ", ".join(skipped))
    seed = config.get("seed") or {}
    if isinstance(seed, dict) and seed.get("variable"):
        notes.append(f"seed variable {seed['variable']!r}: the template keeps the notebook's value (otter sets "
                     f"{seed.get('student_value')!r} for students and {seed.get('autograder_value')!r} at grading)")
    elif seed not in ({}, None) or any(l.rstrip().endswith("# SEED") for c in out for l in c.source.split("\n")):
        notes.append("otter seeds NumPy and random before each cell at grading (`seed`, `# SEED` lines): tensorgrade "
                     "runs the notebook as written (`# SEED` lines stay in the reference, out of the template)")
    files = used_files(notebook_path, config, out, notes)

    NUMPY_BOOLS.clear()
    made: list[nbformat.NotebookNode] = []
    tests: list[ImportedTest] = []
    manual: list[dict] = []
    summary_questions: list[dict] = []
    checks: dict[str, list[tuple[str, bool]]] = {}  # question id -> its check declarations (code, hidden)
    parts: dict[str, str] = {}  # pseudo-question of an extra answer cell -> its question (or "")
    seen_answer: set[str] = set()
    taken = {q.id for q in questions.values()}

    for cell in out:
        if cell.kind == "answer":
            owner = cell.question
            qid = owner
            if owner is None or owner in seen_answer:
                base = f"{owner}_part" if owner else "cell"
                n = 2 if owner else len(parts) + 1
                while f"{base}{n}" in taken:
                    n += 1
                qid = f"{base}{n}"
                taken.add(qid)
                parts[qid] = owner or ""
            seen_answer.add(qid)
            try:
                otter_stub(cell.source)
            except AuthoringError as exc:
                raise ImportFailure(f"the answer cell of {owner or 'a cell outside questions'}: {exc}") from None
            meta = {"question": qid, "title": next((q.name for q in questions.values() if q.id == (owner or qid)),
                                                    "a cell with solutions"), "stub": "otter"}
            made.append(nbformat.v4.new_code_cell(cell.source, metadata=meta))
        elif cell.kind == "markdown":
            meta = {"question": cell.question} if cell.question else {}
            made.append(nbformat.v4.new_markdown_cell(cell.source, metadata=meta))
        elif cell.kind == "given":
            made.append(nbformat.v4.new_code_cell(cell.source, metadata={"tags": ["given"]}))
        else:
            made.append(nbformat.v4.new_code_cell(cell.source))
        # the magics of a notebook (`%matplotlib inline`) run in Jupyter; the grader runs the same cell

    for question in questions.values():
        where = f"cell {question.index} (question {question.name})"
        declared: list[tuple[str, bool]] = []
        if question.manual:
            points = question.points if isinstance(question.points, (int, float)) and not isinstance(
                question.points, bool) else 0
            if question.points is None:
                notes.append(f"{where}: a manual question without `points`: worth 0, as otter counts it")
            declared.append((f"manual({question.id + '.manual'!r}, points={_number(points)!r}, "
                             f"description={('otter manual question ' + question.name)!r})", False))
            manual.append({"check": f"{question.id}.manual", "question": question.name, "points": float(points)})
            summary_questions.append({"id": question.id, "name": question.name, "points": float(points),
                                      "manual": True})
            if question.tests:
                notes.append(f"{where}: a manual question with tests: otter grades only its manual part")
        elif question.tests:
            values = resolve_points(question.points, question.tests, where)
            cases = list(zip(question.tests, values))
            groups = [cases] if question.all_or_nothing else [[case] for case in cases]
            for number, group in enumerate(groups, 1):
                codes = []
                for test, _ in group:
                    name = f"{question.name} - {question.tests.index(test) + 1}"
                    code = translate_ok(test.body, name) if ok_format else translate_exception(test.body)
                    codes.append(code)
                code = "\n".join(codes)
                hidden = any(test.hidden for test, _ in group)
                points = sum(value for _, value in group)
                named = group[0][0].name if len(group) == 1 else None
                part = sanitize(named) if named else None  # a test config's `name`, else its position
                check = f"{question.id}.{part or ('all' if question.all_or_nothing else f'test{number}')}"
                if any(t.check == check for t in tests):
                    check = f"{question.id}.test{number}"
                try:
                    from tensorgrade.checking.outside.assertion_judges import lifted_count
                    lifted, total = lifted_count(code)
                except SyntaxError as exc:
                    raise ImportFailure(f"cell {group[0][0].index} (question {question.name}): the test is not valid "
                                        f"Python (line {exc.lineno}: {exc.msg})") from None
                cells = [t.index for t, _ in group]
                tests.append(ImportedTest(check, question.name, points, "hidden" if hidden else "public", code,
                                          lifted, total, cells))
                description = f"otter test case {', '.join(str(question.tests.index(t) + 1) for t, _ in group)} " \
                              f"of {question.name} (cell {', '.join(map(str, cells))})"
                declared.append((f"asserts({check!r}, {_literal(code)}, points={points!r}, "
                                 f"description={description!r})", hidden))
                shown = [(test, value) for test, value in group if not test.hidden]
                if len(group) > 1 and hidden and shown:
                    # all_or_nothing with hidden cases: the public ones stay runnable by students, as in
                    # otter, worth nothing (the question's points are the whole check's above).
                    visible = "\n".join(translate_ok(t.body, f"{question.name} - {question.tests.index(t) + 1}")
                                        if ok_format else translate_exception(t.body) for t, _ in shown)
                    declared.append((f"asserts({check + '_public'!r}, {_literal(visible)}, points=0, "
                                     f"description={'the public cases of ' + question.name + ' (graded above)'!r})",
                                     False))
            total_points = round(sum(values), 5)
            summary_questions.append({"id": question.id, "name": question.name, "points": total_points,
                                      "manual": False})
        else:
            notes.append(f"{where}: no tests and not manual: otter does not grade it; imported ungraded (a manual "
                         "check worth 0)")
            declared.append((f"manual({question.id + '.ungraded'!r}, points=0, "
                             f"description={('otter question ' + question.name + ' has no tests')!r})", False))
            summary_questions.append({"id": question.id, "name": question.name, "points": 0.0, "manual": False})
        for text in question.solutions:
            declared.append(("\n".join([f"# The instructor's answer to {question.name} (otter solution cell), "
                                        "for the TA:", *[f"# {line}".rstrip() for line in text.split("\n")]]), True))
        checks[question.id] = declared
    for qid, owner in parts.items():
        what = f"part of {owner}'s answer: otter grades it through {owner}'s tests" if owner else \
            "a cell outside questions with solutions (strip_solutions_from_all_cells)"
        checks[qid] = [(f"manual({qid + '.part'!r}, points=0, description={what!r})", False)]
        notes.append(f"{qid}: {what}; a check worth 0 keeps its answer stubbed")
    if not tests and not manual and not checks:
        raise ImportFailure(f"{notebook_path}: no otter questions: there would be nothing to grade")
    notes += list(dict.fromkeys(NUMPY_BOOLS))
    public = [code for declared in checks.values() for code, hidden in declared if not hidden]
    hidden = [code for declared in checks.values() for code, hidden in declared if hidden]
    if public:
        made.append(nbformat.v4.new_code_cell("\n".join(
            ["from tensorgrade.authoring import *  # the check vocabulary (docs/authoring.md)", "", *public]),
            metadata={"tags": ["checks"]}))
    if hidden:
        made.append(nbformat.v4.new_code_cell("\n".join(hidden), metadata={"tags": ["hidden-checks"]}))
    title = config.get("name") or next((line[2:].strip() for c in notebook.cells if c.cell_type == "markdown"
                                        for line in c.source.split("\n") if line.startswith("# ")), None)
    meta = {
        "id": assignment_id,
        "title": str(title or notebook_path.stem),
        "version": "1.0",
        # A fresh secret per import: imported tests have fixed inputs, native checks added later draw from it.
        "secret_seed": secrets.randbelow(10**9),
        "preload": imported_modules([c.source for c in notebook.cells if c.cell_type == "code"]) or ["numpy"],
        "files": files,
        "imported_from": {"tool": "otter-grader", "format": fmt, "notebook": notebook_path.name,
                          "questions": {q.id: q.name for q in questions.values()}},
    }
    # Questions without a code answer cell of their own (written answers, tests only) are named in the header.
    without_answer = {q.id: q.name for q in questions.values() if q.id not in seen_answer}
    if without_answer:
        meta["questions"] = without_answer
    made_notebook = nbformat.v4.new_notebook(cells=made, metadata={
        "jupytext": {"formats": "py:percent", "notebook_metadata_filter": "tensorgrade"},
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "tensorgrade": meta})
    import jupytext

    text = jupytext.writes(made_notebook, fmt="py:percent")
    outcome = ImportOutcome(source=Path(), format=fmt, questions=summary_questions, tests=tests, manual=manual,
                            files=files, notes=notes)
    return text, outcome


def import_otter(source_path: Path | str, assignment_id: str, root: Path | str = ".",
                 force: bool = False) -> ImportOutcome:
    """Import an otter master notebook as `solutions/<id>/<id>.py` under `root`, built; all or nothing."""
    from tensorgrade.course.assignment import ID_PATTERN
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
    try:
        text, outcome = make_source(source_path, notebook, assignment_id, notes)
    except ImportFailure as exc:
        raise ImportFailure(str(exc) if str(exc).startswith(str(source_path)) else f"{source_path}: {exc}") from None
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
    lines = [f"wrote {outcome.source} and built it (otter {outcome.format} format)",
             f"questions: {len(outcome.questions)}, {_number(round(outcome.max_score, 5)):g} points: "
             + ", ".join(f"{q['name']} ({_number(round(q['points'], 5)):g}{', manual' if q['manual'] else ''})"
                         for q in outcome.questions),
             f"tests imported: {len(outcome.tests)} ({sum(t.visibility == 'public' for t in outcome.tests)} public, "
             f"{sum(t.visibility == 'hidden' for t in outcome.tests)} hidden)",
             f"assertions: {lifted} of {assertions} lifted (decided outside the sandbox); "
             f"{assertions - lifted} decided inside the sandbox"
             + (f"; tests decided inside: {', '.join(inside)}" if inside else "")]
    if outcome.manual:
        lines.append(f"manual questions: {len(outcome.manual)}, "
                     f"{_number(sum(m['points'] for m in outcome.manual)):g} points, awaiting a TA's grade "
                     "(`tensorgrade override`): " + ", ".join(f"{m['check']} ({m['points']:g})" for m in outcome.manual))
    if outcome.files:
        lines.append(f"files carried into the release: {', '.join(outcome.files)}")
    lines += [f"note: {note}" for note in outcome.notes]
    return lines
