"""The simulated device's tensors (see devicesim.py): CUDA's device rules on every op, the values on the CPU.

`SimulatedTensor` is a wrapper subclass whose metadata says `gpu:0` and whose `_host` is the CPU
tensor with the values; `__torch_dispatch__` checks devices as CUDA does, runs the op on the host
tensors and wraps the results.  `register_kernels` gives the PrivateUse1 backend the kernels torch
calls on the device itself (factories, copies, the LSTM/GRU layers).
"""

from __future__ import annotations

import copyreg
from typing import Any, Iterator

import torch
import torch.nn.functional as F
from torch._decomp import decomposition_table
from torch.utils._pytree import tree_flatten, tree_map

aten = torch.ops.aten

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

# The installed accelerator (SimulatedAccelerator.install sets it): the device these tensors report
# and the record their mistakes go to.
installed = None

# nn.Module.to() swaps each parameter for its device copy with torch.utils.swap_tensors, which asks
# copyreg for the class's slot names and caches them on the class: done once here, at import.
for _class in (torch.Tensor, torch.nn.Parameter):
    copyreg._slotnames(_class)


def _host(value: Any) -> Any:
    return value._host if isinstance(value, SimulatedTensor) else value


class SimulatedTensor(torch.Tensor):
    """A tensor on the simulated device; its values live in the CPU tensor `_host`."""

    _host: torch.Tensor

    @staticmethod
    def __new__(cls, host: torch.Tensor, requires_grad: bool = False) -> SimulatedTensor:
        wrapper = torch.Tensor._make_wrapper_subclass(
            cls, host.shape, strides=host.stride(), storage_offset=host.storage_offset(),
            dtype=host.dtype, layout=host.layout, device=installed.device, requires_grad=requires_grad)
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
            on_device = kwargs["device"].type == installed.device.type
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
        installed._record("numpy-on-device", message, "torch.Tensor.numpy")
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
                installed._record("device-mismatch", message, op)
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


def register_kernels(library: torch.library.Library) -> None:
    """The device's own kernels, registered in `library` (which must live as long as the process)."""
    for overload_name in _FACTORY_OVERLOADS:
        packet, _, overload = overload_name.partition(".")
        op = getattr(getattr(aten, packet), overload or "default")
        library.impl(overload_name, _host_factory(op), "PrivateUse1")
    library.impl("_copy_from", _copy_from, "PrivateUse1")
    # torch sends LSTM and GRU on any device but the CPU to CUDA-only fused cell kernels; run them as
    # plain ops (autograd differentiates those), the layers with torch's own decompositions.
    for overload_name in ("lstm.input", "lstm.data", "gru.input", "gru.data"):
        packet, overload = overload_name.split(".")
        layer = decomposition_table[getattr(getattr(aten, packet), overload)]
        library.impl(overload_name, layer, "AutogradPrivateUse1")
    library.impl("lstm_cell", _lstm_cell, "AutogradPrivateUse1")
    library.impl("gru_cell", _gru_cell, "AutogradPrivateUse1")
