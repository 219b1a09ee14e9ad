"""Probes of the evaluation vocabulary (tensorgrade/checking/vocabulary_evaluation.py), run inside the sandbox.

Accuracy of a batch of logits, `evaluate(model, loader, device)` (its value, no graph, eval mode),
a trained classifier (what it returns, its predictions for held-out images, whose labels stay
outside) and each of them on a device. What is called comes in `inputs["_call"]`; the probe binds
the names it uses (`logits, labels`; `model, loader, device`; `train_loader, device`).

Images arrive as MNIST pixels (uint8, 0..255) and are scaled as in the course: float32 / 255, shape
(B, 784); labels arrive as int64. Probes return plain data; the judges outside decide.

Every call of the student's code runs inside the simulated accelerator, as a CPU run or, in the
device probes (`*_device`), also a device run (both set up as device_runs.py says; on the real GPU
when the inputs say `"real_device": "cuda"`). `DeviceRun` records what went wrong on the device and
which tensor was at fault: the images or labels of a batch the probe's loader produced, a parameter
of a model left on the CPU, or another CPU tensor (created without `device=`), with the student's line.
"""

import random
import time
import traceback

import numpy as np
import torch
from torch import nn
from torch.overrides import TorchFunctionMode, resolve_name
from torch.utils._pytree import tree_flatten

from tensorgrade.checking.inside.device_runs import MISMATCH, Devices, mistake_kind, on_cpu
from tensorgrade.checking.inside.probing import describe_value, plain_number

TensorBase = torch._C.TensorBase
CELL_FILE_PREFIX = "<ipython-input-"
OPERATORS = {"__eq__": "==", "__ne__": "!=", "__add__": "+", "__radd__": "+", "__iadd__": "+=",
             "__sub__": "-", "__rsub__": "-", "__isub__": "-=", "__mul__": "*", "__rmul__": "*",
             "__imul__": "*=", "__truediv__": "/", "__rtruediv__": "/", "__itruediv__": "/=",
             "__matmul__": "@", "__rmatmul__": "@", "__getitem__": "[...]", "__setitem__": "[...] ="}


# --- data -----------------------------------------------------------------------------------------

def scaled_images(pixels):
    """MNIST pixels as the course feeds them to a model: float32 in [0, 1], shape (B, 784)."""
    return torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.uint8)).reshape(-1, 784).float() / 255.0


def mnist_dataset(pixels, labels):
    return torch.utils.data.TensorDataset(scaled_images(pixels),
                                          torch.from_numpy(np.ascontiguousarray(labels, dtype=np.int64)))


def mnist_loader(pixels, labels, batch_size, shuffle=False, collate_fn=None):
    return torch.utils.data.DataLoader(mnist_dataset(pixels, labels), batch_size=int(batch_size),
                                       shuffle=shuffle, collate_fn=collate_fn)


def reseed(seed):
    """The same random state for the CPU run and the device run of one probe."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def number(value):
    """What a function meant to return a float gave back: its value (if it is one number) and kind.

    A number is a Python float or int, or a NumPy float scalar (`plain_number`: np.mean returns
    one), converted by Python's or NumPy's own conversion; a one-element tensor (also one on the
    simulated device) has its value read with torch's own methods, for the message that names its
    type; NumPy integers too.  Anything else, a subclass of float or int included (it may convert to
    anything), has no value."""
    kind = describe_value(value)
    result = plain_number(value, float)
    if result is None and type(value) is int:
        result = float(value)
    is_number = result is not None
    if result is None:
        integer = plain_number(value, int)
        if integer is not None:
            result = float(integer)
        elif isinstance(value, torch.Tensor):
            with torch._C.DisableTorchFunctionSubclass():
                if TensorBase.numel(value) == 1:
                    result = float(TensorBase.item(TensorBase.detach(value)))
    return {"value": result, "kind": kind, "is_number": is_number}


# --- models the probes evaluate -------------------------------------------------------------------

def class_mean_model(inputs):
    """A linear classifier built from class means (no training needed): logits = x @ W.T + b."""
    weight = torch.from_numpy(np.asarray(inputs["weight"], dtype=np.float32))
    bias = torch.from_numpy(np.asarray(inputs["bias"], dtype=np.float32))
    model = nn.Sequential(nn.Linear(weight.shape[1], weight.shape[0]))
    with torch.no_grad():
        model[0].weight.copy_(weight)
        model[0].bias.copy_(bias)
    return model


class GradRecorder(nn.Module):
    """The class-mean classifier, recording for every forward call whether a graph is being built."""

    def __init__(self, inputs):
        super().__init__()
        self.classifier = class_mean_model(inputs)
        self.calls = []

    def forward(self, x):
        out = self.classifier(x)
        self.calls.append({"grad_enabled": torch.is_grad_enabled(),
                           "inference_mode": torch.is_inference_mode_enabled(),
                           "requires_grad": bool(out.requires_grad),
                           "grad_fn": type(out.grad_fn).__name__ if out.grad_fn is not None else None})
        return out


class ModeRecorder(nn.Module):
    """The class-mean classifier followed by batch norm and dropout, whose outputs differ between
    training mode (batch statistics, random units dropped) and eval mode; records the mode of every
    forward call."""

    def __init__(self, inputs):
        super().__init__()
        self.classifier = class_mean_model(inputs)
        self.norm = nn.BatchNorm1d(self.classifier[0].out_features)
        self.dropout = nn.Dropout(p=0.5)
        self.calls = []

    def forward(self, x):
        self.calls.append({"model": self.training, "batch_norm": self.norm.training,
                           "dropout": self.dropout.training})
        return self.dropout(self.norm(self.classifier(x)))


def predict(model, images, device, chunk=500):
    """The classes a trained model predicts, in eval mode and without a graph, as an int64 array."""
    model.eval()
    predictions = []
    with torch.no_grad():
        for start in range(0, len(images), chunk):
            logits = model(images[start:start + chunk].to(device))
            predictions.append(logits.argmax(dim=1).cpu())
    return torch.cat(predictions).numpy().astype(np.int64)


def output_kind(model, images):
    """What the model gives for a batch of images: type, shape, dtype."""
    model.eval()
    with torch.no_grad():
        out = model(images)
    return describe_value(out)


# --- running student code on a device --------------------------------------------------------------

class CulpritMode(TorchFunctionMode):
    """On a device mismatch, notes which CPU tensors the failing torch call was given."""

    def __init__(self, run):
        super().__init__()
        self.run = run

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        try:
            return func(*args, **kwargs)
        except RuntimeError as error:
            if self.run.culprit is None and MISMATCH in str(error):
                self.run.culprit = self.run.identify(func, args, kwargs)
            raise


class DeviceRun(Devices):
    """Student code on a device: the result, or what went wrong there and the tensor at fault."""

    def __init__(self, inputs):
        super().__init__(inputs)
        self.seen = []  # the simulator's events during device runs (not the CPU runs'), but mismatches
        self.roles = {}  # storage address of a CPU tensor the probe handed out -> "images" / "labels"
        self.alive = []  # those tensors, kept so that no address is reused
        self.culprit = None
        self.failure = None

    def track(self, role, tensor):
        self.roles[tensor.untyped_storage().data_ptr()] = role
        self.alive.append(tensor)

    def collate(self, batch):
        images, labels = torch.utils.data.default_collate(batch)
        self.track("images", images)
        self.track("labels", labels)
        return images, labels

    def loader(self, pixels, labels, batch_size, shuffle=False):
        """A DataLoader of CPU batches, as the student gets it; the probe knows each batch's tensors."""
        dataset = mnist_dataset(pixels, labels)
        self.track("images", dataset.tensors[0])
        self.track("labels", dataset.tensors[1])
        return torch.utils.data.DataLoader(dataset, batch_size=int(batch_size), shuffle=shuffle,
                                           collate_fn=self.collate)

    def identify(self, func, args, kwargs):
        name = resolve_name(func) or getattr(func, "__name__", str(func))
        short = name.rsplit(".", 1)[-1]
        found = []
        for tensor in tree_flatten((args, kwargs))[0]:
            if not isinstance(tensor, torch.Tensor) or tensor.device.type != "cpu" or tensor.dim() == 0:
                continue
            role = self.roles.get(tensor.untyped_storage().data_ptr())
            if role is None:
                role = "parameter" if isinstance(tensor, nn.Parameter) else "other"
            found.append({"role": role, "shape": list(tensor.shape), "dtype": str(tensor.dtype).replace("torch.", "")})
        order = ["images", "labels", "parameter", "other"]
        found.sort(key=lambda item: order.index(item["role"]))
        return {"call": OPERATORS.get(short, short), "function": name, "tensors": found}

    def run(self, function, *args):
        """function(*args) on the device; None after a device mistake (see `failure`); other errors propagate."""
        active = self.on_device()
        try:
            with active, CulpritMode(self):
                return function(*args)
        except Exception as error:
            failure = self._failure(error)
            if failure is None:
                raise
            self.failure = failure
            return None
        finally:
            # a mismatch is reported as the failure, with its culprit
            self.seen += [e for e in self.simulator_events() if e["kind"] != "device-mismatch" and e not in self.seen]

    def _failure(self, error):
        message = str(error)
        kind = mistake_kind(message, error)
        if kind is None:
            return None
        op = None
        if "(in aten." in message:
            op = message.split("(in ", 1)[1].split(":", 1)[0]
        lines = [frame.line for frame in traceback.extract_tb(error.__traceback__)
                 if frame.filename.startswith(CELL_FILE_PREFIX) and frame.line]
        return {"kind": kind, "type": type(error).__name__, "message": message.strip().splitlines()[0][:400],
                "op": op, "line": lines[-1].strip()[:200] if lines else None,
                "culprit": self.culprit if kind == "device-mismatch" else None}

    def report(self):
        return {"device": str(self.device), "kind": self.kind, "events": self.seen, "failure": self.failure}


# --- probes ---------------------------------------------------------------------------------------

def _student(ns, inputs, *names):
    """The check's call (`inputs["_call"]`) as a function of the values bound to `names`."""
    from tensorgrade.checking.inside.standard_probes import evaluate  # here: that module imports this one

    return lambda *values: evaluate(ns, {"_call": inputs["_call"], **dict(zip(names, values))})


def _batch(case):
    return (torch.from_numpy(np.array(case["logits"])),
            torch.from_numpy(np.array(case["labels"], dtype=np.int64)))


def probe_accuracy_cases(ns, inputs):
    accuracy = _student(ns, inputs, "logits", "labels")
    results = []
    for case in inputs["cases"]:
        logits, labels = _batch(case)
        with on_cpu(inputs):
            value = accuracy(logits, labels)
        results.append(number(value))
    return {"cases": results}


def probe_accuracy_device(ns, inputs):
    accuracy = _student(ns, inputs, "logits", "labels")
    run = DeviceRun(inputs)
    cases = []
    for case in inputs["cases"]:
        logits, labels = _batch(case)
        with on_cpu(inputs):
            on_cpu_value = number(accuracy(logits.clone(), labels.clone()))["value"]
        value = run.run(accuracy, logits.to(run.device), labels.to(run.device))
        if run.failure is not None:
            break
        cases.append({"cpu": on_cpu_value, "device": number(value)["value"]})
    return {**run.report(), "cases": cases}


def _evaluated(ns, inputs, model):
    evaluate = _student(ns, inputs, "model", "loader", "device")
    loader = mnist_loader(inputs["pixels"], inputs["labels"], inputs["batch_size"])
    with on_cpu(inputs):
        return evaluate(model, loader, torch.device("cpu"))


def probe_evaluate_value(ns, inputs):
    return number(_evaluated(ns, inputs, class_mean_model(inputs)))


def probe_evaluate_no_grad(ns, inputs):
    model = GradRecorder(inputs)
    value = _evaluated(ns, inputs, model)
    return {"calls": model.calls, "result": number(value)}


def probe_evaluate_eval_mode(ns, inputs):
    model = ModeRecorder(inputs)
    model.train()  # as a model comes out of training
    running_mean = model.norm.running_mean.clone()
    value = _evaluated(ns, inputs, model)
    return {"calls": model.calls, "result": number(value),
            "running_stats_changed": not torch.equal(running_mean, model.norm.running_mean)}


def probe_evaluate_device(ns, inputs):
    evaluate = _student(ns, inputs, "model", "loader", "device")
    run = DeviceRun(inputs)
    on_cpu_value = number(_evaluated(ns, inputs, class_mean_model(inputs)))["value"]
    value = run.run(evaluate, class_mean_model(inputs).to(run.device),
                    run.loader(inputs["pixels"], inputs["labels"], inputs["batch_size"]), run.device)
    return {**run.report(), "cpu": on_cpu_value, "value": None if run.failure else number(value)["value"]}


def probe_trained_classifier(ns, inputs):
    train_classifier = _student(ns, inputs, "train_loader", "device")
    loader = mnist_loader(inputs["pixels"], inputs["labels"], inputs["batch_size"], shuffle=True)
    started = time.perf_counter()
    with on_cpu(inputs):
        model = train_classifier(loader, torch.device("cpu"))
    seconds = time.perf_counter() - started
    if not isinstance(model, nn.Module):
        return {"kind": describe_value(model), "output": None, "seconds": seconds}
    images = scaled_images(inputs["probe_pixels"])
    with on_cpu(inputs):
        output = output_kind(model, images)
    return {"kind": describe_value(model), "output": output, "seconds": seconds, "batch": len(images)}


def _as_images(pixels):
    """uint8 rows -> the float32 (N, 784) images in [0, 1] the course feeds its models."""
    return torch.tensor(np.asarray(pixels), dtype=torch.float32).reshape(len(pixels), -1).div_(255)


def probe_held_out_predictions(ns, inputs):
    """Trains on the rows given and predicts the held-out images: their labels never come in; the
    judge computes the accuracy outside."""
    train_classifier = _student(ns, inputs, "train_loader", "device")
    dataset = torch.utils.data.TensorDataset(_as_images(inputs["train_pixels"]),
                                             torch.tensor(np.asarray(inputs["train_labels"]), dtype=torch.int64))
    loader = torch.utils.data.DataLoader(dataset, batch_size=int(inputs["batch_size"]), shuffle=True)
    started = time.perf_counter()
    with on_cpu(inputs):
        model = train_classifier(loader, torch.device("cpu"))
    seconds = time.perf_counter() - started
    if not isinstance(model, nn.Module):
        return {"kind": describe_value(model), "predictions": None, "seconds": seconds}
    images = _as_images(inputs["images"])
    model.eval()
    with on_cpu(inputs), torch.no_grad():
        logits = torch.cat([model(part) for part in torch.split(images, 250)])
    return {"kind": describe_value(model), "logits": describe_value(logits), "seconds": seconds,
            "predictions": logits.argmax(dim=1).to(torch.int64).cpu().numpy()}


def probe_train_device(ns, inputs):
    train_classifier = _student(ns, inputs, "train_loader", "device")
    run = DeviceRun(inputs)
    images = scaled_images(inputs["probe_pixels"])
    seed = int(inputs["seed"])
    reseed(seed)
    with on_cpu(inputs):
        model = train_classifier(mnist_loader(inputs["pixels"], inputs["labels"], inputs["batch_size"],
                                              shuffle=True), torch.device("cpu"))
        if not isinstance(model, nn.Module):
            return {**run.report(), "kind": describe_value(model), "on_device": None}
        on_cpu_predictions = predict(model, images, torch.device("cpu"))
    reseed(seed)
    model = run.run(train_classifier, run.loader(inputs["pixels"], inputs["labels"], inputs["batch_size"],
                                                 shuffle=True), run.device)
    result = {"kind": describe_value(model), "cpu": on_cpu_predictions, "on_device": None,
              "parameter_devices": None, "predictions": None}
    if isinstance(model, nn.Module):
        result["on_device"] = run.holds(model)
        result["parameter_devices"] = sorted({str(t.device) for t in [*model.parameters(), *model.buffers()]})
        if result["on_device"]:
            result["predictions"] = run.run(predict, model, images.to(run.device), run.device)
    return {**run.report(), **result}


# Only the probes: `from ... import *` in standard_probes registers them with the vocabulary.
__all__ = sorted(name for name in dir() if name.startswith("probe_"))
