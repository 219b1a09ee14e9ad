"""Hidden checks for a3_dataset: never released; inputs come from the secret seed."""

import importlib.util
from pathlib import Path

from tensorgrade.checking.checks import Check
from tensorgrade.checking.outside.judging import failed, not_numbers, passed

# Timing decides nothing: the file rewrite and the open count do (a dataset that reads the file per
# item follows the rewrite, through a handle kept open or not, or opens a file per item).  A dataset
# they clear holds its rows in memory, however slowly it indexes them (pandas' .iloc per item is
# 50 times slower than indexing a tensor): an item this many times slower than the reference's, and
# slower than SLOW_ITEM_SECONDS (a median over 100 items), only earns a note in the passed message.
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


CHECKS = [
    Check("q1.unseen_csv", probe="items", probe_module="public", inputs=unseen_inputs, judge=PUBLIC.judge_items),
    Check("q1.no_reread", probe="rereads", probe_module="public", inputs=rereads_inputs, judge=judge_rereads),
]
