"""Judges of the evaluation vocabulary (tensorgrade/checking/vocabulary_evaluation.py), run outside the sandbox.

They read what checking/inside/evaluation_probes.py returned. Accuracies are fractions: a percentage
or a count of right predictions is named as such (`accuracy-as-percentage`), ties go to the first
maximal logit (`wrong-tie-rule`), a tensor is not a float (`returns-tensor`); evaluation runs in eval
mode (`missing-eval-mode`) without a graph (`missing-no-grad`); device runs name the device mistakes
(`batch-not-on-device`, `model-not-on-device`, `tensor-created-without-device`,
`numpy-on-device-tensor`, `hardcoded-cuda`). A held-out accuracy is computed here, from labels that
never enter a sandbox.
"""

import numpy as np

from tensorgrade.checking.outside.judging import at_least, failed, not_numbers, passed, within

# The call each judge's messages name by default (the declaring functions pass the check's own).
ACCURACY, EVALUATE, TRAIN = "accuracy(logits, labels)", "evaluate(model, loader, device)", \
    "train_classifier(train_loader, device)"
ACCURACY_TOLERANCE = 1e-6  # float32 means of 0/1 values against exact fractions


def _case_name(index, data):
    logits = np.asarray(data["logits"])
    ties = int(sum(np.count_nonzero(row == row.max()) > 1 for row in logits))
    tied = f", {ties} rows with tied maxima" if ties else ""
    return f"case {index + 1} (logits {logits.shape[0]}x{logits.shape[1]} {logits.dtype}{tied})"


def other_tie_rules(data):
    """Accuracies under tie rules other than torch.argmax's first maximal index."""
    logits, labels = np.asarray(data["logits"]), np.asarray(data["labels"])
    is_max = logits == logits.max(axis=1, keepdims=True)
    last = logits.shape[1] - 1 - np.argmax(is_max[:, ::-1], axis=1)
    return {"the last maximal logit": float(np.mean(last == labels)),
            "any maximal logit counted as right": float(np.mean(is_max[np.arange(len(labels)), labels]))}


def fraction_hint(value, expected=None, count=None):
    """The hint for an accuracy outside [0, 1] (None when it is inside, or not a number): every check
    that receives an accuracy from the student's code gives it.  A percentage (84.5 for 0.845) is named
    as such; so is a count of right predictions, when `expected` and `count` (the number of labels) say so."""
    if not isinstance(value, (int, float)) or value != value or 0.0 <= value <= 1.0:
        return None
    if expected is not None and abs(value - 100.0 * expected) <= 1e-4:
        return (f"An accuracy is a fraction in [0, 1], not a percentage: {value:.6g} is {expected:.6g} times 100; "
                "return the fraction of right predictions (drop the * 100).")
    if expected is not None and count and abs(value - expected * count) < 1e-6 * count:
        return (f"An accuracy is a fraction in [0, 1]; {value:.6g} is not (it is the number of right "
                "predictions: divide by the number of labels).")
    if 1.0 < value <= 100.0:
        return (f"An accuracy is a fraction in [0, 1], not a percentage: is {value:.6g} the accuracy times 100? "
                "Return the fraction of right predictions (drop the * 100).")
    return f"An accuracy is a fraction in [0, 1]; {value:.6g} is not."


def percentage_diagnosis(value, expected):
    """"accuracy-as-percentage" when `value` is the expected accuracy times 100, else None."""
    if isinstance(value, (int, float)) and isinstance(expected, (int, float)) and value > 1.0 \
            and abs(value - 100.0 * expected) <= 1e-4:
        return "accuracy-as-percentage"
    return None


def judge_accuracy_value(got, expected, data, where, name=ACCURACY):
    if got["value"] is None:
        return failed(f"{name} on {where} should return a Python float, but it returned "
                      f"{got['kind']['type']}")
    problem = not_numbers(got["value"], f"{name} on {where}", shape=())
    if problem is not None:
        return problem
    if not got["is_number"]:
        tensor = got["kind"]["type"] == "torch.Tensor"
        hint = (": call .item() on the one-element tensor to get a Python float" if tensor
                else ": return a Python float")
        return failed(f"{name} on {where} returned a {got['kind']['type']} "
                      f"({got['value']:.6g}) instead of a Python float{hint}",
                      diagnosis="returns-tensor" if tensor else None)
    value, want = got["value"], expected["value"]
    if within(value, want, ACCURACY_TOLERANCE, name=f"{name} on {where}") is None:
        return None
    n = len(data["labels"])
    lines = [f"{name} on {where}: yours {value:.6g}, expected {want:.6g} "
             f"({round(want * n)} of {n} predictions right)"]
    hint = fraction_hint(value, want, n)
    if hint:
        lines.append(hint)
    for rule, alternative in other_tie_rules(data).items():
        if abs(alternative - want) > ACCURACY_TOLERANCE and abs(value - alternative) <= ACCURACY_TOLERANCE:
            lines.append(f"Yours is the accuracy when ties go to {rule}. When several classes share the largest "
                         "logit, the prediction is the first of them (the smallest class index), as torch.argmax "
                         "returns it.")
            return failed("\n".join(lines), diagnosis="wrong-tie-rule")
    return failed("\n".join(lines), diagnosis=percentage_diagnosis(value, want))


def judge_accuracy(case, name=ACCURACY):
    got, expected, cases = case.student["cases"], case.reference["cases"], case.inputs["cases"]
    for index, (g, e, data) in enumerate(zip(got, expected, cases)):
        verdict = judge_accuracy_value(g, e, data, _case_name(index, data), name)
        if verdict is not None:
            return verdict
    return passed(f"accuracy matches on {len(cases)} cases of logits and int64 labels, ties included "
                  "(the first maximal logit wins, as with torch.argmax)")


# --- device checks (shared with the hidden device check) --------------------------------------------

def _where(failure):
    parts = []
    if failure.get("line"):
        parts.append(f"in `{failure['line']}`")
    culprit = failure.get("culprit") or {}
    call = culprit.get("call")
    op = failure.get("op")
    if call or op:
        parts.append("(" + ": ".join(p for p in (call, op) if p) + ")")
    return " ".join(parts) or "(where: not known)"


def failure_verdict(failure, device, subject):
    where = _where(failure)
    error = f"\n{failure['type']}: {failure['message']}"
    if failure["kind"] == "numpy-on-device":
        return failed(f"{subject} called .numpy() on a tensor on {device}, {where}: only CPU tensors convert "
                      "to NumPy. Use .item() for a single number, or .cpu().numpy() for an array." + error,
                      diagnosis="numpy-on-device-tensor")
    tensors = (failure.get("culprit") or {}).get("tensors") or []
    if not tensors:
        return failed(f"{subject} mixed tensors of two devices on {device}, {where}." + error)
    first = tensors[0]
    role, shape, dtype = first["role"], tuple(first["shape"]), first["dtype"]
    if role == "images":
        return failed(f"the images of a batch are on cpu while the model is on {device}, {where}: move each "
                      "batch to the device with images.to(device) before the forward pass" + error,
                      diagnosis="batch-not-on-device")
    if role == "labels":
        return failed(f"the labels are on cpu while the model is on {device}, {where}: move them with "
                      "labels.to(device) along with the images" + error, diagnosis="batch-not-on-device")
    if role == "parameter":
        return failed(f"the model's parameters (a {dtype} parameter of shape {shape}) are on cpu while the "
                      f"batch is on {device}, {where}: move the model once, right after building it, with "
                      "model = model.to(device)" + error, diagnosis="model-not-on-device")
    return failed(f"a {dtype} tensor of shape {shape} on cpu meets tensors on {device}, {where}: a tensor created "
                  "without device= lives on the CPU. Create it with device=device (or *_like of a device tensor), "
                  "or count with Python numbers (.item())" + error, diagnosis="tensor-created-without-device")


# What a run shows when something stayed on (or went back to) the CPU: explained by a device fixed elsewhere
# when the code moved things to the CPU itself (the simulator's "moved-to-cpu" events).
CPU_PLACEMENT = ("batch-not-on-device", "model-not-on-device", "tensor-created-without-device")


def fixed_device(report, subject, verdict):
    """A hardcoded-cuda verdict in place of `verdict` (a CPU-placement one) when the code moved CPU
    tensors (or the model) to the CPU itself while given the device: a device fixed outside the
    function, e.g. `device = "cuda:0" if torch.cuda.is_available() else "cpu"` at the top of the
    notebook, which names the CPU on the grading machine; else `verdict` as it is."""
    moved = [event["message"] for event in report["events"] if event["kind"] == "moved-to-cpu"]
    if not moved or verdict.diagnosis not in CPU_PLACEMENT:
        return verdict
    return failed(f"{subject} was given device={report['device']} but moved its tensors to another device, the "
                  f"CPU: {', '.join(moved[:4])}. That device is fixed outside the function: a hard-coded device, or "
                  "one chosen once at the top of the notebook (device = 'cuda:0' if torch.cuda.is_available() else "
                  "'cpu' is the CPU wherever there is no GPU, as when grading); use the `device` argument "
                  f"everywhere.\nOn the device: {verdict.message}", diagnosis="hardcoded-cuda")


def device_verdict(report, subject):
    """What the device run shows: a hard-coded device, or a failure on the device; None when clean."""
    device = report["device"]
    hardcoded = [event["message"] for event in report["events"] if event["kind"] == "hardcoded-cuda"]
    failure = report["failure"]
    if hardcoded:
        also = ("\nOn the device it then failed: " + failure_verdict(failure, device, subject).message
                if failure else "")
        return failed(f"{subject} was given device={device} but asked for a hard-coded device: "
                      f"{', '.join(hardcoded)}. That fails where there is no such device (a grader, a laptop "
                      "without a GPU, a Mac); use the `device` argument everywhere." + also,
                      diagnosis="hardcoded-cuda")
    if failure:
        return fixed_device(report, subject, failure_verdict(failure, device, subject))
    return None


def _tolerance(report, exact, loose):
    return exact if report["kind"] == "simulated" else loose


def judge_accuracy_device(case, name=ACCURACY):
    report = case.student
    verdict = device_verdict(report, name)
    if verdict is not None:
        return verdict
    for index, result in enumerate(report["cases"]):
        cpu, device = result["cpu"], result["device"]
        differs = (f"accuracy on {report['device']} differs from the CPU on case {index + 1}: "
                   f"{device} on the device, {cpu} on the CPU (same logits and labels)")
        if cpu is None or device is None:
            return failed(differs)
        verdict = within(device, cpu, _tolerance(report, 0.0, ACCURACY_TOLERANCE), message=differs,
                         name=f"accuracy on {report['device']} on case {index + 1}",
                         target_name=f"accuracy on the CPU on case {index + 1}")
        if verdict is not None:
            return verdict
    return passed(f"accuracy works on logits and labels on {report['device']}, with the CPU's results")


# --- q2: evaluate ---------------------------------------------------------------------------------

def judge_evaluate_value(case, name=EVALUATE):
    got, want = case.student, case.reference
    inputs = case.inputs
    n, size = len(inputs["labels"]), inputs["batch_size"]
    where = f"{name} on {n} images in batches of {size} (the last one of {n % size or size})"
    if got["value"] is None or not got["is_number"]:
        hint = ": call .item() on it" if got["kind"]["type"] == "torch.Tensor" else ""
        return failed(f"{where} should return a Python float, but it returned {got['kind']['type']}{hint}",
                      diagnosis="returns-tensor" if hint else None)
    hint = fraction_hint(got["value"], want["value"], n)
    verdict = within(got["value"], want["value"], ACCURACY_TOLERANCE, name=f"the accuracy {where}",
                     message=lambda: (
                         f"{where}: yours {got['value']:.6g}, expected {want['value']:.6g} "
                         f"({round(want['value'] * n)} of {n} images classified right). "
                         + (hint or "The accuracy over a loader is the number of right predictions over all "
                                    "images divided by the number of images.")))
    if verdict is not None:
        verdict.diagnosis = verdict.diagnosis or percentage_diagnosis(got["value"], want["value"])
        return verdict
    return passed(f"{where} gives {want['value']:.4g}, as expected")


def returned_number(result, subject):
    """The guard's verdict when `subject` returned a number that is not one (NaN, inf, an array), else None."""
    if result["value"] is None:
        return None
    return not_numbers(result["value"], f"the value {subject} returned", shape=())


def judge_no_grad(case, name=EVALUATE):
    function = name.split("(")[0]
    calls = case.student["calls"]
    if not calls:
        return failed(f"{function} never called the model: it should run model(images) on every batch")
    problem = returned_number(case.student["result"], name)
    if problem is not None:
        return problem
    graphs = [c for c in calls if c["requires_grad"]]
    if graphs:
        return failed(f"{function} built an autograd graph: in {len(graphs)} of {len(calls)} forward passes the "
                      f"model's output had requires_grad=True (grad_fn {graphs[0]['grad_fn']}), because "
                      "torch.is_grad_enabled() was True. Evaluation needs no gradients: run the loop inside "
                      "`with torch.no_grad():` (or torch.inference_mode()) to save memory and time.",
                      diagnosis="missing-no-grad")
    return passed(f"no graph was built in any of the {len(calls)} forward passes (gradients disabled)")


def judge_eval_mode(case, name=EVALUATE):
    function = name.split("(")[0]
    s, r = case.student, case.reference
    calls = s["calls"]
    if not calls:
        return failed(f"{function} never called the model: it should run model(images) on every batch")
    problem = returned_number(s["result"], name)
    if problem is not None:
        return problem
    training = [c for c in calls if c["model"] or c["batch_norm"] or c["dropout"]]
    if training:
        value = s["result"]["value"]
        got = f"{value:.4g}" if value is not None else s["result"]["kind"]["type"]
        changed = (" and updated the batch-norm running statistics of the model it was evaluating"
                   if s["running_stats_changed"] else "")
        hint = fraction_hint(value)
        return failed(f"{function} ran the model in training mode in {len(training)} of {len(calls)} forward passes "
                      f"(model.training was {training[0]['model']}): dropout dropped units at random and batch "
                      f"norm used each batch's statistics{changed}, so on a model with dropout and batch norm it "
                      f"gave {got} where eval mode gives {r['result']['value']:.4g}. Call model.eval() before the "
                      "loop." + (f" (And: {hint})" if hint else ""), diagnosis="missing-eval-mode")
    return passed(f"the model was in eval mode in all {len(calls)} forward passes")


def judge_evaluate_device(case, name=EVALUATE):
    function = name.split("(")[0]
    report = case.student
    verdict = device_verdict(report, name)
    if verdict is not None:
        return verdict
    cpu, value = report["cpu"], report["value"]
    n = len(case.inputs["labels"])
    differs = (f"{function} with the model on {report['device']} gives {value}, but {cpu} on the CPU "
               "(same model, same images)")
    if cpu is None or value is None:
        return failed(differs)
    verdict = within(value, cpu, _tolerance(report, 0.0, 2.0 / n), message=differs,
                     name=f"the accuracy {function} gives on {report['device']}",
                     target_name=f"the accuracy {function} gives on the CPU")
    if verdict is not None:
        return verdict
    return passed(f"{function} moves each batch to {report['device']} and gives the CPU's accuracy ({value:.4g})")


# --- q3: train_classifier -------------------------------------------------------------------------

def judge_train_returns(case, name=TRAIN):
    s = case.student
    if s["output"] is None:
        return failed(f"{name} should return the trained model (an nn.Module), but it returned {s['kind']['type']}")
    out = s["output"]
    batch = s["batch"]
    if out.get("type") != "torch.Tensor" or "shape" not in out:
        return failed(f"the returned model maps a batch of {batch} images to {out['type']}; expected logits, "
                      f"a float tensor of shape ({batch}, 10)")
    if out["shape"] != str((batch, 10)):
        return failed(f"the returned model maps a ({batch}, 784) batch to shape {out['shape']}; expected "
                      f"({batch}, 10): one logit per class")
    if "float" not in out.get("dtype", ""):
        return failed(f"the returned model's logits have dtype {out['dtype']}; expected a float dtype")
    problem = not_numbers(s["seconds"], "the training time the grader measured", shape=())
    if problem is not None:
        return problem
    return passed(f"{name.split('(')[0]} returned a {s['kind']['type']} mapping ({batch}, 784) images to "
                  f"({batch}, 10) logits, in {s['seconds']:.1f} s on 256 images")


def judge_train_device(case, name=TRAIN):
    report, subject = case.student, name
    verdict = device_verdict(report, subject)
    if verdict is not None:
        return verdict
    if report.get("on_device") is None:
        return failed(f"{subject} should return the trained model (an nn.Module), but it returned "
                      f"{report['kind']['type']}")
    device = report["device"]
    if not report["on_device"]:
        return fixed_device(report, subject, failed(
            f"{subject} was given device={device}, but the model it returned has its parameters on "
            f"{', '.join(report['parameter_devices']) or 'no device (it has none)'}: it trained on the "
            "CPU. Build the model, move it with model = model.to(device), and move each batch there too.",
            diagnosis="model-not-on-device"))
    images = len(case.inputs["probe_pixels"])
    problem = (not_numbers(report["cpu"], f"the predictions of the model trained on the CPU for {images} images",
                           shape=(images,))
               or (not_numbers(report["predictions"], f"the predictions of the model trained on {device} for "
                               f"{images} images", shape=(images,)) if report["predictions"] is not None else None))
    if problem is not None:
        return problem
    cpu, predictions = np.asarray(report["cpu"]), report["predictions"]
    agree = float(np.mean(cpu == np.asarray(predictions))) if predictions is not None else 0.0
    verdict = at_least(agree, _tolerance(report, 1.0, 0.9), name=f"the agreement of the {device} and CPU models",
                       message=lambda: (f"the model trained on {device} predicts {agree:.1%} of {len(cpu)} images as "
                                        "the model trained on the CPU does, from the same seed and data: training "
                                        "on a device should give the CPU's results"))
    if verdict is not None:
        return verdict
    return passed(f"train_classifier builds and trains the model on {device}, with the CPU's results")


# --- held-out accuracy ------------------------------------------------------------------------------

def held_out_accuracy(output, labels):
    """(accuracy, right predictions) of a held_out probe's predictions against the labels (outside only)."""
    predictions = np.asarray(output["predictions"])
    return float(np.mean(predictions == labels)), int(np.sum(predictions == labels))


def judge_held_out(case, *, threshold, labels, name=TRAIN):
    s, r = case.student, case.reference
    if s["predictions"] is None:
        return failed(f"{name} should return the trained model (an nn.Module), but it returned {s['kind']['type']}")
    images = len(case.inputs["images"])
    logits = s["logits"]
    if logits.get("shape") != str((images, 10)):
        return failed(f"the trained model maps {images} images of shape (784,) to {logits.get('type')} of shape "
                      f"{logits.get('shape')}; expected logits of shape ({images}, 10)")
    # The mean of no predictions is NaN, and NaN < threshold is False: predictions of another shape
    # (or none) never reach the threshold comparison, nor does a NaN accuracy.
    problem = (not_numbers(s["predictions"], f"the predictions for the {images} held-out images", shape=(images,))
               or not_numbers(s["seconds"], "the training time the grader measured", shape=()))
    if problem is not None:
        return problem
    hidden = labels()
    accuracy, right = held_out_accuracy(s, hidden)
    reference, _ = held_out_accuracy(r, hidden)
    threshold = threshold.resolved()
    details = {"accuracy": accuracy, "reference_accuracy": reference, "threshold": threshold,
               "seconds": s["seconds"], "reference_seconds": r["seconds"]}

    def below_threshold():
        hint = (" That is chance level: the model did not learn (is optimizer.step() called, on the model's "
                "parameters?)." if accuracy < 0.2 else
                " Train longer within the time budget, add a hidden layer, or tune the learning rate.")
        return (f"held-out accuracy {accuracy:.3f} ({right} of {images} images you never saw), below the "
                f"threshold {threshold:.3f}; the reference reaches {reference:.3f} in {r['seconds']:.1f} s "
                f"(yours trained for {s['seconds']:.1f} s).{hint}")

    verdict = at_least(accuracy, threshold, name="held-out accuracy", message=below_threshold, details=details)
    if verdict is not None:
        return verdict
    return passed(f"held-out accuracy {accuracy:.3f} on {images} images you never saw (threshold {threshold:.3f}, "
                  f"reference {reference:.3f}); trained in {s['seconds']:.1f} s", details=details)


def same_predictions(a, b):
    """Two trained classifiers behave alike when they agree on almost every held-out image."""
    if a["predictions"] is None or b["predictions"] is None:
        return a["predictions"] is None and b["predictions"] is None
    return float(np.mean(np.asarray(a["predictions"]) == np.asarray(b["predictions"]))) >= 0.97
