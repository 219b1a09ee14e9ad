"""The probes of the check vocabulary (tensorgrade/checking/vocabulary.py), run inside the sandbox.

Each is `probe(ns, inputs)` like an assignment's own probes. What it calls in the student's
namespace comes in `inputs["_call"]`, an expression the instructor wrote once in the assignment's
source (`LegendrePolynomial3.apply(x)`); the other inputs are the check's drawn inputs, arrays as
tensors. A probe returns plain data only: values as a typed tree (`typed`), so that the judge
outside can tell a Python float from a tensor or a float subclass without trusting either.
"""

from __future__ import annotations

import ast
import builtins
import linecache
import math
from typing import Any

import numpy as np
import torch

from tensorgrade.checking.inside.probing import (NotDefined, genuine, need, need_subclass, plain_number,
                                                 registered_parameters)

TensorBase = torch._C.TensorBase
MAX_ITEMS = 10_000  # entries of one list or dict in a typed tree; more is a returned value nobody reads
PARAMETER_TYPES = (torch.nn.Parameter,)


def filled(module: Any, names: str | list[str], values: list[float]) -> Any:
    """`module` with its parameters `names` set to `values` (in place, without recording a gradient)."""
    with torch.no_grad():
        for name, value in zip(names, values):
            getattr(module, name).fill_(float(value))
    return module


HELPERS = {"torch": torch, "np": np, "numpy": np, "math": math, "filled": filled}
BASES = {"torch.autograd.Function": torch.autograd.Function, "torch.nn.Module": torch.nn.Module}


def _arguments(inputs: dict) -> dict:
    """The check's inputs as the call sees them: float and int arrays as tensors (their dtype kept),
    unless the check runs NumPy-only code."""
    as_numpy = inputs.get("_numpy", False)
    values = {}
    for name, value in inputs.items():
        if name.startswith("_"):
            continue
        values[name] = value if as_numpy or not isinstance(value, np.ndarray) else torch.as_tensor(value)
    return values


def evaluate(ns: dict, inputs: dict, expression: str | None = None) -> Any:
    """The value of the check's call expression, with the student's definitions it names."""
    expression = expression or inputs["_call"]
    tree = ast.parse(expression, mode="eval")
    arguments = _arguments(inputs)
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    env: dict[str, Any] = {"__builtins__": builtins}
    # A class the check needs to derive from a library base (a custom Function, an nn.Module):
    # named as such when it does not, rather than failing somewhere inside torch.
    subclasses = inputs.get("_subclass_of") or {}
    for name in sorted(names):
        if name in subclasses:
            env[name] = need_subclass(ns, name, BASES[subclasses[name]])
        elif name in arguments:
            env[name] = arguments[name]
        elif name in HELPERS and name not in ns:
            env[name] = HELPERS[name]
        elif not hasattr(builtins, name) or name in ns:
            env[name] = need(ns, name)
    # Compiled as grader code the kernel recognises, with its text in linecache: an error raised in the
    # student's code while this expression runs says "the grader called `<the expression>`".
    filename = "<probes:call>"
    linecache.cache[filename] = (len(expression), None, [expression + "\n"], filename)
    return eval(compile(tree, filename, "eval"), env)


def typed(value: Any, depth: int = 0) -> dict:
    """`value` as plain data that keeps its exact type: {"type": "float", "value": 1.5}, a tensor's
    values with its dtype and device, containers item by item; anything else by its type's name."""
    kind = type(value)
    if depth > 8:
        return {"type": f"{kind.__module__}.{kind.__qualname__}"}
    if value is None:
        return {"type": "None"}
    if kind in (bool, str):
        return {"type": kind.__name__, "value": value}
    number = plain_number(value, float) if kind is not int else None
    if kind is int or plain_number(value, int) is not None:
        return {"type": "int", "value": plain_number(value, int), "numpy": kind is not int}
    if number is not None:
        return {"type": "float", "value": number, "numpy": kind is not float}
    if kind is torch.Tensor or kind in PARAMETER_TYPES:
        detached = torch.Tensor.detach(value)
        return {"type": "tensor", "value": detached.cpu().clone(), "dtype": str(genuine(value, TensorBase, "dtype")),
                "device": str(genuine(value, TensorBase, "device")),
                "requires_grad": bool(genuine(value, TensorBase, "requires_grad"))}
    if kind is np.ndarray:
        return {"type": "ndarray", "value": value.copy(), "dtype": str(value.dtype)}
    if kind in (list, tuple):
        return {"type": kind.__name__, "items": [typed(v, depth + 1) for v in list(value)[:MAX_ITEMS]],
                "length": len(value)}
    if kind is dict:
        items = list(dict.items(value))[:MAX_ITEMS]
        return {"type": "dict", "items": {k: typed(v, depth + 1) for k, v in items if type(k) is str},
                "keys": [k if type(k) is str else repr(type(k).__name__) for k, _ in items]}
    return {"type": f"{kind.__module__}.{kind.__qualname__}"}


def probe_value(ns: dict, inputs: dict) -> dict:
    return {"value": typed(evaluate(ns, inputs))}


def probe_backward(ns: dict, inputs: dict) -> dict:
    """x.grad after `f(x).backward(grad_output)`, and the raw gradient the function's backward
    returned before autograd could sum a broadcast shape away (read through torch's own classes:
    a tensor subclass may report any shape it likes)."""
    function = evaluate(ns, inputs)
    x = torch.as_tensor(inputs["x"]).clone().requires_grad_(True)
    grad_output = torch.as_tensor(inputs["grad_output"])
    y = function(x)
    grad_fn = genuine(y, TensorBase, "grad_fn") if isinstance(y, torch.Tensor) else None
    raw = genuine(grad_fn, torch.autograd.function.BackwardCFunction, "apply")(grad_output) \
        if isinstance(grad_fn, torch.autograd.function.BackwardCFunction) else None
    raw = raw[0] if isinstance(raw, tuple) else raw
    y.backward(grad_output)
    return {"grad": x.grad, "raw_shape": list(genuine(raw, TensorBase, "shape")) if isinstance(raw, torch.Tensor) else None,
            "input_shape": list(x.shape)}


def probe_jacobians(ns: dict, inputs: dict) -> dict:
    """In float64: the Jacobian from the function's own backward (autograd), a central-difference
    one from its forward, and torch.autograd.gradcheck's answer."""
    function = evaluate(ns, inputs)
    x = torch.as_tensor(inputs["x"], dtype=torch.float64)
    n = x.numel()
    analytic = torch.zeros(n, n, dtype=torch.float64)
    for i in range(n):
        xi = x.detach().clone().requires_grad_(True)
        grad, = torch.autograd.grad(function(xi).reshape(-1)[i], xi, allow_unused=True)
        if grad is not None:
            analytic[i] = grad.reshape(-1)
    numeric = torch.zeros(n, n, dtype=torch.float64)
    eps = 1e-6
    with torch.no_grad():
        for j in range(n):
            step = torch.zeros(n, dtype=torch.float64)
            step[j] = eps
            numeric[:, j] = (function(x + step.reshape(x.shape)).reshape(-1)
                             - function(x - step.reshape(x.shape)).reshape(-1)) / (2 * eps)
    try:
        ok = bool(torch.autograd.gradcheck(function, (x.clone().requires_grad_(True),), raise_exception=False))
    except Exception:
        ok = False
    return {"analytic": analytic, "numeric": numeric, "gradcheck": ok}


def probe_saved_tensors(ns: dict, inputs: dict) -> dict:
    """What a custom Function's forward saved with ctx.save_for_backward, each next to the input the
    probe passed in: whether it is that very tensor, shares its memory, its values and shape (read
    through torch's own classes; the Function's backward class may claim saved tensors)."""
    function = evaluate(ns, inputs)
    x = torch.as_tensor(inputs["x"]).clone().requires_grad_(True)
    y = function(x)
    grad_fn = genuine(y, TensorBase, "grad_fn") if isinstance(y, torch.Tensor) else None
    has_node = isinstance(grad_fn, torch.autograd.function.BackwardCFunction)
    saved = genuine(grad_fn, torch._C._FunctionBase, "saved_tensors") if has_node else ()
    tensors = []
    for tensor in saved[:8]:
        plain = type(tensor) is torch.Tensor
        is_tensor = isinstance(tensor, torch.Tensor)
        tensors.append({
            "type": f"{type(tensor).__module__}.{type(tensor).__qualname__}",
            "is_input": tensor is x,
            "shares_memory": plain and tensor.data_ptr() == x.data_ptr(),
            "shape": list(genuine(tensor, TensorBase, "shape")) if is_tensor else None,
            "dtype": str(genuine(tensor, TensorBase, "dtype")) if is_tensor else None,
            "values": tensor.detach().clone() if plain and tensor.numel() <= 4 * x.numel() else None,
        })
    return {"saved": len(saved), "has_grad_fn": grad_fn is not None, "tensors": tensors,
            "input": x.detach().clone(), "input_dtype": str(x.dtype)}


def probe_parameters(ns: dict, inputs: dict) -> dict:
    """What nn.Module registered in the constructed module (not what the class says it has: it may
    override named_parameters)."""
    module = evaluate(ns, inputs)
    if not isinstance(module, torch.nn.Module):
        raise NotDefined(f"`{inputs['_call']}` should give a torch.nn.Module, but it gives {type(module).__name__}")
    return {"parameters": [{"name": name, "shape": list(genuine(p, TensorBase, "shape")),
                            "requires_grad": bool(genuine(p, TensorBase, "requires_grad"))}
                           for name, p in registered_parameters(module) if isinstance(p, torch.Tensor)]}


# The vocabulary's probes of each topic live in their own module (checking/inside/<topic>_probes.py,
# exporting only `probe_*` functions); an assignment's probe code imports them all from here.
# (one import line per topic module, below)
from tensorgrade.checking.inside.assertion_probes import *  # noqa: F401,F403,E402
from tensorgrade.checking.inside.manual_probes import *  # noqa: F401,F403
from tensorgrade.checking.inside.training_probes import *  # noqa: F401,F403
from tensorgrade.checking.inside.evaluation_probes import *  # noqa: F401,F403
from tensorgrade.checking.inside.dataset_probes import *  # noqa: F401,F403
from tensorgrade.checking.inside.numpy_probes import *  # noqa: F401,F403
from tensorgrade.checking.inside.tensorflow_probes import *  # noqa: F401,F403

# What an assignment's probe code gets with `from ...standard_probes import *`: every `probe_*`, and
# the helpers for probes of its own.
STANDARD_PROBES = frozenset(name for name in dir() if name.startswith("probe_"))
__all__ = sorted(STANDARD_PROBES) + ["evaluate", "typed", "filled", "need", "need_subclass", "genuine",
                                     "plain_number", "registered_parameters", "NotDefined", "torch", "np", "math"]
