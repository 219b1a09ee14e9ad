"""Hidden checks for a3_dataset: never released; inputs come from the secret seed."""

import importlib.util
from pathlib import Path

from tensorgrade.checking.checks import Check
from tensorgrade.checking.outside.judging import failed, not_numbers, passed

# Timing is only a secondary signal (the file rewrite and the open count decide first): an item
# must be both this many times slower than the reference's and slower than SLOW_ITEM_SECONDS, as a
# median over 100 items, so a loaded machine cannot fail a dataset that holds its rows in memory.
SLOWER_THAN_REFERENCE = 50.0
SLOW_ITEM_SECONDS = 0.005


def _public():
    path = Path(__file__).resolve().parents[2] / "assignments" / "a3_dataset" / "checks.py"
    spec = importlib.util.spec_from_file_location("a3_public_checks", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PUBLIC = _public()


def unseen_inputs(rng):
    labels, pixels = PUBLIC.mnist_rows(rng, 60)
    return {"labels": labels, "pixels": pixels, "indices": sorted(rng.choice(60, size=12, replace=False).tolist())}


def rereads_inputs(rng):
    labels, pixels = PUBLIC.mnist_rows(rng, 200)
    return {"labels": labels, "pixels": pixels, "indices": rng.integers(0, 190, size=100).tolist()}


def _following_the_file(case, output):
    """Among the items whose row and reversed row have different labels, how many came back with
    the reversed row's label after the first rewrite and with their own after the second."""
    labels, indices = case.inputs["labels"], case.inputs["indices"]
    last = len(labels) - 1
    telling = [k for k, i in enumerate(indices) if labels[i] != labels[last - i]]
    followed = sum(1 for k in telling if output["labels_seen"][k] == labels[last - indices[k]]
                   and output["labels_again"][k] == labels[indices[k]])
    return followed, len(telling)


def judge_rereads(case):
    s, r = case.student, case.reference
    count = len(case.inputs["indices"])
    for key in ("labels_seen", "labels_again"):
        if not isinstance(s[key], list) or len(s[key]) != count:
            return failed(f"the grader read {count} items after rewriting the CSV, but came back with "
                          f"{len(s[key]) if isinstance(s[key], list) else s[key]!r} labels ({key})")
    problem = not_numbers(s["median_seconds"], "the median time of one item", shape=())
    if problem is not None:
        return problem
    followed, telling = _following_the_file(case, s)
    if followed > telling / 2 and followed > _following_the_file(case, r)[0]:
        opened = f", and __getitem__ opened a file for {s['items_opening']} of {s['items']} items" \
            if s["items_opening"] else ""
        return failed(f"after MnistDataset(csv_file) was built, the grader rewrote that CSV in place, first with "
                      f"its rows in reverse order, then back as it was: {followed} of {telling} items followed the "
                      f"file both times{opened}. The file is read again on every item (through a file kept open "
                      "or not): load it once in __init__ and index into memory in __getitem__",
                      diagnosis="reads-file-every-item")
    if s["items_opening"] > s["items"] / 2 and s["items_opening"] > r["items_opening"]:
        return failed(f"__getitem__ opened a file for {s['items_opening']} of {s['items']} items ({s['opens']} opens; "
                      f"the reference: {r['opens']}): load the data once in __init__ and index into memory",
                      diagnosis="reads-file-every-item")
    item, expected = s["median_seconds"], r["median_seconds"]
    ratio = item / max(expected, 1e-7)
    if ratio > SLOWER_THAN_REFERENCE and item > SLOW_ITEM_SECONDS:
        return failed(f"one item takes {item * 1e3:.1f} ms (median of {s['items']}), the reference's "
                      f"{expected * 1e3:.3f} ms: {ratio:.0f} times slower. Is the file read again in __getitem__? "
                      "Do the parsing once in __init__")
    return passed(f"items come from memory, not from the file: __getitem__ opened a file for {s['items_opening']} "
                  f"of {s['items']} items and did not follow the CSV when it was rewritten")


CHECKS = [
    Check("q1.unseen_csv", probe="items", probe_module="public", inputs=unseen_inputs, judge=PUBLIC.judge_items),
    Check("q1.no_reread", probe="rereads", probe_module="public", inputs=rereads_inputs, judge=judge_rereads),
]
