"""Reading a submitted file: a valid nbformat-4 notebook becomes its code cells, anything else an
error that says which file and what is wrong with it, so the TA (and the student) can act."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

MAX_NOTEBOOK_BYTES = 200 * 1024 * 1024
MAX_CODE_CELLS = 2000
MAX_CELL_SOURCE = 1_000_000


class InvalidNotebook(ValueError):
    """The file cannot be graded; the message names the problem."""


@dataclass
class Notebook:
    path: Path
    cells: list[tuple[int, str]]  # (index among all cells, source) of each code cell
    metadata: dict = field(default_factory=dict)
    cell_metadata: dict[int, dict] = field(default_factory=dict)


def read_notebook(path: Path | str) -> Notebook:
    path = Path(path)
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
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidNotebook(f"not UTF-8 text (byte {exc.start} is 0x{raw[exc.start]:02x}): "
                              "a notebook is a UTF-8 JSON file") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        first = text.lstrip().splitlines()[0][:60] if text.strip() else ""
        hint = ""
        if first and not first.startswith("{"):
            hint = f" (it starts with {first!r}: a Python script or another file renamed to .ipynb?)"
        raise InvalidNotebook(f"not valid notebook JSON: {exc.msg} at line {exc.lineno} column {exc.colno}{hint}") from None
    if not isinstance(data, dict) or "cells" not in data and "worksheets" not in data:
        raise InvalidNotebook("JSON, but not a Jupyter notebook (no `cells`)")
    major = data.get("nbformat")
    if major != 4:
        raise InvalidNotebook(f"nbformat {major} notebook; only nbformat 4 is graded: open it in a current "
                              "Jupyter and save it again")
    try:
        notebook = nbformat.reads(text, as_version=4)
        nbformat.validate(notebook)
    except nbformat.ValidationError as exc:
        raise InvalidNotebook(f"not a valid nbformat-4 notebook: {str(exc).splitlines()[0][:300]}") from None
    except Exception as exc:  # nbformat raises assorted errors on broken structures
        raise InvalidNotebook(f"not a valid nbformat-4 notebook: {type(exc).__name__}: {str(exc)[:300]}") from None
    cells = []
    cell_metadata = {}
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        source = cell.source if isinstance(cell.source, str) else "".join(cell.source)
        if len(source) > MAX_CELL_SOURCE:
            raise InvalidNotebook(f"cell {index} holds {len(source) / 1e6:.1f} MB of code, over the "
                                  f"{MAX_CELL_SOURCE / 1e6:.0f} MB limit")
        cells.append((index, source))
        cell_metadata[index] = dict(cell.get("metadata", {}))
    if len(cells) > MAX_CODE_CELLS:
        raise InvalidNotebook(f"{len(cells)} code cells, over the limit of {MAX_CODE_CELLS}")
    return Notebook(path=path, cells=cells, metadata=dict(notebook.metadata), cell_metadata=cell_metadata)
