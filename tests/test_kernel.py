"""What the student's kernel reports about their cells: tracebacks that name the right cell and line,
whatever the notebook holds (empty cells, cell magics). Real notebooks, graded in the sandbox."""

import re

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
    """The grader's call, the student's function it entered (the outermost of their frames), and where
    it raised (the innermost): a source line starting with "cell " is not taken for a frame, and a
    lambda, having no name to give, is "your code"."""
    cells = solution_cells("a2_autograd")
    cells.append("def _broken_forward(ctx, x):\n    return _forward_step(x)\n\n"
                 "def _forward_step(x):\n    cell = None; raise RuntimeError('my own forward() is broken')\n\n"
                 "LegendrePolynomial3.forward = staticmethod(_broken_forward)\n"
                 "Polynomial3.string = lambda self: {}['my own string() is broken']")
    result = a2_grader.grade(write_notebook(tmp_path / "train.ipynb", cells))
    index = result.cells[-1].index
    raised = {c.id: c.message.split("\n")[0] for c in result.checks if c.status == "error"}
    assert {"q1.forward", "q2.string", "q3.returns"} <= set(raised), raised
    # the grader's call reached forward itself (through torch's Function.apply), or the student's
    # train_legendre, which called it
    for check_id, entered in [("q1.forward", "_broken_forward"), ("q3.returns", "train_legendre")]:
        assert re.fullmatch(rf"the grader called `[^`\n]+`, which called your `{entered}\(\)`; it raised "
                            rf"RuntimeError: my own forward\(\) is broken \(cell {index}, line 5\)",
                            raised[check_id]), raised[check_id]
    assert re.fullmatch(rf"the grader called `[^`\n]+`, which ran your code \(cell {index}, line 8\): "
                        r"it raised KeyError: 'my own string\(\) is broken'", raised["q2.string"]), raised["q2.string"]
