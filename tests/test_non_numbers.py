"""Numbers that are not numbers never pass: every judge of every shipped assignment, fed the
reference's own probe output with its numbers made NaN, +inf or -inf, emptied or reshaped, gives
a failed verdict with a message, and never raises.

A comparison with NaN is False, so `if accuracy < threshold: fail` passes a NaN accuracy, and the
mean of no predictions is NaN; `abs(value - expected) > tolerance` is False for NaN too.  The
judges compare numbers through the guard in tensorgrade.checking.outside.judging (`not_numbers`,
and `compare`, `at_least`, `at_most`, `below`, `within` that use it); this test holds every judge
to it, on real outputs: the reference's, computed by grading (or read from the grader's cache in
solutions/<id>/.cache/), on the inputs the grader draws.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tensorgrade.checking.outside.judging import (JudgeCase, Verdict, at_least, at_most, below, compare,
                                                  not_numbers, within)
from tensorgrade.course.assignment import load_assignment
from tensorgrade.grading.grader import Grader, gradable_checks
from tensorgrade.sandbox.transport import OpaqueObject
from conftest import ROOT

ASSIGNMENTS = sorted(p.name for p in (ROOT / "assignments").iterdir()
                     if (p / "assignment.yaml").is_file() and any((ROOT / "solutions" / p.name / name).is_file()
                                                                  for name in ("checks.py", f"{p.name}.py")))
MUTATIONS = ["nan", "+inf", "-inf", "empty", "reshaped"]
# Judges whose verdict no number of the output decides, and why (each one a reason, not a shortcut).
NO_NUMBERS_DECIDE = {
    ("a2_autograd", "q1.saved_tensors"): "which tensor object forward saved (`is_input`, found by the probe) "
                                         "decides; the values only describe a saved tensor that is not the input",
    ("a3_dataset", "q1.no_reread"): "the labels read after the CSV was rewritten and the files opened per item "
                                    "decide; the only float, the median time of an item, is a note (a slow "
                                    "dataset that reads from memory is no reread)",
}
FILL = {"nan": math.nan, "+inf": math.inf, "-inf": -math.inf}


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def mutate(value, mutation: str):
    """`value` (a probe's plain-data output) with its numbers replaced: floats by NaN or +-inf;
    arrays and lists of numbers emptied (0 along the first axis) or given an extra leading axis."""
    if isinstance(value, dict):
        return {key: mutate(item, mutation) for key, item in value.items()}
    if isinstance(value, OpaqueObject):
        return value
    if isinstance(value, np.ndarray):
        if mutation in FILL:
            return np.full(value.shape, FILL[mutation], dtype=value.dtype) if value.dtype.kind in "fc" else value
        if mutation == "empty":
            return value[:0] if value.ndim else np.empty(0, value.dtype)
        return value[np.newaxis]
    if isinstance(value, (list, tuple)):
        if value and all(_is_number(item) for item in value) and mutation in ("empty", "reshaped"):
            return type(value)() if mutation == "empty" else type(value)([value])
        return type(value)(mutate(item, mutation) for item in value)
    if isinstance(value, (float, np.floating)):
        if mutation in FILL:
            return FILL[mutation]
        return np.empty(0) if mutation == "empty" else np.array([value])
    return value


def same(a, b) -> bool:
    """Whether the mutation left the output as it was (an output without numbers to replace)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape
                and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    return type(a) is type(b) and a == b


def judge_problems(assignment, inputs: dict, outputs: dict, mutation: str) -> tuple[list[str], int]:
    """What goes wrong when each judge meets the reference's outputs mutated: (problems, judged)."""
    problems, judged = [], 0
    for spec in gradable_checks(assignment):
        reference = outputs.get(spec.id)
        if reference is None:
            continue
        exempt = (assignment.id, spec.id) in NO_NUMBERS_DECIDE  # it must still not raise
        student = mutate(reference, mutation)
        if same(student, reference):
            continue  # no numbers in this output: nothing to make NaN, empty or misshapen
        judged += 1
        judge = assignment.implementations[spec.id].judge
        try:
            verdict = judge(JudgeCase(student=student, reference=reference, inputs=inputs[spec.id]))
        except Exception as exc:
            problems.append(f"{spec.id}: the judge raised {type(exc).__name__}: {exc}")
            continue
        if not isinstance(verdict, Verdict):
            problems.append(f"{spec.id}: the judge returned {verdict!r}, not a Verdict")
        elif verdict.passed and not exempt:
            problems.append(f"{spec.id}: passed with {mutation} numbers: {verdict.message[:200]!r}")
        elif not verdict.message.strip():
            problems.append(f"{spec.id}: failed without a message")
    return problems, judged


@pytest.fixture(scope="module")
def reference():
    """assignment id -> (assignment, inputs, reference outputs), graded once per assignment."""
    loaded = {}

    def get(assignment_id):
        if assignment_id not in loaded:
            assignment = load_assignment(ROOT / "assignments" / assignment_id, ROOT / "solutions" / assignment_id)
            with Grader(assignment, jobs=1) as grader:
                outputs = {check: record.output for check, record in grader.reference.reference.items()
                           if record.status == "ok"}
                loaded[assignment_id] = (assignment, grader.inputs, outputs)
        return loaded[assignment_id]

    return get


def test_every_shipped_assignment_is_covered():
    assert {"a1_backprop", "a2_autograd", "a3_dataset", "a4_training", "a5_evaluation",
            "a6_tensorflow"} <= set(ASSIGNMENTS)


@pytest.mark.parametrize("assignment_id", ASSIGNMENTS)
def test_the_reference_outputs_pass_their_own_judges(reference, assignment_id):
    """The baseline: unmutated, the reference's outputs pass (so a failure below is the mutation's)."""
    assignment, inputs, outputs = reference(assignment_id)
    for spec in gradable_checks(assignment):
        verdict = assignment.implementations[spec.id].judge(
            JudgeCase(student=outputs[spec.id], reference=outputs[spec.id], inputs=inputs[spec.id]))
        assert verdict.passed, (spec.id, verdict.message)


@pytest.mark.parametrize("mutation", MUTATIONS)
@pytest.mark.parametrize("assignment_id", ASSIGNMENTS)
def test_no_judge_passes_numbers_that_are_not_numbers(reference, assignment_id, mutation):
    assignment, inputs, outputs = reference(assignment_id)
    problems, judged = judge_problems(assignment, inputs, outputs, mutation)
    assert judged >= 2, f"{assignment_id}: only {judged} checks have numbers to make {mutation}"
    assert not problems, "\n".join(problems)


# --- the guard itself ---------------------------------------------------------------------------

@pytest.mark.parametrize("value, text", [
    (math.nan, "your accuracy is NaN (not a number)"),
    (math.inf, "your accuracy is +inf (infinite)"),
    (-math.inf, "your accuracy is -inf (infinite)"),
    (np.float32("nan"), "your accuracy is NaN (not a number)"),
    (None, "your accuracy should be a number, but it is None"),
    (True, "your accuracy should be a number, but it is a bool"),
    ("0.9", "your accuracy should be a number, but it is a str"),
    (np.array([0.9]), "accuracy has shape (1,), expected ()"),
    (np.empty(0), "your accuracy: empty, 0 values where a single number was expected"),
])
def test_thresholds_fail_what_is_not_a_number(value, text):
    for verdict in (at_least(value, 0.5, name="accuracy"), at_most(value, 0.5, name="accuracy"),
                    below(value, 0.5, name="accuracy"), within(value, 0.9, 0.1, name="accuracy")):
        assert verdict is not None and not verdict.passed
        assert text in verdict.message, verdict.message


def test_thresholds_keep_their_outcomes_on_numbers():
    assert at_least(0.9, 0.9, name="accuracy") is None and at_least(0.8, 0.9, name="accuracy") is not None
    assert at_most(2.0, 2.0, name="loss") is None and at_most(2.1, 2.0, name="loss") is not None
    assert below(1.9, 2.0, name="loss") is None and below(2.0, 2.0, name="loss") is not None
    assert within(0.5, 0.5 + 1e-7, 1e-6, name="accuracy") is None
    assert within(0.5, 0.6, 1e-6, name="accuracy") is not None
    message = lambda: f"held-out accuracy {0.8:.3f}, below the threshold"  # noqa: E731  (only built on failure)
    assert at_least(0.8, 0.9, name="accuracy", message=message, diagnosis="x").message == message()
    assert at_least(np.float32(0.95), 0.9, name="accuracy") is None and at_least(1, 0.9, name="accuracy") is None


def test_within_fails_nan_on_both_sides():
    verdict = within(math.nan, math.nan, 1e-6, name="accuracy on gpu:0", target_name="accuracy on the CPU")
    assert "your accuracy on gpu:0 is NaN (not a number)" in verdict.message
    assert "your accuracy on the CPU is NaN" in within(0.5, math.nan, 1e-6, name="accuracy on gpu:0",
                                                       target_name="accuracy on the CPU").message


def test_the_guard_says_which_problem():
    assert "your predictions: empty, 0 values where 200 were expected (shape (0, 1) where (200,) was expected)" \
        in not_numbers(np.zeros((0, 1)), "predictions", shape=(200,)).message
    assert "predictions has shape (1, 200), expected (200,)" in not_numbers(np.zeros((1, 200)), "predictions",
                                                                             shape=(200,)).message
    verdict = not_numbers(np.array([1.0, np.nan, np.inf, 2.0]), "grads")
    assert "1 of 4 values is NaN (not a number) and 1 is infinite" in verdict.message
    assert "index (1)" in verdict.message
    assert "should be numbers" in not_numbers([[1.0, 2.0], [3.0]], "grads").message
    assert "should be numbers" in not_numbers(np.array(["a"]), "grads").message
    assert not_numbers(np.arange(3), "labels", shape=(3,)) is None
    assert not_numbers(np.ones((2, 3)), "logits") is None


def test_compare_fails_non_numbers_and_keeps_nan_where_nan_is_expected():
    assert "your grads: 4 of 4 values are NaN" in compare(np.full(4, np.nan), np.ones(4), name="grads").message
    assert "your loss is NaN (not a number)" in compare(math.nan, 1.0, name="loss").message
    assert "your loss is +inf" in compare(math.inf, 1.0, name="loss").message
    assert "empty, 0 values where 4 were expected" in compare(np.empty(0), np.ones(4), name="grads").message
    assert "should be numbers" in compare(np.array([None, 1.0]), np.ones(2), name="losses").message
    # A known mistake's output may diverge (NaN, inf): a student's that diverges the same way matches it.
    assert compare([math.nan, 1.0], [math.nan, 1.0], name="losses") is None
    assert compare(np.array([math.inf, 1.0]), np.array([math.inf, 1.0]), name="losses") is None
    assert compare(np.empty(0), np.empty(0), name="nothing") is None
