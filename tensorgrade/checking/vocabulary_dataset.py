"""The check vocabulary for a `torch.utils.data.Dataset` over a classification CSV and a `DataLoader`.

The data is the students' own CSV (a label, then the features, one row a line: MNIST's format),
shipped in the assignment folder (`csv="data/mnist_train.csv"`, relative to it). Each check draws
`rows` of it (a number, or `lambda rng: ...`) with the check's seeded generator, and its probe writes
them as a CSV the student never saw (another subset, another order) in that file's format. Items are
`(label, image, target)`: a Python int, a float32 image in [0, 1], a float32 one-hot target.
Inputs come from the students' file only, never from held-out rows, and it ships with the release,
so a student-side check draws the very same inputs.

Probes: checking/inside/dataset_probes.py; judges: checking/outside/dataset_judges.py.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np

from tensorgrade.checking import vocabulary
from tensorgrade.checking.checks import Check
from tensorgrade.checking.outside import dataset_judges as judges

__all__ = ["dataset_items", "dataset_reads_once", "loader_batches"]


class _StudentRows:
    """The rows of the students' CSV, read once on first use (declaring a check reads nothing; the
    file exists where checks are drawn: beside the assignment, or in a release)."""

    def __init__(self, declared_in: str, csv: str):
        self.csv, self.path, self._rows = csv, self._locate(Path(declared_in).resolve(), csv), None

    @staticmethod
    def _locate(declared_in: Path, csv: str) -> Path:
        # A checks.py of assignments/<id>/ (or of a release) sits beside its data; a source,
        # solutions/<id>/<id>.py, finds it in assignments/<id>/.
        folder = declared_in.parent
        if not (folder / "assignment.yaml").is_file() and folder.parent.name == "solutions":
            folder = folder.parent.parent / "assignments" / folder.name
        return folder / csv

    def rows(self) -> tuple[np.ndarray, np.ndarray]:
        if self._rows is None:
            from tensorgrade.course.datasets import read_csv

            self._rows = read_csv(self.path, min_rows=200)
        return self._rows

    def count(self) -> int:
        return len(self.rows()[0])


def _declare(check_id: str, call: str, probe: str, judge: Callable, rows: int | Callable, draws: dict[str, Any],
             student_rows: _StudentRows, **options: Any) -> Check:
    """`vocabulary.declare`, with inputs `labels` and `pixels` (the drawn rows) first, then `draws`
    in the order written, each from the same generator."""
    check = vocabulary.declare(check_id, call, probe, judge, resembles=None, depth=3, **options)

    def inputs(rng: np.random.Generator) -> dict:
        labels, pixels = student_rows.rows()
        chosen = rng.choice(len(labels), size=rows(rng) if callable(rows) else rows, replace=False)
        drawn = {"labels": labels[chosen], "pixels": pixels[chosen]}
        for name, spec in draws.items():
            drawn[name] = spec.draw(rng) if isinstance(spec, vocabulary.Draw) else spec(rng) if callable(spec) else spec
        return {**drawn, "_call": call, "_csv": student_rows.csv}

    check = dataclasses.replace(check, inputs=inputs)
    vocabulary._declared_in(sys._getframe(2).f_globals, "CHECKS", check, "id")
    return check


def dataset_items(check_id: str, dataset: str, *, rows: int | Callable, indices: Any, csv: str = "data/mnist_train.csv",
                  points: float = 1, description: str = "", timeout: float | None = None) -> Check:
    """`dataset` (a Dataset class taking the CSV's path) over `rows` rows the student never saw: its
    len() and its items at `indices` against the reference's: an int label, a float32 image of the
    reference's shape in [0, 1], a float32 one-hot target; a header line skipped, pixels not scaled,
    int64 one-hots, NumPy labels and the shipped file read instead are named. Example:

        dataset_items("q1.items", "MnistDataset", rows=25, indices=lambda rng: [0, 7, int(rng.integers(1, 24))])
    """
    student_rows = _StudentRows(sys._getframe(1).f_code.co_filename, csv)
    judge = functools.partial(judges.judge_items, csv=csv, shipped_rows=student_rows.count)
    return _declare(check_id, dataset, "probe_dataset_items", judge, rows, {"indices": indices}, student_rows,
                    points=points, description=description, timeout=timeout)


def dataset_reads_once(check_id: str, dataset: str, *, rows: int | Callable, indices: Any,
                       csv: str = "data/mnist_train.csv", points: float = 1, description: str = "",
                       timeout: float | None = None) -> Check:
    """Items of `dataset` come from memory: after the dataset is built, its CSV is rewritten in place
    (rows reversed, then restored) and the items at `indices` must not follow the file, nor
    __getitem__ open a file per item (`reads-file-every-item`). Timing is only a note. Example:

        dataset_reads_once("q1.no_reread", "MnistDataset", rows=200,
                           indices=lambda rng: rng.integers(0, 190, size=100).tolist())
    """
    student_rows = _StudentRows(sys._getframe(1).f_code.co_filename, csv)
    judge = functools.partial(judges.judge_rereads, dataset=dataset)
    return _declare(check_id, dataset, "probe_dataset_rereads", judge, rows, {"indices": indices}, student_rows,
                    points=points, description=description, timeout=timeout)


def loader_batches(check_id: str, function: str, *, rows: int | Callable, batch_size: Any,
                   csv: str = "data/mnist_train.csv", points: float = 1, description: str = "",
                   timeout: float | None = None) -> Check:
    """`function(dataset, batch_size, shuffle=True)` returns a DataLoader over the grader's own dataset
    of `rows` rows: batch sizes (the last one smaller), collated shapes and dtypes, the dataset's order
    with shuffle=False, new orders with shuffle=True and by default. Example:

        loader_batches("q2.loader", "make_loader", rows=lambda rng: int(rng.integers(30, 45)), batch_size=8)
    """
    student_rows = _StudentRows(sys._getframe(1).f_code.co_filename, csv)
    judge = functools.partial(judges.judge_loader, name=function)
    return _declare(check_id, function, "probe_loader_batches", judge, rows, {"batch_size": batch_size},
                    student_rows, points=points, description=description, timeout=timeout)
