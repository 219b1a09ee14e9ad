"""Probes of the Dataset/DataLoader vocabulary (tensorgrade/checking/vocabulary_dataset.py), run inside
the sandbox.

A classification CSV (a label, then the features, one row a line, as MNIST's) is the data: every
probe writes the rows the grader drew to a fresh CSV in the format of the students' file
(`inputs["_csv"]`, header line or not), so the student's code meets a file it never saw. What is
called in the student's namespace is `inputs["_call"]` (a Dataset class, or the function that makes
a DataLoader); what comes back is plain data for the judges outside (checking/outside/dataset_judges.py).
"""

from __future__ import annotations

import operator
import os
import statistics
import sys
import time

import numpy as np
import torch

from tensorgrade.checking.inside.probing import describe_value, need, need_subclass, plain_number

__all__ = ["probe_dataset_items", "probe_loader_batches", "probe_dataset_rereads"]


class FileOpens:
    """Counts files opened while active, through an audit hook (Python raises "open" for every
    open(), io.open and os.open): re-reading the CSV per item shows up whatever library does it."""

    def __init__(self):
        self.count = 0
        self.active = False
        sys.addaudithook(self._hook)

    def _hook(self, event, args):
        if self.active and event == "open":
            self.count += 1


def _csv_text(labels, pixels, header):
    lines = [header] if header else []
    for label, row in zip(labels, pixels):
        lines.append(",".join([str(int(label)), *map(str, np.asarray(row).astype(int).tolist())]))
    return "\n".join(lines) + "\n"


def _shipped_header(shipped):
    """The students' file's header line, if it has one (the course's MNIST file has none)."""
    if not shipped or not os.path.exists(shipped):
        return None
    with open(shipped) as fh:
        first = fh.readline()
    if first and not first.split(",")[0].strip().isdigit():
        return first.rstrip("\n")
    return None


def write_csv(inputs, name):
    """Rows the student never saw, in the students' file's format (header line or not)."""
    path = os.path.abspath(name)
    with open(path, "w") as fh:
        fh.write(_csv_text(inputs["labels"], inputs["pixels"], _shipped_header(inputs.get("_csv"))))
    return path


def _label_value(label):
    """The label as a number whatever its type (numpy integer, 0-d tensor, float), for messages."""
    try:
        return int(operator.index(label))
    except Exception:
        pass
    try:
        number = float(label)
    except Exception:
        return None
    return int(number) if number.is_integer() else None


def _item(item):
    if not isinstance(item, (tuple, list)) or len(item) != 3:
        return {"kind": describe_value(item), "length": len(item) if isinstance(item, (tuple, list)) else None}
    label, image, target = item
    # a Python int, or NumPy's own int64 & co. (pandas' .iloc gives one), as a Python int
    return {"label": plain_number(label, int), "label_kind": describe_value(label),
            "label_value": _label_value(label),
            "image": image if type(image) is torch.Tensor else None, "image_kind": describe_value(image),
            "target": target if type(target) is torch.Tensor else None, "target_kind": describe_value(target)}


def probe_dataset_items(ns, inputs):
    """len() of the student's Dataset over a fresh CSV, and its items (label, image, target) at `indices`."""
    dataset_class = need_subclass(ns, inputs["_call"], torch.utils.data.Dataset)
    dataset = dataset_class(write_csv(inputs, "grader_items.csv"))
    length = len(dataset)
    if length != len(inputs["labels"]):  # judged on the length alone; indexing might raise
        return {"length": length, "items": []}
    return {"length": length, "items": [_item(dataset[i]) for i in inputs["indices"]]}


class GraderDataset(torch.utils.data.Dataset):
    """The grader's own dataset over the drawn rows, in the (label, image, target) item format, so the
    loader is judged on its own, whatever the submission's Dataset does."""

    def __init__(self, labels, pixels):
        self.labels = [int(v) for v in labels]
        self.images = torch.from_numpy(np.asarray(pixels, dtype=np.float32) * np.float32(1 / 255))
        self.targets = torch.zeros(len(self.labels), 10)
        self.targets[torch.arange(len(self.labels)), torch.tensor(self.labels)] = 1

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        return self.labels[index], self.images[index], self.targets[index]


def _batch(batch):
    """Shapes, dtypes and the label column of one batch, whatever form it has."""
    if not isinstance(batch, (tuple, list)):
        return {"kind": describe_value(batch)}
    return {"shapes": [list(part.shape) if isinstance(part, torch.Tensor) else None for part in batch],
            "dtypes": [str(part.dtype) if isinstance(part, torch.Tensor) else describe_value(part)["type"]
                       for part in batch],
            "labels": [int(v) for v in batch[0].tolist()] if isinstance(batch[0], torch.Tensor) else None}


def _in_process(loader):
    """The loader with its items fetched in this process: the sandbox starts no worker processes,
    and num_workers changes neither the batches nor their order."""
    if isinstance(loader, torch.utils.data.DataLoader) and loader.num_workers:
        loader.num_workers = 0
    return loader


def _epoch(loader):
    batches = [_batch(batch) for batch in _in_process(loader)]
    if all("labels" in b and b["labels"] is not None for b in batches):
        order = [label for b in batches for label in b["labels"]]
    else:
        order = None
    return batches, order


def probe_loader_batches(ns, inputs):
    """The batches of `make_loader(dataset, batch_size, shuffle=False)` over the grader's dataset, and
    the label orders of 3 epochs with shuffle=True and 3 with shuffle left to its default."""
    make_loader = need(ns, inputs["_call"])
    dataset = GraderDataset(inputs["labels"], inputs["pixels"])
    batch_size = inputs["batch_size"]
    ordered = make_loader(dataset, batch_size, shuffle=False)
    if not isinstance(ordered, torch.utils.data.DataLoader):
        return {"kind": describe_value(ordered)}
    batches, order = _epoch(ordered)
    shuffled, default = [], []
    for epoch in range(3):
        torch.manual_seed(1000 + epoch)
        shuffled.append(_epoch(make_loader(dataset, batch_size, shuffle=True))[1])
    for epoch in range(3):
        torch.manual_seed(2000 + epoch)
        try:
            default.append(_epoch(make_loader(dataset, batch_size))[1])
        except TypeError as exc:  # no default for shuffle: reported, the rest is still judged
            default = f"{type(exc).__name__}: {exc}"
            break
    return {
        "kind": describe_value(ordered),
        "batch_sizes": [b["shapes"][0][0] if b.get("shapes") and b["shapes"][0] else None for b in batches],
        "first": batches[0] if batches else None,
        "ordered_labels": order,
        "shuffled_orders": shuffled,
        "default_orders": default,
    }


def _rewrite(path, labels, pixels, shipped):
    with open(path, "r+") as fh:  # in place: a file handle kept open sees the new rows too
        fh.write(_csv_text(labels, pixels, _shipped_header(shipped)))
        fh.truncate()


def probe_dataset_rereads(ns, inputs):
    """Labels of items read after the CSV was rewritten in place once the dataset was built, first
    with its rows reversed, then back as it was: a dataset that reads the file again in __getitem__
    follows the file both times; one that holds its rows in memory (read in __init__, or once on
    first use) does not.  Files opened and time taken per item in the first pass too."""
    dataset_class = need_subclass(ns, inputs["_call"], torch.utils.data.Dataset)
    opens = FileOpens()
    path = write_csv(inputs, "grader_reads.csv")
    dataset = dataset_class(path)
    labels, pixels = np.asarray(inputs["labels"]), np.asarray(inputs["pixels"])
    _rewrite(path, labels[::-1], pixels[::-1], inputs.get("_csv"))
    seen, seconds, opened = [], [], []
    for i in inputs["indices"]:
        before = opens.count
        opens.active = True
        started = time.perf_counter()
        item = dataset[i]
        seconds.append(time.perf_counter() - started)
        opens.active = False
        opened.append(opens.count - before)
        seen.append(_label_value(item[0]) if isinstance(item, (tuple, list)) and len(item) == 3 else None)
    _rewrite(path, labels, pixels, inputs.get("_csv"))
    again = []
    for i in inputs["indices"]:
        item = dataset[i]
        again.append(_label_value(item[0]) if isinstance(item, (tuple, list)) and len(item) == 3 else None)
    return {"items": len(inputs["indices"]), "labels_seen": seen, "labels_again": again, "opens": sum(opened),
            "items_opening": sum(1 for n in opened if n), "median_seconds": statistics.median(seconds)}
