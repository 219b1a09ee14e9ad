"""Builds a3_dataset's template, reference solution and sample submissions from one source.

    .venv/bin/python solutions/a3_dataset/build_notebooks.py

Each sample is the template with the answer cells filled in as a student would (same cells, same
cell ids); `samples/expected.yaml` says what each must score and which diagnosis each failing check
must carry (tests/test_course.py checks both).
"""

from pathlib import Path

from tensorgrade.course.notebook_builder import edit, write_course_notebooks

HERE = Path(__file__).resolve().parent
VERSION = "1.0"

INTRO = """# Assignment 3: Dataset and DataLoader (MNIST from a CSV file)

A training loop wants its data as **tensors, in batches, in a fresh random order every epoch**.
PyTorch splits that job in two:

* a **`Dataset`** says how many items there are (`__len__`) and what item `i` is (`__getitem__`),
  already converted to what the model needs;
* a **`DataLoader`** draws items from a dataset, groups them into batches (stacking the tensors of
  `batch_size` items into one), and shuffles the order when asked to.

In this assignment you write both for real MNIST digits stored as a CSV file:

1. **`MnistDataset`**, a `torch.utils.data.Dataset` over such a file;
2. **`make_loader`**, which wraps any dataset in a `DataLoader`.

Run the public checks at any time with `tensorgrade check a3_dataset.ipynb`. At grading, your
classes are also run on CSV files you have never seen, with other rows in another order, so nothing
may depend on `data/mnist_train.csv` itself. Only the names above are graded; add cells of your
own freely."""

IMPORTS = """import numpy as np
import torch
import matplotlib.pyplot as plt
from torch.utils.data import DataLoader, Dataset

CSV_FILE = "data/mnist_train.csv\""""

DATA_TEXT = """## The data: MNIST as CSV

`data/mnist_train.csv` holds 4000 real handwritten digits from MNIST, one per line and **no header
line**. Each line has 785 comma-separated integers: the **label** (the digit, 0 to 9) first, then the
**784 pixels** of the 28 x 28 image, row by row, each from 0 (black) to 255 (white):

```
7,0,0,0,...,84,185,159,...,0,0
```

The cell below looks at the first line without loading the whole file."""

PEEK = """with open(CSV_FILE) as f:
    first_line = f.readline()
values = [int(v) for v in first_line.split(",")]
print(f"{len(values)} values: the label {values[0]}, then {len(values) - 1} pixels "
      f"from {min(values[1:])} to {max(values[1:])}")"""

Q1_TEXT = """## Q1 (4 points): `MnistDataset`

A map-style `Dataset` is a class derived from `torch.utils.data.Dataset` with two methods:

* `__len__(self)`: the number of items, here the number of lines of the file;
* `__getitem__(self, i)`: item `i`, here line `i` of the file.

**Read the file once, in `__init__`.** `__getitem__` is called once per item, every epoch: a
`__getitem__` that opens and parses the CSV again reads the whole file for every single digit, and
an epoch over 4000 digits then parses it 4000 times. Parse everything in `__init__`, keep it in
memory (NumPy arrays or tensors), and let `__getitem__` only index into it. Either way works:

* `np.loadtxt(csv_file, delimiter=",", dtype=np.int64)` reads the file into a `(lines, 785)` array
  (add `ndmin=2` so that a file of one line still gives a 2-D array);
* the `csv` module: `for row in csv.reader(f)` gives each line as a list of strings.

Item `i` is the tuple **`(label, image, target)`**:

* `label`: the digit as a **Python `int`**. Indexing a NumPy array gives a NumPy scalar
  (`numpy.int64`, or `numpy.float64` if the array is float), not an `int`: convert it with `int(...)`.
* `image`: a **`torch.float32` tensor of shape `(784,)`** with values **in `[0, 1]`**: the pixels
  divided by 255. Mind the dtype: NumPy computes in float64, and `torch.from_numpy` keeps the
  array's dtype; `torch.tensor(array, dtype=torch.float32)` or `.float()` gives float32.
* `target`: the label **one-hot encoded**, a **`torch.float32` tensor of shape `(10,)`** with a `1.0`
  at index `label` and `0.0` everywhere else: for label 3,
  `[0., 0., 0., 1., 0., 0., 0., 0., 0., 0.]`. `torch.zeros(10)` then `target[label] = 1.0` builds one;
  so does `torch.nn.functional.one_hot(labels, num_classes=10)`, which returns int64: add `.float()`."""

Q1_STUB = """class MnistDataset(Dataset):
    def __init__(self, csv_file):
        # YOUR CODE HERE
        raise NotImplementedError()

    def __len__(self):
        # YOUR CODE HERE
        raise NotImplementedError()

    def __getitem__(self, i):
        # YOUR CODE HERE
        raise NotImplementedError()"""

Q1_SOLUTION = """class MnistDataset(Dataset):
    def __init__(self, csv_file):
        # Parse and convert the whole file once; __getitem__ then only indexes into memory.
        table = np.loadtxt(csv_file, delimiter=",", dtype=np.int64, ndmin=2)
        self.labels = table[:, 0]
        self.images = torch.tensor(table[:, 1:], dtype=torch.float32) / 255
        self.targets = torch.nn.functional.one_hot(torch.from_numpy(self.labels), num_classes=10).float()

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return int(self.labels[i]), self.images[i], self.targets[i]"""

Q1_TRY = """# Try it (not graded): one item, and the digit it holds.
# dataset = MnistDataset(CSV_FILE)
# label, image, target = dataset[0]
# print(len(dataset), "items")
# print("label", label, type(label))
# print("image", image.shape, image.dtype, image.min().item(), image.max().item())
# print("target", target)
# plt.imshow(image.reshape(28, 28), cmap="gray")
# plt.title(f"label {label}")
# plt.show()"""

Q2_TEXT = """## Q2 (2 points): `make_loader`

A `DataLoader` asks the dataset for `batch_size` items at a time and **collates** them: items that
are tuples become a tuple of batches, each part stacked along a new first dimension. For your items,
a batch is `(labels, images, targets)` with `labels` an int64 tensor of shape `(B,)` (Python ints are
collated to int64), `images` float32 `(B, 784)` and `targets` float32 `(B, 10)`. The last batch is
smaller when the number of items is not a multiple of `batch_size`.

With **`shuffle=True`** the loader draws a new random order every epoch (what training needs: the
model should not see the digits in the same order every time); with **`shuffle=False`** it keeps the
dataset's order (what evaluation needs: results you can compare run after run).

Write `make_loader(dataset, batch_size, shuffle=True)` that returns a `DataLoader` over `dataset`
with that batch size and that shuffling. It must work with any `Dataset`, not only yours."""

Q2_STUB = """def make_loader(dataset, batch_size, shuffle=True):
    # YOUR CODE HERE
    raise NotImplementedError()"""

Q2_SOLUTION = """def make_loader(dataset, batch_size, shuffle=True):
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle)"""

Q2_TRY = """# Try it (not graded): the first batch, and how many batches make an epoch.
# loader = make_loader(MnistDataset(CSV_FILE), batch_size=64)
# labels, images, targets = next(iter(loader))
# print(labels.shape, labels.dtype, images.shape, images.dtype, targets.shape, targets.dtype)
# print(len(loader), "batches per epoch; the first labels:", labels[:10].tolist())"""

# Cell ids are fixed (nbformat 4.5) and shared by the template, the reference and every sample.
CELLS = [
    ("intro", "markdown", INTRO, None),
    ("imports", "given", IMPORTS, None),
    ("data-text", "markdown", DATA_TEXT, None),
    ("peek", "given", PEEK, None),
    ("q1-text", "markdown", Q1_TEXT, None),
    ("q1-answer", "answer", "q1", "q1"),
    ("q1-try", "code", Q1_TRY, None),
    ("q2-text", "markdown", Q2_TEXT, None),
    ("q2-answer", "answer", "q2", "q2"),
    ("q2-try", "code", Q2_TRY, None),
]


STUBS = {"q1": Q1_STUB, "q2": Q2_STUB}
SOLUTION = {"q1": Q1_SOLUTION, "q2": Q2_SOLUTION}


def solution(**changes: str) -> dict[str, str]:
    """The reference answers with some replaced."""
    return {**SOLUTION, **changes}


# Right, written differently: the csv module, one (label, image, target) tuple per line built in
# __init__, a one-hot target by assignment, and DataLoader's positional arguments.
CSV_DATASET = """import csv


class MnistDataset(Dataset):
    def __init__(self, csv_file):
        self.items = []
        with open(csv_file, newline="") as f:
            for row in csv.reader(f):
                if not row:
                    continue
                label = int(row[0])
                image = torch.tensor([int(v) for v in row[1:]], dtype=torch.float32) / 255.0
                target = torch.zeros(10)
                target[label] = 1.0
                self.items.append((label, image, target))

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]"""

CORRECT_ALT = {
    "q1": CSV_DATASET,
    "q2": """def make_loader(dataset, batch_size, shuffle=True):
    loader = DataLoader(dataset, batch_size, shuffle)
    return loader""",
}

# np.loadtxt without dtype gives float64, so the label is a numpy.float64 (the image is converted).
LABEL_NOT_INT = """class MnistDataset(Dataset):
    def __init__(self, csv_file):
        self.data = np.loadtxt(csv_file, delimiter=",")

    def __len__(self):
        return self.data.shape[0]

    def __getitem__(self, i):
        label = self.data[i, 0]
        image = torch.tensor(self.data[i, 1:] / 255, dtype=torch.float32)
        target = torch.zeros(10)
        target[int(label)] = 1
        return label, image, target"""

# The lecture's item code written per line, but the CSV is opened and scanned again for every item.
READS_FILE_EVERY_ITEM = """import csv
import itertools


class MnistDataset(Dataset):
    def __init__(self, csv_file):
        self.csv_file = csv_file
        with open(csv_file) as f:
            self.n = sum(1 for line in f if line.strip())

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        with open(self.csv_file, newline="") as f:
            row = next(itertools.islice(csv.reader(f), i, None))
        label = int(row[0])
        image = torch.tensor([float(v) for v in row[1:]]) / 255
        target = torch.zeros(10)
        target[label] = 1.0
        return label, image, target"""

# Right: the file is read once, on first use instead of in __init__ (nothing is read per item).
LAZY_ONCE = """class MnistDataset(Dataset):
    def __init__(self, csv_file):
        self.csv_file = csv_file
        self.table = None
        with open(csv_file) as f:
            self.n = sum(1 for line in f if line.strip())

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if self.table is None:
            self.table = np.loadtxt(self.csv_file, delimiter=",", dtype=np.int64, ndmin=2)
        row = self.table[i]
        target = torch.zeros(10)
        target[row[0]] = 1
        return int(row[0]), torch.tensor(row[1:], dtype=torch.float32) / 255, target"""

# The file is opened once, but scanned again from its start for every item.
READS_FILE_KEPT_OPEN = """class MnistDataset(Dataset):
    def __init__(self, csv_file):
        self.f = open(csv_file)
        self.n = sum(1 for line in self.f)

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        self.f.seek(0)
        for k, line in enumerate(self.f):
            if k == i:
                break
        row = [int(v) for v in line.split(",")]
        target = torch.zeros(10)
        target[row[0]] = 1
        return row[0], torch.tensor(row[1:], dtype=torch.float32) / 255, target"""

# Real code: the MnistDataset of a GAN book's notebooks (and the Kaggle notebooks that copy it), as
# published, with only the class's own imports added: pandas reads the CSV once in __init__, each item
# is then indexed with .iloc (slowly: a timing note, no failure), and its label is pandas' numpy.int64.
PANDAS_DATASET = """import pandas


class MnistDataset(Dataset):

    def __init__(self, csv_file):
        self.data_df = pandas.read_csv(csv_file, header=None)
        pass

    def __len__(self):
        return len(self.data_df)

    def __getitem__(self, index):
        # image target (label)
        label = self.data_df.iloc[index,0]
        target = torch.zeros((10))
        target[label] = 1.0

        # image data, normalised from 0-255 to 0-1
        image_values = torch.FloatTensor(self.data_df.iloc[index,1:].values) / 255.0

        # return label, image data tensor and target tensor
        return label, image_values, target

    def plot_image(self, index):
        img = self.data_df.iloc[index,1:].values.reshape(28,28)
        plt.title("label = " + str(self.data_df.iloc[index,0]))
        plt.imshow(img, interpolation='none', cmap='Blues')
        pass

    pass"""

SAMPLES = {
    "correct": SOLUTION,
    "correct_alt": CORRECT_ALT,
    "correct_lazy": solution(q1=LAZY_ONCE),
    "image_not_normalized": solution(q1=edit(CSV_DATASET, "dtype=torch.float32) / 255.0", "dtype=torch.float32)")),
    # The label itself as the target: a scalar, not a one-hot vector of 10.
    "not_one_hot": solution(q1=edit(edit(CSV_DATASET, "                target = torch.zeros(10)\n", ""),
                                    "                target[label] = 1.0\n",
                                    "                target = torch.tensor(label)\n")),
    "one_hot_not_float": solution(q1=edit(Q1_SOLUTION, "num_classes=10).float()", "num_classes=10)")),
    "image_not_float32": solution(q1=edit(Q1_SOLUTION, "torch.tensor(table[:, 1:], dtype=torch.float32) / 255",
                                          "torch.from_numpy(table[:, 1:] / 255.0)")),
    "label_not_int": solution(q1=LABEL_NOT_INT),
    "first_row_skipped": solution(q1=edit(CSV_DATASET, "            for row in csv.reader(f):\n",
                                          "            reader = csv.reader(f)\n"
                                          "            next(reader)  # skip the header\n"
                                          "            for row in reader:\n")),
    "reads_file_every_item": solution(q1=READS_FILE_EVERY_ITEM),
    "reads_file_kept_open": solution(q1=READS_FILE_KEPT_OPEN),
    "ignores_csv_file": solution(q1=edit(Q1_SOLUTION, "np.loadtxt(csv_file,", "np.loadtxt(CSV_FILE,")),
    "image_28x28": solution(q1=edit(Q1_SOLUTION, "return int(self.labels[i]), self.images[i], self.targets[i]",
                                    "return int(self.labels[i]), self.images[i].reshape(28, 28), self.targets[i]")),
    "loader_ignores_batch_size": solution(q2=edit(Q2_SOLUTION, "batch_size=batch_size", "batch_size=64")),
    "loader_ignores_shuffle": solution(q2=edit(Q2_SOLUTION, ", shuffle=shuffle)", ")")),
    "crashing": solution(q1=edit(Q1_SOLUTION, "return int(self.labels[i]), self.images[i], self.targets[i]",
                                 "return int(self.labels[i]), self.image[i], self.targets[i]")),
    "stub_left": solution(q2=Q2_STUB),
    "pandas_dataset": solution(q1=PANDAS_DATASET),
}


def main() -> None:
    write_course_notebooks(HERE.parent.parent, "a3_dataset", VERSION, CELLS, STUBS, SOLUTION, SAMPLES)


if __name__ == "__main__":
    main()
