"""`tensorgrade new <id>`: a working single-source assignment to start from.

It has one question of each common kind (a value, a gradient, a module's parameters, a training
run below a threshold derived from the reference), a known mistake for each, and samples; it
builds, validates and releases as it is, so an instructor edits something that already works.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from tensorgrade.course.assignment import ID_PATTERN
from tensorgrade.course.errors import AuthoringError

TEMPLATE = '''\
# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     notebook_metadata_filter: tensorgrade
#   kernelspec: {display_name: Python 3, language: python, name: python3}
#   tensorgrade:
#     id: @ID@
#     title: "@TITLE@"
#     version: "1.0"
#     secret_seed: @SEED@
#     preload: [torch, numpy]
#     limits: {cell_timeout: 60, check_timeout: 30, submission_timeout: 300}
# ---

# %% [markdown]
# # @TITLE@
#
# Four short questions: a function, a gradient, a module and a training loop.

# %% tags=["given"]
import torch

torch.manual_seed(0)

# %% [markdown]
# ## Q1 (2 points): softmax
#
# `softmax(x)` returns the softmax of `x` along its last dimension. Subtract the row maximum first,
# so that large inputs do not overflow.

# %% question="q1" title="softmax"
def softmax(x):
    ### BEGIN SOLUTION
    shifted = x - x.max(dim=-1, keepdim=True).values
    e = shifted.exp()
    return e / e.sum(dim=-1, keepdim=True)
    ### END SOLUTION

# %% tags=["checks"]
import numpy as np

from tensorgrade.authoring import *  # the check vocabulary (docs/authoring.md)

close("q1.values", "softmax(x)", x=normal((4, 6)), rtol=1e-5, atol=1e-7, description="softmax of a 4x6 input")

# %% tags=["hidden-checks"]
close("q1.large_inputs", "softmax(x)", x=uniform(500, 1000, (3, 5)), rtol=1e-5, atol=1e-7,
      description="no overflow on large inputs")

# %% [markdown]
# ## Q2 (2 points): a custom autograd Function
#
# `Square` computes `x ** 2` with its own `backward`: save the input with `ctx.save_for_backward`
# and return `grad_output * 2 * input`.

# %% question="q2" title="Square: a custom autograd Function"
class Square(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input):
        ### BEGIN SOLUTION
        ctx.save_for_backward(input)
        return input ** 2
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad_output):
        ### BEGIN SOLUTION
        input, = ctx.saved_tensors
        return grad_output * 2 * input
        ### END SOLUTION

# %% tags=["checks"]
backward("q2.backward", "Square.apply", x=uniform(-2, 2, (3, 4)), grad_output=normal((3, 4)),
         description="backward returns grad_output * 2x")

# %% tags=["hidden-checks"]
gradcheck("q2.gradcheck", "Square.apply", x=uniform(-1, 1, 5), description="gradcheck in float64")

# %% [markdown]
# ## Q3 (1 point): a module
#
# `Line` models `y = w * x + b` with two scalar `torch.nn.Parameter`s `w` and `b`.

# %% question="q3" title="Line: an nn.Module"
class Line(torch.nn.Module):
    def __init__(self):
        super().__init__()
        ### BEGIN SOLUTION
        self.w = torch.nn.Parameter(torch.zeros(()))
        self.b = torch.nn.Parameter(torch.zeros(()))
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        return self.w * x + self.b
        ### END SOLUTION

# %% tags=["checks"]
parameters("q3.parameters", "Line()", ["w", "b"], scalar=True, description="w and b are registered parameters")

# %% [markdown]
# ## Q4 (2 points): a training loop
#
# `fit_line(x, y, steps, lr)` trains a `Line` with `torch.optim.SGD` on the mean squared error and
# returns `(w, b, losses)`: the final `w` and `b` as Python floats and the loss of every step.

# %% question="q4" title="fit_line: a training loop"
def fit_line(x, y, steps=200, lr=0.1):
    ### BEGIN SOLUTION
    model = Line()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return model.w.item(), model.b.item(), losses
    ### END SOLUTION

# %% tags=["checks"]
FIT = (float, float, list_of(float, length="steps", name="losses"))
close("q4.returns", "fit_line(x, y, steps=steps)", like=FIT, rtol=1e-4, atol=1e-5, name="fit_line(x, y, steps=5)",
      x=uniform(-1, 1, 50, "float32"), y=uniform(-1, 1, 50, "float32"), steps=5,
      description="returns (w, b, losses) matching the reference's first steps")

# %% tags=["hidden-checks"]
def line_loss(returned, inputs):
    """The mean squared error of the returned line on the hidden data: what training achieved."""
    w, b = returned[0], returned[1]
    return float(np.mean((w * np.asarray(inputs["x"], np.float64) + b - np.asarray(inputs["y"], np.float64)) ** 2))


below("q4.final_loss", "fit_line(x, y)", like=FIT, measure=line_loss, curve=lambda r: r[2],
      threshold=from_reference(seeds=10, reduce="max", times=1.5, plus=1e-3), what="loss of your returned line",
      x=np.linspace(-1, 1, 200, dtype=np.float32),  # a hidden line through these points:
      y=lambda rng: (rng.uniform(-3, 3) * np.linspace(-1, 1, 200) + rng.uniform(-1, 1)).astype("float32"),
      description="the trained line fits hidden data")

# %% tags=["mistakes"]
mistake("no-max-shift", "softmax does not subtract the row maximum before exp, so large inputs overflow to "
        "inf and the result is NaN. Subtract x.max(dim=-1, keepdim=True).values first.",
        q1={"shifted = x - x.max(dim=-1, keepdim=True).values": "shifted = x"})
mistake("missing-factor-2", "backward drops the factor 2 of d(x^2)/dx = 2x. Return grad_output * 2 * input.",
        q2={"grad_output * 2 * input": "grad_output * input"})
mistake("forgot-zero-grad", "Gradients are never reset, so each step applies the sum of all gradients so far. "
        "Call optimizer.zero_grad() at the start of every step.", q4={"        optimizer.zero_grad()\\n": ""})

# %% tags=["samples"]
sample("correct", score=7)
sample("no_max_shift", "no-max-shift", score=6, diagnoses={"q1.large_inputs": "no-max-shift"})
sample("missing_factor_2", "missing-factor-2", score=5,
       diagnoses={"q2.backward": "missing-factor-2", "q2.gradcheck": "missing-factor-2"})
sample("forgot_zero_grad", "forgot-zero-grad", score=5,
       diagnoses={"q4.returns": "forgot-zero-grad", "q4.final_loss": "forgot-zero-grad"})
sample("stub_left", score=5, q4=STUB, diagnoses={"q4.returns": "not-implemented"})
'''


def write_new_assignment(assignment_id: str, root: Path, force: bool = False) -> Path:
    """solutions/<id>/<id>.py under the course `root`; the generated files come from `tensorgrade build`."""
    if not ID_PATTERN.match(assignment_id):
        raise AuthoringError(f"{assignment_id!r}: an assignment id is lower-case letters, digits and _, "
                             "starting with a letter (e.g. a7_attention)")
    path = root / "solutions" / assignment_id / f"{assignment_id}.py"
    if path.exists() and not force:
        raise AuthoringError(f"{path}: already exists (--force overwrites it)")
    path.parent.mkdir(parents=True, exist_ok=True)
    (root / "assignments" / assignment_id).mkdir(parents=True, exist_ok=True)
    title = assignment_id.replace("_", " ").capitalize()
    # A fresh secret seed per assignment: hidden inputs no one else's course shares.
    text = TEMPLATE.replace("@ID@", assignment_id).replace("@TITLE@", title).replace("@SEED@", str(secrets.randbelow(10 ** 9)))
    path.write_text(text)
    return path
