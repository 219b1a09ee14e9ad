"""Builds a1_backprop's template, reference solution and sample submissions from one source.

    .venv/bin/python solutions/a1_backprop/build_notebooks.py

Each sample is the template with the answer cells filled in as a student would (same cells, same
cell ids); `samples/README.md` says which function each sample gets wrong, how, and which
diagnosis it should get.
"""

from pathlib import Path

from tensorgrade.course.notebook_builder import edit, write_course_notebooks

HERE = Path(__file__).resolve().parent
VERSION = "1.0"

INTRO = """# Assignment 1: backpropagation by hand (NumPy)

Frameworks such as PyTorch compute gradients for you (autograd), but what they compute is nothing
more than the **chain rule**, applied backwards through the operations that produced the output.
In this assignment you do it yourself, with NumPy only:

1. **`mul_add_grads`**: the gradients of $c = \\sum (x \\cdot w + z)$ with respect to $x$, $w$ and $z$;
2. **`poly_loss_and_grads`**: the loss of a cubic fit to $\\sin(x)$ and its gradient;
3. **`fit_poly`**: gradient descent with that gradient;
4. **NumPy only**: no `torch` and no automatic differentiation inside these functions.

Run the public checks at any time with `tensorgrade check a1_backprop.ipynb`.
Only the functions named above are graded; add cells of your own freely."""

IMPORTS = """import math

import numpy as np
import matplotlib.pyplot as plt"""

Q1_TEXT = """## Q1 (3 points): the chain rule on a small graph

Take arrays $x$, $w$, $z$ of the same shape $(N, D)$ and compute

$$a = x \\cdot w \\quad\\text{(element-wise)},\\qquad b = a + z,\\qquad c = \\sum_{i,j} b_{ij}.$$

$c$ is a single number. Its gradient with respect to an $(N, D)$ array is again an $(N, D)$ array:
one partial derivative **per entry**, $\\partial c / \\partial x_{ij}$.

Backpropagation walks the graph from the output back to the inputs, multiplying local derivatives
(the chain rule):

* $\\partial c / \\partial b_{ij} = 1$: the sum passes the gradient unchanged to every entry;
* $\\partial c / \\partial a_{ij} = \\partial c / \\partial b_{ij} \\cdot 1$ and $\\partial c / \\partial z_{ij} = \\partial c / \\partial b_{ij} \\cdot 1$: an addition passes it on to both inputs;
* $\\partial c / \\partial x_{ij} = \\partial c / \\partial a_{ij} \\cdot w_{ij}$ and $\\partial c / \\partial w_{ij} = \\partial c / \\partial a_{ij} \\cdot x_{ij}$: a product sends each input the gradient times *the other* input.

Write `mul_add_grads(x, w, z)` that returns `(grad_x, grad_w, grad_z)`, **each a NumPy array with the
shape of its input** (not a single number: nothing is summed here).

The helper below checks a gradient numerically with central differences,
$\\partial f/\\partial v \\approx (f(v + \\varepsilon) - f(v - \\varepsilon)) / 2\\varepsilon$, one entry at a time.
Use it to test your answers."""

GRADCHECK = '''def numerical_grad(f, array, eps=1e-6):
    """d f() / d array, entry by entry, by central differences; `f` takes no argument and reads
    `array` (a float array), which is changed and restored in place."""
    grad = np.zeros(array.shape)
    for index in np.ndindex(array.shape):
        saved = array[index]
        array[index] = saved + eps
        plus = f()
        array[index] = saved - eps
        minus = f()
        array[index] = saved
        grad[index] = (plus - minus) / (2 * eps)
    return grad'''

Q1_STUB = """def mul_add_grads(x, w, z):
    # YOUR CODE HERE
    raise NotImplementedError()"""

Q1_SOLUTION = """def mul_add_grads(x, w, z):
    # forward: a = x * w, b = a + z, c = b.sum()
    a = x * w
    b = a + z
    # backward, from c to the inputs
    grad_b = np.ones_like(b)  # the sum passes 1 to every entry of b
    grad_a = grad_b           # an addition passes the gradient on to both inputs
    grad_z = grad_b
    grad_x = grad_a * w       # a product sends each input the gradient times the other input
    grad_w = grad_a * x
    return grad_x, grad_w, grad_z"""

Q1_TRY = """# Try it (not graded): compare with the numerical gradient.
# rng = np.random.default_rng(0)
# xs, ws, zs = (rng.standard_normal((3, 4)) for _ in range(3))
# grad_x, grad_w, grad_z = mul_add_grads(xs, ws, zs)
# c = lambda: np.sum(xs * ws + zs)
# for name, mine, array in (("x", grad_x, xs), ("w", grad_w, ws), ("z", grad_z, zs)):
#     print(name, np.shape(mine), np.allclose(mine, numerical_grad(c, array)))"""

Q2_TEXT = """## Q2 (3 points): the loss of a cubic fit and its gradient

We fit $\\hat y = a + b x + c x^2 + d x^3$ to $y = \\sin(x)$ on 2000 points between $-\\pi$ and $\\pi$,
with the **sum** of squared errors as the loss:

$$L = \\sum_i (\\hat y_i - y_i)^2.$$

Backwards, with the chain rule: $\\partial L / \\partial \\hat y_i = 2 (\\hat y_i - y_i)$, and since
$\\partial \\hat y_i / \\partial a = 1$, $\\partial \\hat y_i / \\partial b = x_i$, $\\partial \\hat y_i / \\partial c = x_i^2$,
$\\partial \\hat y_i / \\partial d = x_i^3$, and every point contributes to each coefficient,

$$\\frac{\\partial L}{\\partial a} = \\sum_i 2(\\hat y_i - y_i),\\quad
\\frac{\\partial L}{\\partial b} = \\sum_i 2(\\hat y_i - y_i)\\, x_i,\\quad
\\frac{\\partial L}{\\partial c} = \\sum_i 2(\\hat y_i - y_i)\\, x_i^2,\\quad
\\frac{\\partial L}{\\partial d} = \\sum_i 2(\\hat y_i - y_i)\\, x_i^3.$$

Write `poly_loss_and_grads(x, y, coeffs)`, where `coeffs` is the array `[a, b, c, d]`. Return
`(loss, grads)`: `loss` a **Python float** (`np.sum` gives a NumPy scalar: wrap it in `float(...)`)
and `grads` a float64 NumPy array of shape `(4,)`, in the order `[dL/da, dL/db, dL/dc, dL/dd]`.
The data of the lecture is below."""

DATA = """x = np.linspace(-math.pi, math.pi, 2000)
y = np.sin(x)"""

Q2_STUB = """def poly_loss_and_grads(x, y, coeffs):
    # YOUR CODE HERE
    raise NotImplementedError()"""

Q2_SOLUTION = """def poly_loss_and_grads(x, y, coeffs):
    a, b, c, d = coeffs
    y_pred = a + b * x + c * x ** 2 + d * x ** 3
    loss = np.square(y_pred - y).sum()
    grad_y_pred = 2.0 * (y_pred - y)
    grads = np.array([
        grad_y_pred.sum(),
        (grad_y_pred * x).sum(),
        (grad_y_pred * x ** 2).sum(),
        (grad_y_pred * x ** 3).sum(),
    ], dtype=np.float64)
    return float(loss), grads"""

Q2_TRY = """# Try it (not graded): the gradient against the numerical one, at some coefficients.
# coeffs = np.array([0.1, 0.8, -0.02, -0.09])
# loss, grads = poly_loss_and_grads(x, y, coeffs)
# numeric = numerical_grad(lambda: poly_loss_and_grads(x, y, coeffs)[0], coeffs)
# print(type(loss), loss)
# print(grads)
# print(numeric)"""

Q3_TEXT = """## Q3 (3 points): gradient descent

Gradient descent moves the coefficients a small step **against** the gradient, the direction in
which the loss decreases fastest:

$$\\theta \\leftarrow \\theta - \\eta\\, \\nabla_\\theta L.$$

Write `fit_poly(x, y, coeffs0, learning_rate=1e-6, steps=2000)`: start from `coeffs0`, take `steps`
steps with the gradient from `poly_loss_and_grads`, and return the final coefficients (shape `(4,)`).
The learning rate is tiny because the loss is a *sum* over 2000 points, so its gradient is large.

**Do not modify `coeffs0`**: the caller's array must be unchanged afterwards. `coeffs = coeffs0`
does not copy anything (it is a second name for the same array, and `coeffs -= ...` would change
both); make a new array first, e.g. `coeffs = np.array(coeffs0, dtype=np.float64)`."""

Q3_STUB = """def fit_poly(x, y, coeffs0, learning_rate=1e-6, steps=2000):
    # YOUR CODE HERE
    raise NotImplementedError()"""

Q3_SOLUTION = """def fit_poly(x, y, coeffs0, learning_rate=1e-6, steps=2000):
    coeffs = np.array(coeffs0, dtype=np.float64)  # a new array: coeffs0 stays as it was
    for _ in range(steps):
        _, grads = poly_loss_and_grads(x, y, coeffs)
        coeffs -= learning_rate * grads
    return coeffs"""

Q3_TRY = """# Try it (not graded): fit from random coefficients and plot the result.
# coeffs0 = np.random.default_rng(0).standard_normal(4)
# coeffs = fit_poly(x, y, coeffs0)
# loss, _ = poly_loss_and_grads(x, y, coeffs)
# a, b, c, d = coeffs
# print(f"loss {loss:.3f}: y = {a:.4f} + {b:.4f} x + {c:.4f} x^2 + {d:.4f} x^3")
# plt.plot(x, y, label="sin(x)")
# plt.plot(x, a + b * x + c * x ** 2 + d * x ** 3, label="cubic fit")
# plt.legend()
# plt.show()"""

Q4_TEXT = """## Q4 (1 point): NumPy only

The point of this assignment is to compute gradients yourself. `mul_add_grads`,
`poly_loss_and_grads` and `fit_poly` must use NumPy only: calling `torch` (or any automatic
differentiation library) inside them fails this question, even if the numbers are right. You will
let autograd do this work in the next assignment, knowing what it computes."""

# Cell ids are fixed (nbformat 4.5) and shared by the template, the reference and every sample.
CELLS = [
    ("intro", "markdown", INTRO, None),
    ("imports", "given", IMPORTS, None),
    ("q1-text", "markdown", Q1_TEXT, None),
    ("gradcheck", "given", GRADCHECK, None),
    ("q1-answer", "answer", "q1", "q1"),
    ("q1-try", "code", Q1_TRY, None),
    ("q2-text", "markdown", Q2_TEXT, None),
    ("data", "given", DATA, None),
    ("q2-answer", "answer", "q2", "q2"),
    ("q2-try", "code", Q2_TRY, None),
    ("q3-text", "markdown", Q3_TEXT, None),
    ("q3-answer", "answer", "q3", "q3"),
    ("q3-try", "code", Q3_TRY, None),
    ("q4-text", "markdown", Q4_TEXT, None),
]


STUBS = {"q1": Q1_STUB, "q2": Q2_STUB, "q3": Q3_STUB}
SOLUTION = {"q1": Q1_SOLUTION, "q2": Q2_SOLUTION, "q3": Q3_SOLUTION}


def solution(**changes: str) -> dict[str, str]:
    """The reference answers with some replaced: each sample differs from it where its README row says."""
    return {**SOLUTION, **changes}


CORRECT_ALT = {
    # Right, written differently: the direct result of the chain rule, a design-matrix form of the
    # cubic, and `coeffs = coeffs - ...` from a float copy.
    "q1": """def mul_add_grads(x, w, z):
    grad_x = w.copy()
    grad_w = x.copy()
    grad_z = np.ones(z.shape)
    return grad_x, grad_w, grad_z""",
    "q2": """def poly_loss_and_grads(x, y, coeffs):
    X = np.stack([np.ones_like(x), x, x ** 2, x ** 3], axis=1)  # (n, 4): one column per coefficient
    residual = X @ coeffs - y
    loss = float(residual @ residual)
    grads = 2 * X.T @ residual
    return loss, grads.astype(np.float64)""",
    "q3": """def fit_poly(x, y, coeffs0, learning_rate=1e-6, steps=2000):
    coeffs = coeffs0.astype(float)  # astype returns a copy
    for step in range(steps):
        loss, grads = poly_loss_and_grads(x, y, coeffs)
        coeffs = coeffs - learning_rate * grads
    return coeffs""",
}

USES_TORCH_Q2 = """import torch

def poly_loss_and_grads(x, y, coeffs):
    x_t, y_t = torch.from_numpy(x), torch.from_numpy(y)
    c = torch.tensor(coeffs, dtype=torch.float64, requires_grad=True)
    y_pred = c[0] + c[1] * x_t + c[2] * x_t ** 2 + c[3] * x_t ** 3
    loss = ((y_pred - y_t) ** 2).sum()
    loss.backward()
    return loss.item(), c.grad.numpy()"""

TUTORIAL_Q2 = """def poly_loss_and_grads(x, y, coeffs):
    a, b, c, d = coeffs
    # Forward pass: compute predicted y
    # y = a + b x + c x^2 + d x^3
    y_pred = a + b * x + c * x ** 2 + d * x ** 3

    # Compute loss
    loss = np.square(y_pred - y).sum()

    # Backprop to compute gradients of a, b, c, d with respect to loss
    grad_y_pred = 2.0 * (y_pred - y)
    grad_a = grad_y_pred.sum()
    grad_b = (grad_y_pred * x).sum()
    grad_c = (grad_y_pred * x ** 2).sum()
    grad_d = (grad_y_pred * x ** 3).sum()
    return loss, np.array([grad_a, grad_b, grad_c, grad_d])"""

TUTORIAL_Q3 = """def fit_poly(x, y, coeffs0, learning_rate=1e-6, steps=2000):
    # Randomly initialize weights (here: the given start)
    a, b, c, d = coeffs0
    for t in range(steps):
        loss, (grad_a, grad_b, grad_c, grad_d) = poly_loss_and_grads(x, y, np.array([a, b, c, d]))
        if t % 500 == 499:
            print(t, loss)

        # Update weights
        a -= learning_rate * grad_a
        b -= learning_rate * grad_b
        c -= learning_rate * grad_c
        d -= learning_rate * grad_d

    print(f'Result: y = {a} + {b} x + {c} x^2 + {d} x^3')
    return np.array([a, b, c, d])"""

SAMPLES = {
    "correct": SOLUTION,
    "correct_alt": CORRECT_ALT,
    "wrong_gradient_sign": solution(q2=edit(Q2_SOLUTION, "grad_y_pred = 2.0 * (y_pred - y)",
                                            "grad_y_pred = 2.0 * (y - y_pred)")),
    "update_sign_flipped": solution(q3=edit(Q3_SOLUTION, "coeffs -= learning_rate * grads",
                                            "coeffs += learning_rate * grads")),
    "missing_factor_2": solution(q2=edit(Q2_SOLUTION, "grad_y_pred = 2.0 * (y_pred - y)",
                                         "grad_y_pred = y_pred - y")),
    "mean_instead_of_sum": solution(q2=edit(edit(Q2_SOLUTION, "loss = np.square(y_pred - y).sum()",
                                                 "loss = np.square(y_pred - y).mean()"),
                                            "grad_y_pred = 2.0 * (y_pred - y)",
                                            "grad_y_pred = 2.0 * (y_pred - y) / len(x)")),
    "uses_torch": solution(q2=USES_TORCH_Q2),
    "modifies_coeffs0": solution(q3=edit(Q3_SOLUTION,
                                         "    coeffs = np.array(coeffs0, dtype=np.float64)  # a new array: coeffs0 stays as it was\n",
                                         "    coeffs = coeffs0\n")),
    "gradient_not_per_entry": solution(q1="""def mul_add_grads(x, w, z):
    # c is a sum, so its gradients are sums too
    grad_x = np.sum(w)
    grad_w = np.sum(x)
    grad_z = np.sum(np.ones_like(z))
    return grad_x, grad_w, grad_z"""),
    "grad_z_scalar": solution(q1="""def mul_add_grads(x, w, z):
    grad_x = w
    grad_w = x
    grad_z = 1.0
    return grad_x, grad_w, grad_z"""),
    "swapped_gradients": solution(q1="""def mul_add_grads(x, w, z):
    grad_x = x
    grad_w = w
    grad_z = np.ones_like(z)
    return grad_x, grad_w, grad_z"""),
    # np.sum returns a numpy.float64: the exact NumPy scalar types count as Python floats (COURSE.md)
    "loss_numpy_scalar": solution(q2=edit(Q2_SOLUTION, "return float(loss), grads", "return loss, grads")),
    # ... but a 0-d array is not a float, nor is a float subclass of the submission's, which may convert to anything
    "loss_zero_d_array": solution(q2=edit(Q2_SOLUTION, "return float(loss), grads", "return np.asarray(loss), grads")),
    "loss_float_subclass": solution(q2=edit(Q2_SOLUTION, "return float(loss), grads", """class Loss(float):
        pass
    return Loss(loss), grads""")),
    # Real code: the PyTorch tutorial's warm-up (polynomial_numpy.py, "Learning PyTorch with Examples")
    # with a thin adapter to the course's names; its loss is np.square(...).sum(), a numpy.float64.
    "tutorial_numpy": solution(q2=TUTORIAL_Q2, q3=TUTORIAL_Q3),
    "crashing": solution(q2=edit(Q2_SOLUTION, "(grad_y_pred * x ** 3).sum(),", "(grad_y_pred * x ** 3).sum(1),")),
    "stub_left": solution(q3=Q3_STUB),
}


def main() -> None:
    write_course_notebooks(HERE.parent.parent, "a1_backprop", VERSION, CELLS, STUBS, SOLUTION, SAMPLES)


if __name__ == "__main__":
    main()
