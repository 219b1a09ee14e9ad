"""Hidden probes for a2_autograd (run inside the sandbox, on the student's namespace)."""

import torch

from tensorgrade.checking.inside.probing import genuine, need, need_subclass, plain_number


def _jacobians(fn, x):
    """Analytic Jacobian from the student's backward and a central-difference one from forward."""
    n = x.numel()
    analytic = torch.zeros(n, n, dtype=torch.float64)
    for i in range(n):
        xi = x.detach().clone().requires_grad_(True)
        out = fn(xi).reshape(-1)
        grad, = torch.autograd.grad(out[i], xi, allow_unused=True)
        if grad is not None:
            analytic[i] = grad.reshape(-1)
    numeric = torch.zeros(n, n, dtype=torch.float64)
    eps = 1e-6
    with torch.no_grad():
        for j in range(n):
            step = torch.zeros(n, dtype=torch.float64)
            step[j] = eps
            plus = fn(x.detach() + step.reshape(x.shape)).reshape(-1)
            minus = fn(x.detach() - step.reshape(x.shape)).reshape(-1)
            numeric[:, j] = (plus - minus) / (2 * eps)
    return analytic, numeric


def legendre_gradcheck(ns, inputs):
    P3 = need_subclass(ns, "LegendrePolynomial3", torch.autograd.Function)
    x = torch.as_tensor(inputs["x"], dtype=torch.float64)
    analytic, numeric = _jacobians(P3.apply, x)
    try:
        ok = bool(torch.autograd.gradcheck(P3.apply, (x.clone().requires_grad_(True),), raise_exception=False))
    except Exception:
        ok = False
    return {"analytic": analytic, "numeric": numeric, "gradcheck": ok}


def legendre_saved(ns, inputs):
    """What forward saved with ctx.save_for_backward, each next to the input the probe passed in:
    whether it is that very tensor, shares its memory, and its values and shape (read through torch's
    own classes; a tensor subclass is recorded by its type and kept out of the values)."""
    P3 = need_subclass(ns, "LegendrePolynomial3", torch.autograd.Function)
    x = torch.as_tensor(inputs["x"]).clone().requires_grad_(True)
    y = P3.apply(x)
    # Read through torch's own attributes: the Function's backward class may claim saved tensors.
    grad_fn = genuine(y, torch._C.TensorBase, "grad_fn") if isinstance(y, torch.Tensor) else None
    has_node = isinstance(grad_fn, torch.autograd.function.BackwardCFunction)
    saved = genuine(grad_fn, torch._C._FunctionBase, "saved_tensors") if has_node else ()
    tensors = []
    for tensor in saved[:8]:
        plain = type(tensor) is torch.Tensor
        tensors.append({
            "type": f"{type(tensor).__module__}.{type(tensor).__qualname__}",
            "is_input": tensor is x,
            "shares_memory": plain and tensor.data_ptr() == x.data_ptr(),
            "shape": list(genuine(tensor, torch._C.TensorBase, "shape")) if isinstance(tensor, torch.Tensor) else None,
            "dtype": str(genuine(tensor, torch._C.TensorBase, "dtype")) if isinstance(tensor, torch.Tensor) else None,
            "values": tensor.detach().clone() if plain and tensor.numel() <= 4 * x.numel() else None,
        })
    return {"saved": len(saved), "has_grad_fn": grad_fn is not None, "tensors": tensors,
            "input": x.detach().clone(), "input_dtype": str(x.dtype)}


def polynomial_forward(ns, inputs):
    Polynomial3 = need_subclass(ns, "Polynomial3", torch.nn.Module)
    model = Polynomial3()
    with torch.no_grad():
        for name, value in zip("abcd", inputs["coefficients"]):
            getattr(model, name).fill_(float(value))
    return {"y": model(torch.as_tensor(inputs["x"]))}


def train_full(ns, inputs):
    train_legendre = need(ns, "train_legendre")
    params, losses = train_legendre(torch.as_tensor(inputs["x"]), torch.as_tensor(inputs["y"]),
                                    steps=inputs["steps"], learning_rate=inputs["learning_rate"])
    # Python floats and NumPy's float scalars as Python floats, their exact types beside them; anything else
    # is None (a float subclass may convert to anything), except that a loss curve of one-element tensors
    # is still drawn (torch's own .item()): the losses are plotted, never judged here.
    return {"losses": [_curve_value(v) for v in losses],
            "params": {str(k): plain_number(v) for k, v in params.items()},
            "loss_types": sorted({type(v).__name__ for v in losses}),
            "param_types": {str(k): type(v).__name__ for k, v in params.items()}}


def _curve_value(value):
    number = plain_number(value)
    if number is None and type(value) is torch.Tensor and value.numel() == 1:
        number = float(value.detach().reshape(()).item())
    return number
