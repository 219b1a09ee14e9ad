"""A simulated accelerator: run a student's PyTorch code "on a GPU" on a CPU-only grading machine.

Most graders have no GPU, yet the classic mistakes of a deep-learning course are about devices: a
model that was never moved, a batch or its labels left on the CPU, a tensor created without
`device=`, `.numpy()` on a device tensor, a hard-coded `'cuda:0'` or `'mps'`.  This module gives
torch a second device (PrivateUse1, renamed to e.g. `gpu`) whose tensors hold ordinary CPU tensors,
so every result is numerically identical to the CPU run, while the device rules of CUDA are
enforced and every violation is recorded as a `DeviceEvent` the judge can name.

    from tensorgrade.checking.inside.devicesim import SimulatedAccelerator
    sim = SimulatedAccelerator.install(name="gpu", cuda_available=True)
    with sim.active():
        losses = ns["fit"](model, loader, epochs=2, device=sim.device)
    sim.events          # [DeviceEvent(kind="hardcoded-cuda", message="tensor.to('cuda:0')", ...)]

A device fixed outside the code under test names the CPU on a grading machine without a GPU: a
notebook's top-level `device = "cuda:0" if torch.cuda.is_available() else "cpu"` (run before any
check) used by a function instead of its `device` argument.  So while the simulated device is the one
given (`active()` with CUDA simulated), an explicit move of a CPU tensor or model to the CPU, or a
tensor created with `device='cpu'`, is recorded too, in `sim.cpu_moves` (kind "moved-to-cpu"; not a
mistake in itself, so not in `sim.events`): the judge names it when the run then fails with a batch or
model on the CPU, where "move each batch" would be beside the point.

How it works (this module installs the device and runs active(); each job has a module of its own):
- devicesim_tensor.py: `SimulatedTensor` is a wrapper subclass: its metadata says `gpu:0`, its `_host`
  attribute is the CPU tensor with the values.  `__torch_dispatch__` checks devices the way CUDA does
  (0-dim CPU tensors may mix in, as CPU scalars may on CUDA), runs the op on the host tensors and wraps
  the results.  Autograd, optimizers and `nn.Module.to` work on it unchanged.  Factory functions with
  `device="gpu"` (also the ones torch calls internally, e.g. for the gradients) reach PrivateUse1
  kernels registered with `torch.library` that build on the CPU.
- `active()` adds what only matters while student code runs: devicesim_hardcoded.py, a
  TorchFunctionMode that records and aliases hard-coded `'cuda'`/`'mps'` devices, and patched
  `nn.Module.to` / `.cuda` (one event per model, not one per parameter); devicesim_cuda.py, with
  `cuda_available=True`, a `torch.cuda` that says yes, legacy tensor types included
  (`active(cuda_available=False)` one that says no; `active(hardcoded_to="cpu")` sends hard-coded
  devices to the CPU, to grade the rest of the code there).

Installing renames a torch backend and registers kernels for the whole process, irreversibly: do it
only in a sandboxed grading child process.  Importing this module installs nothing; it only fills in
copyreg's cache of `torch.Tensor` and `nn.Parameter` slot names, which moving a parameter onto the
device reads (torch.utils.swap_tensors) and would otherwise add to those classes mid-check.  A
grader that imports it before taking its integrity baseline (a worker preload) sees no class change
from device checks: install() also removes the `Tensor.gpu()`, `Tensor.is_gpu` and `Module.gpu()`
shortcuts torch generates for a renamed backend (nothing in torch uses them).

Known limits:
- Device tensors report `device.type == "gpu"` and `is_cuda == False`: code that branches on those
  takes its non-CUDA branch.  `torch.device("cuda")` itself is not an event, only its use is.
- In-place ops that change a tensor's shape or strides (`resize_`, `unsqueeze_`, `t_`, `out=` of
  another size) raise NotImplementedError; `param.data = cpu_tensor` raises (CUDA allows it).
- `torch.accelerator` does not list the device; `DataLoader(pin_memory=True)` warns and does not pin.
- `torch.cuda` offers only is_available, device_count, current_device, get_device_name and
  synchronize; streams, memory statistics and device generators are not simulated.
- LSTM/GRU/RNN layers agree with the CPU only to float rounding (the CPU runs them with oneDNN),
  and inter-layer RNN dropout draws other random masks.  The other models checked (MLPs with
  dropout, CNNs with batch norm, embeddings; SGD, Adam, AdamW) train bit-identically to the CPU.
- `torch.save` writes device tensors as CPU tensors, so they load on the CPU.
- Backward through device tensors runs on the calling thread (see install()); in a thread that has
  not entered active(), it fails with an autograd "INTERNAL ASSERT FAILED" about device_ready_queues_.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Iterator

import torch
from torch.utils._pytree import tree_map

from tensorgrade.checking.inside import devicesim_tensor
from tensorgrade.checking.inside.devicesim_cuda import CUDA_UNAVAILABLE, cuda_functions, legacy_cuda_types, patched
from tensorgrade.checking.inside.devicesim_hardcoded import HardcodedDeviceMode, module_cuda, module_to
from tensorgrade.checking.inside.devicesim_tensor import SimulatedTensor, register_kernels

__all__ = ["DeviceEvent", "SimulatedAccelerator", "SimulatedTensor"]


@dataclass
class DeviceEvent:
    """A device mistake seen while `active()`: kind is "device-mismatch", "numpy-on-device" or "hardcoded-cuda";
    or, in `cpu_moves`, "moved-to-cpu": an explicit move to the CPU of what is there, or `device='cpu'`, while
    the simulated device is the one given (a device fixed elsewhere, see the module docstring)."""

    kind: str
    message: str
    op: str | None = None


class _UnlistedBackendModule(torch.utils.backend_registration._DummyBackendModule):
    """`torch.<name>`: says unavailable so that `torch.accelerator` does not offer the device.

    DataLoader(pin_memory=True) pins for `torch.accelerator`'s device, and a Python backend cannot
    provide pinned memory; unlisted, the loader warns and skips pinning, as on a machine without GPU.
    """

    def is_available(self) -> bool:
        return False


class SimulatedAccelerator:
    """The process-wide simulated device; get it with `SimulatedAccelerator.install()`."""

    def __init__(self, name: str, cuda_available: bool):
        self.name = name
        self.cuda_available = cuda_available
        self.device = torch.device(name, 0)
        self.events: list[DeviceEvent] = []
        self.cpu_moves: list[DeviceEvent] = []  # see the module docstring: an observation, not a mistake
        self._active_depth = 0
        self._quiet_depth = 0
        # Where hard-coded 'cuda'/'mps' devices go inside the current active() block (None: nowhere, torch raises).
        self._hardcoded_target: torch.device | None = None
        self._kernels = torch.library.Library("aten", "IMPL")  # registrations live as long as this object

    @classmethod
    def install(cls, name: str = "gpu", cuda_available: bool = True) -> SimulatedAccelerator:
        """Register the device (once per process; later calls return the same object) and return it.

        Process-wide and irreversible: call it only in a sandboxed grading child process.
        """
        installed = devicesim_tensor.installed  # the process's one accelerator, which its tensors read
        if installed is not None:
            if (installed.name, installed.cuda_available) != (name, cuda_available):
                raise ValueError(
                    f"a simulated accelerator is already installed as {installed.name!r} with "
                    f"cuda_available={installed.cuda_available}; it cannot be changed within a process")
            return installed
        # Autograd runs the backward of non-CPU devices on per-device threads, which it creates at the first
        # backward of the process for each device that has a guard.  This device's guard is made in Python,
        # and such a thread dropping Python objects while the interpreter exits aborts the process
        # ("terminate called without an active exception", in about half the runs) or, still waiting for
        # the GIL, stalls the exit for 10 s.  So the threads are created now, before the guard exists (none
        # for this device), and backward runs on the calling thread: in this one and in every thread that
        # enters active().
        torch.zeros(1, requires_grad=True).sum().backward()
        torch._C._set_multithreading_enabled(False)
        # Renames PrivateUse1, adds Tensor.<name>() & co, and registers the device module, hooks and guard
        # that autograd and torch.manual_seed expect of a backend.
        torch.utils.backend_registration._setup_privateuseone_for_python_backend(
            rename=name, backend_module=_UnlistedBackendModule())
        # Shortcuts no code of a course uses and no part of torch needs; left in place, they would be
        # classes changed by a check (and `tensor.gpu()` a way around the device rules).
        for owner, attribute in ((torch.Tensor, name), (torch.Tensor, f"is_{name}"), (torch.nn.Module, name)):
            if attribute in vars(owner):
                delattr(owner, attribute)
        accelerator = cls(name, cuda_available)
        register_kernels(accelerator._kernels)
        devicesim_tensor.installed = accelerator
        return accelerator

    @contextlib.contextmanager
    def active(self, cuda_available: bool | None = None,
               hardcoded_to: torch.device | str | None = None) -> Iterator[SimulatedAccelerator]:
        """While inside: events are recorded, hard-coded devices are caught, torch.cuda is simulated.

        `cuda_available` overrides install()'s for this block (the process keeps one device, but a probe
        may ask both questions): True makes torch.cuda say yes and sends hard-coded 'cuda'/'mps' to the
        simulated device; False makes torch.cuda say no, even on a machine with a GPU, and leaves a
        hard-coded device to fail as it does without one.  `hardcoded_to` sends hard-coded devices to that
        device instead, e.g. "cpu": the rest of a submission is graded on the CPU while its hard-coded
        'cuda:0' is still recorded as an event.
        """
        available = self.cuda_available if cuda_available is None else cuda_available
        if hardcoded_to is not None:
            target = torch.device(hardcoded_to)
        else:
            target = self.device if available else None
        with contextlib.ExitStack() as stack:
            stack.enter_context(patched(torch.nn.Module, "to", module_to(self, torch.nn.Module.to)))
            stack.enter_context(patched(torch.nn.Module, "cuda", module_cuda(self, torch.nn.Module.cuda)))
            if available:
                for name, replacement in cuda_functions(self.device).items():
                    stack.enter_context(patched(torch.cuda, name, replacement))
                if target is not None:
                    legacy_cuda_types(stack, target)
            elif cuda_available is False:
                for name, replacement in CUDA_UNAVAILABLE.items():
                    stack.enter_context(patched(torch.cuda, name, replacement))
            stack.enter_context(torch.autograd.set_multithreading_enabled(False))
            stack.enter_context(HardcodedDeviceMode(self))
            outer_target, self._hardcoded_target = self._hardcoded_target, target
            self._active_depth += 1
            try:
                yield self
            finally:
                self._active_depth -= 1
                self._hardcoded_target = outer_target

    def clear_events(self) -> None:
        self.events.clear()
        self.cpu_moves.clear()

    def to_device(self, value: Any) -> Any:
        """Tensors and modules (also inside tuples, lists and dicts) moved to the simulated device."""
        def move(item: Any) -> Any:
            if isinstance(item, (torch.Tensor, torch.nn.Module)) and not isinstance(item, SimulatedTensor):
                return item.to(self.device)
            return item
        return tree_map(move, value)

    def to_cpu(self, value: Any) -> Any:
        """Tensors and modules (also inside tuples, lists and dicts) moved back to the CPU."""
        def move(item: Any) -> Any:
            if isinstance(item, (SimulatedTensor, torch.nn.Module)):
                return item.cpu()
            return item
        return tree_map(move, value)

    def is_on_device(self, value: Any) -> bool:
        """True for a simulated-device tensor, and for a module whose parameters and buffers all are."""
        if isinstance(value, torch.nn.Module):
            tensors = [*value.parameters(), *value.buffers()]
            return bool(tensors) and all(isinstance(t, SimulatedTensor) for t in tensors)
        return isinstance(value, SimulatedTensor)

    def _record(self, kind: str, message: str, op: str | None) -> None:
        event = DeviceEvent(kind, message, op)
        # One event per distinct mistake: a .to('cuda') in a loop is one mistake, not one per batch.
        if self._active_depth and not self._quiet_depth and event not in self.events:
            self.events.append(event)

    def _record_cpu_move(self, call: str, op: str) -> None:
        event = DeviceEvent("moved-to-cpu", call, op)
        if self._active_depth and not self._quiet_depth and event not in self.cpu_moves:
            self.cpu_moves.append(event)

    def _report_hardcoded(self, call: str, op: str) -> None:
        self._record("hardcoded-cuda", call, op)

    @contextlib.contextmanager
    def _quiet(self) -> Iterator[None]:
        self._quiet_depth += 1
        try:
            yield
        finally:
            self._quiet_depth -= 1
