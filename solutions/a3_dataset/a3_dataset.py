# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     notebook_metadata_filter: tensorgrade
#   kernelspec: {display_name: Python 3, language: python, name: python3}
#   tensorgrade:
#     id: a3_dataset
#     title: "Dataset and DataLoader: MNIST from CSV"
#     version: "1.0"
#     secret_seed: 31337209
#     files: [data/mnist_train.csv]
#     preload: [torch, numpy, matplotlib.pyplot]
#     limits: {cell_timeout: 60, check_timeout: 60, submission_timeout: 300}
# ---

# %% [markdown]
# # Assignment 3: Dataset and DataLoader (MNIST from a CSV file)
#
# A training loop wants its data as **tensors, in batches, in a fresh random order every epoch**.
# PyTorch splits that job in two:
#
# * a **`Dataset`** says how many items there are (`__len__`) and what item `i` is (`__getitem__`),
#   already converted to what the model needs;
# * a **`DataLoader`** draws items from a dataset, groups them into batches (stacking the tensors of
#   `batch_size` items into one), and shuffles the order when asked to.
#
# In this assignment you write both for real MNIST digits stored as a CSV file:
#
# 1. **`MnistDataset`**, a `torch.utils.data.Dataset` over such a file;
# 2. **`make_loader`**, which wraps any dataset in a `DataLoader`.
#
# Run the public checks at any time with `tensorgrade check a3_dataset.ipynb`. At grading, your
# classes are also run on CSV files you have never seen, with other rows in another order, so nothing
# may depend on `data/mnist_train.csv` itself. Only the names above are graded; add cells of your
# own freely.

# %% tags=["given"]
import numpy as np
import torch
import matplotlib.pyplot as plt
from torch.utils.data import DataLoader, Dataset

CSV_FILE = "data/mnist_train.csv"

# %% [markdown]
# ## The data: MNIST as CSV
#
# `data/mnist_train.csv` holds 4000 real handwritten digits from MNIST, one per line and **no header
# line**. Each line has 785 comma-separated integers: the **label** (the digit, 0 to 9) first, then the
# **784 pixels** of the 28 x 28 image, row by row, each from 0 (black) to 255 (white):
#
# ```
# 7,0,0,0,...,84,185,159,...,0,0
# ```
#
# The cell below looks at the first line without loading the whole file.

# %% tags=["given"]
with open(CSV_FILE) as f:
    first_line = f.readline()
values = [int(v) for v in first_line.split(",")]
print(f"{len(values)} values: the label {values[0]}, then {len(values) - 1} pixels "
      f"from {min(values[1:])} to {max(values[1:])}")

# %% [markdown]
# ## Q1 (4 points): `MnistDataset`
#
# A map-style `Dataset` is a class derived from `torch.utils.data.Dataset` with two methods:
#
# * `__len__(self)`: the number of items, here the number of lines of the file;
# * `__getitem__(self, i)`: item `i`, here line `i` of the file.
#
# **Read the file once, in `__init__`.** `__getitem__` is called once per item, every epoch: a
# `__getitem__` that opens and parses the CSV again reads the whole file for every single digit, and
# an epoch over 4000 digits then parses it 4000 times. Parse everything in `__init__`, keep it in
# memory (NumPy arrays or tensors), and let `__getitem__` only index into it. Either way works:
#
# * `np.loadtxt(csv_file, delimiter=",", dtype=np.int64)` reads the file into a `(lines, 785)` array
#   (add `ndmin=2` so that a file of one line still gives a 2-D array);
# * the `csv` module: `for row in csv.reader(f)` gives each line as a list of strings.
#
# Item `i` is the tuple **`(label, image, target)`**:
#
# * `label`: the digit as a **Python `int`**. Indexing a NumPy array gives a NumPy scalar
#   (`numpy.int64`, or `numpy.float64` if the array is float), not an `int`: convert it with `int(...)`.
# * `image`: a **`torch.float32` tensor of shape `(784,)`** with values **in `[0, 1]`**: the pixels
#   divided by 255. Mind the dtype: NumPy computes in float64, and `torch.from_numpy` keeps the
#   array's dtype; `torch.tensor(array, dtype=torch.float32)` or `.float()` gives float32.
# * `target`: the label **one-hot encoded**, a **`torch.float32` tensor of shape `(10,)`** with a `1.0`
#   at index `label` and `0.0` everywhere else: for label 3,
#   `[0., 0., 0., 1., 0., 0., 0., 0., 0., 0.]`. `torch.zeros(10)` then `target[label] = 1.0` builds one;
#   so does `torch.nn.functional.one_hot(labels, num_classes=10)`, which returns int64: add `.float()`.

# %% question="q1" title="MnistDataset: items from the CSV"
class MnistDataset(Dataset):
    def __init__(self, csv_file):
        ### BEGIN SOLUTION
        # Parse and convert the whole file once; __getitem__ then only indexes into memory.
        table = np.loadtxt(csv_file, delimiter=",", dtype=np.int64, ndmin=2)
        self.labels = table[:, 0]
        self.images = torch.tensor(table[:, 1:], dtype=torch.float32) / 255
        self.targets = torch.nn.functional.one_hot(torch.from_numpy(self.labels), num_classes=10).float()
        ### END SOLUTION

    def __len__(self):
        ### BEGIN SOLUTION
        return len(self.labels)
        ### END SOLUTION

    def __getitem__(self, i):
        ### BEGIN SOLUTION
        return int(self.labels[i]), self.images[i], self.targets[i]
        ### END SOLUTION

# %%
# Try it (not graded): one item, and the digit it holds.
# dataset = MnistDataset(CSV_FILE)
# label, image, target = dataset[0]
# print(len(dataset), "items")
# print("label", label, type(label))
# print("image", image.shape, image.dtype, image.min().item(), image.max().item())
# print("target", target)
# plt.imshow(image.reshape(28, 28), cmap="gray")
# plt.title(f"label {label}")
# plt.show()

# %% tags=["checks"]
from tensorgrade.authoring import *  # the check vocabulary (docs/authoring.md)

# Rows drawn from the students' own data/mnist_train.csv (never the held-out ones), written as a CSV they never saw.
dataset_items("q1.items", "MnistDataset", rows=25, indices=lambda rng: [0, 7, 24, int(rng.integers(1, 24))],
              points=2, description="len(), and items (label int, image (784,) float32 in [0, 1], one-hot float32 "
              "target (10,)) on a CSV you never saw")

# %% tags=["hidden-checks"]
dataset_items("q1.unseen_csv", "MnistDataset", rows=60,
              indices=lambda rng: sorted(rng.choice(60, size=12, replace=False).tolist()),
              description="the same on another CSV you never saw")
dataset_reads_once("q1.no_reread", "MnistDataset", rows=200,
                   indices=lambda rng: rng.integers(0, 190, size=100).tolist(),
                   description="items come from memory: __getitem__ does not read the file again")

# %% [markdown]
# ## Q2 (2 points): `make_loader`
#
# A `DataLoader` asks the dataset for `batch_size` items at a time and **collates** them: items that
# are tuples become a tuple of batches, each part stacked along a new first dimension. For your items,
# a batch is `(labels, images, targets)` with `labels` an int64 tensor of shape `(B,)` (Python ints are
# collated to int64), `images` float32 `(B, 784)` and `targets` float32 `(B, 10)`. The last batch is
# smaller when the number of items is not a multiple of `batch_size`.
#
# With **`shuffle=True`** the loader draws a new random order every epoch (what training needs: the
# model should not see the digits in the same order every time); with **`shuffle=False`** it keeps the
# dataset's order (what evaluation needs: results you can compare run after run).
#
# Write `make_loader(dataset, batch_size, shuffle=True)` that returns a `DataLoader` over `dataset`
# with that batch size and that shuffling. It must work with any `Dataset`, not only yours.

# %% question="q2" title="make_loader: batches"
def make_loader(dataset, batch_size, shuffle=True):
    ### BEGIN SOLUTION
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle)
    ### END SOLUTION

# %%
# Try it (not graded): the first batch, and how many batches make an epoch.
# loader = make_loader(MnistDataset(CSV_FILE), batch_size=64)
# labels, images, targets = next(iter(loader))
# print(labels.shape, labels.dtype, images.shape, images.dtype, targets.shape, targets.dtype)
# print(len(loader), "batches per epoch; the first labels:", labels[:10].tolist())

# %% tags=["checks"]
loader_batches("q2.loader", "make_loader", rows=lambda rng: int(rng.integers(30, 45)),
               batch_size=lambda rng: int(rng.integers(6, 11)), points=2,
               description="batch size, collated shapes and dtypes; shuffle=False keeps the order, shuffle=True "
               "(the default) shuffles")

# %% tags=["mistakes"]
mistake("first-row-skipped", "The first line of the CSV is skipped as if it were a header (skiprows=1, next(reader), "
        "or pandas.read_csv without header=None), but the MNIST CSV has no header: the first digit is lost, "
        "len(dataset) is one short and every item is the next line's.", q1={"ndmin=2)": "ndmin=2, skiprows=1)"})
mistake("image-not-float32", "The image is a float64 tensor: NumPy computes `pixels / 255.0` in float64 and "
        "torch.from_numpy keeps the array's dtype, while a model's float32 weights expect float32 inputs (\"mat1 and "
        "mat2 must have the same dtype\"). Convert with .float() or torch.tensor(..., dtype=torch.float32).",
        q1={"torch.tensor(table[:, 1:], dtype=torch.float32) / 255": "torch.from_numpy(table[:, 1:] / 255.0)"})
mistake("image-not-normalized", "The pixels are kept as 0..255 instead of being scaled to [0, 1]. Networks train "
        "badly on inputs that large (activations and gradients blow up with the scale); divide the pixels by 255.",
        q1={"dtype=torch.float32) / 255": "dtype=torch.float32)"})
mistake("label-not-int", "The label is a NumPy scalar (numpy.int64, or numpy.float64 from a float array), not a "
        "Python int: indexing a NumPy array never gives a Python number. Convert it with int(...).",
        # a float table (np.loadtxt's default dtype): a numpy.int64 label alone counts as an int (COURSE.md)
        q1={"dtype=np.int64, ndmin=2)": "ndmin=2)", "return int(self.labels[i]),": "return self.labels[i],",
            "torch.from_numpy(self.labels)": "torch.from_numpy(self.labels).long()"})
mistake("loader-ignores-batch-size", "make_loader does not pass batch_size on, so DataLoader uses its default of 1 "
        "(or whatever number is written in its place): every batch holds a single item. Pass batch_size=batch_size.",
        q2={"batch_size=batch_size, ": ""})
mistake("loader-ignores-shuffle", "make_loader does not pass shuffle on (shuffle=True written out, or left out so it "
        "is never shuffled): with shuffle=False the order must be the dataset's, with shuffle=True a new random order "
        "every epoch. Pass shuffle=shuffle.", q2={"shuffle=shuffle": "shuffle=True"})
mistake("not-one-hot", "The target is the label itself (a single number) instead of its one-hot encoding: a float32 "
        "vector of 10 with a 1.0 at the label's index and 0.0 elsewhere.",
        q1={"torch.nn.functional.one_hot(torch.from_numpy(self.labels), num_classes=10).float()":
            "torch.from_numpy(self.labels).float()"})
mistake("one-hot-not-float", "The one-hot target is an int64 tensor: torch.nn.functional.one_hot returns int64, and "
        "losses such as MSE or BCE need float targets. Convert it with .float() (or build it with torch.zeros(10)).",
        q1={"num_classes=10).float()": "num_classes=10)"})
mistake("reads-file-every-item", "__getitem__ reads the CSV again for every item (here np.loadtxt with skiprows), so "
        "an epoch parses the file once per digit. Parse it once in __init__, keep the arrays or tensors in memory, and "
        "let __getitem__ only index into them.", q1={
            "        table = np.loadtxt(": "        self.csv_file = csv_file\n        table = np.loadtxt(",
            "        return int(self.labels[i]), self.images[i], self.targets[i]":
            "        row = np.loadtxt(self.csv_file, delimiter=\",\", dtype=np.int64, skiprows=i, max_rows=1)\n"
            "        return int(row[0]), torch.tensor(row[1:], dtype=torch.float32) / 255, self.targets[i]"})

# %% tags=["samples"]
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
LOADER_ALT = "loader = DataLoader(dataset, batch_size, shuffle)\n    return loader"
RETURN = "return int(self.labels[i]), self.images[i], self.targets[i]"
q1_items = ["q1.items", "q1.unseen_csv"]
sample("correct", score=6)
sample("correct_alt", score=6, q1=CSV_DATASET, q2={"return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle)":
                                                   LOADER_ALT})
# Right: the file is read once, on first use instead of in __init__ (nothing is read per item).
sample("correct_lazy", score=6, q1="""class MnistDataset(Dataset):
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
        return int(row[0]), torch.tensor(row[1:], dtype=torch.float32) / 255, target""")
sample("crashing", score=2, errors=["q1.items", "q1.unseen_csv", "q1.no_reread"],
       q1={RETURN: RETURN.replace("self.images", "self.image")})
sample("stub_left", score=4, q2=STUB, diagnoses={"q2.loader": "not-implemented"})
sample("image_not_normalized", score=3, diagnoses=dict.fromkeys(q1_items, "image-not-normalized"),
       q1=CSV_DATASET.replace("dtype=torch.float32) / 255.0", "dtype=torch.float32)"))
# The label itself as the target: a scalar, not a one-hot vector of 10.
sample("not_one_hot", score=3, diagnoses=dict.fromkeys(q1_items, "not-one-hot"), q1=CSV_DATASET.replace(
    "                target = torch.zeros(10)\n", "").replace(
    "                target[label] = 1.0\n", "                target = torch.tensor(label)\n"))
sample("one_hot_not_float", "one-hot-not-float", score=3, diagnoses=dict.fromkeys(q1_items, "one-hot-not-float"))
sample("image_not_float32", "image-not-float32", score=3, diagnoses=dict.fromkeys(q1_items, "image-not-float32"))
# np.loadtxt without dtype gives float64, so the label is a numpy.float64 (the image is converted).
sample("label_not_int", score=3, diagnoses=dict.fromkeys(q1_items, "label-not-int"), q1="""class MnistDataset(Dataset):
    def __init__(self, csv_file):
        self.data = np.loadtxt(csv_file, delimiter=",")

    def __len__(self):
        return self.data.shape[0]

    def __getitem__(self, i):
        label = self.data[i, 0]
        image = torch.tensor(self.data[i, 1:] / 255, dtype=torch.float32)
        target = torch.zeros(10)
        target[int(label)] = 1
        return label, image, target""")
sample("first_row_skipped", score=3, diagnoses=dict.fromkeys(q1_items, "first-row-skipped"), q1=CSV_DATASET.replace(
    "            for row in csv.reader(f):\n",
    "            reader = csv.reader(f)\n            next(reader)  # skip the header\n"
    "            for row in reader:\n"))
sample("ignores_csv_file", score=3, q1={"np.loadtxt(csv_file,": "np.loadtxt(CSV_FILE,"})
sample("image_28x28", score=3, q1={RETURN: RETURN.replace("self.images[i]", "self.images[i].reshape(28, 28)")})
# The lecture's item code written per line, but the CSV is opened and scanned again for every item.
sample("reads_file_every_item", score=5, diagnoses={"q1.no_reread": "reads-file-every-item"}, q1="""import csv
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
        return label, image, target""")
# The file is opened once, but scanned again from its start for every item.
sample("reads_file_kept_open", score=5, diagnoses={"q1.no_reread": "reads-file-every-item"},
       q1="""class MnistDataset(Dataset):
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
        return row[0], torch.tensor(row[1:], dtype=torch.float32) / 255, target""")
sample("loader_ignores_batch_size", score=4, diagnoses={"q2.loader": "loader-ignores-batch-size"},
       q2={"batch_size=batch_size": "batch_size=64"})
sample("loader_ignores_shuffle", score=4, diagnoses={"q2.loader": "loader-ignores-shuffle"},
       q2={", shuffle=shuffle)": ")"})
# Real code (a GAN book's pandas MnistDataset, as published, with only the class's own imports added):
# numpy.int64 labels are ints, and slow .iloc items that come from memory (the CSV rewrite and the file
# opens say so) are only a note.
sample("pandas_dataset", score=6, q1="""import pandas


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

    pass""")
