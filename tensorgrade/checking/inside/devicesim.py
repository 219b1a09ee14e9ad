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

How it works:
- `SimulatedTensor` is a wrapper subclass: its metadata says `gpu:0`, its `_host` attribute is the
  CPU tensor with the values.  `__torch_dispatch__` checks devices the way CUDA does (0-dim CPU
  tensors may mix in, as CPU scalars may on CUDA), runs the op on the host tensors and wraps the
  results.  Autograd, optimizers and `nn.Module.to` work on it unchanged.
- Factory functions with `device="gpu"` (also the ones torch calls internally, e.g. for the
  gradients) reach PrivateUse1 kernels registered with `torch.library` that build on the CPU.
- `active()` adds what only matters while student code runs: a TorchFunctionMode that records and
  aliases hard-coded `'cuda'`/`'mps'` devices, patched `nn.Module.to` / `.cuda` (one event per
  model, not one per parameter) and, with `cuda_available=True`, a `torch.cuda` that says yes
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
import copyreg
from dataclasses import dataclass
from typing import Any, Iterator

import torch
import torch.nn.functional as F
from torch._decomp import decomposition_table
from torch.overrides import TorchFunctionMode, resolve_name
from torch.utils._pytree import tree_flatten, tree_map

__all__ = ["DeviceEvent", "SimulatedAccelerator", "SimulatedTensor"]

aten = torch.ops.aten

# Device types students hard-code; with cuda_available=True they are aliased to the simulated device.
_HARDCODED_DEVICE_TYPES = ("cuda", "mps")

# Ops whose purpose is to move data between devices: mixing devices is their job.
_CROSS_DEVICE_OPS = {aten.copy_.default, aten._to_copy.default, aten._copy_from.default}

# Arguments that may be CPU tensors beside device tensors, as on CUDA: index tensors in advanced indexing
# (`x_cuda[cpu_mask]`) and the lengths / batch sizes of packed sequences, which torch keeps on the CPU.
_CPU_ARGUMENTS_ALLOWED = {
    aten.index.Tensor: "indices",
    aten.index_put.default: "indices",
    aten.index_put_.default: "indices",
    aten._index_put_impl_.default: "indices",
    aten._pack_padded_sequence.default: "lengths",
    aten._pad_packed_sequence.default: "batch_sizes",
    aten.lstm.data: "batch_sizes",
    aten.gru.data: "batch_sizes",
    aten.rnn_tanh.data: "batch_sizes",
    aten.rnn_relu.data: "batch_sizes",
}

# Ops that return one of their outputs on the CPU whatever the device: which one.
_OUTPUT_KEPT_ON_CPU = {aten._pack_padded_sequence.default: 1, aten._pad_packed_sequence.default: 1}

# Factories that must build on the CPU and wrap: the empty ones are what torch calls to allocate on a
# device; the others would otherwise fill a 0-size tensor through out=, and a wrapper cannot be resized.
_FACTORY_OVERLOADS = (
    "empty.memory_format", "empty_strided", "arange", "arange.start", "arange.start_step",
    "range", "range.step", "eye", "eye.m", "tril_indices", "triu_indices",
)

_accelerator: SimulatedAccelerator | None = None

# nn.Module.to() swaps each parameter for its device copy with torch.utils.swap_tensors, which asks
# copyreg for the class's slot names and caches them on the class: done once here, at import.
for _class in (torch.Tensor, torch.nn.Parameter):
    copyreg._slotnames(_class)


@dataclass
class DeviceEvent:
    """A device mistake seen while `active()`: kind is "device-mismatch", "numpy-on-device" or "hardcoded-cuda";
    or, in `cpu_moves`, "moved-to-cpu": an explicit move to the CPU of what is there, or `device='cpu'`, while
    the simulated device is the one given (a device fixed elsewhere, see the module docstring)."""

    kind: str
    message: str
    op: str | None = None


def _host(value: Any) -> Any:
    return value._host if isinstance(value, SimulatedTensor) else value


class SimulatedTensor(torch.Tensor):
    """A tensor on the simulated device; its values live in the CPU tensor `_host`."""

    _host: torch.Tensor

    @staticmethod
    def __new__(cls, host: torch.Tensor, requires_grad: bool = False) -> SimulatedTensor:
        wrapper = torch.Tensor._make_wrapper_subclass(
            cls, host.shape, strides=host.stride(), storage_offset=host.storage_offset(),
            dtype=host.dtype, layout=host.layout, device=_accelerator.device, requires_grad=requires_grad)
        wrapper._host = host
        return wrapper

    # Torch functions go straight to the dispatcher; the device rules are enforced in __torch_dispatch__.
    __torch_function__ = torch._C._disabled_torch_function_impl

    # These two make nn.Module.to() swap each parameter in place (torch does so for "traceable" wrapper
    # subclasses), so a Parameter keeps its identity and an optimizer built before .to() still works, as on CUDA.
    def __tensor_flatten__(self) -> tuple[list[str], None]:
        return ["_host"], None

    @staticmethod
    def __tensor_unflatten__(inner: dict, meta: None, outer_size: Any, outer_stride: Any) -> SimulatedTensor:
        return SimulatedTensor(inner["_host"])

    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func not in _CROSS_DEVICE_OPS:
            _check_same_device(func, args, kwargs)
        host_args, host_kwargs = tree_map(_host, (args, kwargs))
        on_device = True
        if isinstance(kwargs.get("device"), torch.device):
            on_device = kwargs["device"].type == _accelerator.device.type
            if on_device:
                host_kwargs["device"] = torch.device("cpu")
        out = func(*host_args, **host_kwargs)
        # In-place and out= ops return their argument: hand back the caller's object, not a new wrapper.
        callers_objects = {
            id(_host(arg)): arg for arg in tree_flatten((args, kwargs))[0] if isinstance(arg, torch.Tensor)}

        def result(value: Any) -> Any:
            if not isinstance(value, torch.Tensor):
                return value
            if id(value) in callers_objects:
                original = callers_objects[id(value)]
                if isinstance(original, SimulatedTensor) and (
                        original.shape != value.shape or original.stride() != value.stride()):
                    raise NotImplementedError(
                        f"{func.overloadpacket}: the simulated device cannot change a tensor's shape in place "
                        "(resize_, out= with a different size, unsqueeze_, t_, ...); use the out-of-place form")
                return original
            return SimulatedTensor(value) if on_device else value

        if func in _OUTPUT_KEPT_ON_CPU:
            kept = _OUTPUT_KEPT_ON_CPU[func]
            return tuple(value if i == kept else result(value) for i, value in enumerate(out))
        return tree_map(result, out)

    # Python-level access: set_data would copy only the outer metadata and leave `_host` stale.
    @property
    def data(self) -> torch.Tensor:
        return torch._C.TensorBase.data.__get__(self)

    @data.setter
    def data(self, value: torch.Tensor) -> None:
        torch._C.TensorBase.data.__set__(self, value)
        self._host = value._host

    def numpy(self, *, force: bool = False):
        if force:
            return self.detach().cpu().numpy(force=True)
        message = (f"can't convert {self.device} device type tensor to numpy. "
                   "Use Tensor.cpu() to copy the tensor to host memory first.")
        _accelerator._record("numpy-on-device", message, "torch.Tensor.numpy")
        raise TypeError(message)

    def __reduce_ex__(self, protocol):
        # A wrapper has no storage to save: torch.save writes the values as a CPU tensor, which loads with
        # weights_only=True (the default) and which load_state_dict copies back onto the device.
        host = torch.nn.Parameter(self._host, self.requires_grad) if getattr(self, "_is_param", False) else self._host
        return host.__reduce_ex__(protocol)

    def tolist(self):
        return self._host.tolist()

    def __format__(self, format_spec: str) -> str:
        # As torch.Tensor does for plain tensors: f"{loss:.4f}" works on a 0-dim tensor.
        if self.dim() == 0:
            return self.item().__format__(format_spec)
        return object.__format__(self, format_spec)

    def __repr__(self, *, tensor_contents: str | None = None) -> str:
        # torch prints subclasses as "[Parameter(]SimulatedTensor(...)[)]"; print as CUDA tensors print:
        # "[Parameter containing:\n]tensor(..., device='gpu:0')".
        text = torch._tensor_str._str(self, tensor_contents=tensor_contents)
        is_parameter = text.startswith("Parameter(")
        if is_parameter:
            text = text[len("Parameter("):-1]
        own_prefix, prefix = f"{type(self).__name__}(", "tensor("
        text = prefix + text[len(own_prefix):].replace("\n" + " " * len(own_prefix), "\n" + " " * len(prefix))
        return "Parameter containing:\n" + text if is_parameter else text


def _check_same_device(func, args: tuple, kwargs: dict) -> None:
    """Raise (and record) CUDA's error when a simulated-device tensor meets a non-scalar CPU tensor."""
    cpu_argument_allowed = _CPU_ARGUMENTS_ALLOWED.get(func)
    seen: tuple[str, str] | None = None
    for name, value in _named_arguments(func, args, kwargs):
        tensors = value if isinstance(value, (list, tuple)) else [value]
        for position, tensor in enumerate(tensors):
            if not isinstance(tensor, torch.Tensor):
                continue
            if isinstance(tensor, SimulatedTensor):
                device = str(tensor.device)
            elif (tensor.device.type == "cpu" and tensor.dim() == 0) or name == cpu_argument_allowed:
                continue
            else:
                device = str(tensor.device)
            label = f"{name}[{position}]" if isinstance(value, (list, tuple)) else name
            if seen is None:
                seen = (label, device)
            elif device != seen[1]:
                op = str(func.overloadpacket)
                message = (f"Expected all tensors to be on the same device, but found at least two devices, "
                           f"{seen[1]} and {device}! (in {op}: argument '{label}' is on {device} "
                           f"while argument '{seen[0]}' is on {seen[1]})")
                _accelerator._record("device-mismatch", message, op)
                raise RuntimeError(message)


def _named_arguments(func, args: tuple, kwargs: dict) -> Iterator[tuple[str, Any]]:
    schema_arguments = func._schema.arguments
    for argument, value in zip(schema_arguments, args):
        yield argument.name, value
    yield from kwargs.items()


def _host_factory(overload):
    """A PrivateUse1 kernel for a factory: build on the CPU, then wrap."""
    def kernel(*args, **kwargs):
        kwargs["device"] = torch.device("cpu")
        kwargs.pop("pin_memory", None)
        return SimulatedTensor(overload(*args, **kwargs))
    return kernel


def _copy_from(src: torch.Tensor, dst: torch.Tensor, non_blocking: bool = False) -> torch.Tensor:
    # Reached where torch copies with the Python dispatch key excluded, e.g. torch.tensor(data, device="gpu").
    _host(dst).copy_(_host(src))
    return dst


def _lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    # The CPU kernel's arithmetic, step by step, so that results match the CPU bit for bit.
    gates = F.linear(hx[0], w_hh, b_hh) + F.linear(input, w_ih, b_ih)
    in_gate, forget_gate, cell_gate, out_gate = gates.chunk(4, 1)
    cy = forget_gate.sigmoid() * hx[1] + in_gate.sigmoid() * cell_gate.tanh()
    return out_gate.sigmoid() * cy.tanh(), cy


def _gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    # As _lstm_cell: the CPU kernel's arithmetic.
    input_reset, input_update, input_new = F.linear(input, w_ih, b_ih).chunk(3, 1)
    hidden_reset, hidden_update, hidden_new = F.linear(hx, w_hh, b_hh).chunk(3, 1)
    reset_gate = (hidden_reset + input_reset).sigmoid()
    update_gate = (hidden_update + input_update).sigmoid()
    new_gate = (input_new + hidden_new * reset_gate).tanh()
    return (hx - new_gate) * update_gate + new_gate


def _device_like(value: Any) -> torch.device | None:
    """The device a `device` argument names, or None when it is not one (a dtype, another tensor, ...)."""
    if isinstance(value, torch.device):
        return value
    if isinstance(value, str):
        try:
            return torch.device(value)
        except RuntimeError:
            return None
    return None


def _is_hardcoded(value: Any) -> bool:
    device = _device_like(value)
    return device is not None and device.type in _HARDCODED_DEVICE_TYPES


def _is_cpu(value: Any) -> bool:
    device = _device_like(value)
    return device is not None and device.type == "cpu"


def _all_on_cpu(value: Any) -> bool:
    """A tensor, or a module whose parameters and buffers all are, on the CPU (not the simulated device)."""
    if isinstance(value, torch.nn.Module):
        tensors = [*value.parameters(), *value.buffers()]
        return bool(tensors) and all(not isinstance(t, SimulatedTensor) and t.device.type == "cpu" for t in tensors)
    return isinstance(value, torch.Tensor) and not isinstance(value, SimulatedTensor) and value.device.type == "cpu"


def _describe_call(callee: str, args: tuple, kwargs: dict, device_in_args: bool) -> str:
    """E.g. "tensor.to('cuda:0')", "torch.zeros(..., device='mps')": the devices, other arguments elided."""
    def show(value: Any) -> str:
        return f"torch.device({str(value)!r})" if isinstance(value, torch.device) else repr(value)

    parts = [show(a) if device_in_args and _device_like(a) is not None else "..." for a in args]
    parts += [f"device={show(v)}" if k == "device" else "..." for k, v in kwargs.items()]
    shown = [p for i, p in enumerate(parts) if p != "..." or i == 0 or parts[i - 1] != "..."]
    return f"{callee}({', '.join(shown)})"


class _UnlistedBackendModule(torch.utils.backend_registration._DummyBackendModule):
    """`torch.<name>`: says unavailable so that `torch.accelerator` does not offer the device.

    DataLoader(pin_memory=True) pins for `torch.accelerator`'s device, and a Python backend cannot
    provide pinned memory; unlisted, the loader warns and skips pinning, as on a machine without GPU.
    """

    def is_available(self) -> bool:
        return False


class _HardcodedDeviceMode(TorchFunctionMode):
    """Records `'cuda'` / `'mps'` in `.to()`, `.cuda()` and `device=`, and aliases them when CUDA is simulated."""

    def __init__(self, accelerator: SimulatedAccelerator):
        super().__init__()
        self.accelerator = accelerator

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        accelerator = self.accelerator
        if func is torch.Tensor.cuda:
            accelerator._report_hardcoded("tensor.cuda()", "torch.Tensor.cuda")
            if accelerator._hardcoded_target is not None:
                return torch.Tensor.to(args[0], accelerator._hardcoded_target,
                                       non_blocking=kwargs.get("non_blocking", False))
        elif func is torch.Tensor.to:
            args, kwargs = accelerator._alias_call("tensor.to", "torch.Tensor.to", args, kwargs, device_in_args=True)
        elif "device" in kwargs:
            name = resolve_name(func) or getattr(func, "__name__", "?")
            shown = "tensor." + name.removeprefix("torch.Tensor.") if name.startswith("torch.Tensor.") else name
            args, kwargs = accelerator._alias_call(shown, name, args, kwargs, device_in_args=False)
        return func(*args, **kwargs)


_LEGACY_TYPE_NAMES = ("FloatTensor", "DoubleTensor", "HalfTensor", "BFloat16Tensor", "ByteTensor", "CharTensor",
                      "ShortTensor", "IntTensor", "LongTensor", "BoolTensor")


def _legacy_type(name: str, dtype: torch.dtype, device: torch.device) -> type:
    """A stand-in for `torch.cuda.<name>`: constructs tensors of its dtype on the simulated device,
    and is what `isinstance` and `set_default_tensor_type` recognise."""

    class LegacyMeta(type):
        def __instancecheck__(cls, value: Any) -> bool:
            return isinstance(value, SimulatedTensor) and value.dtype == dtype

    def construct(cls, *args):
        if len(args) == 1 and not isinstance(args[0], int):
            return torch.tensor(args[0], dtype=dtype, device=device)
        return torch.empty(*args, dtype=dtype, device=device)

    return LegacyMeta(name, (), {"__module__": "torch.cuda", "__new__": construct, "dtype": dtype, "is_cuda": True})


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
        global _accelerator
        if _accelerator is not None:
            if (_accelerator.name, _accelerator.cuda_available) != (name, cuda_available):
                raise ValueError(
                    f"a simulated accelerator is already installed as {_accelerator.name!r} with "
                    f"cuda_available={_accelerator.cuda_available}; it cannot be changed within a process")
            return _accelerator
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
        for overload_name in _FACTORY_OVERLOADS:
            packet, _, overload = overload_name.partition(".")
            op = getattr(getattr(aten, packet), overload or "default")
            accelerator._kernels.impl(overload_name, _host_factory(op), "PrivateUse1")
        accelerator._kernels.impl("_copy_from", _copy_from, "PrivateUse1")
        # torch sends LSTM and GRU on any device but the CPU to CUDA-only fused cell kernels; run them as
        # plain ops (autograd differentiates those), the layers with torch's own decompositions.
        for overload_name in ("lstm.input", "lstm.data", "gru.input", "gru.data"):
            packet, overload = overload_name.split(".")
            layer = decomposition_table[getattr(getattr(aten, packet), overload)]
            accelerator._kernels.impl(overload_name, layer, "AutogradPrivateUse1")
        accelerator._kernels.impl("lstm_cell", _lstm_cell, "AutogradPrivateUse1")
        accelerator._kernels.impl("gru_cell", _gru_cell, "AutogradPrivateUse1")
        _accelerator = accelerator
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
            stack.enter_context(self._patched(torch.nn.Module, "to", self._module_to(torch.nn.Module.to)))
            stack.enter_context(self._patched(torch.nn.Module, "cuda", self._module_cuda(torch.nn.Module.cuda)))
            if available:
                for name, replacement in self._simulated_cuda_functions().items():
                    stack.enter_context(self._patched(torch.cuda, name, replacement))
                if target is not None:
                    self._legacy_cuda_types(stack, target)
            elif cuda_available is False:
                for name, replacement in {"is_available": lambda: False, "device_count": lambda: 0}.items():
                    stack.enter_context(self._patched(torch.cuda, name, replacement))
            stack.enter_context(torch.autograd.set_multithreading_enabled(False))
            stack.enter_context(_HardcodedDeviceMode(self))
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

    def _alias_call(self, callee: str, op: str, args: tuple, kwargs: dict,
                    device_in_args: bool) -> tuple[tuple, dict]:
        """Report a hard-coded device in `device=` (or, for .to(), after the receiver) and, when CUDA
        is simulated (or active() names a target), replace it with that device so that the code runs on."""
        receiver, rest = (args[:1], args[1:]) if device_in_args else ((), args)
        positional_devices = rest if device_in_args else ()
        if not any(_is_hardcoded(v) for v in (*positional_devices, kwargs.get("device"))):
            if (self._hardcoded_target == self.device and any(_is_cpu(v) for v in (*positional_devices, kwargs.get("device")))
                    and (not receiver or _all_on_cpu(receiver[0]))):
                # to the CPU what is there already (or a new tensor there) while given the simulated device
                self._record_cpu_move(_describe_call(callee, rest, kwargs, device_in_args), op)
            return args, kwargs
        self._report_hardcoded(_describe_call(callee, rest, kwargs, device_in_args), op)
        target = self._hardcoded_target
        if target is None:
            return args, kwargs  # torch raises its own "Torch not compiled with CUDA enabled"
        if device_in_args:
            rest = tuple(target if _is_hardcoded(a) else a for a in rest)
        kwargs = {k: target if k == "device" and _is_hardcoded(v) else v for k, v in kwargs.items()}
        return receiver + rest, kwargs

    def _module_to(self, original_to):
        accelerator = self

        def to(module, *args, **kwargs):
            args, kwargs = accelerator._alias_call(
                "model.to", "torch.nn.Module.to", (module, *args), kwargs, device_in_args=True)
            with accelerator._quiet():  # the model's call was reported; not each parameter's
                return original_to(*args, **kwargs)
        return to

    def _module_cuda(self, original_cuda):
        accelerator = self

        def cuda(module, device=None):
            accelerator._report_hardcoded("model.cuda()", "torch.nn.Module.cuda")
            with accelerator._quiet():
                target = accelerator._hardcoded_target
                if target is not None:
                    return module._apply(lambda t: t.to(target))
                return original_cuda(module, device)
        return cuda

    def _legacy_cuda_types(self, stack: contextlib.ExitStack, target: torch.device) -> None:
        """The legacy CUDA tensor types (`torch.cuda.FloatTensor` & co.) on the simulated device, as on
        a real GPU: `torch.set_default_tensor_type(torch.cuda.FloatTensor)` (a popular book's notebooks
        do it behind `if torch.cuda.is_available()`), `torch.cuda.FloatTensor(data)`, `x.type(...)`."""
        legacy = {name: _legacy_type(name, getattr(torch, name).dtype, target) for name in _LEGACY_TYPE_NAMES}
        for name, kind in legacy.items():
            stack.enter_context(self._patched(torch.cuda, name, kind))
        original_default, original_type = torch.set_default_tensor_type, torch.Tensor.type
        moved_default = [False]

        def cuda_name(kind: Any) -> str | None:
            name = kind if isinstance(kind, str) else f"{getattr(kind, '__module__', '')}.{getattr(kind, '__name__', '')}"
            return name.rpartition(".")[2] if name.startswith("torch.cuda.") else None

        def set_default_tensor_type(kind):
            name = cuda_name(kind)
            if name is None:
                original_default(kind)
                if moved_default[0]:
                    torch.set_default_device(None)
                    moved_default[0] = False
                return
            original_default(getattr(torch, name))  # the dtype of the CPU type of that name
            torch.set_default_device(target)
            moved_default[0] = True

        def tensor_type(tensor, dtype=None, non_blocking=False, **kwargs):
            name = cuda_name(dtype) if dtype is not None else None
            if name is None:
                return original_type(tensor, dtype, non_blocking, **kwargs) if dtype is not None else original_type(tensor)
            return tensor.to(target, getattr(torch, name).dtype, non_blocking=non_blocking)

        stack.enter_context(self._patched(torch, "set_default_tensor_type", set_default_tensor_type))
        stack.enter_context(self._patched(torch.Tensor, "type", tensor_type))
        stack.callback(lambda: moved_default[0] and (original_default(torch.FloatTensor), torch.set_default_device(None)))

    def _simulated_cuda_functions(self) -> dict[str, Any]:
        return {
            "is_available": lambda: True,
            "device_count": lambda: 1,
            "current_device": lambda: 0,
            "get_device_name": lambda device=None: f"Simulated GPU ({self.device}, computing on the CPU)",
            "synchronize": lambda device=None: None,
        }

    @contextlib.contextmanager
    def _quiet(self) -> Iterator[None]:
        self._quiet_depth += 1
        try:
            yield
        finally:
            self._quiet_depth -= 1

    @staticmethod
    @contextlib.contextmanager
    def _patched(owner: Any, name: str, replacement: Any) -> Iterator[None]:
        own = name in vars(owner)  # an inherited attribute is deleted again, not set on `owner`
        original = getattr(owner, name)
        setattr(owner, name, replacement)
        try:
            yield
        finally:
            if own:
                setattr(owner, name, original)
            else:
                delattr(owner, name)
