"""The training-loop judges of the check vocabulary (tensorgrade/checking/vocabulary_training.py), run
outside the sandbox.

They read what the training probes returned (checking/inside/training_probes.py) and compare it with
the reference's output on the same inputs, or judge what the probe observed: the gradients each
optimizer step saw, the model's mode, the loss the grader measured after each epoch, and what the
simulated accelerator recorded while the student's code ran on it (`gpu:0`): each device mistake
gets its own name (model-not-on-device, batch-not-on-device, tensor-created-without-device,
numpy-on-device-tensor, hardcoded-cuda, get-device-ignores-availability). `name` is the function the
check calls, as messages name it.
"""

from __future__ import annotations

import math
import re

import numpy as np

from tensorgrade.checking.outside.judging import compare, failed, not_numbers, numbers_in, passed

# ---------------------------------------------------------------------------------------------
# The device to train on
# ---------------------------------------------------------------------------------------------

def judge_device_returned(case, *, name):
    s = case.student
    if not s["is_device"]:
        shown = f" {s['text']!r}" if s["text"] is not None else ""
        return failed(f"{name}() should return a torch.device, but it returned a {s['kind']['type']}{shown}; "
                      "wrap the name: torch.device('cuda') or torch.device('cpu')")
    return passed(f"{name}() returns torch.device({s['text']!r}) on this machine")


def judge_availability(case, *, name):
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
        return failed(f"{name}() must ask torch.cuda.is_available() and answer accordingly, but "
                      + "; and ".join(wrong) + ".", diagnosis="get-device-ignores-availability")
    return passed(f"{name}() answers cuda when CUDA is available and cpu when it is not")


# ---------------------------------------------------------------------------------------------
# A classifier's outputs
# ---------------------------------------------------------------------------------------------

def judge_classifier_shapes(case, *, name):
    s = case.student
    if not s["module"]:
        return failed(f"{name} should return an nn.Module, but it returned a {s['kind']['type']}")
    sizes = case.inputs["batch_sizes"]  # what the probe was asked to run, not what it says it ran
    if s["batch_sizes"] != sizes or len(s["shapes"]) != len(sizes) or len(s["dtypes"]) != len(sizes):
        return failed(f"{name}(images) should have run on batches of {sizes} images, but the probe "
                      f"came back with {len(s['shapes'])} output shapes for batches of {s['batch_sizes']}")
    for size, shape, dtype in zip(sizes, s["shapes"], s["dtypes"]):
        if shape != [size, 10]:
            shown = tuple(shape) if shape is not None else f"a {dtype}"
            return failed(f"{name}(images) for images of shape ({size}, 784) gave {shown}, "
                          f"expected ({size}, 10): one row of 10 logits per image")
        if dtype != "torch.float32":
            return failed(f"the logits have dtype {dtype}, expected torch.float32 (the images are float32)")
    if s["trainable"] == 0:
        return failed("the model has no trainable parameters: layers kept in a Python list or dict are not "
                      "registered; use nn.Sequential, nn.ModuleList or attributes of an nn.Module")
    problem = not_numbers(s["logits"], f"the logits for {len(case.inputs['data']['pixels'])} images",
                          shape=(len(case.inputs["data"]["pixels"]), 10))
    if problem is not None:
        return problem
    return passed(f"maps (B, 784) to (B, 10) float32 logits for B in {s['batch_sizes']}; "
                  f"{s['trainable']} trainable parameters")


def judge_logits(case, *, name):
    s = case.student
    if not s["module"] or s["logits"] is None:
        return failed(f"{name} should return an nn.Module mapping images to logits, "
                      f"but it returned a {s['kind']['type']}")
    logits = np.asarray(s["logits"])
    if logits.ndim != 2 or logits.shape[1] != 10:
        return failed(f"the model's output has shape {logits.shape}, expected (B, 10)")
    images = len(case.inputs["data"]["pixels"])
    problem = not_numbers(s["logits"], f"the model's output for {images} images", shape=(images, 10))
    if problem is not None:
        return problem
    if logits.min() >= 0 and logits.max() <= 1 and np.allclose(logits.sum(axis=1), 1, atol=1e-4):
        return failed("the model's outputs are probabilities (each row is in [0, 1] and sums to 1): it ends "
                      "with a softmax. nn.CrossEntropyLoss applies log-softmax itself and expects raw scores "
                      "(logits); with a softmax before it, gradients shrink and training stalls. Remove the "
                      "final softmax", diagnosis="softmax-output")
    return passed("the model returns raw scores (logits), as nn.CrossEntropyLoss expects")


# ---------------------------------------------------------------------------------------------
# One epoch
# ---------------------------------------------------------------------------------------------

def _returned(s):
    kind = s["kind"]["type"]
    value = f" ({s['value']:.6g})" if s["value"] is not None else ""
    return f"{kind}{value}"


def judge_mean_loss(case, *, name):
    s, r = case.student, case.reference
    if s["value"] is not None:  # a number, whatever its type (which the next lines judge)
        problem = not_numbers(s["value"], f"the mean loss over {r['batches']} batches", shape=())
        if problem is not None:
            return problem
    if not s["is_float"]:
        if s["kind"]["type"].startswith("torch.") and s["value"] is not None:
            graph = (" that still requires grad: summing loss tensors keeps every batch's graph alive"
                     if s["requires_grad"] else "")
            return failed(f"{name} should return the mean loss as a Python float, but it returned a "
                          f"{_returned(s)}{graph}; add up loss.item() instead", diagnosis="returns-tensor")
        hint = "; convert it with float(...)" if s["value"] is not None else ""
        return failed(f"{name} should return the mean loss as a Python float, but it returned a "
                      f"{_returned(s)}{hint}")
    verdict = compare(s["value"], r["value"], name=f"the mean loss over {r['batches']} batches", rtol=1e-5, atol=1e-6)
    if verdict is not None:
        ratio = s["value"] / r["value"] if r["value"] else None
        if ratio is not None and abs(ratio - r["batches"]) < 1e-3 * r["batches"]:
            verdict.message += f"\nIt is {r['batches']} times the mean: the sum of the batch losses, not their mean."
        return verdict
    return passed(f"returns a Python float, the mean of the {r['batches']} batch losses ({s['value']:.4f})")


def judge_update(case, *, name):
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


def judge_zero_grad(case, *, name):
    steps, batches = case.student["steps"], case.student["batches"]
    if len(steps) != batches:
        return failed(f"optimizer.step() ran {len(steps)} times for {batches} batches; expected one step per batch")
    for number, step in enumerate(steps, start=1):
        problem = not_numbers(step["excess"], f"the difference between p.grad and step {number}'s own gradient",
                              shape=())
        if problem is not None:
            return problem
        if step["status"] == "stale":
            return failed(f"at step {number}, p.grad held this step's gradient plus earlier ones (off by up to "
                          f"{step['excess']:.3g}): backward() adds into .grad, so the gradients were not reset. "
                          "Call optimizer.zero_grad() once per batch, before loss.backward()",
                          diagnosis="forgot-zero-grad")
        if step["status"] in ("none", "zero"):
            state = "None" if step["status"] == "none" else "all zeros"
            return failed(f"at step {number}, p.grad was {state} when optimizer.step() ran although backward() "
                          "had computed a gradient: the gradients are reset between loss.backward() and "
                          "optimizer.step(), so no step learns anything. Reset them before backward()",
                          diagnosis="zero-grad-after-backward")
    return passed(f"every one of the {batches} steps used only its own batch's gradient")


def judge_training_mode(case, *, name):
    modes = case.student["modes"]
    if not modes:
        return failed(f"{name} never called the model")
    in_eval = sum(1 for training in modes if not training)
    if in_eval:
        return failed(f"the model was in eval mode during {in_eval} of its {len(modes)} forward passes: it was "
                      f"given in eval mode (as after an evaluation) and {name} did not switch it back. "
                      "Call model.train() at the start, or dropout and batch norm do not train",
                      diagnosis="missing-train-mode")
    return passed("the model trains in training mode even when it is given in eval mode")


# ---------------------------------------------------------------------------------------------
# Device runs
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
            given = (f"{subject} is given the model where it was built (the CPU) and must move it itself with "
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


def judge_on_device(case, *, name=None):
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
    problem = (numbers_in(s["cpu"]["value"], f"the {'loss' if run['model_given_on_device'] else 'losses'} "
                                             f"{subject} returned on the CPU")
               or numbers_in(s["cpu"]["parameters"], f"the weights {subject} trained on the CPU",
                             like=reference.get("parameters")))
    if problem is not None:
        problem.details.update(details)
        return problem
    # The simulated device computes on the CPU: identical, bit for bit.  A real GPU sums in another order:
    # close losses, and weights within an optimizer step's rounding.
    exact = s["kind"] == "simulated"
    what = "returned loss" if run["model_given_on_device"] else "returned losses"
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
# Several epochs
# ---------------------------------------------------------------------------------------------

def fit_curve_problem(case, name="fit"):
    """A failed verdict when fit did not return one finite number per epoch, else None."""
    s = case.student
    epochs = case.inputs["epochs"]
    if not s["is_list"]:
        return failed(f"{name} should return a list with the mean loss of each epoch, but it returned a {s['kind']['type']}")
    if len(s["losses"]) != epochs:
        return failed(f"{name} returned {len(s['losses'])} losses for epochs={epochs}; expected one per epoch")
    if any(v is None for v in s["losses"]):
        return failed(f"{name}'s losses are not all finite numbers: {s['losses']}")
    return not_numbers(s["losses"], f"the losses {name} returned for epochs={epochs}", shape=(epochs,))


def judge_fit_losses(case, *, name):
    s = case.student
    problem = fit_curve_problem(case, name)
    if problem is not None:
        return problem
    if not s["all_floats"]:
        tensor = "Tensor" in s["types"]
        return failed(f"{name}'s losses should be Python floats, but they are {s['types']}"
                      + ("; return train_one_epoch's mean loss as a float (add up loss.item())" if tensor
                         else "; convert them with float(...)"),
                      diagnosis="returns-tensor" if tensor else None)
    return passed(f"returns {len(s['losses'])} per-epoch losses as floats: {[round(v, 4) for v in s['losses']]}")


def _rounded(values):
    return [round(v, 4) if isinstance(v, float) else v for v in values] if isinstance(values, list) else values


def _what_count(value):
    return f"{len(value)} values" if isinstance(value, (list, tuple)) else f"a {type(value).__name__}"


def judge_decreasing(case, *, name, threshold):
    """Judged on what the probe measured (the loss of the grader's model on the training rows after
    fit(epochs=k), computed by the probe): the losses fit returns are checked for their form only, and
    never decide whether it trained. `threshold` bounds the last over the first measured loss; it is
    derived from the reference's returned per-epoch means, whose relative fall is smaller than the
    measured one's (on a4's seeds, 39-48% of the first epoch's mean against 30-38% of the untrained
    loss), so the bar is no higher than one set on the measured losses."""
    s, r = case.student, case.reference
    problem = fit_curve_problem(case, name)  # the types are the losses check's business; this one is about learning
    if problem is not None:
        return problem
    if s["measure_problem"]:
        return failed(f"the grader could not measure the loss of the model {name} trained: {s['measure_problem']}")
    measured, reference, epochs = s["measured"], r["measured"], case.inputs["epochs"]
    if not isinstance(measured, list) or len(measured) != epochs + 1:
        return failed(f"the grader's measurement of {name}'s training holds {_what_count(measured)} where "
                      f"{epochs + 1} losses (after 0 to {epochs} epochs) were expected")
    if not all(isinstance(v, float) and math.isfinite(v) for v in measured):
        return failed(f"the loss the grader measured on the training rows after {name} is not a finite number "
                      f"({_rounded(measured)}, after 0 to {epochs} epochs): training diverged")
    ratio_max = threshold.resolved()
    details = {"curve": measured, "reference_curve": reference, "xlabel": f"epochs of {name}",
               "x_unit": "epoch", "x_start": 0,  # measured after 0 (untrained) to `epochs` epochs
               "ylabel": "loss on the training rows (measured by the grader)", "threshold": measured[0] * ratio_max,
               "returned": s["losses"], "steps": s["steps"], "moved": s["moved"]}
    seen = (f"measured by the grader on the training rows after 0 to {len(measured) - 1} epochs: "
            f"{_rounded(measured)}; the reference's {_rounded(reference)}")
    why = ""
    unchanged = isinstance(s["moved"], (int, float)) and s["moved"] == 0
    if s["steps"] == 0 and unchanged:
        why = f"\noptimizer.step() never ran in {name}'s {len(measured) - 1} epochs and the weights never changed."
    elif unchanged:
        why = f"\noptimizer.step() ran {s['steps']} times but the weights never changed: no gradient reached them."
    returned = s["losses"]
    if (measured[-1] > measured[0] * ratio_max and all(b < a for a, b in zip(returned, returned[1:]))
            and returned[-1] <= returned[0] * ratio_max):
        why += (f"\n{name} returned losses that fall ({_rounded(returned)}), but the model it trained did not learn: "
                "the losses it returns must be the mean loss of each epoch's batches, as train_one_epoch computes it.")
    rises = [k for k in range(1, len(measured)) if not measured[k] < measured[k - 1]]
    if rises:
        k = rises[0]
        return failed(f"the loss should fall every epoch, but after {k} epoch{'s' if k > 1 else ''} of {name} it is "
                      f"{measured[k]:.4g}, not below the {measured[k - 1]:.4g} after {k - 1} ({seen}){why}",
                      details=details)
    if measured[-1] > measured[0] * ratio_max:
        return failed(f"the loss fell only from {measured[0]:.4g} to {measured[-1]:.4g} in {len(measured) - 1} "
                      f"epochs ({100 * (1 - measured[-1] / measured[0]):.1f}%); it should fall by at least "
                      f"{100 * (1 - ratio_max):.1f}% ({seen}): is the learning rate far too small, or are the "
                      f"gradients not reaching the optimizer?{why}", details=details)
    return passed(f"the loss falls every epoch, from {measured[0]:.4g} before training to {measured[-1]:.4g} "
                  f"(measured by the grader on the training rows)", details=details)


def same_training_run(a, b):
    """Two fits behave alike when what they did to the model agrees: the loss the probe measured after
    each number of epochs (not the losses fit returned)."""
    if not a.get("measured") or not b.get("measured") or None in a["measured"] or None in b["measured"]:
        return False
    return compare(a["measured"], b["measured"], name="losses", rtol=1e-3, atol=1e-4) is None
