"""Builds a2_autograd's template, reference solution and sample submissions from one source.

    .venv/bin/python solutions/a2_autograd/build_notebooks.py

Each sample is the template with the answer cells filled in as a student would; `expected.yaml`
beside the samples says what each must score and which diagnosis it must get (the tests check it).
"""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
ASSIGNMENT = HERE.parent.parent / "assignments" / "a2_autograd"

INTRO = """# Assignment 2: autograd from the inside

PyTorch's autograd records the operations that produce a tensor and, on `backward()`, applies the
chain rule through them. In this assignment you extend it yourself:

1. **`LegendrePolynomial3`**, a custom `torch.autograd.Function` with your own `forward` and `backward`;
2. **`Polynomial3`**, an `nn.Module` whose four coefficients are trainable parameters;
3. **`train_legendre`**, a gradient-descent loop written by hand with `torch.no_grad()`.

Run the public checks at any time with `tensorgrade check a2_autograd.ipynb`.
Only the functions and classes named below are graded; add cells of your own freely."""

IMPORTS = """import math

import torch
import numpy as np
import matplotlib.pyplot as plt

torch.manual_seed(0)"""

Q1_TEXT = """## Q1 (4 points): a custom autograd Function

The Legendre polynomial of degree 3 is $P_3(x) = \\frac{1}{2}(5x^3 - 3x)$, with derivative
$P_3'(x) = \\frac{3}{2}(5x^2 - 1)$.

A `torch.autograd.Function` has two static methods:

* `forward(ctx, input)` computes the output from plain tensors. Anything `backward` will need must be
  saved with **`ctx.save_for_backward(...)`** (not stored as an attribute of `ctx`: saved tensors are
  checked by autograd for in-place changes and released after backward).
* `backward(ctx, grad_output)` receives $\\partial L / \\partial \\text{output}$ and returns
  $\\partial L / \\partial \\text{input}$, **the same shape as `input`**, by the chain rule:
  `grad_output * P3'(input)`.

Use it as `LegendrePolynomial3.apply(x)`."""

Q1_STUB = """class LegendrePolynomial3(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input):
        # YOUR CODE HERE
        raise NotImplementedError()

    @staticmethod
    def backward(ctx, grad_output):
        # YOUR CODE HERE
        raise NotImplementedError()"""

Q1_SOLUTION = """class LegendrePolynomial3(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return 0.5 * (5 * input ** 3 - 3 * input)

    @staticmethod
    def backward(ctx, grad_output):
        input, = ctx.saved_tensors
        return grad_output * 1.5 * (5 * input ** 2 - 1)"""

Q2_TEXT = """## Q2 (3 points): an `nn.Module` with parameters

`Polynomial3` models $y = a + b x + c x^2 + d x^3$. Register the four coefficients as
**`torch.nn.Parameter`** scalars named `a`, `b`, `c`, `d` (start them from `torch.randn(())`), so that
`model.parameters()` yields them and an optimizer can train them. `forward(x)` returns the cubic;
`string()` returns a readable formula with the current values, e.g. `'y = 0.1 + 0.8 x + -0.02 x^2 + -0.09 x^3'`."""

Q2_STUB = """class Polynomial3(torch.nn.Module):
    def __init__(self):
        super().__init__()
        # YOUR CODE HERE
        raise NotImplementedError()

    def forward(self, x):
        # YOUR CODE HERE
        raise NotImplementedError()

    def string(self):
        # YOUR CODE HERE
        raise NotImplementedError()"""

Q2_SOLUTION = """class Polynomial3(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Parameter(torch.randn(()))
        self.b = torch.nn.Parameter(torch.randn(()))
        self.c = torch.nn.Parameter(torch.randn(()))
        self.d = torch.nn.Parameter(torch.randn(()))

    def forward(self, x):
        return self.a + self.b * x + self.c * x ** 2 + self.d * x ** 3

    def string(self):
        return f"y = {self.a.item()} + {self.b.item()} x + {self.c.item()} x^2 + {self.d.item()} x^3\""""

Q3_TEXT = """## Q3 (3 points): gradient descent by hand

Fit $y = a + b \\cdot P_3(c + d x)$ to the data with plain gradient descent, as in the lecture:

* start from `a = 0, b = -1, c = 0, d = 0.3` (scalar tensors with `requires_grad=True`, dtype of `x`);
* each step: prediction with `LegendrePolynomial3.apply`, loss `((y_pred - y) ** 2).sum()`, `backward()`;
* update every coefficient inside **`torch.no_grad()`**: `a -= learning_rate * a.grad`, and
  **reset the gradients** (`a.grad = None` or `a.grad.zero_()`): gradients accumulate otherwise;
* return `(params, losses)`: `params` a dict of Python floats `{'a': ..., 'b': ..., 'c': ..., 'd': ...}`,
  `losses` a list with the loss of every step as a Python float (`loss.item()`)."""

Q3_STUB = """def train_legendre(x, y, steps=2000, learning_rate=5e-6):
    # YOUR CODE HERE
    raise NotImplementedError()"""

Q3_SOLUTION = """def train_legendre(x, y, steps=2000, learning_rate=5e-6):
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
    return {"a": a.item(), "b": b.item(), "c": c.item(), "d": d.item()}, losses"""

TRY_TEXT = """## Try it

Plot the fit once your functions work (this cell is yours to change; it is not graded)."""

TRY_CODE = """# x = torch.linspace(-math.pi, math.pi, 2000)
# params, losses = train_legendre(x, torch.sin(x))
# plt.semilogy(losses); plt.xlabel("step"); plt.ylabel("loss"); plt.show()"""


def notebook(q1: str, q2: str, q3: str, extra: list[str] = ()) -> nbformat.NotebookNode:
    given = {"tensorgrade": {"given": True}}

    def answer(question: str) -> dict:
        return {"tensorgrade": {"answer": True, "question": question}}

    cells = [
        new_markdown_cell(INTRO),
        new_code_cell(IMPORTS, metadata=given),
        new_markdown_cell(Q1_TEXT),
        new_code_cell(q1, metadata=answer("q1")),
        new_markdown_cell(Q2_TEXT),
        new_code_cell(q2, metadata=answer("q2")),
        new_markdown_cell(Q3_TEXT),
        new_code_cell(q3, metadata=answer("q3")),
        new_markdown_cell(TRY_TEXT),
        new_code_cell(TRY_CODE),
        *[new_code_cell(code) for code in extra],
    ]
    nb = new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
        "tensorgrade": {"assignment": "a2_autograd", "version": "1.0"},
    })
    nbformat.validate(nb)
    return nb


SAMPLES = {
    "correct": (Q1_SOLUTION, Q2_SOLUTION, Q3_SOLUTION),
    # Right, written differently: torch.zeros-based parameters, grad.zero_(), f-string formatting.
    "correct_alt": (
        Q1_SOLUTION.replace("input, = ctx.saved_tensors", "(input,) = ctx.saved_tensors")
                   .replace("0.5 * (5 * input ** 3 - 3 * input)", "2.5 * input.pow(3) - 1.5 * input"),
        Q2_SOLUTION.replace('return f"y = {self.a.item()} + {self.b.item()} x + {self.c.item()} x^2 + {self.d.item()} x^3"',
                            "a, b, c, d = (p.item() for p in (self.a, self.b, self.c, self.d))\n"
                            "        return f'y = {a:.4f} + {b:.4f} x + {c:.4f} x^2 + {d:.4f} x^3'"),
        Q3_SOLUTION.replace("                parameter.grad = None", "                parameter.grad.zero_()"),
    ),
    "forgot_zero_grad": (Q1_SOLUTION, Q2_SOLUTION, Q3_SOLUTION.replace("                parameter.grad = None\n", "")),
    "no_save_for_backward": (
        Q1_SOLUTION.replace("ctx.save_for_backward(input)", "ctx.input = input")
                   .replace("input, = ctx.saved_tensors", "input = ctx.input"),
        Q2_SOLUTION, Q3_SOLUTION),
    "backward_missing_factor": (Q1_SOLUTION.replace("grad_output * 1.5 * ", "grad_output * "), Q2_SOLUTION, Q3_SOLUTION),
    "wrong_gradient_sign": (Q1_SOLUTION.replace("return grad_output * 1.5", "return -grad_output * 1.5"),
                            Q2_SOLUTION, Q3_SOLUTION),
    "parameters_not_registered": (Q1_SOLUTION, Q2_SOLUTION.replace("torch.nn.Parameter(torch.randn(()))",
                                                                   "torch.randn((), requires_grad=True)"), Q3_SOLUTION),
    "crashing": (Q1_SOLUTION, Q2_SOLUTION,
                 Q3_SOLUTION.replace("        y_pred = a + b * P3(c + d * x)", "        y_pred = a + b * P3(c + d * X)")),
    "stub_left": (Q1_SOLUTION, Q2_SOLUTION, Q3_STUB),
}


def main() -> None:
    nbformat.write(notebook(Q1_STUB, Q2_STUB, Q3_STUB), ASSIGNMENT / "a2_autograd.ipynb")
    nbformat.write(notebook(Q1_SOLUTION, Q2_SOLUTION, Q3_SOLUTION), HERE / "solution.ipynb")
    for name, (q1, q2, q3) in SAMPLES.items():
        nbformat.write(notebook(q1, q2, q3), HERE / "samples" / f"{name}.ipynb")


if __name__ == "__main__":
    main()
