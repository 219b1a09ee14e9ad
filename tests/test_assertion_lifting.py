"""Assert-style tests, lifted (tensorgrade/checking/outside/assertion_judges.py): the student's values
leave the sandbox as data and the comparison is made outside, so that a lying `__eq__`, a shadowed
`np` or a patched `isclose` decides nothing; what cannot be lifted runs inside, marked as such."""

import textwrap

import nbformat
import pytest

from tensorgrade.checking.outside.assertion_judges import lifted_count, plan
from tensorgrade.course.assignment import load_assignment
from tensorgrade.course.build import build
from tensorgrade.grading.grader import Grader

SOURCE = '''\
# ---
# jupyter:
#   jupytext: {formats: "py:percent", notebook_metadata_filter: tensorgrade}
#   kernelspec: {display_name: Python 3, language: python, name: python3}
#   tensorgrade: {id: a8_lift, title: Lifted asserts, version: "1.0", secret_seed: 4242, preload: [numpy]}
# ---

# %% [markdown]
# ## Q1 (4 points): arithmetic

# %% tags=["given"]
import math
import numpy as np

# %% question="q1" title="add and scale"
def add(a, b):
    ### BEGIN SOLUTION
    return a + b
    ### END SOLUTION


def scale(x, k):
    ### BEGIN SOLUTION
    return np.asarray(x) * k
    ### END SOLUTION

# %% tags=["checks"]
asserts("q1.add", """
assert add(1, 2) == 3, "add(1, 2) should be 3"
assert isinstance(add(1, 2), int)
""")
asserts("q1.scale", """
x = np.ones(3)
assert np.allclose(scale(x, 2), [2, 2, 2])
np.testing.assert_allclose(scale([1.0, 2.0], 0.5), [0.5, 1.0])
""")
asserts("q1.inside", """
for k in range(3):
    assert add(k, k) == 2 * k
""")

# %% tags=["hidden-checks"]
asserts("q1.hidden", """
assert abs(add(0.1, 0.2) - 0.3) < 1e-9
assert math.isclose(add(1e6, 1), 1000001.0)
""")
'''


def test_the_plan_lifts_comparisons_and_keeps_the_rest_inside():
    steps = plan("x = f(1)\nassert x == 2\nassert np.allclose(g(x), [1, 2])\nassert weird(x)\n"
                 "for i in range(2):\n    assert f(i)\nnp.testing.assert_allclose(h(), 1.0)\n")
    assert [s.kind for s in steps] == ["exec", "lifted", "lifted", "lifted", "exec", "lifted"]
    assert steps[2].leaves == ("g(x)",) and steps[1].leaves == ("x",)
    assert lifted_count("assert f(1) == 2\nassert [v for v in f()] == [1]\n") == (1, 2)


def _notebook(path, add_body, scale_body="return np.asarray(x) * k", extra=""):
    cells = [nbformat.v4.new_code_cell("import math\nimport numpy as np", metadata={"tensorgrade": {"given": True}}),
             nbformat.v4.new_code_cell(f"def add(a, b):\n    {add_body}\n\n\ndef scale(x, k):\n    {scale_body}\n"
                                       + textwrap.dedent(extra),
                                       metadata={"tensorgrade": {"answer": True, "question": "q1"}})]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), str(path))
    return path


@pytest.fixture(scope="module")
def grader(tmp_path_factory):
    root = tmp_path_factory.mktemp("lift")
    source = root / "solutions" / "a8_lift" / "a8_lift.py"
    source.parent.mkdir(parents=True)
    source.write_text(SOURCE)
    build(source)
    with Grader(load_assignment(root / "assignments" / "a8_lift"), jobs=1) as opened:
        yield opened, root


def _checks(grader, path):
    opened, _ = grader
    result = opened.grade(path)
    return {c.id: c for c in result.checks}


def test_the_reference_passes_and_a_wrong_answer_is_shown_with_its_values(grader, tmp_path):
    checks = _checks(grader, grader[1] / "solutions" / "a8_lift" / "solution.ipynb")
    assert {c.status for c in checks.values()} == {"passed"}
    assert checks["q1.inside"].details["decided_inside"] is True and "decided inside" in checks["q1.inside"].message
    assert checks["q1.add"].details["decided_inside"] is False
    wrong = _checks(grader, _notebook(tmp_path / "wrong.ipynb", "return a - b"))
    assert wrong["q1.add"].status == "failed"
    assert wrong["q1.add"].message.startswith("assert failed (line 1: `assert add(1, 2) == 3")
    assert "add(1, 2) should be 3" in wrong["q1.add"].message and "where add(1, 2) = -1" in wrong["q1.add"].message
    assert wrong["q1.hidden"].status == "failed" and "add(0.1" not in wrong["q1.hidden"].message


def test_a_lying_eq_and_a_shadowed_np_decide_nothing(grader, tmp_path):
    cheat = _notebook(tmp_path / "cheat.ipynb", "return AlwaysEqual()", scale_body="return x", extra='''

class AlwaysEqual(int):
    def __eq__(self, other):
        return True
    __hash__ = int.__hash__


class FakeNumpy:
    def __getattr__(self, name):
        return getattr(__import__("numpy"), name)

    def allclose(self, *args, **kwargs):
        return True


np = FakeNumpy()
math.isclose = lambda *args, **kwargs: True
''')
    checks = _checks(grader, cheat)
    assert checks["q1.add"].status == "failed", checks["q1.add"].message
    assert checks["q1.scale"].status == "failed", checks["q1.scale"].message
    assert checks["q1.hidden"].status == "failed"
