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


def test_a_cell_that_fails_on_the_environment_says_so_and_the_checks_it_broke_name_it(a2_grader, tmp_path):
    cells = solution_cells("a2_autograd")
    answer = next(i for i, source in enumerate(cells) if "class Polynomial3" in source)
    cells[answer] = "import pandaz  # a typo, or a package the course does not use\n" + cells[answer]
    cells += ["import torchvision", "import urllib.request\nurllib.request.urlopen('http://example.com/mnist.npz')"]
    result = a2_grader.grade(write_notebook(tmp_path / "environment.ipynb", cells))
    assert result.status == "graded"
    broken = result.cells[answer]
    assert broken.status == "error" and "`pandaz` is not installed in the grading environment" in broken.error
    messages = [c.message for c in result.checks if c.diagnosis == "not-defined"]
    assert messages and all(f"cell {broken.index} failed: ModuleNotFoundError: No module named 'pandaz'" in m
                            for m in messages), messages
    vision, download = result.cells[-2], result.cells[-1]
    assert "no torchvision: no build of it loads with its CPU torch" in vision.error, vision.error
    assert "no network during grading" in download.error and "data files given with the assignment" in download.error, \
        download.error


def test_pandas_is_there_for_the_course_s_csv_files(a2_grader, tmp_path):
    cells = [*solution_cells("a2_autograd"),
             "import pandas\nframe = pandas.DataFrame({'x': [1, 2]})\nassert int(frame.x.sum()) == 3"]
    result = a2_grader.grade(write_notebook(tmp_path / "pandas.ipynb", cells))
    assert result.cells[-1].status == "ok", result.cells[-1].error


def test_an_error_raised_while_the_grader_calls_student_code_says_which_call_the_grader_made(a2_grader, tmp_path):
    cells = solution_cells("a2_autograd")
    cells.append("def _broken_forward(self, x):\n    raise RuntimeError('my own forward() is broken')\n"
                 "Polynomial3.forward = _broken_forward")
    result = a2_grader.grade(write_notebook(tmp_path / "train.ipynb", cells))
    raised = [c for c in result.checks if c.status == "error"]
    assert raised, [(c.id, c.status) for c in result.checks]
    for check in raised:
        first = check.message.split("\n")[0]
        assert first.startswith("the grader called `") and "which ran your code (cell" in first, check.message
        assert "RuntimeError: my own forward() is broken" in first, check.message
