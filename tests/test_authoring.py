"""Course notebooks built from one Python source: the committed template, reference and samples are
exactly what each assignment's solutions/<id>/build_notebooks.py builds."""

import importlib.util

import pytest

from tensorgrade.course.notebook_builder import AuthoringError, course_notebook, edit, write_course_notebooks
from conftest import ROOT

BUILT = []  # every shipped assignment is built from its single source now (test_single_source.py)


def builder(assignment_id):
    path = ROOT / "solutions" / assignment_id / "build_notebooks.py"
    spec = importlib.util.spec_from_file_location(f"build_{assignment_id}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("assignment_id", BUILT)
def test_committed_notebooks_are_what_the_builder_builds(assignment_id, tmp_path):
    module = builder(assignment_id)
    (tmp_path / "assignments" / assignment_id).mkdir(parents=True)
    (tmp_path / "solutions" / assignment_id).mkdir(parents=True)
    stubs = getattr(module, "STUBS", None) or {q: getattr(module, f"{q.upper()}_STUB") for q in module.REFERENCE}
    reference = getattr(module, "SOLUTION", None) or module.REFERENCE
    write_course_notebooks(tmp_path, assignment_id, module.VERSION, module.CELLS, stubs, reference, module.SAMPLES)
    built = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.ipynb"))
    assert built, "nothing built"
    for relative in built:
        assert (tmp_path / relative).read_text() == (ROOT / relative).read_text(), (
            f"{relative} differs from what build_notebooks.py builds: rebuild with "
            f"`.venv/bin/python solutions/{assignment_id}/build_notebooks.py`")
    samples = {p.stem for p in (ROOT / "solutions" / assignment_id / "samples").glob("*.ipynb")}
    assert samples == set(module.SAMPLES)


def test_every_notebook_has_the_same_cells_and_ids_and_only_answers_differ():
    cells = [("intro", "markdown", "# A", None), ("given", "given", "import math", None),
             ("q1-answer", "answer", "q1", "q1"), ("try", "code", "print(1)", None)]
    template = course_notebook("a9_demo", "1.0", cells, {"q1": "raise NotImplementedError"})
    reference = course_notebook("a9_demo", "1.0", cells, {"q1": "x = 1"})
    assert [c["id"] for c in template.cells] == [c["id"] for c in reference.cells] == [c[0] for c in cells]
    assert template.cells[1].metadata["tensorgrade"] == {"given": True}
    assert reference.cells[2].metadata["tensorgrade"] == {"answer": True, "question": "q1"}
    assert reference.metadata["tensorgrade"] == {"assignment": "a9_demo", "version": "1.0"}
    assert [c.source for c in template.cells if c.source != c.source.replace("raise", "")] == ["raise NotImplementedError"]


def test_a_sample_edit_that_finds_nothing_fails_loudly():
    assert edit("loss.backward()", "backward", "forward") == "loss.forward()"
    with pytest.raises(AuthoringError, match="not found"):
        edit("loss.backward()", "zero_grad", "")
