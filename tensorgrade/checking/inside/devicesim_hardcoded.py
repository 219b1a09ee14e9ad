"""The devices student code names while the simulated accelerator is active (see devicesim.py).

A hard-coded 'cuda'/'mps' in `.to()`, `.cuda()` (of a tensor or a model) or `device=` is recorded as a
"hardcoded-cuda" event and sent where the active() block says (the simulated device, the CPU, or
nowhere: torch then raises as it does without a GPU).  An explicit move to the CPU of what is there
already, while the simulated device is the one given, is recorded as a CPU move.  The records and the
target live on the accelerator (`_record`, `_record_cpu_move`, `_quiet`, `_hardcoded_target`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch.overrides import TorchFunctionMode, resolve_name

from tensorgrade.checking.inside.devicesim_tensor import SimulatedTensor

# Device types students hard-code; with cuda_available=True they are aliased to the simulated device.
_HARDCODED_DEVICE_TYPES = ("cuda", "mps")


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


def alias_call(accelerator, callee: str, op: str, args: tuple, kwargs: dict,
               device_in_args: bool) -> tuple[tuple, dict]:
    """Report a hard-coded device in `device=` (or, for .to(), after the receiver) and, when CUDA
    is simulated (or active() names a target), replace it with that device so that the code runs on."""
    receiver, rest = (args[:1], args[1:]) if device_in_args else ((), args)
    positional_devices = rest if device_in_args else ()
    if not any(_is_hardcoded(v) for v in (*positional_devices, kwargs.get("device"))):
        if (accelerator._hardcoded_target == accelerator.device
                and any(_is_cpu(v) for v in (*positional_devices, kwargs.get("device")))
                and (not receiver or _all_on_cpu(receiver[0]))):
            # to the CPU what is there already (or a new tensor there) while given the simulated device
            accelerator._record_cpu_move(_describe_call(callee, rest, kwargs, device_in_args), op)
        return args, kwargs
    accelerator._report_hardcoded(_describe_call(callee, rest, kwargs, device_in_args), op)
    target = accelerator._hardcoded_target
    if target is None:
        return args, kwargs  # torch raises its own "Torch not compiled with CUDA enabled"
    if device_in_args:
        rest = tuple(target if _is_hardcoded(a) else a for a in rest)
    kwargs = {k: target if k == "device" and _is_hardcoded(v) else v for k, v in kwargs.items()}
    return receiver + rest, kwargs


class HardcodedDeviceMode(TorchFunctionMode):
    """Records `'cuda'` / `'mps'` in `.to()`, `.cuda()` and `device=`, and aliases them when CUDA is simulated."""

    def __init__(self, accelerator):
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
            args, kwargs = alias_call(accelerator, "tensor.to", "torch.Tensor.to", args, kwargs, device_in_args=True)
        elif "device" in kwargs:
            name = resolve_name(func) or getattr(func, "__name__", "?")
            shown = "tensor." + name.removeprefix("torch.Tensor.") if name.startswith("torch.Tensor.") else name
            args, kwargs = alias_call(accelerator, shown, name, args, kwargs, device_in_args=False)
        return func(*args, **kwargs)


def module_to(accelerator, original_to):
    """nn.Module.to that reports a hard-coded device once for the model, not once per parameter."""
    def to(module, *args, **kwargs):
        args, kwargs = alias_call(
            accelerator, "model.to", "torch.nn.Module.to", (module, *args), kwargs, device_in_args=True)
        with accelerator._quiet():  # the model's call was reported; not each parameter's
            return original_to(*args, **kwargs)
    return to


def module_cuda(accelerator, original_cuda):
    """nn.Module.cuda, reported once and sent where active() sends hard-coded devices."""
    def cuda(module, device=None):
        accelerator._report_hardcoded("model.cuda()", "torch.nn.Module.cuda")
        with accelerator._quiet():
            target = accelerator._hardcoded_target
            if target is not None:
                return module._apply(lambda t: t.to(target))
            return original_cuda(module, device)
    return cuda
