"""What the student's kernel reports about their cells: tracebacks that name the right cell and line,
whatever the notebook holds (empty cells, cell magics). Real notebooks, graded in the sandbox."""

from conftest import solution_cells, write_notebook


def test_tracebacks_name_the_cell_after_empty_cells_and_the_line_inside_a_cell_magic(a2_grader, tmp_path):
    cells = solution_cells("a2_autograd")
    cells = [cells[0], "", "   \n", *cells[1:],
             "%%time\nx = 1\ny = undefined_name + 1\n",
             "def f():\n    raise ValueError('boom')\n\nf()"]
    result = a2_grader.grade(write_notebook(tmp_path / "cells.ipynb", cells))
    assert result.status == "graded" and result.score == result.max_score, result.error
    magic, plain = result.cells[-2], result.cells[-1]
    assert magic.status == "error" and plain.status == "error"
    # the cell the report lists is the cell the traceback names (empty cells take no IPython number)
    assert f"cell {magic.index}, line 3, in <module>\n    y = undefined_name + 1" in magic.error, magic.error
    assert "run_cell_magic" not in magic.error  # not the whole cell as one string
    assert f"cell {plain.index}, line 4, in <module>" in plain.error, plain.error
    assert f"cell {plain.index}, line 2, in f\n    raise ValueError('boom')" in plain.error, plain.error
