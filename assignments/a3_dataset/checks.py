"""Public checks for a3_dataset: MNIST rows the student never saw, written by the probes as CSV."""

import numpy as np

from autograder.checks import Check
from autograder.judging import compare, failed, passed


def mnist_rows(rng, count):
    from autograder.datasets import load_mnist_rows

    labels, pixels = load_mnist_rows()
    chosen = rng.choice(len(labels), size=count, replace=False)
    return labels[chosen].astype(np.int64), pixels[chosen].astype(np.int64)


def items_inputs(rng):
    labels, pixels = mnist_rows(rng, 25)
    return {"labels": labels, "pixels": pixels, "indices": [0, 7, 24, int(rng.integers(1, 24))]}


def judge_item(got, expected, index):
    if "label_kind" not in got:
        return failed(f"dataset[{index}] should be a tuple (label, image, target), but it is {got['kind']['type']}")
    if got["label"] is None:
        return failed(f"dataset[{index}]: label should be a Python int, but it is {got['label_kind']['type']} "
                      "(use int(...))")
    if got["label"] != expected["label"]:
        return failed(f"dataset[{index}]: label {got['label']}, expected {expected['label']} (the first column "
                      "of the row; is a header line or the row order handled right?)")
    for part in ("image", "target"):
        if got[part] is None:
            return failed(f"dataset[{index}]: {part} should be a torch.Tensor, but it is {got[part + '_kind']['type']}")
        kind, want = got[part + "_kind"], expected[part + "_kind"]
        if kind.get("shape") != want.get("shape"):
            return failed(f"dataset[{index}]: {part} has shape {kind.get('shape')}, expected {want.get('shape')}")
        if kind.get("dtype") != want.get("dtype"):
            return failed(f"dataset[{index}]: {part} has dtype {kind.get('dtype')}, expected {want.get('dtype')}")
    image = got["image"]
    if image.max() > 1.0 + 1e-6 or image.min() < -1e-6:
        return failed(f"dataset[{index}]: image values range from {image.min():g} to {image.max():g}; "
                      "expected [0, 1]: divide the 0..255 pixels by 255", diagnosis="image-not-normalized")
    verdict = compare(image, expected["image"], name=f"dataset[{index}] image", rtol=1e-5, atol=1e-6)
    if verdict is not None:
        return verdict
    target = got["target"]
    if not (np.isin(target, (0.0, 1.0)).all() and target.sum() == 1 and int(target.argmax()) == expected["label"]):
        return failed(f"dataset[{index}]: target {target.tolist()} is not the one-hot vector of label "
                      f"{expected['label']} (a 1.0 at index {expected['label']}, 0.0 elsewhere)",
                      diagnosis="not-one-hot")
    return None


def judge_items(case):
    s, r = case.student, case.reference
    if s["length"] != r["length"]:
        return failed(f"len(dataset) is {s['length']} for a CSV of {r['length']} rows", diagnosis="wrong-length")
    for index, got, expected in zip(case.inputs["indices"], s["items"], r["items"]):
        verdict = judge_item(got, expected, index)
        if verdict is not None:
            return verdict
    return passed(f"{r['length']} rows: labels, [0, 1] images (784,) float32 and one-hot targets (10,) are right")


def loader_inputs(rng):
    labels, pixels = mnist_rows(rng, 37)
    return {"labels": labels, "pixels": pixels, "batch_size": 8}


def judge_loader(case):
    s, r = case.student, case.reference
    if "batches" not in s:
        return failed(f"make_loader should return a torch.utils.data.DataLoader, but returned {s['kind']['type']}")
    if s["batches"] != r["batches"]:
        return failed(f"make_loader(dataset, batch_size=8) gives {s['batches']} batches for 37 items; expected "
                      f"{r['batches']}: is batch_size passed on?", diagnosis="loader-ignores-arguments")
    if s["first_shapes"] != r["first_shapes"] or s["first_dtypes"] != r["first_dtypes"]:
        return failed(f"the first batch has shapes {s['first_shapes']} and dtypes {s['first_dtypes']}; expected "
                      f"{r['first_shapes']} and {r['first_dtypes']}")
    if s["ordered_labels"] != r["ordered_labels"]:
        return failed("with shuffle=False the batches should keep the CSV's order")
    if all(order == s["ordered_labels"] for order in s["shuffled_orders"]):
        return failed("with shuffle=True the order never changes across 3 epochs: is shuffle passed on?",
                      diagnosis="loader-ignores-arguments")
    return passed("batches of the right size, shapes and order; shuffle=True shuffles")


CHECKS = [
    Check("q1.items", probe="items", inputs=items_inputs, judge=judge_items),
    Check("q2.loader", probe="loader", inputs=loader_inputs, judge=judge_loader),
]
