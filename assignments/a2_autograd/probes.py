"""Public probes for a2_autograd (run inside the sandbox, on the student's namespace)."""

import torch

from tensorgrade.checking.inside.probing import (describe_value, genuine, need, need_subclass, plain_number,
                                                 registered_parameters)

TensorBase = torch._C.TensorBase


def legendre_forward(ns, inputs):
    P3 = need_subclass(ns, "LegendrePolynomial3", torch.autograd.Function)
    x = torch.as_tensor(inputs["x"])
    y = P3.apply(x)
    return {"y": y, "kind": describe_value(y)}


def legendre_backward(ns, inputs):
    P3 = need_subclass(ns, "LegendrePolynomial3", torch.autograd.Function)
    x = torch.as_tensor(inputs["x"]).clone().requires_grad_(True)
    grad_output = torch.as_tensor(inputs["grad_output"])
    y = P3.apply(x)
    # The raw gradient backward returns, before autograd would silently sum a broadcast shape away
    # (read through torch's own classes: a tensor subclass may report any shape it likes).
    grad_fn = genuine(y, TensorBase, "grad_fn") if isinstance(y, torch.Tensor) else None
    raw = genuine(grad_fn, torch.autograd.function.BackwardCFunction, "apply")(grad_output) \
        if isinstance(grad_fn, torch.autograd.function.BackwardCFunction) else None
    raw = raw[0] if isinstance(raw, tuple) else raw
    y.backward(grad_output)
    return {"grad": x.grad, "raw_shape": list(genuine(raw, TensorBase, "shape")) if isinstance(raw, torch.Tensor) else None,
            "input_shape": list(x.shape)}


def polynomial_parameters(ns, inputs):
    Polynomial3 = need_subclass(ns, "Polynomial3", torch.nn.Module)
    model = Polynomial3()
    # What nn.Module registered, not what the class says it has (it may override named_parameters).
    return {"parameters": [{"name": name, "shape": list(genuine(p, TensorBase, "shape")),
                            "requires_grad": bool(genuine(p, TensorBase, "requires_grad"))}
                           for name, p in registered_parameters(model) if isinstance(p, torch.Tensor)]}


def polynomial_string(ns, inputs):
    Polynomial3 = need_subclass(ns, "Polynomial3", torch.nn.Module)
    model = Polynomial3()
    with torch.no_grad():
        for name, value in zip("abcd", inputs["coefficients"]):
            getattr(model, name).fill_(float(value))
    text = model.string()
    return {"text": text if type(text) is str else None, "kind": describe_value(text)}


def train_short(ns, inputs):
    train_legendre = need(ns, "train_legendre")
    x = torch.as_tensor(inputs["x"])
    y = torch.as_tensor(inputs["y"])
    params, losses = train_legendre(x, y, steps=inputs["steps"], learning_rate=inputs["learning_rate"])
    # Python floats and NumPy's float scalars as Python floats; anything else (a tensor, a float subclass)
    # is None beside its type, which the judge names.
    return {
        "params_kind": describe_value(params),
        "params": {str(k): plain_number(v) for k, v in params.items()} if isinstance(params, dict) else None,
        "param_types": {str(k): type(v).__name__ for k, v in params.items()} if isinstance(params, dict) else None,
        "losses_kind": describe_value(losses),
        "losses": [plain_number(v) for v in losses] if isinstance(losses, (list, tuple)) else None,
        "loss_types": sorted({type(v).__name__ for v in losses}) if isinstance(losses, (list, tuple)) else None,
    }
