"""a3_dataset draws its check inputs from the rows students were given (the shipped CSV, written by
`make data` from student_rows()), never from the held-out rows whose labels a5 grades with."""

import numpy as np

from tensorgrade.course.assignment import load_assignment
from tensorgrade.course.datasets import held_out_rows, student_rows
from tensorgrade.grading.grader import draw_all_inputs
from tensorgrade.course.release.packaging import public_seed_of
from conftest import ROOT

A3 = ROOT / "assignments" / "a3_dataset"


def _keys(labels, pixels):
    return {(int(label), np.asarray(row, dtype=np.uint8).tobytes()) for label, row in zip(labels, pixels)}


def test_shipped_csv_holds_the_student_rows():
    table = np.loadtxt(A3 / "data" / "mnist_train.csv", delimiter=",", dtype=np.int64)
    rows = student_rows()
    assert np.array_equal(table[:, 0], rows.labels) and np.array_equal(table[:, 1:], rows.pixels)


def test_check_inputs_are_student_rows_and_never_held_out_rows():
    assignment = load_assignment(A3)
    student = _keys(student_rows().labels, student_rows().pixels)
    held = _keys(held_out_rows().labels, held_out_rows().pixels) - student  # MNIST repeats a few images
    for seed in (assignment.secret_seed, public_seed_of(assignment)):
        inputs = draw_all_inputs(assignment, seed)
        assert set(inputs) == {"q1.items", "q1.unseen_csv", "q1.no_reread", "q2.loader"}
        for check_id, data in inputs.items():
            rows = _keys(data["labels"], data["pixels"])
            assert rows <= student, f"{check_id}: rows that students were not given"
            assert not rows & held, f"{check_id}: held-out rows"
