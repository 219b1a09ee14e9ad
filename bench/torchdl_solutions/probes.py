"""Hidden probes for torchdl (run inside the sandbox, on the student's namespace)."""

import math

import numpy as np
import torch

from tensorgrade.checking.inside.probing import need


def trained_polynomial(ns, inputs):
    """The loss the notebook reported, and the loss of its final coefficients recomputed here on the
    lecture's data (the grader's own copy, whatever the notebook did to x and y)."""
    reported = need(ns, "q1_loss")
    coefficients = [float(need(ns, name)) for name in "abcd"]
    x = np.linspace(-math.pi, math.pi, inputs["points"])
    y = np.sin(x)
    a, b, c, d = coefficients
    with np.errstate(all="ignore"):
        final = float(np.square(a + b * x + c * x ** 2 + d * x ** 3 - y).sum())
    try:
        reported = float(reported)
    except (TypeError, ValueError):
        reported = None
    return {"reported": reported, "final": final, "coefficients": coefficients}


def trained_model_loss(ns, inputs):
    """MSE of the student's trained `model` on the question's data (X, Y built here)."""
    model = need(ns, "model", torch.nn.Module, "a torch.nn.Module")
    X = torch.linspace(-1, 1, inputs["points"]).unsqueeze(1)
    Y = 2 * X + 3
    with torch.no_grad():
        loss = torch.nn.functional.mse_loss(model(X), Y).item()
    return {"mse": loss}
