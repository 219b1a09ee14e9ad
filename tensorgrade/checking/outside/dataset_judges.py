"""Judges of the Dataset/DataLoader vocabulary (tensorgrade/checking/vocabulary_dataset.py), run outside
the sandbox on what checking/inside/dataset_probes.py returned, against the reference's output on the
same rows. Items are `(label, image, target)`: a Python int, a float32 image in [0, 1], a float32
one-hot target; each message says what was expected, what came back, and the usual cause.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from tensorgrade.checking.outside.judging import compare, failed, not_numbers, passed

# Timing decides nothing: the file rewrite and the open count do (a dataset that reads the file per
# item follows the rewrite, through a handle kept open or not, or opens a file per item).  A dataset
# they clear holds its rows in memory, however slowly it indexes them (pandas' .iloc per item is
# 50 times slower than indexing a tensor): an item this many times slower than the reference's, and
# slower than SLOW_ITEM_SECONDS (a median over 100 items), only earns a note in the passed message.
SLOWER_THAN_REFERENCE = 50.0
SLOW_ITEM_SECONDS = 0.005


def _is_one_hot(target, label):
    return (isinstance(target, np.ndarray) and target.shape == (10,) and np.isin(target, (0, 1)).all()
            and target.sum() == 1 and int(target.argmax()) == label)


def judge_label(got, expected, where):
    got_type, want_type = got["label_kind"]["type"], expected["label_kind"]["type"]
    if want_type == "builtins.int":
        if got["label"] is None:  # the probe's `label` is set for a Python int and NumPy's integer scalars only
            value = f" ({got['label_value']})" if got["label_value"] is not None else ""
            return failed(f"{where}: label should be a Python int, but it is {got_type}{value}: convert it with "
                          "int(...)", diagnosis="label-not-int")
    elif got_type != want_type:
        return failed(f"{where}: label should be {want_type}, but it is {got_type}")
    if got["label_value"] != expected["label_value"]:
        return failed(f"{where}: label {got['label_value']}, expected {expected['label_value']} (the first value "
                      "of that line of the CSV, which has no header line)")
    return None


def judge_image(got, expected, where):
    kind, want = got["image_kind"], expected["image_kind"]
    image = got["image"]
    if image is None:
        hint = ": convert it with torch.from_numpy(...) or torch.tensor(...)" if "numpy" in kind["type"] else ""
        return failed(f"{where}: image should be a torch.Tensor, but it is {kind['type']}{hint}")
    if kind.get("shape") != want.get("shape"):
        hint = ""
        if image.size == 784:
            hint = " (the same 784 pixels: flatten it with .reshape(-1))"
        elif image.size == 785:
            hint = " (785 values: the label is still in it; the image is the 784 values after the label)"
        return failed(f"{where}: image has shape {kind.get('shape')}, expected {want.get('shape')}{hint}")
    reference = expected["image"]
    problem = not_numbers(image, f"{where} image", like=reference)
    if problem is not None:
        return problem
    if image.size and reference.max() <= 1.0 and (image.max() > 1.0 + 1e-6 or image.min() < -1e-6):
        dtype = f", dtype {kind.get('dtype')}" if kind.get("dtype") != want.get("dtype") else ""
        return failed(f"{where}: image values range from {float(image.min()):g} to {float(image.max()):g}{dtype}; "
                      f"expected values in [0, 1] ({want.get('dtype')}): divide the 0..255 pixels by 255",
                      diagnosis="image-not-normalized")
    if kind.get("dtype") != want.get("dtype"):
        hint = ""
        if kind.get("dtype") == "torch.float64":
            hint = " (NumPy computes in float64 and torch.from_numpy keeps it: add .float() or dtype=torch.float32)"
        return failed(f"{where}: image has dtype {kind.get('dtype')}, expected {want.get('dtype')}{hint}")
    return compare(image, reference, name=f"{where} image", rtol=1e-5, atol=1e-6)


def judge_target(got, expected, label, where):
    kind, want = got["target_kind"], expected["target_kind"]
    target, reference = got["target"], expected["target"]
    one_hot = "not-one-hot" if _is_one_hot(reference, label) else None
    wanted = f"the one-hot vector of label {label} (shape {want.get('shape')}, a 1.0 at index {label}, 0.0 elsewhere)"
    if target is None:
        return failed(f"{where}: target should be {wanted} as a torch.Tensor, but it is {kind['type']}", diagnosis=one_hot)
    if kind.get("shape") != want.get("shape"):
        return failed(f"{where}: target has shape {kind.get('shape')}; expected {wanted}", diagnosis=one_hot)
    if not np.array_equal(target.astype(np.float64), reference.astype(np.float64)):
        return failed(f"{where}: target is {target.tolist()}; expected {wanted}", diagnosis=one_hot)
    if kind.get("dtype") != want.get("dtype"):
        hint = " (torch.nn.functional.one_hot returns int64: add .float())" if kind.get("dtype") == "torch.int64" else ""
        return failed(f"{where}: target has dtype {kind.get('dtype')}, expected {want.get('dtype')}{hint}")
    return None


def judge_item(got, expected, index):
    where = f"dataset[{index}]"
    if "label_kind" not in got:
        size = f" of {got['length']} items" if got.get("length") is not None else ""
        return failed(f"{where} should be a tuple (label, image, target), but it is {got['kind']['type']}{size}")
    return (judge_label(got, expected, where) or judge_image(got, expected, where)
            or judge_target(got, expected, expected["label_value"], where))


def judge_items(case, *, csv: str = "data/mnist_train.csv", shipped_rows: Callable[[], int] | None = None):
    """len(dataset), then each item against the reference's; `shipped_rows()` is the row count of the
    students' file `csv` (a dataset of that length ignored its csv_file argument)."""
    s, r = case.student, case.reference
    if s["length"] != r["length"]:
        hint = ""
        if s["length"] == r["length"] - 1:
            hint = " (one row short: is the first line skipped as if it were a header? The file has none)"
        elif shipped_rows is not None and s["length"] == shipped_rows():
            hint = f" (as many as {csv}: is the csv_file argument used?)"
        return failed(f"len(dataset) is {s['length']} for a CSV of {r['length']} rows{hint}")
    for index, got, expected in zip(case.inputs["indices"], s["items"], r["items"]):
        verdict = judge_item(got, expected, index)
        if verdict is not None:
            return verdict
    return passed(f"{r['length']} rows: int labels, [0, 1] float32 images (784,) and one-hot float32 targets (10,)")


def _short(values, count=12):
    return str(values) if len(values) <= count else f"[{', '.join(map(str, values[:count]))}, ...] ({len(values)} in all)"


def judge_loader(case, *, name: str = "make_loader"):
    s, r = case.student, case.reference
    size, count = case.inputs["batch_size"], len(case.inputs["labels"])
    call = f"{name}(dataset, {size}, shuffle=False)"
    if "batch_sizes" not in s:
        return failed(f"{name} should return a torch.utils.data.DataLoader, but {call} returned {s['kind']['type']}")
    if s["batch_sizes"] != r["batch_sizes"]:
        message = (f"{call} on a dataset of {count} items gives batches of {_short(s['batch_sizes'])} items; "
                   f"expected {r['batch_sizes']}")
        if all(isinstance(n, int) for n in s["batch_sizes"]) and sum(s["batch_sizes"]) != count:
            message += f", {sum(s['batch_sizes'])} items in all instead of {count}: is the dataset passed on?"
        first = s["batch_sizes"][0] if s["batch_sizes"] else None
        if isinstance(first, int) and first != size:
            default = " (DataLoader's default batch_size is 1)" if first == 1 else ""
            return failed(f"{message}: pass batch_size=batch_size on to DataLoader{default}",
                          diagnosis="loader-ignores-batch-size")
        if s["batch_sizes"] == r["batch_sizes"][:-1]:
            message += ": the last, smaller batch is missing (drop_last=True?)"
        return failed(message)
    if s["first"] != r["first"]:
        return failed(f"the first batch of {call} has shapes {s['first'].get('shapes')} and dtypes "
                      f"{s['first'].get('dtypes')}; expected {r['first']['shapes']} and {r['first']['dtypes']} "
                      "(labels, images, targets, collated by the default collate_fn)")
    ordered = s["ordered_labels"]
    if ordered != r["ordered_labels"]:
        if ordered is not None and sorted(ordered) == sorted(r["ordered_labels"]):
            return failed(f"{call} should keep the dataset's order, but the labels come as {ordered[:12]}..., "
                          f"not {r['ordered_labels'][:12]}...: pass shuffle on to DataLoader",
                          diagnosis="loader-ignores-shuffle")
        return failed(f"the batches of {call} do not hold the dataset's items: labels {_short(ordered or [])}, "
                      f"expected {_short(r['ordered_labels'])} (is the dataset passed on?)")
    for order in s["shuffled_orders"]:
        if order is None or sorted(order) != sorted(ordered):
            return failed(f"an epoch of {name}(dataset, {size}, shuffle=True) does not hold every item once")
    if all(order == ordered for order in s["shuffled_orders"]):
        return failed(f"{name}(dataset, {size}, shuffle=True) gives the items in the dataset's order in 3 "
                      "epochs out of 3: pass shuffle on to DataLoader", diagnosis="loader-ignores-shuffle")
    if isinstance(s["default_orders"], str):
        return failed(f"{name}(dataset, {size}) raised {s['default_orders']}; the signature is "
                      f"{name}(dataset, batch_size, shuffle=True)")
    if all(order == ordered for order in s["default_orders"]):
        return failed(f"{name}(dataset, {size}) never shuffles: shuffle should default to True, as in "
                      f"{name}(dataset, batch_size, shuffle=True)")
    return passed(f"batches of {size} with the right shapes and dtypes; shuffle=False keeps the order, "
                  "shuffle=True shuffles")


def _following_the_file(case, output):
    """Among the items whose row and reversed row have different labels, how many came back with
    the reversed row's label after the first rewrite and with their own after the second."""
    labels, indices = case.inputs["labels"], case.inputs["indices"]
    last = len(labels) - 1
    telling = [k for k, i in enumerate(indices) if labels[i] != labels[last - i]]
    followed = sum(1 for k in telling if output["labels_seen"][k] == labels[last - indices[k]]
                   and output["labels_again"][k] == labels[indices[k]])
    return followed, len(telling)


def judge_rereads(case, *, dataset: str = "MnistDataset"):
    s, r = case.student, case.reference
    count = len(case.inputs["indices"])
    for key in ("labels_seen", "labels_again"):
        if not isinstance(s[key], list) or len(s[key]) != count:
            return failed(f"the grader read {count} items after rewriting the CSV, but came back with "
                          f"{len(s[key]) if isinstance(s[key], list) else s[key]!r} labels ({key})")
    followed, telling = _following_the_file(case, s)
    if followed > telling / 2 and followed > _following_the_file(case, r)[0]:
        opened = f", and __getitem__ opened a file for {s['items_opening']} of {s['items']} items" \
            if s["items_opening"] else ""
        return failed(f"after {dataset}(csv_file) was built, the grader rewrote that CSV in place, first with "
                      f"its rows in reverse order, then back as it was: {followed} of {telling} items followed the "
                      f"file both times{opened}. The file is read again on every item (through a file kept open "
                      "or not): load it once in __init__ and index into memory in __getitem__",
                      diagnosis="reads-file-every-item")
    if s["items_opening"] > s["items"] / 2 and s["items_opening"] > r["items_opening"]:
        return failed(f"__getitem__ opened a file for {s['items_opening']} of {s['items']} items ({s['opens']} opens; "
                      f"the reference: {r['opens']}): load the data once in __init__ and index into memory",
                      diagnosis="reads-file-every-item")
    return passed(f"items come from memory, not from the file: __getitem__ opened a file for {s['items_opening']} "
                  f"of {s['items']} items and did not follow the CSV when it was rewritten{_slow_note(s, r)}")


def _slow_note(s, r):
    """A note (never a verdict) when items are much slower than the reference's: where the time goes."""
    item, expected = s["median_seconds"], r["median_seconds"]
    if not_numbers(item, "the median time of one item", shape=()) is not None or not_numbers(
            expected, "the reference's median time of one item", shape=()) is not None:
        return ""
    ratio = item / max(expected, 1e-7)
    if ratio > SLOWER_THAN_REFERENCE and item > SLOW_ITEM_SECONDS:
        return (f". Note (no points lost): one item takes {item * 1e3:.1f} ms (median of {s['items']}), "
                f"{ratio:.0f} times the reference's {expected * 1e3:.3f} ms; converting the rows to tensors once "
                "in __init__ (rather than per item, e.g. from a DataFrame's .iloc) makes every epoch faster")
    return ""
