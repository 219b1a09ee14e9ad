# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     notebook_metadata_filter: tensorgrade
#   kernelspec: {display_name: Python 3, language: python, name: python3}
#   tensorgrade:
#     id: a2_autograd
#     title: Custom autograd Functions and nn.Module
#     version: "1.0"
#     secret_seed: 58210397
#     preload: [torch, numpy, matplotlib.pyplot]
#     limits: {cell_timeout: 60, check_timeout: 30, submission_timeout: 300, memory_mb: 6144, cpu_seconds: 600}
# ---

# %% [markdown]
# # Assignment 2: autograd from the inside
#
# PyTorch's autograd records the operations that produce a tensor and, on `backward()`, applies the
# chain rule through them. In this assignment you extend it yourself:
#
# 1. **`LegendrePolynomial3`**, a custom `torch.autograd.Function` with your own `forward` and `backward`;
# 2. **`Polynomial3`**, an `nn.Module` whose four coefficients are trainable parameters;
# 3. **`train_legendre`**, a gradient-descent loop written by hand with `torch.no_grad()`.
#
# Run the public checks at any time with `tensorgrade check a2_autograd.ipynb`.
# Only the functions and classes named below are graded; add cells of your own freely.

# %% tags=["given"]
import math

import torch
import numpy as np
import matplotlib.pyplot as plt

torch.manual_seed(0)

# %% [markdown]
# ## Q1 (4 points): a custom autograd Function
#
# The Legendre polynomial of degree 3 is $P_3(x) = \frac{1}{2}(5x^3 - 3x)$, with derivative
# $P_3'(x) = \frac{3}{2}(5x^2 - 1)$.
#
# A `torch.autograd.Function` has two static methods:
#
# * `forward(ctx, input)` computes the output from plain tensors. Anything `backward` will need must be
#   saved with **`ctx.save_for_backward(...)`** (not stored as an attribute of `ctx`: saved tensors are
#   checked by autograd for in-place changes and released after backward).
# * `backward(ctx, grad_output)` receives $\partial L / \partial \text{output}$ and returns
#   $\partial L / \partial \text{input}$, **the same shape as `input`**, by the chain rule:
#   `grad_output * P3'(input)`.
#
# Use it as `LegendrePolynomial3.apply(x)`.

# %% question="q1" title="LegendrePolynomial3: a custom autograd Function"
class LegendrePolynomial3(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input):
        ### BEGIN SOLUTION
        ctx.save_for_backward(input)
        return 0.5 * (5 * input ** 3 - 3 * input)
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad_output):
        ### BEGIN SOLUTION
        input, = ctx.saved_tensors
        return grad_output * 1.5 * (5 * input ** 2 - 1)
        ### END SOLUTION

# %% tags=["checks"]
import re

from tensorgrade.authoring import *  # the check vocabulary (docs/authoring.md)

close("q1.forward", "LegendrePolynomial3.apply(x)", x=uniform(-1.5, 1.5, (4, 5)), rtol=1e-5, atol=1e-6,
      description="forward computes P3(x)")
backward("q1.backward", "LegendrePolynomial3.apply", x=uniform(-1.5, 1.5, (3, 4)), grad_output=normal((3, 4)),
         description="backward returns grad_output * P3'(x), input-shaped")

# %% tags=["hidden-checks"]
gradcheck("q1.gradcheck", "LegendrePolynomial3.apply", x=uniform(-1.0, 1.0, 6),
          description="gradcheck in float64 on hidden inputs")
saves_input("q1.saved_tensors", "LegendrePolynomial3.apply", x=uniform(-1.0, 1.0, 5),
            description="the input is saved with ctx.save_for_backward")

# %% [markdown]
# ## Q2 (3 points): an `nn.Module` with parameters
#
# `Polynomial3` models $y = a + b x + c x^2 + d x^3$. Register the four coefficients as
# **`torch.nn.Parameter`** scalars named `a`, `b`, `c`, `d` (start them from `torch.randn(())`), so that
# `model.parameters()` yields them and an optimizer can train them. `forward(x)` returns the cubic;
# `string()` returns a readable formula with the current values, e.g. `'y = 0.1 + 0.8 x + -0.02 x^2 + -0.09 x^3'`.

# %% question="q2" title="Polynomial3: an nn.Module with four parameters"
class Polynomial3(torch.nn.Module):
    def __init__(self):
        super().__init__()
        ### BEGIN SOLUTION
        self.a = torch.nn.Parameter(torch.randn(()))
        self.b = torch.nn.Parameter(torch.randn(()))
        self.c = torch.nn.Parameter(torch.randn(()))
        self.d = torch.nn.Parameter(torch.randn(()))
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        return self.a + self.b * x + self.c * x ** 2 + self.d * x ** 3
        ### END SOLUTION

    def string(self):
        ### BEGIN SOLUTION
        return f"y = {self.a.item()} + {self.b.item()} x + {self.c.item()} x^2 + {self.d.item()} x^3"
        ### END SOLUTION

# %% tags=["checks"]
parameters("q2.parameters", "Polynomial3()", "abcd", scalar=True,
           description="a, b, c, d are registered scalar nn.Parameters")

# %% tags=["hidden-checks"]
close("q2.forward", "filled(Polynomial3(), 'abcd', coefficients)(x)", rtol=1e-5, atol=1e-5,
      coefficients=lambda rng: rng.uniform(-2, 2, size=4).tolist(), x=uniform(-3, 3, 50),
      description="forward computes the cubic on hidden inputs")

# %% tags=["checks"]

def shows_coefficients(case):
    """string() shows each coefficient's value (to 2 decimals, either sign), in any format."""
    text, shown = plain(case.student["value"]), case.inputs["c"]
    if not isinstance(text, str) or not text.strip():
        return failed(f"string() should return a non-empty str, but it returned {case.student['value']['type']}")
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?", text)]
    missing = [c for c in shown if not any(abs(abs(n) - abs(c)) < 0.01 + 1e-9 for n in numbers)]
    if missing:
        return failed(f"string() returned {text!r}, which does not show the coefficient value(s) {missing}; "
                      "expected a formula like 'y = a + b x + c x^2 + d x^3' with the four current values")
    return passed(f"string() gives {text!r}")


custom("q2.string", shows_coefficients, call="filled(Polynomial3(), 'abcd', c).string()",
       c=lambda rng: [round(float(v), 3) for v in rng.uniform(-2, 2, size=4)],
       description="string() shows the formula with current values")

# %% [markdown]
# ## Q3 (3 points): gradient descent by hand
#
# Fit $y = a + b \cdot P_3(c + d x)$ to the data with plain gradient descent, as in the lecture:
#
# * start from `a = 0, b = -1, c = 0, d = 0.3` (scalar tensors with `requires_grad=True`, dtype of `x`);
# * each step: prediction with `LegendrePolynomial3.apply`, loss `((y_pred - y) ** 2).sum()`, `backward()`;
# * update every coefficient inside **`torch.no_grad()`**: `a -= learning_rate * a.grad`, and
#   **reset the gradients** (`a.grad = None` or `a.grad.zero_()`): gradients accumulate otherwise;
# * return `(params, losses)`: `params` a dict of Python floats `{'a': ..., 'b': ..., 'c': ..., 'd': ...}`,
#   `losses` a list with the loss of every step as a Python float (`loss.item()`).

# %% question="q3" title="train_legendre: gradient descent by hand"
def train_legendre(x, y, steps=2000, learning_rate=5e-6):
    ### BEGIN SOLUTION
    a = torch.full((), 0.0, dtype=x.dtype, requires_grad=True)
    b = torch.full((), -1.0, dtype=x.dtype, requires_grad=True)
    c = torch.full((), 0.0, dtype=x.dtype, requires_grad=True)
    d = torch.full((), 0.3, dtype=x.dtype, requires_grad=True)
    P3 = LegendrePolynomial3.apply
    losses = []
    for _ in range(steps):
        y_pred = a + b * P3(c + d * x)
        loss = ((y_pred - y) ** 2).sum()
        losses.append(loss.item())
        loss.backward()
        with torch.no_grad():
            for parameter in (a, b, c, d):
                parameter -= learning_rate * parameter.grad
                parameter.grad = None
    return {"a": a.item(), "b": b.item(), "c": c.item(), "d": d.item()}, losses
    ### END SOLUTION

# %% tags=["checks"]
RETURNS = (dict_of(float, "abcd", name="params"), list_of(float, length="steps", name="losses"))
x_short = np.linspace(-math.pi, math.pi, 200, dtype=np.float32)
close("q3.returns", "train_legendre(x, y, steps=steps, learning_rate=learning_rate)", like=RETURNS,
      rtol=1e-4, atol=1e-4, name="train_legendre(x, y, steps=5)", x=x_short, y=np.sin(x_short), steps=5,
      learning_rate=5e-6, description="returns (params dict of floats, list of per-step losses)")

# %% tags=["hidden-checks"]
def fit_loss(returned, inputs):
    """The fit's loss on the hidden target from the returned coefficients: what training achieved,
    whatever losses the student's code reports."""
    p, x, y = returned[0], np.asarray(inputs["x"], np.float64), np.asarray(inputs["y"], np.float64)
    with np.errstate(all="ignore"):
        z = p["c"] + p["d"] * x
        return float(np.sum((p["a"] + p["b"] * 0.5 * (5 * z ** 3 - 3 * z) - y) ** 2))


x_long = np.linspace(-math.pi, math.pi, 2000, dtype=np.float32)
below("q3.final_loss", "train_legendre(x, y, steps=steps, learning_rate=learning_rate)", like=RETURNS,
      measure=fit_loss, threshold=from_reference(seeds=25, reduce="max", times=1.25), curve=lambda r: r[1],
      name="train_legendre(x, y, steps=2000)", what="loss of your returned coefficients on the hidden target",
      points=2, timeout=60,
      # The lecture's fit of sin(x), with an amplitude and phase the student never saw.
      x=x_long, y=lambda rng: (rng.uniform(0.8, 1.2) * np.sin(x_long + rng.uniform(-0.3, 0.3))).astype(np.float32),
      steps=2000, learning_rate=5e-6, description="final loss on a hidden target below the reference-derived threshold")

# %% [markdown]
# ## Try it
#
# Plot the fit once your functions work (this cell is yours to change; it is not graded).

# %%
# x = torch.linspace(-math.pi, math.pi, 2000)
# params, losses = train_legendre(x, torch.sin(x))
# plt.semilogy(losses); plt.xlabel("step"); plt.ylabel("loss"); plt.show()

# %% tags=["mistakes"]
mistake("backward-missing-factor", "backward drops the constant factor 1.5 of the derivative P3'(x) = 1.5 * "
        "(5x^2 - 1), so every gradient is two thirds of the right one. Differentiate 0.5 * (5x^3 - 3x) term by term.",
        q1={"grad_output * 1.5 * ": "grad_output * "})
mistake("wrong-gradient-sign", "backward returns the negated derivative, so every gradient that flows through P3 "
        "points the wrong way. The chain rule gives grad_output * P3'(input), with P3'(x) = 1.5 * (5x^2 - 1).",
        q1={"return grad_output * 1.5": "return -grad_output * 1.5"})
mistake("forgot-zero-grad", "Gradients are never reset between steps, so each step applies the sum of every "
        "gradient so far and the fit oscillates or diverges. Reset them after each update (p.grad = None or "
        "p.grad.zero_()).", q3={"                parameter.grad = None\n": ""})
mistake("wrong-update-sign", "The update climbs the gradient (p += lr * p.grad) instead of descending it, so the "
        "loss grows. Gradient descent subtracts: p -= learning_rate * p.grad.", q3={"parameter -= ": "parameter += "})

# %% tags=["samples"]
sample("correct", score=10)
sample("correct_alt", score=10,  # right, written differently
       q1={"input, = ctx.saved_tensors": "(input,) = ctx.saved_tensors",
           "0.5 * (5 * input ** 3 - 3 * input)": "2.5 * input.pow(3) - 1.5 * input"},
       q2={'return f"y = {self.a.item()} + {self.b.item()} x + {self.c.item()} x^2 + {self.d.item()} x^3"':
           "a, b, c, d = (p.item() for p in (self.a, self.b, self.c, self.d))\n"
           "        return f'y = {a:.4f} + {b:.4f} x + {c:.4f} x^2 + {d:.4f} x^3'"},
       q3={"parameter.grad = None": "parameter.grad.zero_()"})
sample("forgot_zero_grad", "forgot-zero-grad", score=7,
       diagnoses={"q3.returns": "forgot-zero-grad", "q3.final_loss": "forgot-zero-grad"})
sample("no_save_for_backward", score=9, diagnoses={"q1.saved_tensors": "no-save-for-backward"},
       q1={"ctx.save_for_backward(input)": "ctx.input = input", "input, = ctx.saved_tensors": "input = ctx.input"})
sample("backward_missing_factor", "backward-missing-factor", score=7, diagnoses={
    "q1.backward": "backward-missing-factor", "q1.gradcheck": "backward-missing-factor",
    "q3.returns": "backward-missing-factor"})
sample("wrong_gradient_sign", "wrong-gradient-sign", score=5, diagnoses={
    "q1.backward": "wrong-gradient-sign", "q1.gradcheck": "wrong-gradient-sign",
    "q3.returns": "wrong-gradient-sign", "q3.final_loss": "wrong-gradient-sign"})
sample("parameters_not_registered", score=9, diagnoses={"q2.parameters": "parameters-not-registered"},
       q2={"torch.nn.Parameter(torch.randn(()))": "torch.randn((), requires_grad=True)"})
sample("crashing", score=7, errors=["q3.returns", "q3.final_loss"], q3={"P3(c + d * x)": "P3(c + d * X)"})
sample("stub_left", score=7, q3=STUB,
       diagnoses={"q3.returns": "not-implemented", "q3.final_loss": "not-implemented"})
