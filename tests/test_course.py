"""Every assignment of the course, graded end to end in the real sandbox: the reference scores
full, the template scores 0 without a grader error, every sample gets its expected score and
diagnoses (solutions/<id>/samples/expected.yaml)."""

import re

import pytest
import yaml

from tensorgrade.course.assignment import load_assignment
from tensorgrade.grading.grader import Grader
from conftest import ROOT, student_processes

ASSIGNMENTS = sorted(p.name for p in (ROOT / "assignments").iterdir()
                     if (p / "assignment.yaml").is_file()
                     and (ROOT / "solutions" / p.name / "solution.ipynb").is_file()
                     and (ROOT / "solutions" / p.name / "samples" / "expected.yaml").is_file())
SAMPLES = [(assignment, sample) for assignment in ASSIGNMENTS
           for sample in sorted(yaml.safe_load((ROOT / "solutions" / assignment / "samples" / "expected.yaml")
                                               .read_text()))]


@pytest.fixture(scope="module")
def graders():
    opened = {}
    yield lambda assignment_id: opened.setdefault(
        assignment_id, Grader(load_assignment(ROOT / "assignments" / assignment_id), jobs=1))
    for grader in opened.values():
        grader.close()


def test_the_course_has_its_graded_assignments():
    assert {"a1_backprop", "a2_autograd", "a3_dataset", "a4_training", "a5_evaluation",
            "a6_tensorflow"} <= set(ASSIGNMENTS)


@pytest.mark.parametrize("assignment_id", ASSIGNMENTS)
def test_reference_scores_full(graders, assignment_id):
    result = graders(assignment_id).grade(ROOT / "solutions" / assignment_id / "solution.ipynb")
    assert result.status == "graded"
    assert result.score == result.max_score, [(c.id, c.message[:300]) for c in result.checks if c.status != "passed"]
    assert all(cell.status == "ok" for cell in result.cells)
    assert result.integrity == []


@pytest.mark.parametrize("assignment_id", ASSIGNMENTS)
def test_template_scores_zero_without_grader_errors(graders, assignment_id):
    result = graders(assignment_id).grade(ROOT / "assignments" / assignment_id / f"{assignment_id}.ipynb")
    assert result.status == "graded" and result.score == 0
    assert {c.diagnosis for c in result.checks} == {"not-implemented"}


@pytest.mark.parametrize("assignment_id, sample", SAMPLES)
def test_sample_gets_expected_score_and_diagnoses(graders, assignment_id, sample):
    samples = ROOT / "solutions" / assignment_id / "samples"
    expected = yaml.safe_load((samples / "expected.yaml").read_text())[sample]
    result = graders(assignment_id).grade(samples / f"{sample}.ipynb")
    got = {c.id: c.diagnosis for c in result.checks if c.status != "passed"}
    assert result.score == expected["score"], got
    for check_id, diagnosis in expected.get("diagnoses", {}).items():
        assert got.get(check_id) == diagnosis, f"{check_id}: {got.get(check_id)} != {diagnosis}"
    if "integrity" in expected:  # the integrity findings, exactly (a library's own threads are none)
        assert result.integrity == expected["integrity"], result.integrity
    for check_id in expected.get("errors", []):
        check = next(c for c in result.checks if c.id == check_id)
        # the student's exception, named as theirs: raised by their code, or by it when the grader called it
        # (by the function of theirs the grader's call entered, where it has a name)
        first = check.message.split("\n")[0]
        assert check.status == "error" and (first.startswith("your code raised") or re.match(
            r"the grader called `[^`]+`, which (ran your code \(cell \d+, line \d+\): it raised "
            r"|called your `\w+\(\)`; it raised )", first)), check.message
    assert not student_processes()
