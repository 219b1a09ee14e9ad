"""The TensorFlow judges of the check vocabulary (checking/vocabulary_tensorflow.py), outside the
sandbox, on the plain data the TensorFlow probes return (checking/inside/tensorflow_probes.py)."""

from __future__ import annotations

import ast
from typing import Any, Callable

import numpy as np

from tensorgrade.checking.outside.judging import JudgeCase, Verdict, at_least, compare, failed, not_numbers, passed

# float32 values computed by two implementations (reference and student) of the same formula
RTOL, ATOL = 1e-5, 1e-6


def shape_text(shape) -> str:
    """(3, 1), (4), ()"""
    return str(tuple(shape)).replace(",)", ")") if shape is not None else "no shape"


def kind_text(info: dict) -> str:
    """A `kind()` in words: `a tf.Tensor of shape (3, 1) and dtype float32`, `a float`, `None`."""
    name = info.get("type", "?")
    if name == "builtins.NoneType":
        return "None"
    if info.get("variable"):
        name = "tf.Variable"
    elif info.get("tensor"):
        name = "tf.Tensor"
    text = f"a {name.removeprefix('builtins.')}"
    if "shape" in info:
        text += f" of shape {shape_text(info['shape'])}"
    if "dtype" in info:
        text += f" and dtype {info['dtype']}"
    return text


def weights_text(structure) -> str:
    """A `weights_structure()` that is not a list, in words, with the usual cause when it is a method."""
    name = structure.get("type", "something else") if isinstance(structure, dict) else type(structure).__name__
    if name == "builtins.method":
        return "a method: make `weights` a property (@property above `def weights(self):`)"
    if name == "builtins.NoneType":
        return "None"
    if name.endswith("EagerTensor"):
        return "a tf.Tensor (not a tf.Variable, which an update can change in place)"
    if name.rpartition(".")[2] == "Variable":  # a keras.Variable, say, that is not trainable
        return (f"a {name} that does not behave as a tf.Variable: .assign must change it in place and "
                "tf.GradientTape must track it (is it trainable=False?)")
    return name.removeprefix("builtins.")


def same_output(a, b) -> bool:
    """Two probe outputs are the same behaviour when every value agrees to float32 precision: how
    a known mistake is recognised on checks whose judge also tests absolute properties."""
    return compare(a, b, name="output", rtol=1e-4, atol=ATOL) is None


def same_training_run(a, b) -> bool:
    """Two runs behave alike when their loss curves agree (NaN and infinity included)."""
    la, lb = (np.array([np.nan if v is None else v for v in run["losses"]], dtype=np.float64) for run in (a, b))
    return la.shape == lb.shape and bool(np.allclose(la, lb, rtol=1e-3, atol=1e-6, equal_nan=True))


def shown(call: str, inputs: dict) -> str:
    """The call as a student reads it, the inputs that are plain numbers written in:
    `NaiveDense(input_size=3, output_size=4, activation=tf.nn.relu)`."""
    class Fill(ast.NodeTransformer):
        def visit_Name(self, node):
            value = inputs.get(node.id)
            return ast.Constant(value) if type(value) in (int, float) else node

    return ast.unparse(Fill().visit(ast.parse(call, mode="eval")))


def fill(template: str, inputs: dict) -> str:
    """A message's text with the inputs written in: `for inputs of shape {inputs.shape}`."""
    return template.format(**{k: v for k, v in inputs.items() if not k.startswith("_")})


def class_of(call: str) -> str:
    """`NaiveDense` for `NaiveDense(...)`: the student's class a call builds."""
    node = ast.parse(call, mode="eval").body
    return ast.unparse(node.func) if isinstance(node, ast.Call) else call


def _and(names) -> str:
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]


# -- values --------------------------------------------------------------------------------------

def _tensor_verdict(s: dict, r: dict, what: str) -> Verdict | None:
    if s["out"] is None or not s["kind"].get("tensor"):
        return failed(f"{what} should return a tensor of shape {shape_text(np.shape(r['out']))}, "
                      f"but it returned {kind_text(s['kind'])}"
                      + (": keep it a tensor (no .numpy()), or tf.GradientTape cannot differentiate through it"
                         if s["out"] is not None else ""))
    return None


def _scalar_verdict(s: dict, what: str, hint: str) -> Verdict | None:
    if not s["kind"].get("tensor"):
        return failed(f"{what} should be a scalar tensor{f' ({hint})' if hint else ''}, but it is "
                      f"{kind_text(s['kind'])}: tf.GradientTape can only differentiate TensorFlow operations, so "
                      "the loss must stay a tensor")
    if s["out"] is None or np.shape(s["out"]) != ():
        return failed(f"{what} should be a scalar tensor (shape ()), but it has shape "
                      f"{shape_text(np.shape(s['out']))}: average over every sample with tf.reduce_mean and no axis")
    return None


def judge_tf_value(case: JudgeCase, *, names: list[str], scalars: list[bool], hints: list[str], rtol: float,
                   atol: float, success: str) -> Verdict:
    for s, r, name, scalar, hint in zip(case.student["items"], case.reference["items"], names, scalars, hints):
        what = fill(name, case.inputs)
        verdict = (_scalar_verdict(s, what, fill(hint, case.inputs)) if scalar else _tensor_verdict(s, r, what)) \
            or compare(s["out"], r["out"], name=what, rtol=rtol, atol=atol)
        if verdict is not None:
            return verdict
    return passed(success)


# -- a step and a run of tf.GradientTape updates ----------------------------------------------------

def judge_tape_step(case: JudgeCase, *, name: str, variables: list[str], success: str) -> Verdict:
    s, r = case.student, case.reference
    call, first = fill(name, case.inputs), variables[0]
    if s["gradient_calls"] == 0:
        return failed(f"{call} never called tape.gradient: compute the gradients with tf.GradientTape (the loss "
                      f"inside `with tf.GradientTape() as tape:`, then tape.gradient(loss, [{', '.join(variables)}]))")
    if s["loss"] is None or np.size(s["loss"]) != 1:
        return failed(f"{call} should return the loss (a scalar tensor), but it returned {kind_text(s['loss_kind'])}")
    verdict = compare(np.reshape(s["loss"], ()), np.reshape(r["loss"], ()), name=f"the loss returned by {call}",
                      rtol=RTOL, atol=ATOL)
    if verdict is not None:
        return verdict
    if all(np.array_equal(s["before"][v], s["after"][v]) for v in variables):
        updates = " and ".join(f"{v}.assign_sub(learning_rate * grad_{v})" for v in variables)
        return failed(f"{_and(variables)} are unchanged after {call}: update the tf.Variables passed in, in place, "
                      f"with {updates}; `{first} = {first} - ...` (or `{first} = tf.Variable(...)`) inside the "
                      f"function only gives the local name {first} a new value, and the caller's variable stays as "
                      "it was")
    for v in variables:
        got = np.asarray(s["after"][v]) - np.asarray(s["before"][v])
        expected = np.asarray(r["after"][v]) - np.asarray(r["before"][v])
        verdict = compare(got, expected, name=f"the change of {v} made by one step (after - before)",
                          rtol=1e-4, atol=1e-6)
        if verdict is not None:
            if not got.any():
                verdict.message += f"\n{v} did not change: is it updated in place ({v}.assign_sub)?"
            return verdict
    return passed(success)


def _loss_hint(case: JudgeCase, steps: int, variables: list[str]) -> str:
    """What the losses of a run say about why it did not get there."""
    s, first = case.student, variables[0]
    losses = [v for v in s["losses"] if v is not None] if isinstance(s["losses"], list) else []
    if len(losses) != steps or not all(isinstance(v, float) for v in losses):
        return ""
    if not np.isfinite(losses[-1]) or losses[-1] > losses[0]:
        return (f"\nThe loss grew from {losses[0]:.4g} to {losses[-1]:.4g}: each step should move "
                f"{_and(variables)} against the gradient, and by a small amount")
    if np.array_equal(s["variables"][first], np.asarray(case.inputs[first], dtype=np.float32)):
        return f"\n{first} never changed: are the tf.Variables updated in place (assign_sub)?"
    return ""


def judge_tape_training(case: JudgeCase, *, name: str, steps: int, variables: list[str],
                        measure: Callable[[dict, dict], float], threshold: Any, what: str, percent: bool) -> Verdict:
    s, r = case.student, case.reference
    limit, call = threshold.resolved(), fill(name, case.inputs)
    curve = {"got": s["losses"], "expected": r["losses"]}
    for v in variables:  # diverged to NaN or inf, or of another shape
        problem = not_numbers(s["variables"][v], f"{v} after {steps} steps", like=r["variables"][v])
        if problem is not None:
            problem.message += _loss_hint(case, steps, variables)
            problem.details.update(threshold=limit, curve=curve)
            return problem
    got, reference = measure(s["variables"], case.inputs), measure(r["variables"], case.inputs)
    show = (lambda value: f"{value:.1%}") if percent else (lambda value: f"{value:.4g}")
    details = {"got": got, "expected": reference, "threshold": limit, "curve": curve}
    verdict = at_least(got, limit, name=f"the {what} after {steps} steps", details=details, message=lambda: (
        f"after {steps} calls of {call}, the {what} is {show(got)}; at least {show(limit)} is needed (the reference "
        f"reaches {show(reference)})" + _loss_hint(case, steps, variables)))
    return verdict or passed(f"the {what} after {steps} steps is {show(got)}, at least {show(limit)} (reference "
                             f"{show(reference)})", details=details)


# -- layers and containers of layers ---------------------------------------------------------------

def weights_verdict(weights, shapes: list, what: str) -> Verdict | None:
    """None when `weights` (a probe's weights_structure()) is a flat list of variables of `shapes`."""
    names = ["W", "b"] if len(shapes) == 2 else [f"{n}{i // 2 + 1}" for i, n in enumerate("Wb" * (len(shapes) // 2))]
    want = (f"the list [{', '.join(names)}] of the layer's two tf.Variables" if len(shapes) == 2 else
            f"one flat list of {len(shapes)} tf.Variables of shapes {', '.join(shape_text(s) for s in shapes)}")
    if not isinstance(weights, list):
        return failed(f"{what} should be {want}, but it is {weights_text(weights)}")
    if any(isinstance(w, list) for w in weights):
        return failed(f"{what} should be {want}, but it is a list of lists (one per layer): add each layer's "
                      "weights to one list (weights += layer.weights, or extend) instead of appending the lists")
    if len(weights) != len(shapes) or not all(isinstance(w, dict) and "variable" in w for w in weights):
        found = ", ".join("a tf.Variable" if "variable" in w else weights_text(w) for w in weights)
        return failed(f"{what} should be {want}, but it holds {len(weights)} item(s): {found or 'nothing'}")
    for name, got, expected in zip(names, (w["variable"] for w in weights), shapes):
        if list(got) != list(expected):
            return failed(f"{what}: {name} has shape {shape_text(got)}, expected {shape_text(expected)}")
    return None


def judge_tf_layer(case: JudgeCase, *, call: str, weights: str, name: str | None, record: bool, rtol: float,
                   atol: float, success: str) -> Verdict:
    s, r, inputs = case.student, case.reference, case.inputs
    what, layer = shown(call, inputs), class_of(call)
    verdict = weights_verdict(s["weights"], [list(np.shape(v)) for v in inputs[weights]], f"{what}.weights")
    if verdict is not None:
        return verdict
    if record:
        calls, wanted = s["activation_calls"], r["activation_calls"][0]
        if not calls:
            return failed(f"the activation given to {layer} was never called: __call__ should return "
                          "self.activation(tf.matmul(inputs, self.W) + self.b)")
        if len(calls) > 1:
            return failed(f"the activation given to {layer} was called {len(calls)} times for one call of the "
                          "layer; apply it once, to inputs @ W + b")
        if calls[0] != wanted:
            return failed(f"the activation was given a tensor of shape {shape_text(calls[0])}; it should get "
                          f"inputs @ W + b, of shape {shape_text(wanted)}")
    if s["out"] is None:
        return failed(f"{what} should return a tensor, but it returned {kind_text(s['out_kind'])}")
    if s["out_kind"].get("shape") != r["out_kind"].get("shape"):
        return failed(f"{what} on inputs of shape {shape_text(np.shape(inputs['x']))} should return a tensor of "
                      f"shape {shape_text(r['out_kind']['shape'])}, but it returned {kind_text(s['out_kind'])}")
    verdict = compare(s["out"], r["out"], name=fill(name, inputs) if name else f"the output of {what} with given "
                      "weights", rtol=rtol, atol=atol)
    if verdict is not None and (np.asarray(r["out"]) >= 0).all() and (np.asarray(s["out"]) < 0).any():
        verdict.message += "\nSome outputs are negative, which the activation never returns: is it applied?"
    return verdict or passed(success)


def judge_tf_sequential(case: JudgeCase, *, call: str, success: str) -> Verdict:
    s, r, container = case.student, case.reference, class_of(call)
    layers = len(case.inputs["Ws"])
    if s["calls"] != [1] * layers:
        return failed(f"calling a {container} of {layers} layers once should call each layer once, in order; "
                      f"the layers were called {s['calls']} time(s)")
    if s["out"] is None:
        return failed(f"{container} should return the last layer's output, but it returned "
                      f"{kind_text(s['out_kind'])}")
    verdict = compare(s["out"], r["out"], name=f"the output of {container}([layer1, ..., layer{layers}])",
                      rtol=RTOL, atol=ATOL)
    if verdict is not None:
        verdict.message += "\n(each layer's output is the next layer's input, from the first layer to the last)"
        return verdict
    got, expected = s["weights"], list(range(2 * layers))
    if got == expected:
        return passed(success)
    want = f"one flat list [{', '.join(f'W{i + 1}, b{i + 1}' for i in range(layers))}] of {2 * layers} tf.Variables"
    weights = f"{container}.weights"
    if not isinstance(got, list):
        return failed(f"{weights} should be {want}, but it is {weights_text(got)}")
    if any(isinstance(item, list) for item in got):
        return failed(f"{weights} should be {want}, but it is a list of {len(got)} items of which "
                      f"{sum(isinstance(item, list) for item in got)} are lists (one per layer?): add each layer's "
                      "weights to one list (weights += layer.weights, or extend) instead of appending the lists")
    if sorted(i for i in got if isinstance(i, int)) == expected:
        return failed(f"{weights} holds the right variables in the wrong order: expected {want}, layer by layer")
    if any(isinstance(item, dict) and "variable" in item for item in got):
        return failed(f"{weights} should be {want}: the layers' own variables, not copies (an optimizer must "
                      "update the variables the layers use)")
    return failed(f"{weights} should be {want}, but it holds {len(got)} item(s) that are not all the layers' weights")
