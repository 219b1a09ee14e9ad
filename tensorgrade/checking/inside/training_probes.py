"""The training-loop probes of the check vocabulary (tensorgrade/checking/vocabulary_training.py), run
inside the sandbox.

The student's training functions (`train_one_epoch(model, loader, loss_fn, optimizer, device)`,
`fit(model, loader, epochs, device)`, `get_device()`, a model builder) are called on the grader's own
small model (`ProbeNet`, which records the mode and the devices of every forward pass) and loss
(`RecordingLoss`, which records the devices of logits and labels), so each check sees one function of
the student's at a time. Which function is named once in the check (`inputs["_call"]`); the rows it
trains on come in `inputs["data"]` (pixels 0..255, labels, batch_size, and the seed of the model's start).

Devices: every run happens inside the simulated accelerator (tensorgrade.checking.inside.devicesim),
installed in this sandboxed process only. CPU runs send hard-coded 'cuda'/'mps' to the CPU, so the rest
of a submission is graded on its merits; device runs give the code the simulated `gpu:0` and record
every device mistake. A test on a machine with CUDA passes `real_device: "cuda"` in the inputs to run
the very same probes on the real device. Both runs are set up by `Devices` (device_runs.py).
"""

from __future__ import annotations

import contextlib
import random

import numpy as np
import torch
from torch import nn

from tensorgrade.checking.inside.device_runs import Devices
from tensorgrade.checking.inside.probing import describe_value, plain_number, registered_parameters

__all__ = ["probe_device_returned", "probe_device_availability", "probe_classifier_outputs", "probe_one_epoch",
           "probe_one_epoch_on_device", "probe_gradient_freshness", "probe_training_mode", "probe_fit_losses",
           "probe_fit_on_device"]

TensorBase = torch._C.TensorBase


def _function(ns, inputs):
    """The student's function the check names (its call expression, evaluated in their namespace)."""
    from tensorgrade.checking.inside.standard_probes import evaluate  # standard_probes imports this module

    return evaluate(ns, inputs)


class ProbeNet(nn.Module):
    """A small MLP (optionally with dropout) that records, per forward pass, its mode and the devices
    of its input and weights."""

    def __init__(self, hidden=8, dropout=0.0):
        super().__init__()
        self.hidden = nn.Linear(784, hidden)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, 10)
        self.calls = []

    def forward(self, x):
        self.calls.append({"training": self.training,
                           "input": str(x.device) if isinstance(x, torch.Tensor) else type(x).__name__,
                           "weights": str(self.hidden.weight.device)})
        return self.out(self.dropout(torch.relu(self.hidden(x))))


class RecordingLoss(nn.CrossEntropyLoss):
    """nn.CrossEntropyLoss that records the devices of the logits and labels it is given."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def forward(self, logits, labels):
        self.calls.append({"logits": str(getattr(logits, "device", type(logits).__name__)),
                           "labels": str(getattr(labels, "device", type(labels).__name__))})
        return super().forward(logits, labels)


def images_of(data):
    return torch.as_tensor(np.asarray(data["pixels"]), dtype=torch.float32) / 255


def loader_from(data):
    """The drawn rows as the assignment's (images, labels) batches, in order, on the CPU."""
    targets = torch.as_tensor(np.asarray(data["labels"]), dtype=torch.int64)
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images_of(data), targets),
                                       batch_size=int(data["batch_size"]), shuffle=False)


def batches(data):
    return -(-len(data["labels"]) // int(data["batch_size"]))


def _first_mismatch(calls, fields, device):
    """The first recorded call whose tensors are not all on `device` (else the first call)."""
    for call in calls:
        if any(call[f] != device for f in fields):
            return call
    return calls[0] if calls else None


def number(value):
    """A float for what a training function returned when it is one number: a Python float or a NumPy
    float scalar (`plain_number`), else a one-element tensor (also one on the simulated device), read
    with torch's own methods, not any a subclass defines (the judge still names its type); else None:
    a float subclass may convert to anything."""
    result = plain_number(value, float)
    if result is None and isinstance(value, torch.Tensor):
        with torch._C.DisableTorchFunctionSubclass():
            if TensorBase.numel(value) == 1:
                result = float(TensorBase.item(TensorBase.detach(value)))
    return result


def is_float(value):
    """What the contract calls a Python float: one, or NumPy's float64/float32 (np.mean returns one)."""
    return plain_number(value, float) is not None


def parameters_of(model):
    return {name: p.detach().cpu().clone() for name, p in model.named_parameters()}


def run_on_device(devices, run):
    """`run(device, context)` on the CPU, then on the device; the device run's errors are observations."""
    cpu = run(devices.cpu, devices.on_cpu())
    error = None
    try:
        on_device = run(devices.device, devices.on_device())
    except Exception as exc:  # the device mistake itself, as the student would see it on a GPU
        error = {"type": type(exc).__name__, "message": str(exc)[:2000]}
        on_device = None
    return cpu, on_device, error


def _device_record(devices, models, cpu, on_device, error, inputs, loss, given_on_device):
    model = models.get(devices.device.type)
    device = str(devices.device)
    return {
        "kind": devices.kind, "device": device, "subject": inputs["_call"],
        "cpu": {"value": cpu["value"], "parameters": cpu["parameters"]},
        "run": {"error": error, "events": devices.events(error),
                "value": on_device["value"] if on_device else None,
                "parameters": on_device["parameters"] if on_device else None,
                "forward": _first_mismatch(model.calls, ("input", "weights"), device) if model else None,
                "loss": _first_mismatch(on_device["loss_calls"] if on_device else [], ("logits", "labels"), device)
                if loss else None,
                "model_on_device": devices.holds(model) if model else False,
                "model_given_on_device": given_on_device},
    }


# ---------------------------------------------------------------------------------------------
# The device to train on
# ---------------------------------------------------------------------------------------------

def probe_device_returned(ns, inputs):
    get_device = _function(ns, inputs)
    devices = Devices(inputs)
    with devices.on_cpu():
        device = get_device()
    return {"kind": describe_value(device), "is_device": isinstance(device, torch.device),
            "text": str(device) if isinstance(device, (str, torch.device)) else None}


def probe_device_availability(ns, inputs):
    """get_device() on a machine with CUDA and on one without (simulated: torch.cuda says so)."""
    get_device = _function(ns, inputs)
    devices = Devices(inputs)
    answers = []
    for available in ([True, False] if devices.sim is not None else [torch.cuda.is_available()]):
        if devices.sim is not None:
            with devices.sim.active(cuda_available=available):
                device = get_device()
        else:
            device = get_device()
        try:
            kind = torch.device(device).type if isinstance(device, (str, torch.device)) else None
        except (RuntimeError, TypeError):
            kind = None
        answers.append({"cuda_available": available, "type": kind, "text": str(device)[:100],
                        "returned": describe_value(device)["type"]})
    return {"answers": answers}


# ---------------------------------------------------------------------------------------------
# A classifier's outputs
# ---------------------------------------------------------------------------------------------

def probe_classifier_outputs(ns, inputs):
    """The model the call builds, and its outputs for batches of `batch_sizes` of the drawn images, in eval mode."""
    with Devices(inputs).on_cpu():
        model = _function(ns, inputs)
        if not isinstance(model, nn.Module):
            return {"kind": describe_value(model), "module": False}
        images = images_of(inputs["data"])
        shapes, dtypes = [], []
        model.eval()  # a batch of one is fine at inference, also with batch norm
        with torch.no_grad():
            for size in inputs["batch_sizes"]:
                out = model(images[:size])
                shapes.append(list(out.shape) if isinstance(out, torch.Tensor) else None)
                dtypes.append(str(out.dtype) if isinstance(out, torch.Tensor) else describe_value(out)["type"])
            logits = model(images)
    parameters = list(model.parameters())
    return {"module": True, "kind": describe_value(model), "batch_sizes": list(inputs["batch_sizes"]),
            "shapes": shapes, "dtypes": dtypes,
            "parameters": sum(p.numel() for p in parameters),
            "trainable": sum(p.numel() for p in parameters if p.requires_grad),
            "logits": logits.detach().cpu().to(torch.float64) if isinstance(logits, torch.Tensor) else None}


# ---------------------------------------------------------------------------------------------
# One epoch: train_one_epoch(model, loader, loss_fn, optimizer, device)
# ---------------------------------------------------------------------------------------------

def probe_one_epoch(ns, inputs):
    """One epoch on the CPU from a fixed start: what it returns and where it leaves the parameters."""
    train_one_epoch = _function(ns, inputs)
    data = inputs["data"]
    torch.manual_seed(int(data["seed"]))
    model = ProbeNet(hidden=8)
    optimizer = torch.optim.SGD(model.parameters(), lr=float(inputs["lr"]))
    with Devices(inputs).on_cpu():
        result = train_one_epoch(model, loader_from(data), RecordingLoss(), optimizer, torch.device("cpu"))
    return {"kind": describe_value(result), "is_float": is_float(result), "value": number(result),
            "requires_grad": bool(getattr(result, "requires_grad", False)),
            "batches": batches(data), "forward_passes": len(model.calls), "parameters": parameters_of(model)}


def probe_one_epoch_on_device(ns, inputs):
    """One epoch with the model already on the device (as COURSE.md says), then the same on the CPU."""
    train_one_epoch = _function(ns, inputs)
    data = inputs["data"]
    devices = Devices(inputs)
    models = {}

    def run(device, context):
        torch.manual_seed(int(data["seed"]))
        model = models[device.type] = ProbeNet(hidden=8)
        loss_fn = RecordingLoss()
        with context:
            model.to(device)
            optimizer = torch.optim.SGD(model.parameters(), lr=float(inputs["lr"]))
            result = train_one_epoch(model, loader_from(data), loss_fn, optimizer, device)
            value = number(result)
        return {"value": value, "parameters": parameters_of(model), "loss_calls": loss_fn.calls}

    cpu, on_device, error = run_on_device(devices, run)
    return _device_record(devices, models, cpu, on_device, error, inputs, loss=True, given_on_device=True)


def probe_gradient_freshness(ns, inputs):
    """At every optimizer.step(): is each p.grad this step's gradient, an accumulation of earlier
    ones (zero_grad forgotten), or empty (reset between backward() and step())?"""
    train_one_epoch = _function(ns, inputs)
    data = inputs["data"]
    torch.manual_seed(int(data["seed"]))
    model = ProbeNet(hidden=8)
    optimizer = torch.optim.SGD(model.parameters(), lr=float(inputs["lr"]))
    params = list(model.parameters())
    incoming = [torch.zeros_like(p) for p in params]
    backward_passes = [0]

    def receive(index):
        def hook(grad):
            incoming[index].add_(grad.detach())
            if index == 0:
                backward_passes[0] += 1
        return hook

    for index, p in enumerate(params):
        p.register_hook(receive(index))
    steps = []

    def before_step(optimizer, args, kwargs):
        seen = []
        for p, fresh in zip(params, incoming):
            if p.grad is None:
                seen.append("none")
            elif torch.allclose(p.grad, fresh, rtol=1e-5, atol=1e-8):
                seen.append("fresh")
            elif not p.grad.any():
                seen.append("zero")
            else:
                seen.append("stale")
        worst = next((kind for kind in ("stale", "none", "zero") if kind in seen), "fresh")
        extra = max((float((p.grad - fresh).abs().max()) for p, fresh in zip(params, incoming)
                     if p.grad is not None), default=0.0)
        steps.append({"status": worst, "backward_passes": backward_passes[0], "excess": extra})
        backward_passes[0] = 0

    def after_step(optimizer, args, kwargs):
        for fresh in incoming:
            fresh.zero_()

    optimizer.register_step_pre_hook(before_step)
    optimizer.register_step_post_hook(after_step)
    with Devices(inputs).on_cpu():
        train_one_epoch(model, loader_from(data), nn.CrossEntropyLoss(), optimizer, torch.device("cpu"))
    return {"steps": steps, "batches": batches(data)}


def probe_training_mode(ns, inputs):
    """train_one_epoch given a model in eval mode (as after an evaluation): the mode of each forward."""
    train_one_epoch = _function(ns, inputs)
    data = inputs["data"]
    torch.manual_seed(int(data["seed"]))
    model = ProbeNet(hidden=8, dropout=0.5)
    model.eval()
    optimizer = torch.optim.SGD(model.parameters(), lr=float(inputs["lr"]))
    with Devices(inputs).on_cpu():
        train_one_epoch(model, loader_from(data), nn.CrossEntropyLoss(), optimizer, torch.device("cpu"))
    return {"modes": [call["training"] for call in model.calls], "training_after": model.training}


# ---------------------------------------------------------------------------------------------
# Several epochs: fit(model, loader, epochs, device)
# ---------------------------------------------------------------------------------------------

FIT_LAYERS = ("hidden.weight", "hidden.bias", "out.weight", "out.bias")  # ProbeNet's, as nn.Module registers them


def measured_loss(model, images, labels):
    """(the mean cross-entropy of a ProbeNet's weights on the rows, else None; why not).

    Computed here, from the parameters nn.Module registered (read from the modules' own state) with
    torch's own tensor operations and the grader's own cross-entropy: never through the model's
    forward or a loss the submission may have replaced, nor from anything it reports."""
    registered = dict(registered_parameters(model))
    if sorted(registered) != sorted(FIT_LAYERS):
        return None, (f"the model's registered parameters are {sorted(registered)[:8]} instead of ProbeNet's "
                      f"{list(FIT_LAYERS)}: fit replaced the layers of the model it was given")
    weights = []
    for name in FIT_LAYERS:
        p = registered[name]
        if type(p) is not nn.Parameter and type(p) is not torch.Tensor:
            return None, f"the model's {name} was replaced by a {describe_value(p)['type']}, not a tensor"
        weights.append(p.detach().to("cpu", torch.float64))
    w1, b1, w2, b2 = weights
    try:
        with torch.no_grad():
            hidden = torch.relu(torch.addmm(b1, images.to(torch.float64), w1.t()))
            logits = torch.addmm(b2, hidden, w2.t())
            picked = logits.log_softmax(dim=1).gather(1, labels.reshape(-1, 1))
            return float(-picked.mean()), None
    except RuntimeError as exc:  # weights of another shape than ProbeNet's
        return None, f"the model's weights no longer fit ProbeNet's layers: {str(exc)[:300]}"


@contextlib.contextmanager
def counting_steps():
    """The number of optimizer steps taken meanwhile (any torch.optim optimizer), in `counter[0]`."""
    from torch.optim.optimizer import register_optimizer_step_post_hook

    counter = [0]

    def count(optimizer, args, kwargs):
        counter[0] += 1

    handle = register_optimizer_step_post_hook(count)
    try:
        yield counter
    finally:
        handle.remove()


def probe_fit_losses(ns, inputs):
    """fit() from a fixed start: the losses it returns (for their form) and what the probe observes
    of its training, which is what says whether it trained.

    `measured[k]` is the loss of the grader's model on the training rows after fit(epochs=k), each
    from the same start (k = 0: before any training), computed by the probe itself (`measured_loss`);
    `steps` and `moved` are the optimizer steps taken and the largest change of a weight in the full
    run. Every model is built, and its starting weights copied, before the first call to fit."""
    fit = _function(ns, inputs)
    data = inputs["data"]
    epochs = int(inputs["epochs"])
    images, labels = images_of(data), torch.as_tensor(np.asarray(data["labels"]), dtype=torch.int64)
    models = []
    for _ in range(epochs + 1):
        torch.manual_seed(int(data["seed"]))
        models.append(ProbeNet(hidden=32))
    start = {name: p.detach().clone() for name, p in registered_parameters(models[epochs])}
    measured = {0: measured_loss(models[0], images, labels)}
    # Every run starts from the random state the full run starts from: a shorter run is its prefix.
    states = torch.get_rng_state(), np.random.get_state(), random.getstate()
    steps, losses = 0, None
    for count in (epochs, *range(1, epochs)):  # the full run first: its returned losses are recorded
        torch.set_rng_state(states[0])
        np.random.set_state(states[1])
        random.setstate(states[2])
        with counting_steps() as counter, Devices(inputs).on_cpu():
            returned = fit(models[count], loader_from(data), count, torch.device("cpu"))
        if count == epochs:
            steps, losses = counter[0], returned
        measured[count] = measured_loss(models[count], images, labels)
    end = dict(registered_parameters(models[epochs]))
    moved = max((float((end[name].detach().cpu().to(torch.float64) - before.to(torch.float64)).abs().max())
                 for name, before in start.items() if name in end
                 and (type(end[name]) is nn.Parameter or type(end[name]) is torch.Tensor)
                 and tuple(end[name].shape) == tuple(before.shape)), default=None)
    is_list = isinstance(losses, (list, tuple))
    return {"kind": describe_value(losses), "is_list": is_list,
            "types": sorted({type(v).__name__ for v in losses}) if is_list else None,
            "all_floats": all(is_float(v) for v in losses) if is_list else None,
            "losses": [number(v) for v in losses] if is_list else None,
            "measured": [measured[count][0] for count in range(epochs + 1)],
            "measure_problem": next((measured[c][1] for c in range(epochs + 1) if measured[c][1]), None),
            "steps": steps, "batches": batches(data), "moved": moved}


def probe_fit_on_device(ns, inputs):
    """fit() given a model built on the CPU and the device: it must move the model there itself."""
    fit = _function(ns, inputs)
    data = inputs["data"]
    devices = Devices(inputs)
    models = {}

    def run(device, context):
        torch.manual_seed(int(data["seed"]))
        model = models[device.type] = ProbeNet(hidden=8)
        with context:
            losses = fit(model, loader_from(data), int(inputs["epochs"]), device)
            values = [number(v) for v in losses] if isinstance(losses, (list, tuple)) else None
        return {"value": values, "parameters": parameters_of(model)}

    cpu, on_device, error = run_on_device(devices, run)
    return _device_record(devices, models, cpu, on_device, error, inputs, loss=False, given_on_device=False)
