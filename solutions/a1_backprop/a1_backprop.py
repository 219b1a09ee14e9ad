# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     notebook_metadata_filter: tensorgrade
#   kernelspec: {display_name: Python 3, language: python, name: python3}
#   tensorgrade:
#     id: a1_backprop
#     title: Backpropagation by hand (NumPy)
#     version: "1.0"
#     secret_seed: 90417723
#     preload: [numpy, torch, matplotlib.pyplot]  # torch: importing it costs nothing; q4 reports any use of it
#     limits: {cell_timeout: 60, check_timeout: 30, submission_timeout: 300}
#     questions: {q4: NumPy only}
# ---

# %% [markdown]
# # Assignment 1: backpropagation by hand (NumPy)
#
# Frameworks such as PyTorch compute gradients for you (autograd), but what they compute is nothing more than the
# **chain rule**, applied backwards through the operations that produced the output. In this assignment you do it
# yourself, with NumPy only:
#
# 1. **`mul_add_grads`**: the gradients of $c = \sum (x \cdot w + z)$ with respect to $x$, $w$ and $z$;
# 2. **`poly_loss_and_grads`**: the loss of a cubic fit to $\sin(x)$ and its gradient;
# 3. **`fit_poly`**: gradient descent with that gradient;
# 4. **NumPy only**: no `torch` and no automatic differentiation inside these functions.
#
# Run the public checks at any time with `tensorgrade check a1_backprop.ipynb`. Only the functions named above are
# graded; add cells of your own freely.

# %% tags=["given"]
import math

import numpy as np
import matplotlib.pyplot as plt

# %% [markdown]
# ## Q1 (3 points): the chain rule on a small graph
#
# Take arrays $x$, $w$, $z$ of the same shape $(N, D)$ and compute
#
# $$a = x \cdot w \quad\text{(element-wise)},\qquad b = a + z,\qquad c = \sum_{i,j} b_{ij}.$$
#
# $c$ is a single number. Its gradient with respect to an $(N, D)$ array is again an $(N, D)$ array:
# one partial derivative **per entry**, $\partial c / \partial x_{ij}$.
#
# Backpropagation walks the graph from the output back to the inputs, multiplying local derivatives (the chain rule):
#
# * $\partial c / \partial b_{ij} = 1$: the sum passes the gradient unchanged to every entry;
# * $\partial c / \partial a_{ij} = \partial c / \partial b_{ij} \cdot 1$ and $\partial c / \partial z_{ij} = \partial c / \partial b_{ij} \cdot 1$: an addition passes it on to both inputs;
# * $\partial c / \partial x_{ij} = \partial c / \partial a_{ij} \cdot w_{ij}$ and $\partial c / \partial w_{ij} = \partial c / \partial a_{ij} \cdot x_{ij}$: a product sends each input the gradient times *the other* input.
#
# Write `mul_add_grads(x, w, z)` that returns `(grad_x, grad_w, grad_z)`, **each a NumPy array with the shape of its
# input** (not a single number: nothing is summed here).
#
# The helper below checks a gradient numerically with central differences,
# $\partial f/\partial v \approx (f(v + \varepsilon) - f(v - \varepsilon)) / 2\varepsilon$, one entry at a time.
# Use it to test your answers.

# %% tags=["given"]
def numerical_grad(f, array, eps=1e-6):
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
    return grad

# %% question="q1" title="mul_add_grads: gradients of c = sum(x * w + z)"
def mul_add_grads(x, w, z):
    ### BEGIN SOLUTION
    # forward: a = x * w, b = a + z, c = b.sum()
    a = x * w
    b = a + z
    # backward, from c to the inputs
    grad_b = np.ones_like(b)  # the sum passes 1 to every entry of b
    grad_a = grad_b           # an addition passes the gradient on to both inputs
    grad_z = grad_b
    grad_x = grad_a * w       # a product sends each input the gradient times the other input
    grad_w = grad_a * x
    return grad_x, grad_w, grad_z
    ### END SOLUTION

# %%
# Try it (not graded): compare with the numerical gradient.
# rng = np.random.default_rng(0)
# xs, ws, zs = (rng.standard_normal((3, 4)) for _ in range(3))
# grad_x, grad_w, grad_z = mul_add_grads(xs, ws, zs)
# c = lambda: np.sum(xs * ws + zs)
# for name, mine, array in (("x", grad_x, xs), ("w", grad_w, ws), ("z", grad_z, zs)):
#     print(name, np.shape(mine), np.allclose(mine, numerical_grad(c, array)))

# %% tags=["checks"]
from tensorgrade.authoring import *  # the check vocabulary (docs/authoring.md), NumPy's included

hand_gradients("q1.grads", "mul_add_grads", wrt="xwz", points=2, description="gradients match autograd on a random "
               "shape", says="gradients of sum(x * w + z) match autograd on a random shape",  # one case:
               cases=lambda rng: [{k: rng.standard_normal(s) for k in "xwz"} for s in [tuple(rng.integers(2, 7, 2))]])

# %% [markdown]
# ## Q2 (3 points): the loss of a cubic fit and its gradient
#
# We fit $\hat y = a + b x + c x^2 + d x^3$ to $y = \sin(x)$ on 2000 points between $-\pi$ and $\pi$,
# with the **sum** of squared errors as the loss:
#
# $$L = \sum_i (\hat y_i - y_i)^2.$$
#
# Backwards, with the chain rule: $\partial L / \partial \hat y_i = 2 (\hat y_i - y_i)$, and since
# $\partial \hat y_i / \partial a = 1$, $\partial \hat y_i / \partial b = x_i$, $\partial \hat y_i / \partial c = x_i^2$,
# $\partial \hat y_i / \partial d = x_i^3$, and every point contributes to each coefficient,
#
# $$\frac{\partial L}{\partial a} = \sum_i 2(\hat y_i - y_i),\quad
# \frac{\partial L}{\partial b} = \sum_i 2(\hat y_i - y_i)\, x_i,\quad \frac{\partial L}{\partial c} = \sum_i 2(\hat
# y_i - y_i)\, x_i^2,\quad
# \frac{\partial L}{\partial d} = \sum_i 2(\hat y_i - y_i)\, x_i^3.$$
#
# Write `poly_loss_and_grads(x, y, coeffs)`, where `coeffs` is the array `[a, b, c, d]`. Return `(loss, grads)`:
# `loss` a **Python float** (`np.sum` gives a NumPy scalar: wrap it in `float(...)`) and `grads` a float64 NumPy array
# of shape `(4,)`, in the order `[dL/da, dL/db, dL/dc, dL/dd]`. The data of the lecture is below.

# %% tags=["given"]
x = np.linspace(-math.pi, math.pi, 2000)
y = np.sin(x)

# %% question="q2" title="poly_loss_and_grads: loss and gradients of the cubic fit"
def poly_loss_and_grads(x, y, coeffs):
    ### BEGIN SOLUTION
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
    return float(loss), grads
    ### END SOLUTION

# %%
# Try it (not graded): the gradient against the numerical one, at some coefficients.
# coeffs = np.array([0.1, 0.8, -0.02, -0.09])
# loss, grads = poly_loss_and_grads(x, y, coeffs)
# numeric = numerical_grad(lambda: poly_loss_and_grads(x, y, coeffs)[0], coeffs)
# print(type(loss), loss)
# print(grads)
# print(numeric)

# %% tags=["checks"]
loss_and_grads("q2.loss_and_grads", "poly_loss_and_grads(x, y, coeffs)", points=2,
               names=("loss", "grads [dL/da, dL/db, dL/dc, dL/dd]"), says="loss and gradients match autograd on random "
               "coefficients", description="loss (float) and grads (float64, (4,)) match autograd",
               draw=lambda rng: {"x": (x := rng.uniform(-np.pi, np.pi, size=int(rng.integers(50, 200)))),
                                 "y": np.sin(x), "coeffs": rng.standard_normal(4)})

# %% [markdown]
# ## Q3 (3 points): gradient descent
#
# Gradient descent moves the coefficients a small step **against** the gradient, the direction in which the loss
# decreases fastest:
#
# $$\theta \leftarrow \theta - \eta\, \nabla_\theta L.$$
#
# Write `fit_poly(x, y, coeffs0, learning_rate=1e-6, steps=2000)`: start from `coeffs0`, take `steps` steps with the
# gradient from `poly_loss_and_grads`, and return the final coefficients (shape `(4,)`). The learning rate is tiny
# because the loss is a *sum* over 2000 points, so its gradient is large.
#
# **Do not modify `coeffs0`**: the caller's array must be unchanged afterwards. `coeffs = coeffs0` does not copy
# anything (it is a second name for the same array, and `coeffs -= ...` would change both); make a new array first,
# e.g. `coeffs = np.array(coeffs0, dtype=np.float64)`.

# %% question="q3" title="fit_poly: gradient descent"
def fit_poly(x, y, coeffs0, learning_rate=1e-6, steps=2000):
    ### BEGIN SOLUTION
    coeffs = np.array(coeffs0, dtype=np.float64)  # a new array: coeffs0 stays as it was
    for _ in range(steps):
        _, grads = poly_loss_and_grads(x, y, coeffs)
        coeffs -= learning_rate * grads
    return coeffs
    ### END SOLUTION

# %%
# Try it (not graded): fit from random coefficients and plot the result.
# coeffs0 = np.random.default_rng(0).standard_normal(4)
# coeffs = fit_poly(x, y, coeffs0)
# loss, _ = poly_loss_and_grads(x, y, coeffs)
# a, b, c, d = coeffs
# print(f"loss {loss:.3f}: y = {a:.4f} + {b:.4f} x + {c:.4f} x^2 + {d:.4f} x^3")
# plt.plot(x, y, label="sin(x)")
# plt.plot(x, a + b * x + c * x ** 2 + d * x ** 3, label="cubic fit")
# plt.legend()
# plt.show()

# %% tags=["checks"]
FIT = "fit_poly(x, y, coeffs0, learning_rate=learning_rate, steps=steps)"
x500 = np.linspace(-np.pi, np.pi, 500)
unchanged("q3.no_mutation", FIT, "coeffs0", hint="copy it first (coeffs = coeffs0.copy())", returns="the coefficients",
          x=x500, y=np.sin(x500), coeffs0=normal(4), learning_rate=1e-6, steps=20,
          description="coeffs0 is not modified")

# %% [markdown]
# ## Q4 (1 point): NumPy only
#
# The point of this assignment is to compute gradients yourself. `mul_add_grads`, `poly_loss_and_grads` and `fit_poly`
# must use NumPy only: calling `torch` (or any automatic differentiation library) inside them fails this question,
# even if the numbers are right. You will let autograd do this work in the next assignment, knowing what it computes.

# %% tags=["checks"]
x200 = np.linspace(-np.pi, np.pi, 200)
numpy_only("q4.numpy_only", ["mul_add_grads(small, small.copy(), small.copy())",
                             "poly_loss_and_grads(x, y, coeffs.copy())",
                             "fit_poly(x, y, coeffs.copy(), learning_rate=learning_rate, steps=steps)"],
           small=normal((3, 4)), x=x200, y=np.sin(x200), coeffs=normal(4), learning_rate=1e-6, steps=5,
           description="no torch/autograd inside the graded functions")

# %% tags=["hidden-checks"]
# Hidden checks: never released, their inputs drawn from the secret seed.
def cubic_loss(coeffs, inputs):
    """sum((y_pred - y)^2) of the returned coefficients on the check's data: what the fit achieved."""
    a, b, c, d, x = *np.asarray(coeffs, dtype=np.float64), inputs["x"]
    with np.errstate(all="ignore"):  # huge coefficients overflow to inf: the threshold's guard says so
        return float(np.square(a + b * x + c * x ** 2 + d * x ** 3 - inputs["y"]).sum())


hand_gradients("q1.shapes", "mul_add_grads", wrt="xwz", description="row, column and random shapes",
               cases=lambda rng: [{k: rng.standard_normal(s) for k in "xwz"} for s in [
                   (1, int(rng.integers(2, 6))), (int(rng.integers(2, 6)), 1), tuple(rng.integers(3, 9, 2))]],
               says="gradients are right for row, column and random shapes")

loss_and_grads("q2.hidden_data", "poly_loss_and_grads(x, y, coeffs)", strict=False, description="right on hidden data",
               names=("loss on hidden data", "grads on hidden data"),
               says="loss and gradients are right on hidden data",  # a noisy cos(x), never seen
               draw=lambda rng: {"x": (x := rng.uniform(-2, 2, 300)), "y": np.cos(x) + 0.1 * rng.standard_normal(300),
                                 "coeffs": rng.standard_normal(4) * 0.5})

x2000 = np.linspace(-np.pi, np.pi, 2000)
# The worst of 100 reference fits from random starts, plus a margin (2000 steps do not reach the optimum, 8.82)
numpy_below("q3.final_loss", FIT, shape=(4,), returned="the coefficients fit_poly returned after 2000 steps",
            measure=cubic_loss, threshold=from_reference(seeds=100, reduce="max", times=1.5), name="2000 steps",
            what="loss of your coefficients", x=x2000, y=np.sin(x2000), coeffs0=normal(4), learning_rate=1e-6,
            steps=2000, points=2, timeout=60, description="final loss below the reference-derived threshold")

# %% tags=["mistakes"]
mistake("gradient-not-per-entry", "The gradients are summed into single numbers. c = sum(x * w + z) is one number, but "
        "its gradient with respect to an (N, D) array has one entry per entry of that array: dc/dx = w, dc/dw = x and "
        "dc/dz = ones, each the shape of its input.", q1={"grad_x, grad_w, grad_z": "np.sum(grad_x), np.sum(grad_w), "
                                                          "np.sum(grad_z)  # c is a sum, so are its gradients"})
mistake("mean-instead-of-sum", "The loss is the mean of the squared errors instead of their sum, so the loss and every "
        "gradient are len(x) times too small, and with learning_rate=1e-6 the fit hardly moves. This assignment's loss "
        "is sum((y_pred - y)^2).", q2={".sum()\n": ".mean()\n", "2.0 * (y_pred - y)": "2.0 * (y_pred - y) / len(x)"})
mistake("missing-factor-2", "The factor 2 of the derivative of the square is missing: d/dy_pred (y_pred - y)^2 is "
        "2 * (y_pred - y), not (y_pred - y), so every gradient is half the right one.", q2={"2.0 * (": "("})
mistake("modifies-coeffs0", "fit_poly updates the caller's coeffs0 in place: coeffs = coeffs0 makes a second name for "
        "the same array, not a copy, so coeffs -= ... changes coeffs0 too. Start from a copy: "
        "coeffs = np.array(coeffs0, dtype=np.float64).",
        q3={"np.array(coeffs0, dtype=np.float64)  # a new array: coeffs0 stays as it was": "coeffs0"})
mistake("swapped-gradients", "The gradients of the product are swapped: for a = x * w, da/dx = w and da/dw = x (each "
        "input gets the other one), so grad_x is w and grad_w is x, not the other way round.",
        q1={"grad_a * w ": "grad_a * x ", "grad_a * x\n": "grad_a * w\n"})
mistake("uses-torch", "The gradient is computed by torch's autograd instead of by hand. The numbers are right, but "
        "this assignment is about writing the chain rule yourself with NumPy: no torch inside these functions.",
        q2={"    return float(loss), grads": "    import torch\n\n    t = torch.tensor(coeffs, requires_grad=True)\n"
            "    powers = torch.from_numpy(np.stack([x ** 0, x, x ** 2, x ** 3]))\n"
            "    ((t @ powers - torch.from_numpy(y)) ** 2).sum().backward()\n    return float(loss), t.grad.numpy()"})
mistake("wrong-gradient-sign", "The gradient has the wrong sign: dL/dy_pred is written 2 * (y - y_pred) instead of 2 * "
        "(y_pred - y), so every entry of grads is negated and gradient descent climbs the loss until the coefficients "
        "overflow. (An update written coeffs += learning_rate * grads does the same.)",
        q2={"(y_pred - y)\n": "(y - y_pred)\n"})

# %% tags=["samples"]
sample("correct", score=10)
sample("correct_alt", score=10, q1="""def mul_add_grads(x, w, z):
    grad_x = w.copy()
    grad_w = x.copy()
    grad_z = np.ones(z.shape)
    return grad_x, grad_w, grad_z""", q2="""def poly_loss_and_grads(x, y, coeffs):
    X = np.stack([np.ones_like(x), x, x ** 2, x ** 3], axis=1)  # (n, 4): one column per coefficient
    residual = X @ coeffs - y
    loss = float(residual @ residual)
    grads = 2 * X.T @ residual
    return loss, grads.astype(np.float64)""", q3="""def fit_poly(x, y, coeffs0, learning_rate=1e-6, steps=2000):
    coeffs = coeffs0.astype(float)  # astype returns a copy
    for step in range(steps):
        loss, grads = poly_loss_and_grads(x, y, coeffs)
        coeffs = coeffs - learning_rate * grads
    return coeffs""")  # right, written differently: the chain rule's result, a design matrix, a float copy
LOSS = ("q2.hidden_data", "q2.loss_and_grads", "q3.final_loss")  # where a wrong gradient of the loss shows
sample("wrong_gradient_sign", "wrong-gradient-sign", score=5, diagnoses=dict.fromkeys(LOSS, "wrong-gradient-sign"))
sample("update_sign_flipped", score=8, diagnoses={"q3.final_loss": "wrong-gradient-sign"}, q3={" -= ": " += "})
sample("missing_factor_2", "missing-factor-2", score=5, diagnoses=dict.fromkeys(LOSS, "missing-factor-2"))
sample("mean_instead_of_sum", "mean-instead-of-sum", score=5, diagnoses=dict.fromkeys(LOSS, "mean-instead-of-sum"))
sample("uses_torch", "uses-torch", score=9, diagnoses={"q4.numpy_only": "uses-torch"})
sample("modifies_coeffs0", "modifies-coeffs0", score=9, diagnoses={"q3.no_mutation": "modifies-coeffs0"})
sample("gradient_not_per_entry", "gradient-not-per-entry", score=7, diagnoses={"q1.grads": "gradient-not-per-entry"})
sample("grad_z_scalar", score=7, diagnoses={"q1.grads": "gradient-not-per-entry"}, q1={"z = grad_b\n": "z = 1.0\n"})
sample("swapped_gradients", "swapped-gradients", score=7,
       diagnoses=dict.fromkeys(("q1.grads", "q1.shapes"), "swapped-gradients"))
# np.sum's numpy.float64 is a float (COURSE.md: NumPy's exact scalar types count); a 0-d array, a float subclass are not
sample("loss_numpy_scalar", score=10, q2={"return float(loss), grads": "return loss, grads"})
sample("loss_zero_d_array", score=8, q2={"return float(loss), grads": "return np.asarray(loss), grads"})
sample("loss_float_subclass", score=8,
       q2={"return float(loss), grads": "class Loss(float):\n        pass\n    return Loss(loss), grads"})
# Real code: the PyTorch tutorial's warm-up (polynomial_numpy.py, "Learning PyTorch with Examples") with a thin adapter
# to the course's names; its loss is np.square(...).sum(), a numpy.float64.
sample("tutorial_numpy", score=10, q2="""def poly_loss_and_grads(x, y, coeffs):
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
    return loss, np.array([grad_a, grad_b, grad_c, grad_d])""",
       q3="""def fit_poly(x, y, coeffs0, learning_rate=1e-6, steps=2000):
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
    return np.array([a, b, c, d])""")
sample("crashing", score=4, errors=["q2.loss_and_grads", "q2.hidden_data", "q3.no_mutation", "q3.final_loss"],
       q2={"(grad_y_pred * x ** 3).sum(),": "(grad_y_pred * x ** 3).sum(1),"})
sample("stub_left", score=6, q3=STUB,
       diagnoses=dict.fromkeys(("q3.final_loss", "q3.no_mutation", "q4.numpy_only"), "not-implemented"))
