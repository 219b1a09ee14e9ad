"""Hidden probes for a4_training (run inside the sandbox, on the student's namespace).

Both watch train_one_epoch's behaviour, never its source: the gradients each optimizer step sees,
and the mode the model is in during each forward pass.
"""

import numpy as np
import torch
from torch import nn

from tensorgrade.checking.inside.probing import need


class Net(nn.Module):
    """A small MLP with dropout that records its mode at every forward pass."""

    def __init__(self, dropout=0.0):
        super().__init__()
        self.hidden = nn.Linear(784, 8)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(8, 10)
        self.modes = []

    def forward(self, x):
        self.modes.append(self.training)
        return self.out(self.dropout(torch.relu(self.hidden(x))))


def _loader(inputs):
    """The rows the grader drew, as the (images, labels) batches of the assignment, in order."""
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(np.asarray(inputs["pixels"], np.float32) / 255.0),
                                             torch.from_numpy(np.asarray(inputs["labels"], np.int64)))
    return torch.utils.data.DataLoader(dataset, batch_size=int(inputs["batch_size"]))


def _on_cpu():
    """As the public probes' CPU runs: a hard-coded 'cuda'/'mps' goes to the CPU (and is recorded)."""
    from tensorgrade.checking.inside.devicesim import SimulatedAccelerator

    return SimulatedAccelerator.install(name="gpu", cuda_available=True).active(cuda_available=False,
                                                                                  hardcoded_to="cpu")


def gradient_freshness(ns, inputs):
    """At every optimizer.step(): is each p.grad this step's gradient, an accumulation of earlier
    ones (zero_grad forgotten), or empty (reset between backward() and step())?"""
    train_one_epoch = need(ns, "train_one_epoch")
    torch.manual_seed(int(inputs["seed"]))
    model = Net()
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
    with _on_cpu():
        train_one_epoch(model, _loader(inputs), nn.CrossEntropyLoss(), optimizer, torch.device("cpu"))
    return {"steps": steps, "batches": -(-len(inputs["labels"]) // int(inputs["batch_size"]))}


def training_mode(ns, inputs):
    """train_one_epoch given a model in eval mode (as after an evaluation): the mode of each forward."""
    train_one_epoch = need(ns, "train_one_epoch")
    torch.manual_seed(int(inputs["seed"]))
    model = Net(dropout=0.5)
    model.eval()
    optimizer = torch.optim.SGD(model.parameters(), lr=float(inputs["lr"]))
    with _on_cpu():
        train_one_epoch(model, _loader(inputs), nn.CrossEntropyLoss(), optimizer, torch.device("cpu"))
    return {"modes": model.modes, "training_after": model.training}
