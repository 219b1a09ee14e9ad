"""Hidden checks for a3_dataset: never released; inputs come from the secret seed."""

import numpy as np

from autograder.checks import Check
from autograder.judging import failed, passed

# Reading the CSV again on every item is slow for real data sets; the reference opens nothing per
# item. A generous ratio keeps timing noise from failing a correct dataset.
SLOWER_THAN_REFERENCE = 20.0


def _public():
    import importlib.util
    from pathlib import Path

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
    return {"labels": labels, "pixels": pixels, "indices": rng.integers(0, 200, size=100).tolist()}


def judge_rereads(case):
    s, r = case.student, case.reference
    ratio = s["seconds"] / max(r["seconds"], 1e-6)
    if s["opens"] > r["opens"] and ratio > SLOWER_THAN_REFERENCE:
        return failed(f"__getitem__ opened files {s['opens']} times for {s['items']} items and was {ratio:.0f} times "
                      "slower than reading from memory: load the CSV once in __init__ and index into it",
                      diagnosis="reads-file-every-item")
    return passed("items come from memory, not from re-reading the file")


CHECKS = [
    Check("q1.unseen_csv", probe="items", probe_module="public", inputs=unseen_inputs, judge=PUBLIC.judge_items),
    Check("q1.no_reread", probe="rereads", probe_module="public", inputs=rereads_inputs, judge=judge_rereads),
]
