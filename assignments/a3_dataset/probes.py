"""Public probes for a3_dataset (run inside the sandbox, on the student's namespace)."""

import os
import sys
import time

import numpy as np
import torch

from autograder.probing import describe_value, need, need_subclass

SHIPPED_CSV = os.path.join("data", "mnist_train.csv")


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


def write_csv(inputs, name):
    """Rows the student never saw, in the shipped file's format (header line or not)."""
    header = None
    if os.path.exists(SHIPPED_CSV):
        with open(SHIPPED_CSV) as fh:
            first = fh.readline()
        if first and not first.split(",")[0].strip().isdigit():
            header = first.rstrip("\n")
    labels, pixels = np.asarray(inputs["labels"]), np.asarray(inputs["pixels"])
    path = os.path.abspath(name)
    with open(path, "w") as fh:
        if header:
            fh.write(header + "\n")
        for label, row in zip(labels, pixels):
            fh.write(",".join([str(int(label)), *map(str, row.astype(int).tolist())]) + "\n")
    return path


def _item(item):
    if not isinstance(item, (tuple, list)) or len(item) != 3:
        return {"kind": describe_value(item)}
    label, image, target = item
    return {"label": label if type(label) is int else None, "label_kind": describe_value(label),
            "image": image if type(image) is torch.Tensor else None, "image_kind": describe_value(image),
            "target": target if type(target) is torch.Tensor else None, "target_kind": describe_value(target)}


def items(ns, inputs):
    MnistDataset = need_subclass(ns, "MnistDataset", torch.utils.data.Dataset)
    dataset = MnistDataset(write_csv(inputs, "grader_items.csv"))
    return {"length": len(dataset), "items": [_item(dataset[i]) for i in inputs["indices"]]}


def loader(ns, inputs):
    MnistDataset = need_subclass(ns, "MnistDataset", torch.utils.data.Dataset)
    make_loader = need(ns, "make_loader")
    dataset = MnistDataset(write_csv(inputs, "grader_loader.csv"))
    batch_size = inputs["batch_size"]
    ordered = make_loader(dataset, batch_size, shuffle=False)
    if not isinstance(ordered, torch.utils.data.DataLoader):
        return {"kind": describe_value(ordered)}
    batches = list(ordered)
    first = batches[0]
    shuffled_orders = []
    for epoch in range(3):
        torch.manual_seed(epoch)
        shuffled = make_loader(dataset, batch_size, shuffle=True)
        shuffled_orders.append(torch.cat([b[0] if isinstance(b[0], torch.Tensor) else torch.as_tensor(b[0])
                                          for b in shuffled]).tolist())
    return {
        "kind": describe_value(ordered),
        "batches": len(batches),
        "first_shapes": [list(getattr(part, "shape", [])) for part in first],
        "first_dtypes": [str(getattr(part, "dtype", type(part).__name__)) for part in first],
        "ordered_labels": torch.cat([torch.as_tensor(b[0]) for b in batches]).tolist(),
        "shuffled_orders": shuffled_orders,
    }


def rereads(ns, inputs):
    MnistDataset = need_subclass(ns, "MnistDataset", torch.utils.data.Dataset)
    opens = FileOpens()
    dataset = MnistDataset(write_csv(inputs, "grader_reads.csv"))
    opens.active = True
    started = time.perf_counter()
    for i in inputs["indices"]:
        dataset[i]
    seconds = time.perf_counter() - started
    opens.active = False
    return {"opens": opens.count, "seconds": seconds, "items": len(inputs["indices"])}
