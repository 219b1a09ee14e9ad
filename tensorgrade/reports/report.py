"""Feedback people want to read: a student's report (HTML, Markdown, terminal) and the class dashboard.

Everything a report shows goes through one *view* of the result (`report_view`), built here in
Python: that is where hidden checks are reduced to their id, points and passed/failed, and where
integrity findings and isolation are kept for the TA view (`ta=True`). The templates
(`tensorgrade/reports/templates/`, Jinja2 with autoescape for HTML) only render that view, so a template
cannot leak what the view does not hold.

HTML reports are self-contained files: inline CSS, plots as inline PNGs (matplotlib's Agg canvas,
no pyplot state), no script and no external resource.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from tensorgrade.grading.results import CheckResult, SubmissionResult

TEMPLATES = Path(__file__).resolve().parent / "templates"


# ---------------------------------------------------------------------------------------------
# Known diagnoses: what the mistake is, in a sentence, and which lecture idea it is about
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Diagnosis:
    title: str
    explanation: str
    lecture: str


KNOWN_DIAGNOSES: dict[str, Diagnosis] = {
    "not-defined": Diagnosis(
        "A name the check needs is not defined",
        "The check looks up a function or class by the exact name the assignment gives; it is missing, "
        "misspelt, or the cell defining it raised before the definition ran.",
        "The assignment's fixed names and signatures"),
    "not-implemented": Diagnosis(
        "Not implemented yet",
        "The function still raises the template's NotImplementedError: replace the stub "
        "(`# YOUR CODE HERE` / `raise NotImplementedError()`) with your code.",
        "The assignment notebook: every stub is to be replaced"),
    "forgot-zero-grad": Diagnosis(
        "Gradients are never reset",
        "PyTorch adds each backward() into `.grad`, so without a reset every step uses the sum of all "
        "earlier gradients and training oscillates or diverges; reset them every step.",
        "Training loops: zero_grad / forward / loss / backward / step"),
    "no-save-for-backward": Diagnosis(
        "Input not saved with ctx.save_for_backward",
        "Tensors backward needs must be saved in forward with `ctx.save_for_backward(...)` and read back "
        "with `ctx.saved_tensors`; plain ctx attributes escape autograd's in-place checks and leak memory.",
        "Custom autograd Functions: ctx.save_for_backward and ctx.saved_tensors"),
    "wrong-gradient-sign": Diagnosis(
        "Gradient with the wrong sign",
        "backward returns the negated derivative, so every gradient through it points the wrong way; "
        "by the chain rule backward returns grad_output * f'(input).",
        "Custom autograd Functions: backward and the chain rule"),
    "backward-missing-factor": Diagnosis(
        "A constant factor is missing from backward",
        "Every gradient is off by the same constant factor: a factor of the derivative was dropped; "
        "differentiate the forward formula term by term.",
        "Custom autograd Functions: backward is the derivative of forward"),
    "wrong-gradient-shape": Diagnosis(
        "Gradient of the wrong shape",
        "backward must return one gradient per input, each with that input's shape; autograd may hide "
        "a wrong shape by summing it away.",
        "Custom autograd Functions: one input-shaped gradient per input"),
    "wrong-update-sign": Diagnosis(
        "The update climbs the gradient",
        "Gradient descent subtracts: `p -= learning_rate * p.grad`; adding it makes the loss grow.",
        "Gradient descent by hand, inside torch.no_grad()"),
    "parameters-not-registered": Diagnosis(
        "Parameters are not registered",
        "Tensors assigned as plain attributes are not parameters: wrap them in `torch.nn.Parameter` so "
        "`model.parameters()`, the optimizer and `.to(device)` see them.",
        "nn.Module: nn.Parameter and model.parameters()"),
    "model-not-on-device": Diagnosis(
        "The model is not on the device",
        "The model's parameters stay on the CPU while the data is on the device; move it once with "
        "`model.to(device)`.",
        "Training on any device: model.to(device)"),
    "batch-not-on-device": Diagnosis(
        "The batch is not moved to the device",
        "Each batch from the DataLoader starts on the CPU; move the inputs with `.to(device)` inside the "
        "loop, before the forward pass.",
        "Training on any device: moving each batch"),
    "labels-not-on-device": Diagnosis(
        "The labels are not moved to the device",
        "The loss compares logits on the device with labels still on the CPU; move the labels with "
        "`.to(device)` too.",
        "Training on any device: moving each batch"),
    "hardcoded-cuda": Diagnosis(
        "A hard-coded 'cuda' device",
        "`'cuda:0'` fails on machines without that GPU; use the `device` you are given "
        "(or `get_device()`) everywhere.",
        "Training on any device: the classic 'cuda:0' and mps mistakes"),
    "tensor-created-without-device": Diagnosis(
        "A tensor created on the CPU",
        "A tensor created without `device=` lives on the CPU and cannot meet device tensors; pass "
        "`device=...` (or use `*_like`).",
        "Training on any device: factory functions take device="),
    "numpy-on-device-tensor": Diagnosis(
        "`.numpy()` on a device tensor",
        "Only CPU tensors convert to NumPy; call `.cpu()` (and `.detach()`) first, or use `.item()` "
        "for a single number.",
        "Training on any device: getting results back to the CPU"),
    "missing-no-grad": Diagnosis(
        "Evaluation builds a graph",
        "Evaluation should run inside `torch.no_grad()` (or inference mode): no graph, less memory, "
        "no accidental gradient updates.",
        "Evaluation: torch.no_grad()"),
    "missing-eval-mode": Diagnosis(
        "The model is not in eval mode",
        "Call `model.eval()` before evaluating so dropout and batch norm behave deterministically "
        "(and `model.train()` before training again).",
        "Evaluation: model.eval()"),
    "missing-train-mode": Diagnosis(
        "The model is not in training mode",
        "Call `model.train()` at the start of each epoch: a model left in eval mode trains without "
        "dropout and with frozen batch-norm statistics.",
        "Training loops: model.train()"),
    "zero-grad-after-backward": Diagnosis(
        "Gradients are reset before the step uses them",
        "`optimizer.zero_grad()` between `loss.backward()` and `optimizer.step()` empties the gradients "
        "the step needs, so nothing is learned; reset them before `backward()` (or after `step()`).",
        "Training loops: zero_grad / forward / loss / backward / step"),
    "sum-not-mean": Diagnosis(
        "The epoch's loss is a sum, not a mean",
        "Adding up the batch losses gives a number that grows with the number of batches; divide by "
        "`len(loader)` to get the mean loss per batch.",
        "Training loops: reporting the mean loss of an epoch"),
    "returns-tensor": Diagnosis(
        "A tensor returned where a Python float is expected",
        "Adding up `loss` tensors keeps every batch's computation graph alive and returns a tensor; "
        "add up `loss.item()`, a Python float, instead.",
        "Training loops: loss.item()"),
    "softmax-output": Diagnosis(
        "The model ends with a softmax",
        "`nn.CrossEntropyLoss` applies log-softmax itself and expects raw scores (logits); a softmax "
        "before it squashes the gradients and training stalls. Remove the final softmax.",
        "Classifiers: logits and nn.CrossEntropyLoss"),
    "get-device-ignores-availability": Diagnosis(
        "get_device() does not ask what is available",
        "Return `torch.device('cuda')` only when `torch.cuda.is_available()` is True, else "
        "`torch.device('cpu')`: a fixed answer is wrong on every other machine.",
        "Training on any device: choosing the device"),
    "image-not-normalized": Diagnosis(
        "Pixels are not scaled to [0, 1]",
        "MNIST pixels are 0..255; divide by 255 and return float32 so the image is in [0, 1].",
        "Dataset and DataLoader: __getitem__ returns model-ready tensors"),
    "not-one-hot": Diagnosis(
        "The target is not one-hot",
        "The target must be a float32 tensor of shape (10,) with a single 1 at the label's index.",
        "Dataset and DataLoader: one-hot targets"),
    "one-hot-not-float": Diagnosis(
        "The one-hot target is not float32",
        "`torch.nn.functional.one_hot` returns int64; a one-hot target is compared with float outputs, "
        "so convert it with `.float()` (or build it from `torch.zeros(10)`).",
        "Dataset and DataLoader: one-hot targets"),
    "image-not-float32": Diagnosis(
        "The image is not float32",
        "NumPy computes in float64 and `torch.from_numpy` keeps that dtype, while a model's weights are "
        "float32; convert with `.float()` or `torch.tensor(..., dtype=torch.float32)`.",
        "Dataset and DataLoader: __getitem__ returns model-ready tensors"),
    "label-not-int": Diagnosis(
        "The label is not a Python int",
        "Indexing a NumPy array gives a NumPy scalar (and a tensor a 0-d tensor), not an int; convert the "
        "label with `int(...)`.",
        "Dataset and DataLoader: __getitem__ returns model-ready items"),
    "first-row-skipped": Diagnosis(
        "The first line is skipped as a header",
        "The MNIST CSV has no header line: skipping its first line (`skiprows=1`, `next(reader)`, "
        "`pandas.read_csv` without `header=None`) loses a digit and shifts every item by one.",
        "Dataset and DataLoader: reading the CSV"),
    "reads-file-every-item": Diagnosis(
        "The file is read again for every item",
        "`__getitem__` runs once per item, every epoch: parse the CSV once in `__init__`, keep it in "
        "memory and only index into it in `__getitem__`.",
        "Dataset and DataLoader: load once, index many times"),
    "loader-ignores-batch-size": Diagnosis(
        "make_loader ignores batch_size",
        "Pass `batch_size=batch_size` on to `DataLoader`, whose default batch size is 1.",
        "Dataset and DataLoader: batches"),
    "loader-ignores-shuffle": Diagnosis(
        "make_loader ignores shuffle",
        "Pass `shuffle=shuffle` on to `DataLoader`: a new random order every epoch for training, the "
        "dataset's order for evaluation.",
        "Dataset and DataLoader: shuffling"),
    # a6_tensorflow
    "missing-bias": Diagnosis(
        "The bias is left out",
        "An affine model is `inputs @ W + b`; without `+ b` every prediction line passes through the "
        "origin, and `tape.gradient` returns None for the unused `b`.",
        "TensorFlow: a linear classifier, prediction = inputs @ W + b"),
    "square-loss-not-mean": Diagnosis(
        "The loss is summed, not averaged",
        "`tf.reduce_sum` makes the loss and its gradients N times larger than the mean squared error, "
        "so a learning rate that suits the mean makes training diverge; use `tf.reduce_mean`.",
        "TensorFlow: the mean squared error with tf.square and tf.reduce_mean"),
    "no-in-place-update": Diagnosis(
        "The variables are never updated",
        "`W = W - learning_rate * grad` only gives the function's local name a new tensor; the caller's "
        "`tf.Variable` changes only through `W.assign_sub(learning_rate * grad)` (or `assign`).",
        "TensorFlow: tf.Variable and assign_sub"),
    "activation-not-applied": Diagnosis(
        "The activation is not applied",
        "A dense layer computes `activation(inputs @ W + b)`; without the activation every layer is "
        "linear, and a stack of linear layers is one linear map.",
        "TensorFlow: NaiveDense, a dense layer from scratch"),
    "sequential-weights-nested": Diagnosis(
        "The weights are a list of lists",
        "`weights` is one flat list `[W1, b1, W2, b2, ...]`, as `tape.gradient` and an optimizer expect; "
        "extend the list with each layer's weights instead of appending the layer's list.",
        "TensorFlow: NaiveSequential and its weights"),
}


def explain(name: str | None, assignment=None) -> dict | None:
    """The explanation of a diagnosis: title, sentence, lecture idea, and the assignment's own
    explanation of that mistake (its mistake file's leading comment) where it has one."""
    if not name:
        return None
    known = KNOWN_DIAGNOSES.get(name)
    mistake = ""
    for candidate in getattr(assignment, "mistakes", None) or []:
        if candidate.name == name:
            mistake = candidate.explanation
    return {"name": name,
            "title": known.title if known else name.replace("-", " ").replace("_", " ").capitalize(),
            "explanation": known.explanation if known else "",
            "lecture": known.lecture if known else "",
            "mistake": mistake}


# ---------------------------------------------------------------------------------------------
# Plots (matplotlib's Agg canvas through Figure: no pyplot, no global state, thread-safe)
# ---------------------------------------------------------------------------------------------

BLUE, RED, GREEN, GREY = "#1a73e8", "#d93025", "#188038", "#80868b"


def _png_data_uri(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight", facecolor="white")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _numbers(values: Any) -> list[float] | None:
    if not isinstance(values, (list, tuple)) or not values:
        return None
    out = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            if value is None:
                out.append(math.nan)
                continue
            return None
        out.append(float(value))
    return out


def _first_non_finite(values: list[float]) -> int | None:
    return next((i for i, v in enumerate(values) if not math.isfinite(v)), None)


def curve_summary(details: dict) -> dict | None:
    """The numbers behind a training check's plot: final loss, threshold, where it diverged."""
    curve = _numbers(details.get("curve"))
    if curve is None:
        return None
    reference = _numbers(details.get("reference_curve"))
    threshold = details.get("threshold")
    diverged = _first_non_finite(curve)
    return {"steps": len(curve), "final": _fmt(curve[-1]),
            "best": _fmt(min((v for v in curve if math.isfinite(v)), default=math.nan)),
            "threshold": _fmt(threshold) if isinstance(threshold, (int, float)) else None,
            "reference_final": _fmt(reference[-1]) if reference else None,
            "diverged_at": diverged}


def loss_curve_plot(details: dict) -> str | None:
    """A training check's curve against the reference (and its band, when given) and the threshold."""
    curve = _numbers(details.get("curve"))
    if curve is None:
        return None
    from matplotlib.figure import Figure

    reference = _numbers(details.get("reference_curve"))
    band = details.get("reference_band") or {}
    low, high = _numbers(band.get("low")) if isinstance(band, dict) else None, \
        _numbers(band.get("high")) if isinstance(band, dict) else None
    threshold = details.get("threshold")
    threshold = float(threshold) if isinstance(threshold, (int, float)) and math.isfinite(threshold) else None

    figure = Figure(figsize=(7.6, 3.3))
    ax = figure.subplots()
    finite = [v for series in (curve, reference or [], low or [], high or []) for v in series if math.isfinite(v)]
    if threshold is not None:
        finite.append(threshold)
    positive = bool(finite) and min(finite) > 0
    if positive and max(finite) / min(finite) > 30:
        ax.set_yscale("log")
    if low and high and len(low) == len(high):
        ax.fill_between(range(len(low)), low, high, color=GREY, alpha=0.22, linewidth=0, label="reference band")
    if reference:
        ax.plot(range(len(reference)), reference, color=GREY, linewidth=1.6, linestyle="--", label="reference")
    if threshold is not None:
        bottom = min(finite) if positive else min(0.0, min(finite))
        ax.axhspan(bottom * (0.8 if positive else 1), threshold, color=GREEN, alpha=0.07, linewidth=0)
        ax.axhline(threshold, color=RED, linewidth=1.3, linestyle=":", label=f"threshold {_fmt(threshold)}")
    diverged = _first_non_finite(curve)
    shown = curve[:diverged] if diverged is not None else curve
    ax.plot(range(len(shown)), shown, color=BLUE, linewidth=2.0, label="your run", zorder=3)
    # A run that blows up would squash everything else against the axis: cap the y range at a
    # margin above the reference, the threshold and the start, and say where the run leaves it.
    frame = [v for series in (reference or [], high or []) for v in series if math.isfinite(v)]
    frame += [v for v in (threshold, shown[0] if shown else None) if v is not None and math.isfinite(v)]
    log = ax.get_yscale() == "log"
    top = (max(frame) * (30 if log else 1.6)) if frame and max(frame) > 0 else None
    finite_shown = [v for v in shown if math.isfinite(v)]
    if top is not None and finite_shown and max(finite_shown) > top:
        exit_step = next(i for i, v in enumerate(shown) if v > top)
        if log:
            ax.set_ylim(min(v for v in finite if v > 0) * 0.7, top)
        else:
            ax.set_ylim(min(0.0, min(finite)), top)
        ax.annotate(f"off the chart from step {exit_step} (up to {max(finite_shown):.3g})",
                    xy=(exit_step, top), xytext=(14, -14), textcoords="offset points", color=RED,
                    fontsize=9, fontweight="bold", arrowprops={"arrowstyle": "->", "color": RED})
    elif diverged is not None and shown:
        ax.plot([len(shown) - 1], [shown[-1]], marker="X", color=RED, markersize=9, linestyle="none", zorder=4)
    if diverged is not None:
        ax.axvline(diverged, color=RED, linewidth=1.0, alpha=0.6)
        ax.text(diverged, 0.04, f"  NaN/inf from step {diverged}", transform=ax.get_xaxis_transform(),
                color=RED, fontsize=9, fontweight="bold", ha="left", va="bottom")
        ax.set_xlim(-0.02 * len(curve), len(curve) * 1.02)
    ax.set_xlabel(str(details.get("xlabel") or "step"))
    ax.set_ylabel(str(details.get("ylabel") or "loss"))
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(True, which="major", color="#e8eaed", linewidth=0.8)
    ax.legend(frameon=False, fontsize=9, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=4)
    return _png_data_uri(figure)


def histogram_plot(scores: list[float], max_score: float) -> str | None:
    if not scores:
        return None
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 2.9))
    ax = figure.subplots()
    top = max(max_score, max(scores))
    if top <= 40 and all(float(s).is_integer() for s in scores):
        bins = [i - 0.5 for i in range(int(top) + 2)]
    else:
        bins = [top * i / 20 for i in range(21)]
    ax.hist(scores, bins=bins, color=BLUE, edgecolor="white", linewidth=1.2)
    mean = statistics.fmean(scores)
    ax.axvline(mean, color=RED, linestyle="--", linewidth=1.6, label=f"mean {mean:.3g}", zorder=3)
    ax.set_xlabel(f"score (of {max_score:g})")
    ax.set_ylabel("submissions")
    ax.yaxis.get_major_locator().set_params(integer=True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(True, axis="y", color="#e8eaed", linewidth=0.8)
    ax.legend(frameon=False, fontsize=9, loc="upper left")
    return _png_data_uri(figure)


# ---------------------------------------------------------------------------------------------
# The view of one result: the only thing the templates see
# ---------------------------------------------------------------------------------------------

STATUS_LABEL = {"passed": "passed", "failed": "failed", "error": "error", "timeout": "timeout"}
CELL_REFERENCE = re.compile(r"cell (\d+), line (\d+)")


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, (int, float)):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(_fmt(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    return str(value)


def _points(value: float) -> str:
    return f"{round(value, 4):g}"


def notebook_sources(path: str | Path | None) -> dict[int, str]:
    """The cells' sources of a notebook, by index among all its cells; {} when it cannot be read."""
    if not path:
        return {}
    try:
        if Path(path).stat().st_size > 50_000_000:
            return {}
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        cells = data["cells"]
        out = {}
        for index, cell in enumerate(cells):
            source = cell.get("source", "")
            out[index] = "".join(source) if isinstance(source, list) else str(source)
        return out
    except Exception:
        return {}


def _cell_view(index: int, line: int | None, sources: dict[int, str], context: int = 6) -> dict:
    source = sources.get(index)
    view = {"index": index, "line": line, "lines": []}
    if source is None:
        return view
    lines = source.splitlines() or [""]
    if line is None or len(lines) <= 2 * context + 8:
        first, last = 1, len(lines)
    else:
        first, last = max(1, line - context), min(len(lines), line + context)
    view["lines"] = [{"number": n, "text": lines[n - 1], "failing": n == line} for n in range(first, last + 1)]
    view["cut_before"], view["cut_after"] = first > 1, last < len(lines)
    return view


def _comparisons(details: dict) -> list[dict]:
    rows = []
    if "got" in details and "expected" in details:
        rows.append({"what": "value", "expected": _fmt(details["expected"]), "got": _fmt(details["got"])})
    for key in details:
        if key.startswith("got_") and f"expected_{key[4:]}" in details:
            rows.append({"what": key[4:].replace("_", " "), "expected": _fmt(details[f"expected_{key[4:]}"]),
                         "got": _fmt(details[key])})
    return rows


def _mismatches(details: dict) -> list[dict]:
    rows = []
    for entry in details.get("mismatches") or []:
        if not isinstance(entry, dict):
            continue
        got, expected = entry.get("got"), entry.get("expected")
        ratio = ""
        if isinstance(got, (int, float)) and isinstance(expected, (int, float)) and abs(expected) > 1e-12 \
                and math.isfinite(got):
            ratio = f"{got / expected:.3g}"
        rows.append({"index": str(entry.get("index", "")), "got": _fmt(got), "expected": _fmt(expected),
                     "ratio": ratio})
    return rows


def _split_message(message: str) -> tuple[str, str, str]:
    """(first line, further lines, traceback) of a check's message."""
    text = (message or "").strip("\n")
    lines = text.splitlines()
    if not lines:
        return "", "", ""
    rest = "\n".join(lines[1:])
    at = rest.find("Traceback (most recent call last")
    if at >= 0:
        return lines[0], rest[:at].strip("\n"), rest[at:].strip("\n")
    return lines[0], rest, ""


def _check_view(check: CheckResult, assignment, ta: bool, sources: dict[int, str], plots: bool = True) -> dict:
    hidden = check.visibility == "hidden"
    view = {"id": check.id, "question": check.question, "hidden": hidden,
            "points": _points(check.points), "max_points": _points(check.max_points),
            "points_value": check.points, "max_value": check.max_points}
    if hidden and not ta:
        # Hidden checks: their id, points and passed/failed; never their message, details,
        # diagnosis, description, inputs or expected values.
        status = "passed" if check.status == "passed" else "failed"
        return {**view, "status": status, "label": status, "redacted": True}
    summary, more, traceback = _split_message(check.message)
    spec = _spec(assignment, check.id)
    details = check.details or {}
    cell = None
    references = CELL_REFERENCE.findall(traceback or check.message or "") if check.status == "error" else []
    if references:
        index, line = references[-1]
        cell = _cell_view(int(index), int(line), sources)
    plot = loss_curve_plot(details) if plots else None
    return {**view, "status": check.status, "label": STATUS_LABEL.get(check.status, check.status),
            "redacted": False,
            "description": spec.description if spec is not None else "",
            "summary": summary, "more": more, "traceback": traceback,
            "comparisons": _comparisons(details),
            "mismatches": _mismatches(details), "mismatched": details.get("mismatched"),
            "total": details.get("total"),
            "plot": plot, "curve": curve_summary(details),
            "diagnosis": explain(check.diagnosis, assignment) if check.status != "passed" else None,
            "cell": cell}


def _spec(assignment, check_id: str):
    for spec in getattr(assignment, "checks", None) or []:
        if spec.id == check_id:
            return spec
    return None


def report_view(result: SubmissionResult, assignment=None, *, ta: bool = False, student: str | None = None,
                sources: dict[int, str] | None = None, plots: bool = True) -> dict:
    """Everything a report shows of one result. With `ta=False` (the student's report) hidden checks
    are reduced to id, points and passed/failed, and integrity and isolation are left out."""
    if sources is None:
        sources = notebook_sources(result.submission)
    checks = [_check_view(c, assignment, ta, sources, plots) for c in result.checks]
    order = [q.id for q in getattr(assignment, "questions", None) or []]
    for check in result.checks:
        if check.question not in order:
            order.append(check.question)
    titles = {q.id: q.title for q in getattr(assignment, "questions", None) or []}
    questions = []
    for qid in order:
        in_question = [c for c in checks if c["question"] == qid]
        if not in_question:
            continue
        score = sum(c["points_value"] for c in in_question)
        top = sum(c["max_value"] for c in in_question)
        questions.append({"id": qid, "title": titles.get(qid, ""), "checks": in_question,
                          "score": _points(score), "max": _points(top),
                          "state": "full" if score >= top - 1e-9 else ("none" if score <= 1e-9 else "part")})
    diagnoses: dict[str, dict] = {}
    for check in checks:
        if check.get("diagnosis"):
            entry = diagnoses.setdefault(check["diagnosis"]["name"], {**check["diagnosis"], "checks": []})
            entry["checks"].append(check["id"])
    cell_errors = []
    for cell in result.cells:
        if cell.status in ("error", "timeout"):
            references = CELL_REFERENCE.findall(cell.error or "")
            line = int(references[-1][1]) if references and int(references[-1][0]) == cell.index else None
            cell_errors.append({**_cell_view(cell.index, line, sources), "status": cell.status,
                                "error": (cell.error or "").strip("\n"),
                                "output": _tail(cell.output or "", 1500)})
    max_score = result.max_score or sum(c.max_points for c in result.checks)
    percent = 100.0 * result.score / max_score if max_score else 0.0
    view = {
        "ta": ta,
        "student": student or result.student or Path(result.submission).stem,
        "submission": result.submission,
        "assignment_id": result.assignment,
        "assignment_title": getattr(assignment, "title", "") or result.assignment,
        "version": result.version,
        "status": result.status,
        "error": result.error if result.status != "graded" else None,
        "score": _points(result.score), "max_score": _points(max_score),
        "percent": round(percent), "grade_class": "full" if percent >= 99.99 else ("good" if percent >= 60 else "low"),
        "questions": questions,
        "diagnoses": list(diagnoses.values()),
        "cell_errors": cell_errors,
        "passed": sum(1 for c in checks if c["status"] == "passed"),
        "check_count": len(checks),
        "hidden_count": sum(1 for c in checks if c["hidden"]),
    }
    if ta:
        view["integrity"] = list(result.integrity)
        view["isolation_missing"] = [{"layer": name, "detail": layer.get("detail", "")}
                                     for name, layer in result.isolation.items() if not layer.get("active")]
        view["timing"] = {k: f"{v:.2f}" for k, v in result.timing.items() if isinstance(v, (int, float))}
    return view


def _tail(text: str, limit: int) -> str:
    return text if len(text) <= limit else "…" + text[-limit:]


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------

def _fence(text: str, lang: str = "") -> str:
    """A Markdown fenced block that no backtick run inside `text` can close."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{text}\n{fence}"


def _inline_code(text: Any) -> Markup:
    """HTML: the text escaped, with its `backtick spans` as <code>."""
    escaped = str(escape(str(text)))
    return Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped))


def _md(text: Any) -> str:
    """Inline Markdown text: HTML and Markdown syntax in it shown as text."""
    parts = re.split(r"(`[^`\n]+`)", str(text))
    out = []
    for i, part in enumerate(parts):
        if i % 2:  # a `code span`: kept as code (Markdown shows its content literally)
            out.append(part.replace("|", "\\|"))
        else:
            part = html.escape(part, quote=False)
            out.append(re.sub(r"([\\`*_\[\]|#])", r"\\\1", part))
    return "".join(out).replace("\n", " ")


_environment: Environment | None = None


def environment() -> Environment:
    global _environment
    if _environment is None:
        env = Environment(loader=FileSystemLoader(str(TEMPLATES)),
                          autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True,
                                                       default=False),
                          undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                          keep_trailing_newline=True)
        env.filters["fence"] = _fence
        env.filters["md"] = _md
        env.filters["code"] = _inline_code
        env.filters["urlpath"] = lambda p: quote(str(p))
        _environment = env
    return _environment


def render_html(result: SubmissionResult, assignment=None, *, ta: bool = False, student: str | None = None,
                sources: dict[int, str] | None = None) -> str:
    view = report_view(result, assignment, ta=ta, student=student, sources=sources)
    return environment().get_template("report.html").render(r=view)


def render_markdown(result: SubmissionResult, assignment=None, *, ta: bool = False, student: str | None = None,
                    sources: dict[int, str] | None = None) -> str:
    view = report_view(result, assignment, ta=ta, student=student, sources=sources)
    return environment().get_template("report.md").render(r=view)


def write_student_report(result: SubmissionResult, assignment=None, out_dir: str | Path = ".", *,
                         name: str | None = None, markdown: bool = False, student: str | None = None) -> Path:
    """The student's HTML report in `out_dir` (`<notebook>.report.html`; with `markdown`, the .md
    beside it); returns the HTML's path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = safe_name(name or Path(result.submission).stem or "submission")
    path = out / f"{stem}.report.html"
    sources = notebook_sources(result.submission)
    path.write_text(render_html(result, assignment, student=student, sources=sources), encoding="utf-8")
    if markdown:
        (out / f"{stem}.report.md").write_text(render_markdown(result, assignment, student=student, sources=sources),
                                               encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------
# The terminal (the student-side `tensorgrade check`)
# ---------------------------------------------------------------------------------------------

TERMINAL_STYLE = {"passed": "bold green", "failed": "bold red", "error": "bold red", "timeout": "bold yellow"}
TERMINAL_MARK = {"passed": "✓", "failed": "✗", "error": "✗", "timeout": "⏱"}


def _terminal_text(text: str, style: str = ""):
    """Rich Text with `backtick spans` shown as code (cyan, without the backticks)."""
    from rich.text import Text

    out = Text(style=style)
    for i, part in enumerate(re.split(r"`([^`\n]+)`", text)):
        out.append(part, style="cyan" if i % 2 else "")
    return out


def print_terminal_report(console, result: SubmissionResult, assignment=None, *, ta: bool = False,
                          student: str | None = None) -> None:
    """A rich report: per question, per check, with colours, the diagnosis explained, expected
    versus got and the failing cell with its trimmed traceback. Hidden checks, where the result has
    any, show only passed/failed and points (unless `ta`)."""
    from rich.console import Group
    from rich.markup import escape
    from rich.padding import Padding
    from rich.syntax import Syntax
    from rich.table import Table
    from rich.text import Text

    view = report_view(result, assignment, ta=ta, student=student, plots=False)
    say = lambda text: console.print(text, soft_wrap=True, highlight=False)  # noqa: E731
    say(f"[bold]{escape(view['assignment_title'])}[/bold]  [dim]{escape(view['assignment_id'])} "
        f"v{escape(view['version'])}  ·  {escape(view['submission'])}[/dim]")
    if view["status"] != "graded":
        say(f"  [bold red]{view['status'].upper()}[/bold red]: {escape(str(view['error']))}")
        return
    width = max((len(c["id"]) for q in view["questions"] for c in q["checks"]), default=0)
    for question in view["questions"]:
        colour = {"full": "green", "part": "yellow", "none": "red"}[question["state"]]
        say("")
        say(f"[bold]{escape(question['id'])}[/bold] {escape(question['title'])}  "
            f"[{colour}]{question['score']} / {question['max']}[/{colour}]")
        for check in question["checks"]:
            style = TERMINAL_STYLE.get(check["status"], "bold")
            line = Text("  ")
            line.append(f"{TERMINAL_MARK.get(check['status'], '?')} {check['label']:<7}", style=style)
            line.append(f" {check['id']:<{width}}", style="bold")
            line.append(f"  {check['points'] + '/' + check['max_points']:>5}", style="dim")
            if check["hidden"]:
                line.append("  hidden", style="dim italic")
            if not check["redacted"] and check["summary"]:
                line.append("  " + check["summary"], style="" if check["status"] != "passed" else "dim")
            console.print(line, soft_wrap=True, highlight=False)
            if check["redacted"] or check["status"] == "passed":
                continue
            body = []
            if check["more"]:
                body.append(Text(check["more"], style="dim"))
            for row in check["comparisons"]:
                body.append(Text.assemble(("expected ", "dim"), (row["expected"], "green"), ("  yours ", "dim"),
                                          (row["got"], "red"), (f"  ({row['what']})", "dim")))
            if check["mismatches"]:
                table = Table(box=None, padding=(0, 2, 0, 0), show_edge=False, header_style="dim")
                for column in ("index", "yours", "expected", "ratio"):
                    table.add_column(column, justify="right" if column != "index" else "left")
                for row in check["mismatches"][:6]:
                    table.add_row(row["index"], Text(row["got"], style="red"), Text(row["expected"], style="green"),
                                  row["ratio"])
                body.append(table)
            if check["curve"]:
                c = check["curve"]
                text = f"loss curve: {c['steps']} steps, final {c['final']}"
                if c["threshold"]:
                    text += f", threshold {c['threshold']}"
                if c["reference_final"]:
                    text += f", reference final {c['reference_final']}"
                if c["diverged_at"] is not None:
                    text += f"; NaN/inf from step {c['diverged_at']}"
                body.append(Text(text, style="dim"))
            diagnosis = check["diagnosis"]
            if diagnosis:
                parts = [Text.assemble(("⚑ ", "bold magenta"), (diagnosis["title"], "bold magenta"),
                                       (f" ({diagnosis['name']})", "magenta"))]
                if diagnosis["explanation"]:
                    parts.append(Padding(_terminal_text(diagnosis["explanation"]), (0, 0, 0, 2), expand=False))
                if diagnosis["mistake"]:
                    parts.append(Padding(Text.assemble(("In this assignment: ", "dim"), _terminal_text(diagnosis["mistake"])),
                                         (0, 0, 0, 2), expand=False))
                if diagnosis["lecture"]:
                    parts.append(Padding(Text.assemble(("Lecture: ", "dim"), (diagnosis["lecture"], "italic")),
                                         (0, 0, 0, 2), expand=False))
                body.append(Group(*parts))
            cell = check["cell"]
            if cell and cell["lines"]:
                numbers = [row["number"] for row in cell["lines"]]
                code = "\n".join(row["text"] for row in cell["lines"])
                body.append(Text(f"cell {cell['index']}, line {cell['line']}:", style="bold"))
                body.append(Syntax(code, "python", line_numbers=True, start_line=numbers[0],
                                   highlight_lines={cell["line"]} if cell["line"] else set(),
                                   theme="ansi_dark", background_color="default", word_wrap=True))
            if check["traceback"]:
                body.append(Text(check["traceback"], style="yellow"))
            for item in body:
                console.print(Padding(item, (0, 0, 0, 14), expand=False), highlight=False)
    for cell in view["cell_errors"]:
        say("")
        say(f"[bold yellow]cell {cell['index']}: {cell['status']}[/bold yellow] while your notebook ran")
        console.print(Padding(Text(cell["error"] or cell["status"], style="yellow"), (0, 0, 0, 4), expand=False),
                      highlight=False)
    if ta:
        for finding in view["integrity"]:
            say(f"  [bold red]integrity:[/bold red] {escape(finding)}")
    colour = {"full": "green", "good": "yellow", "low": "red"}[view["grade_class"]]
    say("")
    say(f"[bold {colour}]total: {view['score']} / {view['max_score']}[/bold {colour}]  "
        f"[dim]({view['passed']} of {view['check_count']} checks passed)[/dim]")


# ---------------------------------------------------------------------------------------------
# The class dashboard and `tensorgrade report`
# ---------------------------------------------------------------------------------------------

def safe_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", str(name)).strip("._") or "student"
    return cleaned[:120]


def dashboard_view(entries: list[tuple[str, SubmissionResult]], assignment=None,
                   links: dict[str, dict[str, str]] | None = None) -> dict:
    links = links or {}
    results = [r for _, r in entries]
    graded = [(s, r) for s, r in entries if r.status == "graded"]
    scores = [r.score for _, r in graded]
    max_score = max([r.max_score for r in results if r.max_score] or [getattr(assignment, "max_score", 0.0) or 0.0])
    # Checks, in the assignment's order, then any the assignment does not list.
    order = [spec.id for spec in getattr(assignment, "checks", None) or []]
    info: dict[str, CheckResult] = {}
    for result in results:
        for check in result.checks:
            info.setdefault(check.id, check)
            if check.id not in order:
                order.append(check.id)
    per_check = []
    diagnosis_students: dict[str, set] = defaultdict(set)
    diagnosis_checks: dict[str, Counter] = defaultdict(Counter)
    for check_id in order:
        outcomes = [c for _, r in graded for c in r.checks if c.id == check_id]
        if not outcomes:
            continue
        passed = sum(1 for c in outcomes if c.status == "passed")
        statuses = Counter(c.status for c in outcomes)
        diagnoses = Counter(c.diagnosis for c in outcomes if c.status != "passed" and c.diagnosis)
        spec = _spec(assignment, check_id)
        reference = info[check_id]
        rate = 100.0 * passed / len(outcomes)
        per_check.append({"id": check_id, "visibility": reference.visibility,
                          "points": _points(reference.max_points), "passed": passed, "count": len(outcomes),
                          "rate": round(rate), "rate_class": "full" if rate >= 90 else ("good" if rate >= 60 else "low"),
                          "errors": statuses.get("error", 0), "timeouts": statuses.get("timeout", 0),
                          "mean_points": _points(statistics.fmean(c.points for c in outcomes)),
                          "description": spec.description if spec is not None else "",
                          "top_diagnoses": [{"name": n, "count": k} for n, k in diagnoses.most_common(3)]})
    for student, result in graded:
        for check in result.checks:
            if check.status != "passed" and check.diagnosis:
                diagnosis_students[check.diagnosis].add(student)
                diagnosis_checks[check.diagnosis][check.id] += 1
    common = []
    for name, counter in sorted(diagnosis_checks.items(), key=lambda kv: (-sum(kv[1].values()), kv[0])):
        common.append({**explain(name, assignment), "count": sum(counter.values()),
                       "students": len(diagnosis_students[name]),
                       "checks": [{"id": c, "count": k} for c, k in counter.most_common()]})
    integrity = [{"student": s, "findings": list(r.integrity), "link": links.get(s, {}).get("ta")}
                 for s, r in entries if r.integrity]
    problems = [{"student": s, "status": r.status, "reason": r.error or "", "link": links.get(s, {}).get("ta")}
                for s, r in entries if r.status != "graded"]
    for student, result in graded:
        stuck = [c for c in result.cells if c.status == "timeout"]
        if stuck:
            problems.append({"student": student, "status": "cell timeout",
                             "reason": "; ".join(f"cell {c.index}: {_first_line(c.error) or 'time limit reached'}"
                                                 for c in stuck),
                             "link": links.get(student, {}).get("ta")})
    slowest = sorted(entries, key=lambda e: -float(e[1].timing.get("total", 0.0) or 0.0))[:10]
    slow_rows = [{"student": s, "total": f"{r.timing.get('total', 0.0):.2f}",
                  "execution": f"{r.timing.get('execution', 0.0):.2f}", "cells": f"{r.timing.get('cells', 0.0):.2f}",
                  "checks": f"{r.timing.get('checks', 0.0):.2f}", "status": r.status,
                  "link": links.get(s, {}).get("ta")} for s, r in slowest]
    missing_layers = Counter(name for r in results for name, layer in r.isolation.items() if not layer.get("active"))
    students = []
    for student, result in entries:
        diagnoses = sorted({c.diagnosis for c in result.checks if c.status != "passed" and c.diagnosis})
        percent = 100.0 * result.score / result.max_score if result.max_score else 0.0
        students.append({"student": student, "status": result.status, "score": _points(result.score),
                         "max": _points(result.max_score), "percent": round(percent),
                         "grade_class": "full" if percent >= 99.99 else ("good" if percent >= 60 else "low"),
                         "diagnoses": diagnoses, "integrity": len(result.integrity),
                         "links": {"html": None, "md": None, "ta": None, **links.get(student, {})}})
    return {
        "assignment_id": getattr(assignment, "id", None) or (results[0].assignment if results else ""),
        "assignment_title": getattr(assignment, "title", "") or (results[0].assignment if results else ""),
        "version": getattr(assignment, "version", None) or (results[0].version if results else ""),
        "count": len(entries), "graded": len(graded), "max_score": _points(max_score),
        "mean": f"{statistics.fmean(scores):.2f}".rstrip("0").rstrip(".") if scores else "–",
        "median": _points(statistics.median(scores)) if scores else "–",
        "full_marks": sum(1 for s in scores if s >= max_score - 1e-9) if scores else 0,
        "histogram": histogram_plot(scores, max_score),
        "checks": per_check, "diagnoses": common, "integrity": integrity, "problems": problems,
        "slowest": slow_rows, "missing_layers": [{"layer": n, "count": k} for n, k in missing_layers.most_common()],
        "students": students,
    }


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[-1] if (text or "").strip() else ""


def render_dashboard(entries: list[tuple[str, SubmissionResult]], assignment=None,
                     links: dict[str, dict[str, str]] | None = None) -> str:
    return environment().get_template("dashboard.html").render(d=dashboard_view(entries, assignment, links))


def _unique_names(students: Iterable[str]) -> dict[str, str]:
    names: dict[str, str] = {}
    used: set[str] = set()
    for student in students:
        base = safe_name(student)
        name, n = base, 2
        while name.lower() in used:
            name, n = f"{base}-{n}", n + 1
        used.add(name.lower())
        names[student] = name
    return names


def write_reports(entries: list[tuple[str, SubmissionResult]], assignment, out_dir: str | Path) -> dict:
    """Every student's report (HTML and Markdown under students/, the TA view under ta/) and the
    class dashboard (dashboard.html); returns the paths written."""
    out = Path(out_dir)
    (out / "students").mkdir(parents=True, exist_ok=True)
    (out / "ta").mkdir(parents=True, exist_ok=True)
    names = _unique_names(student for student, _ in entries)
    links: dict[str, dict[str, str]] = {}
    written: dict[str, Any] = {"students": {}, "ta": {}, "markdown": {}}
    for student, result in entries:
        name = names[student]
        sources = notebook_sources(result.submission)
        html_path, md_path, ta_path = (out / "students" / f"{name}.html", out / "students" / f"{name}.md",
                                       out / "ta" / f"{name}.html")
        html_path.write_text(render_html(result, assignment, student=student, sources=sources), encoding="utf-8")
        md_path.write_text(render_markdown(result, assignment, student=student, sources=sources), encoding="utf-8")
        ta_path.write_text(render_html(result, assignment, ta=True, student=student, sources=sources),
                           encoding="utf-8")
        written["students"][student], written["markdown"][student], written["ta"][student] = html_path, md_path, ta_path
        links[student] = {"html": f"students/{name}.html", "md": f"students/{name}.md", "ta": f"ta/{name}.html"}
    dashboard = out / "dashboard.html"
    dashboard.write_text(render_dashboard(entries, assignment, links), encoding="utf-8")
    written["dashboard"] = dashboard
    return written


def load_entries(source: str | Path, assignment_id: str | None = None) -> list[tuple[str, SubmissionResult]]:
    """(student, result) pairs from a gradebook database, or from a `grade --json` file."""
    source = Path(source)
    if not source.exists():
        raise FileNotFoundError(f"{source}: not found")
    if source.suffix == ".json":
        data = json.loads(source.read_text())
        if isinstance(data, dict):
            data = [data]
        results = [SubmissionResult.from_json(item) for item in data]
        if assignment_id:
            results = [r for r in results if r.assignment == assignment_id]
        names = [r.student or Path(r.submission).stem for r in results]
        return list(zip(names, results))
    from tensorgrade.classroom.gradebook import Gradebook  # the batch engineer's gradebook (sqlite)

    if not assignment_id:
        raise ValueError("--assignment is needed to read a gradebook")
    return list(Gradebook(source).results(assignment_id))
