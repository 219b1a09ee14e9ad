"""The only format in which data crosses the sandbox boundary: size-capped JSON.

Arrays and tensors travel as raw little-endian bytes (base64) with an allow-listed dtype and a
shape; non-finite floats travel as tagged strings.  Decoding never runs code and never builds an
object other than dict/list/str/int/float/bool/None/numpy.ndarray, so nothing a student's process
writes can execute in the grader.
"""

from __future__ import annotations

import builtins
import base64
import json
import math
from typing import Any

import numpy as np

# Names in this module resolve to the builtins as they were at import, before any student code ran:
# a notebook thread that keeps re-patching builtins.float (or type, isinstance...) between the
# grader's resets cannot corrupt the kernel's own messages (tests/hostile: thread_repatching).
__builtins__ = dict(vars(builtins))

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 32

ALLOWED_DTYPES = {
    "bool", "uint8", "int8", "int16", "int32", "int64",
    "float16", "float32", "float64", "complex64", "complex128",
}
_TAG_ARRAY = "__array__"
_TAG_FLOAT = "__float__"
_TAG_OBJECT = "__object__"


# Python's own default limit on int <-> str conversion. The kernel refuses longer ints itself: a
# notebook that lifts the limit (sys.set_int_max_str_digits(0)) would otherwise send JSON the
# supervisor cannot read, which reads as tampering with the channel instead of one unsendable value.
INT_DIGITS_LIMIT = 4300
_INT_LIMIT = 10 ** INT_DIGITS_LIMIT


class TransportError(ValueError):
    """Data that is not in the boundary format (malformed, oversized or of a forbidden kind)."""


def _encode_float(value: float) -> Any:
    if math.isfinite(value):
        return value
    return {_TAG_FLOAT: "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}


def encode(value: Any, _depth: int = 0) -> Any:
    """Turn probe data into JSON-safe structures.

    Only exact builtin types are accepted as themselves: a float subclass whose ``__eq__`` lies,
    or a tensor subclass that lies about its values, is recorded as an opaque object by type name,
    so the judge sees what the student returned instead of what it claims to be.
    """
    if _depth > MAX_DEPTH:
        raise TransportError("data nested too deeply")
    kind = type(value)
    if value is None or kind is bool or kind is str:
        return value
    if kind is int:
        if -_INT_LIMIT < value < _INT_LIMIT:
            return value
        raise TransportError(f"Exceeds the limit ({INT_DIGITS_LIMIT} digits) of an integer the grader receives: "
                             f"an integer of about {int(value.bit_length() * 0.30103):,} digits")
    if kind is float:
        return _encode_float(value)
    if kind in (list, tuple):
        return [encode(v, _depth + 1) for v in value]
    if kind is dict:
        return {str(k): encode(v, _depth + 1) for k, v in value.items() if type(k) is str}
    if kind is np.ndarray or isinstance(value, np.generic):
        return _encode_array(np.asarray(value))
    tensor = _as_plain_tensor(value)
    if tensor is not None:
        return _encode_array(tensor)
    return {_TAG_OBJECT: f"{kind.__module__}.{kind.__qualname__}"}


def _as_plain_tensor(value: Any) -> np.ndarray | None:
    torch = _torch_if_loaded()
    if torch is None or type(value) is not torch.Tensor:
        return None
    tensor = value.detach()
    if tensor.device.type != "cpu":
        tensor = tensor.cpu()
    if tensor.dtype == torch.bfloat16:
        tensor = tensor.float()
    return tensor.resolve_conj().resolve_neg().numpy()


def _torch_if_loaded():
    import sys

    return sys.modules.get("torch")


def _encode_array(array: np.ndarray) -> dict:
    if array.dtype.name not in ALLOWED_DTYPES:
        return {_TAG_OBJECT: f"numpy.ndarray[{array.dtype}]"}
    contiguous = np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<"), copy=False)
    return {
        _TAG_ARRAY: {
            "dtype": array.dtype.name,
            "shape": list(array.shape),
            "data": base64.b64encode(contiguous.tobytes()).decode("ascii"),
        }
    }


def dumps(value: Any) -> str:
    """Encode and serialise; raises TransportError when the result exceeds the cap."""
    text = json.dumps(encode(value), allow_nan=False, separators=(",", ":"))
    if len(text) > MAX_MESSAGE_BYTES:
        raise TransportError(f"data is {len(text)} bytes, over the {MAX_MESSAGE_BYTES}-byte cap")
    return text


def _reject_constant(name: str):
    raise TransportError(f"non-standard JSON constant {name!r}")


def loads(text: str | bytes, max_bytes: int = MAX_MESSAGE_BYTES) -> Any:
    """Parse strict JSON (no NaN/Infinity literals) and decode tagged values."""
    if len(text) > max_bytes:
        raise TransportError(f"message of {len(text)} bytes exceeds the {max_bytes}-byte cap")
    try:
        raw = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        if isinstance(exc, TransportError):
            raise
        raise TransportError(f"malformed JSON: {exc}") from None
    return decode(raw)


def decode(raw: Any, _depth: int = 0) -> Any:
    if _depth > MAX_DEPTH:
        raise TransportError("data nested too deeply")
    if isinstance(raw, list):
        return [decode(v, _depth + 1) for v in raw]
    if not isinstance(raw, dict):
        return raw
    if len(raw) == 1:
        (tag, body), = raw.items()
        if tag == _TAG_ARRAY:
            return _decode_array(body)
        if tag == _TAG_FLOAT:
            if body not in ("nan", "inf", "-inf"):
                raise TransportError(f"bad float tag {body!r}")
            return float(body)
        if tag == _TAG_OBJECT:
            return OpaqueObject(str(body))
    return {k: decode(v, _depth + 1) for k, v in raw.items()}


def _decode_array(body: Any) -> np.ndarray:
    if not isinstance(body, dict) or set(body) != {"dtype", "shape", "data"}:
        raise TransportError("malformed array")
    dtype, shape, data = body["dtype"], body["shape"], body["data"]
    if dtype not in ALLOWED_DTYPES:
        raise TransportError(f"dtype {dtype!r} is not allowed")
    if not isinstance(shape, list) or not all(type(n) is int and n >= 0 for n in shape):
        raise TransportError("malformed array shape")
    if not isinstance(data, str):
        raise TransportError("malformed array data")
    raw = base64.b64decode(data.encode("ascii"), validate=True)
    np_dtype = np.dtype(dtype).newbyteorder("<")
    if len(raw) != math.prod(shape) * np_dtype.itemsize:
        raise TransportError("array data does not match its shape and dtype")
    return np.frombuffer(raw, dtype=np_dtype).reshape(shape).astype(np.dtype(dtype))


class OpaqueObject:
    """Something the probe could not turn into plain data (recorded by type name only)."""

    def __init__(self, type_name: str):
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"<{self.type_name} object>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OpaqueObject) and other.type_name == self.type_name

    def __hash__(self) -> int:
        return hash(self.type_name)
