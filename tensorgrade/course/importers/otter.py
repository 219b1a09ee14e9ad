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
"""

from __future__ import annotations

import ast
import copy
import doctest
import html
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import yaml

from tensorgrade.course.errors import AuthoringError
from tensorgrade.course.importers.shared import imported_modules, sanitize

# ---------------------------------------------------------------------------------------------
# Otter's stubbing (otter/assign/solutions.py, 7.0.0), used by course/source.py for `stub="otter"`
# ---------------------------------------------------------------------------------------------

BLOCK_PROMPT = "..."
SOLUTION_ASSIGNMENT = re.compile(r"(\s*(?:[\w.]+(?=[^\w.])(?:\[['\"]?.*['\"]?\])*(?:,\s*)?)+\s*=).* ?# ?SOLUTION")
SOLUTION_LINE = re.compile(r"(\s*).* ?# ?SOLUTION")
BEGIN_SOLUTION = re.compile(r"(\s*)# BEGIN SOLUTION( NO PROMPT)?")
SKIP_SUFFIXES = ("# SOLUTION NO PROMPT", "# BEGIN PROMPT", "# END PROMPT", "# SEED")
MD_RESPONSE = "_Type your answer here, replacing this text._"  # otter's CellFactory.create_markdown_response_cell


def otter_stub(source: str) -> str:
    """What otter's student notebook shows of a solution cell (solutions.replace_solutions)."""
    stripped, inside = [], False
    for line in source.split("\n"):
        if any(line.rstrip().endswith(s) for s in SKIP_SUFFIXES):
            continue
        if inside and not line.rstrip().endswith("# END SOLUTION"):
            continue
        if line.rstrip().endswith("# END SOLUTION"):
            if not inside:
                raise AuthoringError("END SOLUTION without BEGIN SOLUTION")
            inside = False
            continue
        begin = BEGIN_SOLUTION.match(line)
        if begin:
            if inside:
                raise AuthoringError("a BEGIN SOLUTION inside another")
            inside = True
            if begin.group(2):
                continue
            line = begin.group(1) + BLOCK_PROMPT
        for pattern, keep in ((SOLUTION_ASSIGNMENT, " ..."), (SOLUTION_LINE, "...")):
            match = pattern.match(line)
            if match:
                line = match.group(1) + keep
                break
        stripped.append(line)
    if inside:
        raise AuthoringError("BEGIN SOLUTION without END SOLUTION")
    return "\n".join(stripped)


def remove_ignored(source: str) -> str:
    """otter's remove_ignored_lines: `# IGNORE` lines and BEGIN/END IGNORE blocks, everywhere."""
    kept, inside = [], False
    for line in source.split("\n"):
        if line.rstrip().endswith("# IGNORE"):
            continue
        if inside and not line.rstrip().endswith("# END IGNORE"):
            continue
        if line.rstrip().endswith("# END IGNORE"):
            if not inside:
                raise AuthoringError("END IGNORE without BEGIN IGNORE")
            inside = False
            continue
        if re.match(r"\s*#\s*BEGIN\s*IGNORE\s*", line, flags=re.IGNORECASE):
            inside = True
            continue
        kept.append(line)
    if inside:
        raise AuthoringError("BEGIN IGNORE without END IGNORE")
    return "\n".join(kept)


# ---------------------------------------------------------------------------------------------
# The notebook's blocks (otter/assign/blocks.py)
# ---------------------------------------------------------------------------------------------

class ImportFailure(AuthoringError):
    """The notebook cannot be imported; the message names the cell and the reason."""


BLOCKS = ("question", "prompt", "solution", "tests")
BEGIN_TEST_CONFIG = r'(?:.\s*=\s*)?""?"?\s*#\s*BEGIN\s*TEST\s*CONFIG'
END_TEST_CONFIG = r'""?"?\s*#\s*END\s*TEST\s*CONFIG'
MATPLOTLIB_MAGIC = re.compile(r"^(\s*)(%matplotlib\b.*)$", re.MULTILINE)
PRE = re.compile(r"<pre>(.*?)</pre>", re.DOTALL)


def _unrendered(cell: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A raw cell saved as rendered HTML (otter's docs notebooks): the text of its <pre>."""
    if cell.cell_type == "raw" and cell.source.lstrip().startswith("<") and PRE.search(cell.source):
        cell = copy.deepcopy(cell)
        cell.source = html.unescape(PRE.search(cell.source).group(1)).strip("\n")
    return cell


def _fenced(cells: list) -> list:
    """otter's extract_all_fenced_otter_cells: ```otter blocks of markdown cells as raw cells."""
    made = []
    for index, cell in enumerate(cells):
        lines = cell.source.split("\n")
        starts = [i for i, line in enumerate(lines) if line.strip() == "```otter"]
        if cell.cell_type != "markdown" or not starts:
            made.append(cell)
            continue
        ends = []
        for i in starts:
            ends += [i + 1 + j for j, line in enumerate(lines[i + 1:]) if line.strip() == "```"][:1]
        if len(starts) != len(ends) or not all(ends[i] < starts[i + 1] for i in range(len(starts) - 1)):
            raise ImportFailure(f"cell {index}: an unclosed ```otter block")
        previous = 0
        for start, end in zip(starts, ends):
            for part, kind in ((lines[previous:start], "markdown"), (lines[start + 1:end], "raw")):
                if any(line.strip() for line in part):
                    made.append(getattr(nbformat.v4, f"new_{kind}_cell")("\n".join(part)))
            previous = end + 1
        if any(line.strip() for line in lines[previous:]):
            made.append(nbformat.v4.new_markdown_cell("\n".join(lines[previous:]).strip("\n")))
    return made


def _boundary(cell, block: str, end: bool = False) -> bool:
    first = cell.source.split("\n")[0]
    return cell.cell_type == "raw" and bool(re.match(rf"#\s+{'end' if end else 'begin'}\s+{block}\s*", first,
                                                     flags=re.IGNORECASE))


def _is_config(cell) -> bool:
    return cell.cell_type == "raw" and bool(re.match(r"#\s+assignment\s+config\s*", cell.source.split("\n")[0],
                                                     flags=re.IGNORECASE))


def _is_ignore_cell(cell) -> bool:
    first = cell.source.split("\n")[0] if cell.source else ""
    return bool(cell.source and re.match(r"(##\s*ignore\s*##\s*|#\s*ignore\s*)", first, flags=re.IGNORECASE))


def _yaml(text: str, where: str) -> Any:
    try:
        return yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ImportFailure(f"{where}: not valid YAML: {str(exc).splitlines()[0]}") from None


# ---------------------------------------------------------------------------------------------
# v0 -> v1 (otter 4's otter/assign/v0/convert/notebook_transformer.py)
# ---------------------------------------------------------------------------------------------

V0_TEST = re.compile(r'(##\s*(hidden\s*)?test\s*##\s*|#\s*(hidden\s*)?test\s*|"""\s*#\s*BEGIN\s*TEST\s*CONFIG)',
                     re.IGNORECASE)
V0_MD_SOLUTION = re.compile(r"(<strong>|\*{2})solution:?(<\/strong>|\*{2})", re.IGNORECASE)


def _v0_spec(cell, begin: str) -> tuple[int, int] | None:
    """(first, last) line of the fenced `BEGIN <begin>` block of a v0 markdown cell, or None."""
    if cell.cell_type != "markdown":
        return None
    lines = cell.source.split("\n")
    quotes = [i for i, line in enumerate(lines) if line[:3] == "```"]
    for start, end in zip(quotes[::2], quotes[1::2]):
        if start + 1 < len(lines) and lines[start + 1].strip(" ") == f"BEGIN {begin.upper()}":
            return start, end
    return None


def is_v0(cells: list) -> bool:
    return any(_v0_spec(cell, "question") or _v0_spec(cell, "assignment") for cell in cells)


def from_v0(cells: list) -> list:
    def delim(block: str, end: bool = False):
        return nbformat.v4.new_raw_cell(f"# {'END' if end else 'BEGIN'} {block.upper()}")

    def test_cell(cell):
        cell = copy.deepcopy(cell)
        lines = cell.source.split("\n")
        if not re.match(r'"""\s*#\s*BEGIN\s*TEST\s*CONFIG', lines[0]):
            lines = (["# HIDDEN"] if "hidden" in lines[0].lower() else []) + lines[1:]
        cell.source = "\n".join(lines)
        return cell

    def is_test(cell):
        return cell.cell_type == "code" and bool(cell.source) and bool(V0_TEST.match(cell.source.split("\n")[0]))

    made, question, solved, tests = [], None, False, False
    for cell in cells:
        if question is not None and not solved:
            if question.get("manual") and cell.cell_type == "markdown" and not any(
                    V0_MD_SOLUTION.match(line) for line in cell.source.split("\n")):
                made += [delim("prompt"), cell, delim("prompt", True)]
                continue
            if is_test(cell):
                made += [delim("tests"), test_cell(cell)]
                tests = True
            else:
                made += [delim("solution"), cell, delim("solution", True)]
            solved = True
        elif question is not None and solved and is_test(cell):
            if not tests:
                made.append(delim("tests"))
                tests = True
            made.append(test_cell(cell))
        else:
            if question is not None and solved:
                made += ([delim("tests", True)] if tests else []) + [delim("question", True)]
                question, solved, tests = None, False, False
            assignment, spec = _v0_spec(cell, "assignment"), _v0_spec(cell, "question")
            lines = cell.source.split("\n")
            if assignment:
                made.append(nbformat.v4.new_raw_cell("\n".join(["# ASSIGNMENT CONFIG"] + lines[assignment[0] + 2:
                                                                                              assignment[1]])))
            elif spec:
                meta = lines[spec[0] + 2:spec[1]]
                made.append(nbformat.v4.new_raw_cell("\n".join(["# BEGIN QUESTION", *meta])))
                made.append(nbformat.v4.new_markdown_cell("\n".join(lines[:spec[0]] + lines[spec[1] + 1:]).strip()))
                question = _yaml("\n".join(meta), "a v0 question") or {}
            else:
                made.append(cell)
    if tests:
        made.append(delim("tests", True))
    if question is not None:
        made.append(delim("question", True))
    return made


# ---------------------------------------------------------------------------------------------
# Reading the master notebook (otter/assign/notebook_transformer.py _get_transformed_cells)
# ---------------------------------------------------------------------------------------------

@dataclass
class OtterTest:
    index: int  # the master notebook's cell
    body: str  # the test's code as otter stores it (a doctest, or an exception-based function)
    hidden: bool
    points: float | None
    name: str | None = None


@dataclass
class Question:
    name: str
    id: str  # as our ids are spelled
    index: int
    manual: bool = False
    points: Any = None
    all_or_nothing: bool = False
    tests: list[OtterTest] = field(default_factory=list)
    solutions: list[str] = field(default_factory=list)  # markdown solutions, for the TA
    answers: int = 0  # its code answer cells


@dataclass
class Out:
    """One cell of the source to write."""
    kind: str  # markdown | code | given | answer
    source: str
    question: str | None = None
    part_of: str | None = None


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


def _output_of(cell) -> str:
    """What otter reads as the test's expected output (tests_manager.read_test)."""
    output = ""
    for out in cell.get("outputs", []):
        output += "".join(out.get("text", ""))
        result = out.get("data", {}).get("text/plain")
        if result and isinstance(result, list):
            output += result[0]
        elif result:
            output += result
    return output


class _Annotations(ast.NodeTransformer):
    """otter's _AnnotationRemover: type hints are not part of a generated test."""

    def visit_FunctionDef(self, node):
        node.returns = None
        for arg in [*node.args.args, *node.args.posonlyargs, *node.args.kwonlyargs]:
            arg.annotation = None
        return self.generic_visit(node)

    def visit_AnnAssign(self, node):
        if node.value is None:
            return None
        return ast.Assign(targets=[node.target], value=node.value, lineno=node.lineno)


def _to_doctest(code_lines: list[str]) -> list[str]:
    """otter's str_to_doctest (assign/utils.py)."""
    lines = []
    for line in code_lines:
        if not line:
            continue
        if line.startswith((" ", "\t")):
            lines.append("... " + line)
        elif re.match(r"^except[\s\w]*:", line) or line.startswith(("elif ", "else:", "finally:")):
            lines.append("... " + line)
        elif len(lines) > 0 and lines[-1].strip().endswith("\\"):
            lines.append("... " + line)
        else:
            lines.append(">>> " + line)
    return lines


def read_test(cell, index: int, question: Question, ok_format: bool) -> OtterTest:
    lines = cell.source.split("\n")
    where = f"cell {index} (question {question.name})"
    try:
        ast.parse(cell.source)
    except SyntaxError as exc:
        raise ImportFailure(f"{where}: the test is not valid Python (line {exc.lineno}: {exc.msg})") from None
    hidden = bool(re.search(r"\bhidden\b", lines[0], flags=re.IGNORECASE)) if lines[0].lstrip().startswith("#") else False
    start = 0 if hidden else -1
    config = {}
    if re.match(BEGIN_TEST_CONFIG, lines[0], flags=re.IGNORECASE):
        end = next((i for i, line in enumerate(lines) if re.match(END_TEST_CONFIG, line, flags=re.IGNORECASE)), None)
        if end is None:
            raise ImportFailure(f"{where}: a BEGIN TEST CONFIG without END TEST CONFIG")
        config = _yaml("\n".join(lines[1:end]), f"{where}: the test config")
        if not isinstance(config, dict):
            raise ImportFailure(f"{where}: the test config is not a mapping")
        start = end
    hidden = bool(config.get("hidden", hidden))
    points = config.get("points")
    if points is not None and (isinstance(points, bool) or not isinstance(points, (int, float))):
        raise ImportFailure(f"{where}: test config `points` must be a number, got {points!r}")
    tree = ast.parse("\n".join(lines[start + 1:]))
    if ok_format:
        code = ast.unparse(_Annotations().visit(tree))
        body = "\n".join(_to_doctest(code.split("\n")) + _output_of(cell).split("\n"))
    else:
        if not tree.body or len(tree.body) > 2 or not isinstance(tree.body[0], ast.FunctionDef):
            raise ImportFailure(f"{where}: an exception-based test cell holds a function definition and at most a "
                                f"call to it ({len(tree.body)} statements here)")
        body = ast.unparse(tree.body[0])
    return OtterTest(index, body, hidden, points, config.get("name"))


def resolve_points(total: Any, tests: list[OtterTest], where: str) -> list[float]:
    """Each test case's points, as otter resolves them (TestFile.resolve_test_file_points)."""
    values = [t.points for t in tests]
    if isinstance(total, dict):
        total = total.get("each", 1) * len(tests)
    if isinstance(total, list):
        if len(total) != len(tests):
            raise ImportFailure(f"{where}: `points` lists {len(total)} values for {len(tests)} test cases")
        values, total = list(total), None
    elif total is not None and (isinstance(total, bool) or not isinstance(total, (int, float))):
        raise ImportFailure(f"{where}: `points` must be a number, a list or `each:`, got {total!r}")
    given = sum(p for p in values if p is not None)
    missing = sum(p is None for p in values)
    if total is not None:
        if given > total:
            raise ImportFailure(f"{where}: the test cases' points ({given:g}) exceed the question's ({total:g})")
        rest = (total - given) / missing if missing else 0.0
    elif given == 0 and all(p in (0, None) for p in values):
        rest = 1 / missing if missing else 0.0
    else:
        rest = 0.0
    return [float(p) if p is not None else rest for p in values]


def read_master(notebook: nbformat.NotebookNode, notes: list[str]) -> tuple[dict, list[Out], dict[str, Question]]:
    """The assignment config, the cells to write and the questions, walking the cells as otter does."""
    config: dict = {"tests": {"ok_format": True}}
    cells = _fenced([_unrendered(c) for c in notebook.cells])
    out: list[Out] = []
    questions: dict[str, Question] = {}
    blocks: list[str] = []
    question: Question | None = None
    has_prompt = solution_has_md = False
    prompt_at: int | None = None
    ids: set[str] = set()

    def where(i: int) -> str:
        return f"cell {i}" + (f" (question {question.name})" if question else "")

    for i, cell in enumerate(cells):
        if _is_ignore_cell(cell):
            continue
        if _is_config(cell):
            found = _yaml("\n".join(cell.source.split("\n")[1:]), f"{where(i)}: ASSIGNMENT CONFIG")
            if not isinstance(found, dict):
                raise ImportFailure(f"{where(i)}: ASSIGNMENT CONFIG is not a mapping")
            for key, value in found.items():
                config[key] = {**config[key], **value} if isinstance(value, dict) and isinstance(config.get(key), dict) \
                    else value
            continue
        if blocks and _boundary(cell, blocks[-1], end=True):
            block = blocks.pop()
            if block == "question":
                question = None
                has_prompt = solution_has_md = False
                prompt_at = None
            elif block == "solution" and not has_prompt and solution_has_md and question.manual:
                out.insert(prompt_at, Out("markdown", MD_RESPONSE, question=question.id))
                has_prompt = True
            continue
        for block in BLOCKS:
            if _boundary(cell, block, end=True):
                if block in blocks:
                    raise ImportFailure(f"{where(i)}: an END {block.upper()} with an unended {blocks[-1]} block")
                raise ImportFailure(f"{where(i)}: an END {block.upper()} without its BEGIN {block.upper()}")
        begin = next((block for block in BLOCKS if _boundary(cell, block)), None)
        if begin:
            if not blocks and begin != "question":
                raise ImportFailure(f"{where(i)}: a BEGIN {begin.upper()} outside a question")
            if blocks and begin == "question":
                raise ImportFailure(f"{where(i)}: a BEGIN QUESTION inside another question")
            if len(blocks) > 1:
                raise ImportFailure(f"{where(i)}: a BEGIN {begin.upper()} inside a {blocks[-1]} block")
            if begin == "prompt" and has_prompt:
                raise ImportFailure(f"{where(i)}: a prompt block after a solution block")
            if begin == "prompt":
                has_prompt = True
            elif begin == "solution" and not has_prompt:
                prompt_at = len(out)
            elif begin == "question":
                spec = _yaml("\n".join(cell.source.split("\n")[1:]), f"{where(i)}: BEGIN QUESTION")
                if not isinstance(spec, dict) or not spec.get("name"):
                    raise ImportFailure(f"{where(i)}: a BEGIN QUESTION without a `name`")
                name = str(spec["name"])
                qid = sanitize(name) or "q"
                while qid in ids:
                    qid += "_"
                if qid != name:
                    notes.append(f"question {name!r} is {qid!r} here (ids are lower-case letters, digits and _)")
                ids.add(qid)
                question = Question(name, qid, i, bool(spec.get("manual", False)), spec.get("points"),
                                    bool(spec.get("all_or_nothing", False)))
                if name in questions:
                    raise ImportFailure(f"{where(i)}: a second question named {name!r}")
                questions[name] = question
            blocks.append(begin)
            continue
        if cell.cell_type == "code" and re.search(r'"""\s*#\s*BEGIN\s*PLUGIN', cell.source):
            notes.append(f"{where(i)}: an otter plugin (`BEGIN PLUGIN`): tensorgrade has no plugins; the cell is left out")
            continue
        source = remove_ignored(cell.source) if cell.cell_type == "code" else cell.source
        if cell.cell_type == "code" and MATPLOTLIB_MAGIC.search(source):
            # Jupyter shows figures inline by default; the grader's kernel has no inline backend to select.
            source = MATPLOTLIB_MAGIC.sub(lambda m: f"{m[1]}# {m[2]}  (not needed: figures show inline)", source)
        block = blocks[-1] if blocks else None
        if block == "tests":
            if cell.cell_type != "code":
                raise ImportFailure(f"{where(i)}: a {cell.cell_type} cell in a tests block")
            question.tests.append(read_test(cell, i, question, bool(config["tests"].get("ok_format", True))))
            continue
        if cell.cell_type == "raw":
            continue  # otter drops raw cells from both notebooks only when converting; nothing to run here
        if block == "solution":
            if cell.cell_type == "markdown":
                solution_has_md = True
                if "otter_include" in cell.metadata.get("tags", []):
                    out.append(Out("markdown", source))
                else:
                    question.solutions.append(source)
                continue
            out.append(Out("answer", source, question=question.id))
            question.answers += 1
            continue
        if cell.cell_type == "code" and config.get("strip_solutions_from_all_cells") and otter_stub(source) != source:
            out.append(Out("answer", source))  # stubbed as otter does in this mode; not part of a question
            continue
        if cell.cell_type == "markdown":
            out.append(Out("markdown", source, question=question.id if block == "prompt" and question else None))
        else:
            out.append(Out("given" if block == "question" else "code", source))
    if blocks:
        raise ImportFailure(f"the notebook ends inside a {blocks[-1]} block (question {question.name if question else '?'})")
    return config, out, questions


# ---------------------------------------------------------------------------------------------
# Test cases -> asserts(...)
# ---------------------------------------------------------------------------------------------

def _doctest_inside(body: str, name: str) -> str:
    """Run the case with doctest in the student's namespace, exactly as otter's run_doctest does."""
    return "\n".join([
        "import doctest as _otter_doctest",
        f"_otter_case = _otter_doctest.DocTestParser().get_doctest({body!r}, dict(globals()), {name!r}, None, 0)",
        "_otter_runner = _otter_doctest.DocTestRunner(verbose=False)",
        "_otter_report = []",
        "_otter_runner.run(_otter_case, out=_otter_report.append, clear_globs=False)",
        # An assertion inside a statement: decided inside (and counted so), not lifted.
        "if _otter_runner.failures:",
        "    assert False, ''.join(_otter_report)",
    ])


PYTHON_BOOLS = ("allclose", "array_equal", "array_equiv", "iscomplexobj", "isrealobj", "isscalar", "may_share_memory",
                "shares_memory", "isfortran")  # NumPy functions that return a Python bool
NUMPY_BOOLS: list[str] = []  # notes of the current import (make_source clears and reads it)


def translate_ok(body: str, name: str) -> str:
    """An OK-format case (a doctest) as test code: lifted where each example's check is a value."""
    try:
        examples = doctest.DocTestParser().get_examples(body, name)
    except ValueError:
        return _doctest_inside(body, name)
    lines = []
    for example in examples:
        code, want = example.source.rstrip("\n"), example.want
        try:
            tree = ast.parse(code)
        except SyntaxError:
            return _doctest_inside(body, name)
        if any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in ("print", "display")
               for n in ast.walk(tree)):
            return _doctest_inside(body, name)  # printed output is compared as text
        if len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr):
            expression = code
            if not want:
                lines.append(f"assert ({expression}) is None")  # doctest: a value shown where none is expected
                continue
            if "<BLANKLINE>" in want:
                return _doctest_inside(body, name)
            # What doctest compares: the value's repr with the expected text (`True`, `9`, a Series).
            lines.append(f"assert repr({expression}) == {want[:-1]!r}")
            call = tree.body[0].value
            if want.strip() in ("True", "False") and isinstance(call, ast.Call) and \
                    ast.unparse(call.func).split(".")[0] in ("np", "numpy") and \
                    ast.unparse(call.func).split(".")[-1] not in PYTHON_BOOLS:
                NUMPY_BOOLS.append(f"{name}: `{expression}` returns a NumPy bool, which NumPy 2 prints as "
                                   f"`np.{want.strip()}_`, so otter's doctest (and this check) fails for every "
                                   f"student; wrap it in bool(...) in the source if that is not intended")
        elif want.strip():
            return _doctest_inside(body, name)
        else:
            lines.append(code)
    return "\n".join(lines) if lines else "pass"


def translate_exception(body: str) -> str:
    """An exception-based case (`def test_x(sieve): assert ...`), called as otter calls it."""
    function = ast.parse(body).body[0]
    params = [a.arg for a in function.args.args]
    returns = any(isinstance(n, (ast.Return, ast.Yield, ast.YieldFrom, ast.Nonlocal, ast.Global))
                  for n in ast.walk(function))
    clash = any(isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store) and n.id in params for n in ast.walk(function))
    if not returns and not clash and "env" not in params and not function.decorator_list and not function.args.vararg \
            and not function.args.kwarg and not function.args.kwonlyargs and not function.args.defaults:
        # Inlined: the parameters are the student's names, as otter passes them (its assertions get lifted).
        return "\n".join(ast.unparse(statement) for statement in function.body)
    call = ", ".join("env=globals()" if p == "env" else f"{p}=globals().get({p!r})" for p in params)
    return body + f"\n{function.name}({call})"


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
