"""Reading a submitted file: a valid nbformat-4 notebook becomes its code cells, anything else an
error that says which file and what is wrong with it, so the TA (and the student) can act."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

MAX_NOTEBOOK_BYTES = 200 * 1024 * 1024
MAX_CODE_CELLS = 2000
MAX_CELL_SOURCE = 1_000_000  # a bigger cell is not run (the rest of the notebook is)
MAX_TOTAL_SOURCE = 20_000_000
UTF8_BOM = b"\xef\xbb\xbf"


class InvalidNotebook(ValueError):
    """The file cannot be graded; the message names the problem (the grader puts the file's name
    before it), and `path` is the file."""

    def __init__(self, message: str, path: Path | str | None = None):
        super().__init__(message)
        self.path = path


@dataclass
class Notebook:
    path: Path
    cells: list[tuple[int, str]]  # (index among all cells, source) of each code cell
    metadata: dict = field(default_factory=dict)
    cell_metadata: dict[int, dict] = field(default_factory=dict)
    cell_ids: dict[int, str] = field(default_factory=dict)  # index -> nbformat 4.5 cell id, where present
    refused: dict[int, str] = field(default_factory=dict)  # index -> why that code cell is not run


def read_notebook(path: Path | str) -> Notebook:
    """The notebook's code cells, or InvalidNotebook saying what is wrong with the file.

    Whatever goes wrong while reading, decoding, parsing or validating the file (a limit of Python's
    own, such as its 4300-digit limit on integers read from text, an error of nbformat's, an OSError)
    is the file's problem, never the grader's: it comes out as InvalidNotebook with its reason, so a
    batch grades the other submissions and reports this one as invalid."""
    path = Path(path)
    try:
        return _read_notebook(path)
    except InvalidNotebook as exc:
        exc.path = path
        raise
    except RecursionError:
        raise InvalidNotebook("not a valid notebook: nested too deeply (arrays or objects inside each other "
                              "hundreds of levels deep)", path) from None
    except MemoryError:
        raise InvalidNotebook("not a valid notebook: too large to read into memory", path) from None
    except OSError as exc:
        raise InvalidNotebook(f"the file cannot be read: {exc.strerror or type(exc).__name__}", path) from None
    except Exception as exc:  # whatever else: the file's problem, said plainly, no traceback
        raise InvalidNotebook(f"the file cannot be read as a notebook: {_problem(exc)}", path) from None


def _problem(exc: BaseException) -> str:
    text = str(exc).splitlines()[0][:300] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


INT_DIGITS = re.compile(r"limit \((\d+) digits\) for integer string conversion(?:: value has (\d+) digits)?")
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")  # \ud800..\udfff in the JSON text


def _number_too_long(exc: ValueError) -> str | None:
    """The reason for Python's int-string conversion limit, in words; None for other errors."""
    found = INT_DIGITS.search(str(exc))
    if found is None:
        return None
    limit, digits = found.groups()
    return (f"not valid notebook JSON: it holds an integer of {digits or 'more than ' + limit} digits, over "
            f"Python's {limit}-digit limit for reading integers from text (no notebook holds such a number: "
            "was the file generated or edited by a program?)")


def _lone_surrogate(data) -> str | None:
    """Where the parsed JSON holds a string that is not Unicode text: a lone UTF-16 surrogate (a
    \\ud800..\\udfff escape without its pair), which no UTF-8 file, terminal or report can hold."""
    stack = [(data, ())]
    while stack:
        value, where = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                stack.append((key, where))
                stack.append((item, (*where, key)))
        elif isinstance(value, list):
            stack.extend((item, (*where, index)) for index, item in enumerate(value))
        elif isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                character = f"U+{ord(value[exc.start]):04X}"
                return f"{_place(where)} holds a lone UTF-16 surrogate ({character}, an escape without its pair)"
    return None


def _place(where: tuple) -> str:
    if len(where) >= 2 and where[0] == "cells" and isinstance(where[1], int):
        part = f"'s {where[2]}" if len(where) >= 3 else ""
        return f"cell {where[1]}{part}"
    if where:
        return f"the notebook's {where[0]}"
    return "the notebook"


def _read_notebook(path: Path) -> Notebook:
    if not path.exists():
        raise InvalidNotebook("file not found")
    if not path.is_file():
        raise InvalidNotebook("not a regular file")
    size = path.stat().st_size
    if size == 0:
        raise InvalidNotebook("the file is empty (0 bytes): was the notebook saved before submitting?")
    if size > MAX_NOTEBOOK_BYTES:
        raise InvalidNotebook(f"the file is {size / 1e6:.0f} MB, over the {MAX_NOTEBOOK_BYTES / 1e6:.0f} MB limit "
                              "(clear large outputs and resubmit)")
    raw = path.read_bytes()
    if raw.startswith(UTF8_BOM):  # some editors save UTF-8 with a byte-order mark; JSON allows it
        raw = raw[len(UTF8_BOM):]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidNotebook(f"not UTF-8 text (byte {exc.start} is 0x{raw[exc.start]:02x}): "
                              "a notebook is a UTF-8 JSON file") from None
    try:
        data = json.loads(text)
    except RecursionError:
        raise InvalidNotebook("not valid notebook JSON: nested too deeply (arrays or objects inside each other "
                              "thousands of levels deep)") from None
    except json.JSONDecodeError as exc:
        first = text.lstrip().splitlines()[0][:60] if text.strip() else ""
        hint = ""
        if first and not first.startswith("{"):
            hint = f" (it starts with {first!r}: a Python script or another file renamed to .ipynb?)"
        # Some of json's messages end in "at" ("Unterminated string starting at"): one "at" before the place.
        raise InvalidNotebook(f"not valid notebook JSON: {exc.msg.removesuffix(' at')} at line {exc.lineno} "
                              f"column {exc.colno}{hint}") from None
    except ValueError as exc:  # not a JSONDecodeError: a limit of Python's, e.g. on long integers
        raise InvalidNotebook(_number_too_long(exc) or f"not valid notebook JSON: {_problem(exc)}") from None
    if not isinstance(data, dict) or "cells" not in data and "worksheets" not in data:
        raise InvalidNotebook("JSON, but not a Jupyter notebook (no `cells`)")
    if SURROGATE_ESCAPE.search(text):
        surrogate = _lone_surrogate(data)
        if surrogate is not None:
            raise InvalidNotebook(f"not valid Unicode text: {surrogate}")
    major = data.get("nbformat")
    if major != 4:
        raise InvalidNotebook(f"nbformat {major} notebook; only nbformat 4 is graded: open it in a current "
                              "Jupyter and save it again")
    try:
        notebook = nbformat.reads(text, as_version=4)
        nbformat.validate(notebook)
    except nbformat.ValidationError as exc:
        raise InvalidNotebook(f"not a valid nbformat-4 notebook: {str(exc).splitlines()[0][:300]}") from None
    except RecursionError:
        raise InvalidNotebook("not a valid nbformat-4 notebook: nested too deeply (arrays or objects inside each "
                              "other hundreds of levels deep)") from None
    except Exception as exc:  # nbformat raises assorted errors on broken structures
        raise InvalidNotebook(f"not a valid nbformat-4 notebook: {type(exc).__name__}: {str(exc)[:300]}") from None
    cells = []
    cell_metadata = {}
    cell_ids = {}
    refused = {}
    total = 0
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        source = cell.source if isinstance(cell.source, str) else "".join(cell.source)
        if len(source) > MAX_CELL_SOURCE:
            # One oversized cell (a pasted data dump) costs that cell, not the whole notebook.
            refused[index] = (f"not run: this cell holds {len(source) / 1e6:.1f} MB of code, over the "
                              f"{MAX_CELL_SOURCE / 1e6:.0f} MB limit for one cell (load large data from a file)")
            continue
        total += len(source)
        if total > MAX_TOTAL_SOURCE:
            raise InvalidNotebook(f"the notebook holds more than {MAX_TOTAL_SOURCE / 1e6:.0f} MB of code")
        cells.append((index, source))
        cell_metadata[index] = dict(cell.get("metadata", {}))
        if isinstance(cell.get("id"), str):
            cell_ids[index] = cell["id"]
    if len(cells) > MAX_CODE_CELLS:
        raise InvalidNotebook(f"{len(cells)} code cells, over the limit of {MAX_CODE_CELLS}")
    return Notebook(path=path, cells=cells, metadata=dict(notebook.metadata), cell_metadata=cell_metadata,
                    cell_ids=cell_ids, refused=refused)


# ---------------------------------------------------------------------------------------------
# Locked cells: given code that a release makes read-only and grading restores (as nbgrader does)
# ---------------------------------------------------------------------------------------------

LOCKED_CELL_FINDING = "locked cell"  # every finding about locked cells starts with this


@dataclass(frozen=True)
class LockedCell:
    id: str | None  # the released cell id; None where the template predates cell ids
    source: str
    checksum: str


def is_given(metadata: dict) -> bool:
    """Given code (metadata `tensorgrade.given`): the part of the template students must not change."""
    marker = metadata.get("tensorgrade") if isinstance(metadata, dict) else None
    return isinstance(marker, dict) and marker.get("given") is True


def source_checksum(source: str) -> str:
    """Checksum of a cell's code; trailing whitespace is ignored so that saving in another editor is
    not reported as a change."""
    normalized = "\n".join(line.rstrip() for line in source.strip("\n").splitlines())
    return hashlib.sha256(normalized.encode()).hexdigest()


def ensure_cell_ids(notebook: nbformat.NotebookNode) -> None:
    """Give every cell a unique id (nbformat 4.5), deterministically, so that the release and the
    grader, each reading the same template, agree on the ids of cells that had none."""
    notebook.nbformat_minor = max(int(notebook.get("nbformat_minor", 0)), 5)
    seen: set[str] = set()
    for index, cell in enumerate(notebook.cells):
        cell_id = cell.get("id")
        if not isinstance(cell_id, str) or not cell_id or cell_id in seen:
            cell_id = f"cell-{index}"
            while cell_id in seen:
                cell_id += "x"
            cell["id"] = cell_id
        seen.add(cell_id)


def locked_cells(path: Path | str) -> list[LockedCell]:
    """The given code cells of a template or released notebook, in order; none for a notebook that
    cannot be read (grading that file reports it invalid)."""
    try:
        notebook = nbformat.read(str(path), as_version=4)
    except Exception:  # nbformat raises assorted errors on broken files
        return []
    ensure_cell_ids(notebook)
    return [LockedCell(id=cell["id"], source=cell.source, checksum=source_checksum(cell.source))
            for cell in notebook.cells if cell.cell_type == "code" and is_given(cell.get("metadata", {}))]


def restore_locked_cells(notebook: Notebook, locked: list[LockedCell],
                         report_missing: bool) -> tuple[list[tuple[int, str]], list[str]]:
    """The cells to run, with every changed locked cell replaced by its released version, and the
    integrity findings that say which.

    A locked cell is found by its id, else by its checksum (a student who re-created the notebook,
    or the reference, has other ids but the same given code). A locked cell found by neither was
    deleted or merged into another: it is reported (when `report_missing`, i.e. the notebook says it
    comes from this release) but not re-inserted, since a student may reorganise cells freely.
    """
    index_by_id = {notebook.cell_ids[i]: i for i, _ in notebook.cells if i in notebook.cell_ids}
    sources = dict(notebook.cells)
    present = {source_checksum(source) for source in sources.values()}
    replaced: dict[int, str] = {}
    findings = []
    for cell in locked:
        index = index_by_id.get(cell.id) if cell.id else None
        if index is not None and source_checksum(sources[index]) != cell.checksum:
            replaced[index] = cell.source
            findings.append(f"{LOCKED_CELL_FINDING} {cell.id} (cell {index}) was changed; the released version "
                            "of that cell ran in its place")
        elif index is None and cell.checksum not in present and report_missing:
            findings.append(f"{LOCKED_CELL_FINDING} {cell.id} is missing (deleted, merged into another cell or "
                            "turned into markdown); it did not run")
    return [(i, replaced.get(i, source)) for i, source in notebook.cells], findings


def identity_findings(notebook: Notebook, assignment_id: str, version: str) -> list[str]:
    """A notebook released for another assignment or version (its metadata says so) is still graded,
    against this one, and flagged; a notebook without release metadata is not flagged."""
    marker = notebook.metadata.get("tensorgrade")
    if not isinstance(marker, dict) or "assignment" not in marker:
        return []
    their_id, their_version = str(marker.get("assignment")), str(marker.get("version"))
    if their_id != assignment_id:
        return [f"this notebook was released for assignment {their_id} v{their_version}, not {assignment_id}: "
                f"graded as {assignment_id} v{version} anyway (was the wrong file submitted?)"]
    if their_version != version:
        return [f"this notebook was released as {assignment_id} v{their_version}; graded against v{version} "
                "(the student may have started from an outdated release)"]
    return []


def from_this_release(notebook: Notebook, assignment_id: str) -> bool:
    marker = notebook.metadata.get("tensorgrade")
    return isinstance(marker, dict) and marker.get("assignment") == assignment_id
