"""Reading an otter-grader master notebook, as otter-grader 7.0.0's `otter assign` reads it
(otter/assign/notebook_transformer.py, blocks.py, tests_manager.py; ported here, not imported): the
assignment config, the cells to write and the questions with their test cases as otter stores them.
A notebook in otter's v0 format is converted to v1 first (`is_v0`, `from_v0`), as otter 4's converter
did. What becomes of each block is described in importers/otter.py.
"""

from __future__ import annotations

import ast
import copy
import html
import re
from dataclasses import dataclass, field
from typing import Any

import nbformat
import yaml

from tensorgrade.course.errors import AuthoringError
from tensorgrade.course.importers.shared import sanitize
from tensorgrade.course.markers import otter_stub

# ---------------------------------------------------------------------------------------------
# IGNORE lines, removed everywhere as otter removes them
# ---------------------------------------------------------------------------------------------

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
MD_RESPONSE = "_Type your answer here, replacing this text._"  # otter's CellFactory.create_markdown_response_cell


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
