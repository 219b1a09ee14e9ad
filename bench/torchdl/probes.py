"""Public probes for torchdl (run inside the sandbox, on the student's namespace)."""

import numpy as np
import torch

from tensorgrade.checking.inside.probing import describe_value, need, need_subclass


def _floats(values):
    """A sequence of numbers as Python floats, or None when it is not one."""
    try:
        return [float(v) for v in values]
    except (TypeError, ValueError):
        return None


def poly_gradients(ns, inputs):
    poly_grads = need(ns, "poly_grads")
    x, y = np.asarray(inputs["x"], dtype=np.float64), np.asarray(inputs["y"], dtype=np.float64)
    coefficients = [float(v) for v in inputs["coefficients"]]
    out = poly_grads(x, y, *coefficients)
    values = _floats(out) if isinstance(out, (tuple, list)) else None
    # What autograd says on the same data: only the reference's copy of this is used by the judge.
    p = torch.tensor(coefficients, dtype=torch.float64, requires_grad=True)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    loss = ((p[0] + p[1] * xt + p[2] * xt ** 2 + p[3] * xt ** 3 - yt) ** 2).sum()
    loss.backward()
    return {"kind": describe_value(out), "length": len(out) if isinstance(out, (tuple, list)) else None,
            "loss": values[0] if values else None, "grads": values[1:5] if values else None,
            "autograd_loss": loss.item(), "autograd_grads": p.grad.tolist()}


def legendre_forward(ns, inputs):
    P3 = need_subclass(ns, "LegendrePolynomial3", torch.autograd.Function)
    y = P3.apply(torch.as_tensor(inputs["x"], dtype=torch.float64))
    return {"y": y if isinstance(y, torch.Tensor) else None, "kind": describe_value(y)}


def legendre_jacobian(ns, inputs):
    """Analytic Jacobian from the student's backward (float64), and a central-difference one from
    their forward, as torch.autograd.gradcheck computes them."""
    P3 = need_subclass(ns, "LegendrePolynomial3", torch.autograd.Function)
    x = torch.as_tensor(inputs["x"], dtype=torch.float64)
    n = x.numel()
    analytic = torch.zeros(n, n, dtype=torch.float64)
    for i in range(n):
        xi = x.detach().clone().requires_grad_(True)
        out = P3.apply(xi).reshape(-1)
        grad, = torch.autograd.grad(out[i], xi, allow_unused=True)
        if grad is not None:
            analytic[i] = grad.reshape(-1)
    numeric = torch.zeros(n, n, dtype=torch.float64)
    eps = 1e-6
    with torch.no_grad():
        for j in range(n):
            step = torch.zeros(n, dtype=torch.float64)
            step[j] = eps
            numeric[:, j] = (P3.apply(x + step).reshape(-1) - P3.apply(x - step).reshape(-1)) / (2 * eps)
    return {"analytic": analytic, "numeric": numeric}


def model_architecture(ns, inputs):
    model = need(ns, "model")
    layers = None
    if isinstance(model, torch.nn.Sequential):
        layers = []
        for layer in model:
            entry = {"type": type(layer).__name__}
            if isinstance(layer, torch.nn.Linear):
                entry.update(in_features=layer.in_features, out_features=layer.out_features,
                             bias=layer.bias is not None)
            layers.append(entry)
    return {"type": f"{type(model).__module__}.{type(model).__qualname__}",
            "sequential": isinstance(model, torch.nn.Sequential), "layers": layers}
