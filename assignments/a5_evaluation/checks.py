"""Public checks for a5_evaluation: inputs drawn by the grader, judged outside the sandbox.

Images come from the rows students are given (data/mnist_train.csv, written by `make data` from
tensorgrade.course.datasets.student_rows()); the held-out rows, whose labels never enter a sandbox, are used
by a hidden check only. Device checks (`*.device`) have their own points: a mistake that shows only
on a GPU costs only those.
"""

from pathlib import Path

import numpy as np

from tensorgrade.checking.checks import Check
from tensorgrade.course.datasets import read_csv
from tensorgrade.checking.outside.judging import at_least, failed, not_numbers, passed, within

SHIPPED_CSV = Path(__file__).resolve().parent / "data" / "mnist_train.csv"
ACCURACY_TOLERANCE = 1e-6  # float32 means of 0/1 values against exact fractions


def shipped_rows():
    return read_csv(SHIPPED_CSV, min_rows=1000)


def class_mean_weights(labels, pixels):
    """A nearest-class-mean classifier as a linear layer: logits_k = x . m_k - |m_k|^2 / 2."""
    images = pixels.astype(np.float32) / np.float32(255)
    means = np.stack([images[labels == k].mean(axis=0) for k in range(10)]).astype(np.float32)
    return {"weight": means, "bias": (-0.5 * (means ** 2).sum(axis=1)).astype(np.float32)}


def evaluation_rows(labels, pixels, rng, count, batch_size):
    """`count` rows to evaluate on and a classifier built from other rows."""
    order = rng.permutation(len(labels))
    chosen, others = order[:count], order[count:count + 1000]
    return {"pixels": pixels[chosen], "labels": labels[chosen], "batch_size": batch_size,
            **class_mean_weights(labels[others], pixels[others])}


# --- q1: accuracy ---------------------------------------------------------------------------------

def tied_case(rng, rows, high, dtype):
    """Integer logits in [0, high): most rows have several classes tied for the largest logit, and the
    label is one of the tied classes (not always the first), so the tie rule decides the accuracy."""
    logits = rng.integers(0, high, size=(rows, 10)).astype(dtype)
    labels = rng.integers(0, 10, size=rows)
    for row in range(rows):
        maxima = np.flatnonzero(logits[row] == logits[row].max())
        if rng.random() < 0.7:
            labels[row] = rng.choice(maxima)
    return {"logits": logits, "labels": labels.astype(np.int64)}


def accuracy_inputs(rng):
    confident = rng.standard_normal((30, 10)).astype(np.float32)
    labels = rng.integers(0, 10, size=30)
    confident[np.arange(30), labels] += 2.5 * (rng.random(30) < 0.7)
    return {"cases": [
        {"logits": rng.standard_normal((64, 10)).astype(np.float32), "labels": rng.integers(0, 10, 64)},
        tied_case(rng, 50, 3, np.float32),
        {"logits": confident, "labels": labels.astype(np.int64)},
    ]}


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


def judge_accuracy_value(got, expected, data, where):
    if got["value"] is None:
        return failed(f"accuracy(logits, labels) on {where} should return a Python float, but it returned "
                      f"{got['kind']['type']}")
    problem = not_numbers(got["value"], f"accuracy(logits, labels) on {where}", shape=())
    if problem is not None:
        return problem
    if not got["is_number"]:
        tensor = got["kind"]["type"] == "torch.Tensor"
        hint = (": call .item() on the one-element tensor to get a Python float" if tensor
                else ": return a Python float")
        return failed(f"accuracy(logits, labels) on {where} returned a {got['kind']['type']} "
                      f"({got['value']:.6g}) instead of a Python float{hint}",
                      diagnosis="returns-tensor" if tensor else None)
    value, want = got["value"], expected["value"]
    if within(value, want, ACCURACY_TOLERANCE, name=f"accuracy(logits, labels) on {where}") is None:
        return None
    n = len(data["labels"])
    lines = [f"accuracy(logits, labels) on {where}: yours {value:.6g}, expected {want:.6g} "
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


def judge_accuracy(case):
    got, expected, cases = case.student["cases"], case.reference["cases"], case.inputs["cases"]
    for index, (g, e, data) in enumerate(zip(got, expected, cases)):
        verdict = judge_accuracy_value(g, e, data, _case_name(index, data))
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


def judge_accuracy_device(case):
    report = case.student
    verdict = device_verdict(report, "accuracy(logits, labels)")
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

def evaluate_inputs(rng):
    labels, pixels = shipped_rows()
    return evaluation_rows(labels, pixels, rng, count=200, batch_size=64)  # a last batch of 8


def evaluate_small_inputs(rng):
    labels, pixels = shipped_rows()
    return evaluation_rows(labels, pixels, rng, count=96, batch_size=32)


def judge_evaluate_value(case):
    got, want = case.student, case.reference
    inputs = case.inputs
    n, size = len(inputs["labels"]), inputs["batch_size"]
    where = f"evaluate(model, loader, device) on {n} images in batches of {size} (the last one of {n % size or size})"
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


def judge_no_grad(case):
    calls = case.student["calls"]
    if not calls:
        return failed("evaluate never called the model: it should run model(images) on every batch")
    problem = returned_number(case.student["result"], "evaluate(model, loader, device)")
    if problem is not None:
        return problem
    graphs = [c for c in calls if c["requires_grad"]]
    if graphs:
        return failed(f"evaluate built an autograd graph: in {len(graphs)} of {len(calls)} forward passes the "
                      f"model's output had requires_grad=True (grad_fn {graphs[0]['grad_fn']}), because "
                      "torch.is_grad_enabled() was True. Evaluation needs no gradients: run the loop inside "
                      "`with torch.no_grad():` (or torch.inference_mode()) to save memory and time.",
                      diagnosis="missing-no-grad")
    return passed(f"no graph was built in any of the {len(calls)} forward passes (gradients disabled)")


def judge_eval_mode(case):
    s, r = case.student, case.reference
    calls = s["calls"]
    if not calls:
        return failed("evaluate never called the model: it should run model(images) on every batch")
    problem = returned_number(s["result"], "evaluate(model, loader, device)")
    if problem is not None:
        return problem
    training = [c for c in calls if c["model"] or c["batch_norm"] or c["dropout"]]
    if training:
        value = s["result"]["value"]
        got = f"{value:.4g}" if value is not None else s["result"]["kind"]["type"]
        changed = (" and updated the batch-norm running statistics of the model it was evaluating"
                   if s["running_stats_changed"] else "")
        hint = fraction_hint(value)
        return failed(f"evaluate ran the model in training mode in {len(training)} of {len(calls)} forward passes "
                      f"(model.training was {training[0]['model']}): dropout dropped units at random and batch "
                      f"norm used each batch's statistics{changed}, so on a model with dropout and batch norm it "
                      f"gave {got} where eval mode gives {r['result']['value']:.4g}. Call model.eval() before the "
                      "loop." + (f" (And: {hint})" if hint else ""), diagnosis="missing-eval-mode")
    return passed(f"the model was in eval mode in all {len(calls)} forward passes")


def evaluate_device_inputs(rng):
    labels, pixels = shipped_rows()
    return evaluation_rows(labels, pixels, rng, count=150, batch_size=64)


def judge_evaluate_device(case):
    report = case.student
    verdict = device_verdict(report, "evaluate(model, loader, device)")
    if verdict is not None:
        return verdict
    cpu, value = report["cpu"], report["value"]
    n = len(case.inputs["labels"])
    differs = (f"evaluate with the model on {report['device']} gives {value}, but {cpu} on the CPU "
               "(same model, same images)")
    if cpu is None or value is None:
        return failed(differs)
    verdict = within(value, cpu, _tolerance(report, 0.0, 2.0 / n), message=differs,
                     name=f"the accuracy evaluate gives on {report['device']}",
                     target_name="the accuracy evaluate gives on the CPU")
    if verdict is not None:
        return verdict
    return passed(f"evaluate moves each batch to {report['device']} and gives the CPU's accuracy ({value:.4g})")


# --- q3: train_classifier -------------------------------------------------------------------------

def train_small_inputs(rng):
    labels, pixels = shipped_rows()
    order = rng.permutation(len(labels))
    return {"pixels": pixels[order[:256]], "labels": labels[order[:256]], "batch_size": 64,
            "probe_pixels": pixels[order[256:264]]}


def judge_train_returns(case):
    s = case.student
    if s["output"] is None:
        return failed(f"train_classifier(train_loader, device) should return the trained model (an nn.Module), "
                      f"but it returned {s['kind']['type']}")
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
    return passed(f"train_classifier returned a {s['kind']['type']} mapping ({batch}, 784) images to "
                  f"({batch}, 10) logits, in {s['seconds']:.1f} s on 256 images")


def judge_train_device(case):
    report = case.student
    subject = "train_classifier(train_loader, device)"
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


CHECKS = [
    Check("q1.values", probe="accuracy_cases", inputs=accuracy_inputs, judge=judge_accuracy),
    Check("q1.device", probe="accuracy_device", inputs=accuracy_inputs, judge=judge_accuracy_device),
    Check("q2.values", probe="evaluate_values", inputs=evaluate_inputs, judge=judge_evaluate_value),
    Check("q2.no_grad", probe="evaluate_no_grad", inputs=evaluate_small_inputs, judge=judge_no_grad),
    Check("q2.eval_mode", probe="evaluate_eval_mode", inputs=evaluate_small_inputs, judge=judge_eval_mode),
    Check("q2.device", probe="evaluate_device", inputs=evaluate_device_inputs, judge=judge_evaluate_device),
    Check("q3.returns", probe="train_returns", inputs=train_small_inputs, judge=judge_train_returns),
]
