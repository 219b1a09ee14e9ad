"""Where the device probes run student code: a CPU run and a device run, the same for every vocabulary.

The training probes (training_probes.py) and the evaluation probes (evaluation_probes.py) call a
student's function once on the CPU and once on a device.  The device is the simulated accelerator of
devicesim.py, installed in this sandboxed process only, unless the inputs say `"real_device": "cuda"`
(the tests on a GPU machine), which runs the very same probes on the real device.

CPU runs see no CUDA and send a hard-coded 'cuda'/'mps' to the CPU, so the rest of a submission is
graded on its merits and only the device checks pay for such a mistake; device runs give the code
the simulated `gpu:0`, with `torch.cuda.is_available()` saying yes, and record every device mistake.
"""

from __future__ import annotations

import contextlib
import re

import torch

SIMULATED_DEVICE = "gpu"

# CUDA's own words for a device mismatch (the simulator raises the same).
MISMATCH = "Expected all tensors to be on the same device"


def simulator():
    """The simulated accelerator, installed once per process (on first use, not at import)."""
    from tensorgrade.checking.inside.devicesim import SimulatedAccelerator

    return SimulatedAccelerator.install(name=SIMULATED_DEVICE, cuda_available=True)


def real_device(inputs):
    """The real device a test on a GPU machine names in the inputs, else None (the simulated one)."""
    return inputs.get("real_device") if isinstance(inputs, dict) else None


def on_cpu(inputs):
    """The context of a CPU run of student code, for probes that make no device run."""
    return _cpu_run(None if real_device(inputs) else simulator())


def _cpu_run(sim):
    # A hard-coded 'cuda'/'mps' goes to the CPU, so only the device checks pay for it.
    return contextlib.nullcontext() if sim is None else sim.active(cuda_available=False, hardcoded_to="cpu")


def mistake_kind(message, error=None):
    """"device-mismatch" or "numpy-on-device" when `message` is torch's error for that mistake, else None;
    with `error`, only when it is also of the type torch raises for it."""
    if MISMATCH in message and (error is None or isinstance(error, RuntimeError)):
        return "device-mismatch"
    if "to numpy" in message and "device type tensor" in message and (error is None or isinstance(error, TypeError)):
        return "numpy-on-device"
    return None


class Devices:
    """The CPU run and the device run of a probe: simulated by default, real when the inputs say so."""

    def __init__(self, inputs):
        real = real_device(inputs)
        if real:
            self.sim = None
            self.device = torch.device(real)
            if self.device.type == "cuda" and self.device.index is None:
                self.device = torch.device("cuda", torch.cuda.current_device())
            self.kind = "real"
        else:
            self.sim = simulator()
            self.device = self.sim.device
            self.kind = "simulated"
        self.cpu = torch.device("cpu")

    def on_cpu(self):
        return _cpu_run(self.sim)

    def on_device(self):
        """The context of a device run; the simulator's record starts empty."""
        if self.sim is None:
            return contextlib.nullcontext()
        self.sim.clear_events()
        return self.sim.active(cuda_available=True)

    def simulator_events(self):
        """The simulator's events and CPU moves since the last device run began, as plain data."""
        if self.sim is None:
            return []
        return [{"kind": e.kind, "message": e.message, "op": e.op} for e in [*self.sim.events, *self.sim.cpu_moves]]

    def events(self, error):
        """Device mistakes seen in the device run: the simulator's events, or on a real device the
        error torch raised (`{"type", "message"}`), read the same way."""
        if self.sim is not None:
            return self.simulator_events()
        if error is None:
            return []
        message = error["message"]
        kind = mistake_kind(message)
        if kind == "device-mismatch":
            op = re.search(r"wrapper_[A-Za-z]*_+(\w+)", message) or re.search(r"in (aten\.\w+)", message)
            return [{"kind": kind, "message": message, "op": op.group(1) if op else None}]
        if kind == "numpy-on-device":
            return [{"kind": kind, "message": message, "op": "torch.Tensor.numpy"}]
        return []

    def holds(self, module):
        """Whether every parameter and buffer of `module` (and at least one) is on the device."""
        tensors = [*module.parameters(), *module.buffers()]
        return bool(tensors) and all(t.device == self.device for t in tensors)
