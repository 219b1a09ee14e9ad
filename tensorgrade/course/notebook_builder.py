"""Authoring in Python: one source builds an assignment's template, reference and every sample
(`solutions/<id>/build_notebooks.py` of the shipped course), with the same cells and ids in each.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from tensorgrade.course.nbgrader_split import AuthoringError


# (cell id, kind, source, question): kind is "markdown", "given" (locked in the release), "answer"
# (its source comes from the answers, by question) or "code" (an ordinary cell students may change).
CellSpec = tuple[str, str, str, str | None]


def course_notebook(assignment_id: str, version: str, cells: list[CellSpec],
                    answers: dict[str, str]) -> nbformat.NotebookNode:
    """One notebook of an assignment: the same cells, with the same ids, for the template, the
    reference and every sample, so that samples differ from the reference only in their answers."""
    made = []
    for cell_id, kind, source, question in cells:
        if kind == "markdown":
            cell = nbformat.v4.new_markdown_cell(source)
        elif kind == "given":
            cell = nbformat.v4.new_code_cell(source, metadata={"tensorgrade": {"given": True}})
        elif kind == "answer":
            cell = nbformat.v4.new_code_cell(answers[question],
                                             metadata={"tensorgrade": {"answer": True, "question": question}})
        elif kind == "code":
            cell = nbformat.v4.new_code_cell(source)
        else:
            raise AuthoringError(f"cell {cell_id}: unknown kind {kind!r}")
        cell["id"] = cell_id
        made.append(cell)
    notebook = nbformat.v4.new_notebook(cells=made, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
        "tensorgrade": {"assignment": assignment_id, "version": version},
    })
    notebook.nbformat, notebook.nbformat_minor = 4, 5
    nbformat.validate(notebook)
    return notebook


def edit(text: str, old: str, new: str) -> str:
    """`text` with `old` replaced by `new`; fails loudly if `old` is not there (a sample that
    silently equals the reference would test nothing)."""
    if old not in text:
        raise AuthoringError(f"sample edit: {old!r} not found")
    return text.replace(old, new)


def write_course_notebooks(root: Path, assignment_id: str, version: str, cells: list[CellSpec],
                           stubs: dict[str, str], reference: dict[str, str],
                           samples: dict[str, dict[str, str]]) -> None:
    """assignments/<id>/<id>.ipynb, solutions/<id>/solution.ipynb and solutions/<id>/samples/*.ipynb;
    a sample gives only the answers where it differs from the reference."""
    nbformat.write(course_notebook(assignment_id, version, cells, stubs),
                   root / "assignments" / assignment_id / f"{assignment_id}.ipynb")
    solutions = root / "solutions" / assignment_id
    nbformat.write(course_notebook(assignment_id, version, cells, reference), solutions / "solution.ipynb")
    (solutions / "samples").mkdir(exist_ok=True)
    for name, answers in samples.items():
        nbformat.write(course_notebook(assignment_id, version, cells, {**reference, **answers}),
                       solutions / "samples" / f"{name}.ipynb")
