"""Public checks for a4_training: inputs drawn by the grader, judged outside the sandbox.

Rows come from the MNIST file students are given (`make data` writes it from
tensorgrade.course.datasets.student_rows(); never from the held-out rows).  The device checks judge what
the simulated accelerator recorded while the student's code ran on it (`gpu:0`): each device
mistake gets its own name and only the device checks' points.  The device checks are public, so
that a student sees what went wrong on a GPU they may not have.
"""

import re
from pathlib import Path

import numpy as np

from tensorgrade.checking.checks import Check
from tensorgrade.course.datasets import read_csv
from tensorgrade.checking.outside.judging import compare, failed, not_numbers, numbers_in, passed

SHIPPED_CSV = Path(__file__).resolve().parent / "data" / "mnist_train.csv"
LEARNING_RATE = 0.1


def shipped_rows():
    return read_csv(SHIPPED_CSV, min_rows=600)


def mnist_batches(rng, count, batch_size, **extra):
    """`count` rows drawn from the students' file, and the loader settings of a probe."""
    labels, pixels = shipped_rows()
    chosen = rng.choice(len(labels), size=count, replace=False)
    return {"labels": labels[chosen], "pixels": pixels[chosen], "batch_size": batch_size,
            "seed": int(rng.integers(0, 2**31 - 1)), **extra}


# ---------------------------------------------------------------------------------------------
# Q1: get_device
# ---------------------------------------------------------------------------------------------

def judge_device_returned(case):
    s = case.student
    if not s["is_device"]:
        shown = f" {s['text']!r}" if s["text"] is not None else ""
        return failed(f"get_device() should return a torch.device, but it returned a {s['kind']['type']}{shown}; "
                      "wrap the name: torch.device('cuda') or torch.device('cpu')")
    return passed(f"get_device() returns torch.device({s['text']!r}) on this machine")


def judge_availability(case):
    wrong = []
    for answer in case.student["answers"]:
        expected = "cuda" if answer["cuda_available"] else "cpu"
        if answer["type"] == expected:
            continue
        got = repr(answer["text"]) if answer["type"] else f"a {answer['returned']} ({answer['text']!r})"
        if answer["cuda_available"]:
            wrong.append(f"on a machine with CUDA (torch.cuda.is_available() is True) it returned {got}, "
                         "so training would stay on the CPU")
        else:
            wrong.append(f"on a machine without CUDA (torch.cuda.is_available() is False) it returned {got}, "
                         "so code using it fails there ('Torch not compiled with CUDA enabled')")
    if wrong:
        return failed("get_device() must ask torch.cuda.is_available() and answer accordingly, but "
                      + "; and ".join(wrong) + ".", diagnosis="get-device-ignores-availability")
    return passed("get_device() answers cuda when CUDA is available and cpu when it is not")


# ---------------------------------------------------------------------------------------------
# Q2: build_classifier
# ---------------------------------------------------------------------------------------------

def classifier_inputs(rng):
    sizes = [1, int(rng.integers(2, 32)), 64]
    data = mnist_batches(rng, 64, 64)
    return {"pixels": data["pixels"], "batch_sizes": sizes}


def judge_classifier_shapes(case):
    s = case.student
    if not s["module"]:
        return failed(f"build_classifier() should return an nn.Module, but it returned a {s['kind']['type']}")
    sizes = case.inputs["batch_sizes"]  # what the probe was asked to run, not what it says it ran
    if s["batch_sizes"] != sizes or len(s["shapes"]) != len(sizes) or len(s["dtypes"]) != len(sizes):
        return failed(f"build_classifier()(images) should have run on batches of {sizes} images, but the probe "
                      f"came back with {len(s['shapes'])} output shapes for batches of {s['batch_sizes']}")
    for size, shape, dtype in zip(sizes, s["shapes"], s["dtypes"]):
        if shape != [size, 10]:
            shown = tuple(shape) if shape is not None else f"a {dtype}"
            return failed(f"build_classifier()(images) for images of shape ({size}, 784) gave {shown}, "
                          f"expected ({size}, 10): one row of 10 logits per image")
        if dtype != "torch.float32":
            return failed(f"the logits have dtype {dtype}, expected torch.float32 (the images are float32)")
    if s["trainable"] == 0:
        return failed("the model has no trainable parameters: layers kept in a Python list or dict are not "
                      "registered; use nn.Sequential, nn.ModuleList or attributes of an nn.Module")
    problem = not_numbers(s["logits"], f"the logits for {len(case.inputs['pixels'])} images",
                          shape=(len(case.inputs["pixels"]), 10))
    if problem is not None:
        return problem
    return passed(f"maps (B, 784) to (B, 10) float32 logits for B in {s['batch_sizes']}; "
                  f"{s['trainable']} trainable parameters")


# ---------------------------------------------------------------------------------------------
# Q3: train_one_epoch
# ---------------------------------------------------------------------------------------------

def epoch_inputs(rng):
    return mnist_batches(rng, 64, 16, lr=LEARNING_RATE)


def _returned(s):
    kind = s["kind"]["type"]
    value = f" ({s['value']:.6g})" if s["value"] is not None else ""
    return f"{kind}{value}"


def judge_mean_loss(case):
    s, r = case.student, case.reference
    if s["value"] is not None:  # a number, whatever its type (which the next lines judge)
        problem = not_numbers(s["value"], f"the mean loss over {r['batches']} batches", shape=())
        if problem is not None:
            return problem
    if not s["is_float"]:
        if s["kind"]["type"].startswith("torch.") and s["value"] is not None:
            graph = (" that still requires grad: summing loss tensors keeps every batch's graph alive"
                     if s["requires_grad"] else "")
            return failed(f"train_one_epoch should return the mean loss as a Python float, but it returned a "
                          f"{_returned(s)}{graph}; add up loss.item() instead", diagnosis="returns-tensor")
        hint = "; convert it with float(...)" if s["value"] is not None else ""
        return failed(f"train_one_epoch should return the mean loss as a Python float, but it returned a "
                      f"{_returned(s)}{hint}")
    verdict = compare(s["value"], r["value"], name=f"the mean loss over {r['batches']} batches", rtol=1e-5, atol=1e-6)
    if verdict is not None:
        ratio = s["value"] / r["value"] if r["value"] else None
        if ratio is not None and abs(ratio - r["batches"]) < 1e-3 * r["batches"]:
            verdict.message += f"\nIt is {r['batches']} times the mean: the sum of the batch losses, not their mean."
        return verdict
    return passed(f"returns a Python float, the mean of the {r['batches']} batch losses ({s['value']:.4f})")


def judge_update(case):
    s, r = case.student, case.reference
    if s["forward_passes"] != r["forward_passes"]:
        return failed(f"the model was called {s['forward_passes']} times for {r['batches']} batches; expected one "
                      "forward pass per batch")
    verdict = compare(s["parameters"], r["parameters"], name="the weights after one epoch", rtol=1e-4, atol=1e-6)
    if verdict is not None:
        verdict.message += ("\nEach batch should be one step: optimizer.zero_grad(), logits = model(images), "
                            "loss = loss_fn(logits, labels), loss.backward(), optimizer.step().")
        return verdict
    return passed(f"after one epoch ({r['batches']} steps) the weights match the reference's")


# ---------------------------------------------------------------------------------------------
# Device checks (q3.device, q4.device)
# ---------------------------------------------------------------------------------------------

def _op(event):
    op = event.get("op") or "an operation"
    return op.removeprefix("aten.")


def _arguments(event):
    """"argument 'self' is on cpu while argument 'other' is on gpu:0", from the simulator's message."""
    found = re.search(r"\(in [\w.]+: (.*)\)$", event.get("message", ""))
    return found.group(1) if found else event.get("message", "")[:300]


# What a run shows when something stayed on (or went back to) the CPU: explained by a device fixed elsewhere
# when the code moved things to the CPU itself (the simulator's "moved-to-cpu" events).
CPU_PLACEMENT = ("batch-not-on-device", "model-not-on-device", "tensor-created-without-device")


def fixed_device(s, explanation):
    """(message, "hardcoded-cuda") in place of `explanation` (a CPU-placement one) when the code moved
    CPU tensors (or the model) to the CPU itself while given the device: a device fixed outside the
    function, e.g. `device = "cuda:0" if torch.cuda.is_available() else "cpu"` at the top of the
    notebook, which names the CPU on the grading machine; else `explanation` as it is."""
    moved = [e["message"] for e in s["run"]["events"] if e["kind"] == "moved-to-cpu"]
    if not moved or explanation is None or explanation[1] not in CPU_PLACEMENT:
        return explanation
    device, subject = s["device"], s["subject"]
    return (f"{subject} was given device={device} but moved its tensors to another device, the CPU: "
            f"{', '.join(moved[:4])}. That device is fixed outside the function: a hard-coded device, or one "
            "chosen once at the top of the notebook (device = 'cuda:0' if torch.cuda.is_available() else 'cpu' "
            "is the CPU wherever there is no GPU, as when grading). Use the device argument you are given "
            f"everywhere.\nOn the device: {explanation[0]}", "hardcoded-cuda")


def explain_device_run(s):
    """(message, diagnosis) for a device run that raised or recorded a device mistake, else None."""
    return fixed_device(s, _explain_device_run(s))


def _explain_device_run(s):
    run, device, subject = s["run"], s["device"], s["subject"]
    events = run["events"]
    hardcoded = [e["message"] for e in events if e["kind"] == "hardcoded-cuda"]
    if hardcoded:
        return (f"a hard-coded device, seen while {subject} ran with device={device}: {', '.join(hardcoded)}. Use "
                "the device you are given everywhere instead of 'cuda', 'cuda:0', .cuda() or 'mps': a hard-coded "
                "device fails on every machine that lacks it", "hardcoded-cuda")
    numpy = [e for e in events if e["kind"] == "numpy-on-device"]
    if numpy:
        return (f".numpy() on a tensor on {device}, seen while {subject} ran: \"{numpy[0]['message']}\". Only CPU tensors "
                "convert to NumPy: use loss.item() for a single number, or .detach().cpu().numpy()",
                "numpy-on-device-tensor")
    mismatch = next((e for e in events if e["kind"] == "device-mismatch"), None)
    forward, loss = run["forward"], run["loss"]
    if mismatch is not None or run["error"] is not None:
        op = _op(mismatch) if mismatch else "the forward pass"
        if forward is not None and forward["weights"] != device and forward["input"] == device:
            given = ("fit is given the model where it was built (the CPU) and must move it itself with "
                     "model.to(device)" if not run["model_given_on_device"] else "keep the model where it was given")
            return (f"the model's weights are on {forward['weights']} while its input is on {forward['input']}, "
                    f"in {op}: {given}", "model-not-on-device")
        if forward is not None and forward["input"] != device and forward["weights"] == device:
            return (f"images are on {forward['input']} while the model is on {device}, in {op}: move each batch "
                    "to the device inside the loop (images = images.to(device))", "batch-not-on-device")
        if loss is not None and loss["labels"] != device and loss["logits"] == device:
            return (f"labels are on {loss['labels']} while the model is on {device}, in {op}: move them too "
                    "(labels = labels.to(device))", "batch-not-on-device")
        if mismatch is not None and ("nll_loss" in op or "cross_entropy" in op):
            # The loss compares logits (from the model, on the device) with the labels.
            return (f"labels are on cpu while the model is on {device}, in {op}: move them too "
                    "(labels = labels.to(device))", "batch-not-on-device")
        if mismatch is not None:
            return (f"a tensor on the CPU met tensors on {device} in {op} ({_arguments(mismatch)}): a tensor "
                    "created without device= (torch.zeros(...), torch.tensor(...)) stays on the CPU; create it "
                    "with device=device, or keep numbers as Python floats", "tensor-created-without-device")
        error = run["error"]
        return (f"{subject} ran on the CPU but raised on {device}: {error['type']}: {error['message'][:500]}", None)
    return None


def judge_on_device(case):
    s = case.student
    run, device, subject = s["run"], s["device"], s["subject"]
    where = f"{device} (a simulated accelerator)" if s["kind"] == "simulated" else device
    details = {"device": device, "events": run["events"]}
    explained = explain_device_run(s)
    if explained is not None:
        message, diagnosis = explained
        return failed(message, diagnosis=diagnosis, details=details)
    forward = run["forward"]
    if forward is None:
        return failed(f"{subject} never called the model when given device={device}", details=details)
    if forward["weights"] != device or not run["model_on_device"]:
        place = forward["weights"] if forward["weights"] != device else "cpu"
        message, diagnosis = fixed_device(s, (
            f"{subject} was given device={device} but the model stayed on {place} (and trained there): "
            "move it with model.to(device)", "model-not-on-device"))
        return failed(message, diagnosis=diagnosis, details=details)
    if forward["input"] != device:
        message, diagnosis = fixed_device(s, (
            f"{subject} was given device={device} but fed the model images on {forward['input']}",
            "batch-not-on-device"))
        return failed(message, diagnosis=diagnosis, details=details)
    # Both runs are the student's: a NaN on both sides is no agreement, nor are weights of another shape
    # than the reference's (the probe's model is the grader's).
    reference = case.reference.get("cpu") or {}
    problem = (numbers_in(s["cpu"]["value"], f"the {'loss' if subject == 'train_one_epoch' else 'losses'} "
                                             f"{subject} returned on the CPU")
               or numbers_in(s["cpu"]["parameters"], f"the weights {subject} trained on the CPU",
                             like=reference.get("parameters")))
    if problem is not None:
        problem.details.update(details)
        return problem
    # The simulated device computes on the CPU: identical, bit for bit.  A real GPU sums in another order:
    # close losses, and weights within an optimizer step's rounding.
    exact = s["kind"] == "simulated"
    what = "returned loss" if subject == "train_one_epoch" else "returned losses"
    verdict = (compare(run["value"], s["cpu"]["value"], name=f"the {what} on {device} (against the CPU run)",
                       rtol=0.0 if exact else 1e-4, atol=0.0 if exact else 1e-5)
               or compare(run["parameters"], s["cpu"]["parameters"], name=f"the weights trained on {device} "
                          "(against the CPU run)", rtol=0.0 if exact else 1e-3, atol=0.0 if exact else 1e-3))
    if verdict is not None:
        verdict.message = (f"{subject} gives other results on {where} than on the CPU:\n" + verdict.message)
        verdict.details.update(details)
        return verdict
    same = "identical to" if exact else "matching"
    return passed(f"{subject} trains on {where} with results {same} its CPU run, and no device mistakes",
                  details=details)


# ---------------------------------------------------------------------------------------------
# Q4: fit
# ---------------------------------------------------------------------------------------------

def fit_inputs(rng):
    return mnist_batches(rng, 256, 32, epochs=3)


def fit_curve_problem(case):
    """A failed verdict when fit did not return one finite number per epoch, else None."""
    s = case.student
    epochs = case.inputs["epochs"]
    if not s["is_list"]:
        return failed(f"fit should return a list with the mean loss of each epoch, but it returned a {s['kind']['type']}")
    if len(s["losses"]) != epochs:
        return failed(f"fit returned {len(s['losses'])} losses for epochs={epochs}; expected one per epoch")
    if any(v is None for v in s["losses"]):
        return failed(f"fit's losses are not all finite numbers: {s['losses']}")
    return not_numbers(s["losses"], f"the losses fit returned for epochs={epochs}", shape=(epochs,))


def judge_fit_losses(case):
    s = case.student
    problem = fit_curve_problem(case)
    if problem is not None:
        return problem
    if not s["all_floats"]:
        tensor = "Tensor" in s["types"]
        return failed(f"fit's losses should be Python floats, but they are {s['types']}"
                      + ("; return train_one_epoch's mean loss as a float (add up loss.item())" if tensor
                         else "; convert them with float(...)"),
                      diagnosis="returns-tensor" if tensor else None)
    return passed(f"returns {len(s['losses'])} per-epoch losses as floats: {[round(v, 4) for v in s['losses']]}")


def fit_device_inputs(rng):
    return mnist_batches(rng, 96, 32, epochs=2)


CHECKS = [
    Check("q1.returns_device", probe="device_returned", judge=judge_device_returned),
    Check("q1.availability", probe="device_availability", judge=judge_availability),
    Check("q2.shapes", probe="classifier_outputs", inputs=classifier_inputs, judge=judge_classifier_shapes),
    Check("q3.mean_loss", probe="one_epoch", inputs=epoch_inputs, judge=judge_mean_loss),
    Check("q3.update", probe="one_epoch", inputs=epoch_inputs, judge=judge_update),
    Check("q3.device", probe="one_epoch_on_device", inputs=epoch_inputs, judge=judge_on_device),
    Check("q4.losses", probe="fit_losses", inputs=fit_inputs, judge=judge_fit_losses),
    Check("q4.device", probe="fit_on_device", inputs=fit_device_inputs, judge=judge_on_device),
]
