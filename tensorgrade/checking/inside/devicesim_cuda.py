"""`torch.cuda` as student code sees it while the simulated accelerator is active (see devicesim.py).

With CUDA simulated, `torch.cuda` says it has one device (the simulated one) and its legacy tensor
types (`torch.cuda.FloatTensor` & co.) build tensors there; with CUDA unavailable it says it has none.
`patched` is how active() sets such an attribute for the length of a block.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

import torch

from tensorgrade.checking.inside.devicesim_tensor import SimulatedTensor

# What `torch.cuda` answers in an active(cuda_available=False) block, even on a machine with a GPU.
CUDA_UNAVAILABLE = {"is_available": lambda: False, "device_count": lambda: 0}


def cuda_functions(simulated: torch.device) -> dict[str, Any]:
    """What `torch.cuda` answers while CUDA is simulated: one device, the simulated one."""
    return {
        "is_available": lambda: True,
        "device_count": lambda: 1,
        "current_device": lambda: 0,
        "get_device_name": lambda device=None: f"Simulated GPU ({simulated}, computing on the CPU)",
        "synchronize": lambda device=None: None,
    }


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


def legacy_cuda_types(stack: contextlib.ExitStack, target: torch.device) -> None:
    """The legacy CUDA tensor types (`torch.cuda.FloatTensor` & co.) on the simulated device, as on
    a real GPU: `torch.set_default_tensor_type(torch.cuda.FloatTensor)` (a popular book's notebooks
    do it behind `if torch.cuda.is_available()`), `torch.cuda.FloatTensor(data)`, `x.type(...)`."""
    legacy = {name: _legacy_type(name, getattr(torch, name).dtype, target) for name in _LEGACY_TYPE_NAMES}
    for name, kind in legacy.items():
        stack.enter_context(patched(torch.cuda, name, kind))
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

    stack.enter_context(patched(torch, "set_default_tensor_type", set_default_tensor_type))
    stack.enter_context(patched(torch.Tensor, "type", tensor_type))
    stack.callback(lambda: moved_default[0] and (original_default(torch.FloatTensor), torch.set_default_device(None)))


@contextlib.contextmanager
def patched(owner: Any, name: str, replacement: Any) -> Iterator[None]:
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
