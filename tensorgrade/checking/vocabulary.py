"""The check vocabulary: the checks a deep-learning course needs, one call each.

In an assignment's source (see docs/authoring.md), a checks cell declares

    close("q1.forward", "LegendrePolynomial3.apply(x)", x=uniform(-1.5, 1.5, (4, 5)), rtol=1e-5)

and that is the whole check: its id (question `q1`), points (1 unless `points=`), what is called in
the student's namespace (named once, as an expression of the check's inputs), the inputs (drawn from
the grader's seeded generator: `uniform`, `normal`, `integers`, any `lambda rng: ...`, or
constants), and how the student's output is compared with the reference's output on the same
inputs. Each call returns a `Check` and adds it to `CHECKS` of the namespace it runs in (the
notebook, or the module the grader loads), so a checks cell declares and nothing else is needed.

The probes run inside the sandbox (checking/inside/standard_probes.py), the judges outside
(checking/outside/standard_judges.py). A check the vocabulary does not cover is `custom(...)`
with a judge of your own, on the value of a call or on a probe of your own.
"""

from __future__ import annotations

import ast
import functools
import sys
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from tensorgrade.checking.checks import Check
from tensorgrade.checking.outside import standard_judges as judges
from tensorgrade.checking.outside.judging import JudgeCase, Verdict, compare, failed, passed  # noqa: F401 (re-exported)
from tensorgrade.checking.outside.standard_judges import (Threshold, dict_of, list_of, outputs_alike,  # noqa: F401
                                                          plain)

# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Draw:
    """An input drawn from the check's generator (seeded from the secret seed and the check id)."""
    draw: Callable[[np.random.Generator], Any]
    text: str

    def __repr__(self) -> str:
        return self.text


def uniform(low: float, high: float, shape: int | tuple = (), dtype: str = "float64") -> Draw:
    return Draw(lambda rng: rng.uniform(low, high, size=shape).astype(dtype),
                f"uniform({low}, {high}, {shape}, {dtype})")


def normal(shape: int | tuple = (), mean: float = 0.0, std: float = 1.0, dtype: str = "float64") -> Draw:
    return Draw(lambda rng: (mean + std * rng.standard_normal(shape)).astype(dtype), f"normal({shape}, {mean}, {std})")


def integers(low: int, high: int, shape: int | tuple = ()) -> Draw:
    return Draw(lambda rng: rng.integers(low, high, size=shape), f"integers({low}, {high}, {shape})")


def _drawer(call: str, declared: dict[str, Any], options: dict[str, Any]) -> Callable[[np.random.Generator], dict]:
    """The check's `inputs(rng)`: every declared input in the order written (so each draws from the
    generator where it always did), plus what the probe needs to know (`_call`, ...)."""
    def inputs(rng: np.random.Generator) -> dict:
        drawn = {}
        for name, spec in declared.items():
            if isinstance(spec, Draw):
                drawn[name] = spec.draw(rng)
            elif callable(spec):
                drawn[name] = spec(rng)
            else:
                drawn[name] = spec
        return {**drawn, "_call": call, **options}
    return inputs


# ---------------------------------------------------------------------------------------------
# Declaring
# ---------------------------------------------------------------------------------------------

def _declared_in(namespace: dict, kind: str, item: Any, key: str) -> None:
    """Add `item` to the namespace's `kind` list, replacing one of the same id (a cell run twice)."""
    found = namespace.setdefault(kind, [])
    found[:] = [other for other in found if getattr(other, key) != getattr(item, key)]
    found.append(item)


def _check_call(check_id: str, call: str) -> None:
    try:
        ast.parse(call, mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"{check_id}: the call {call!r} is not a Python expression ({exc.msg})") from None


def _subclass_of(call: str, base: str) -> dict[str, str]:
    """The class a call needs derived from `base`: `P3` in `P3.apply`, `Model` in `Model(...)`."""
    node = ast.parse(call, mode="eval").body
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        node = node.value
    return {node.id: base} if isinstance(node, ast.Name) else {}


def declare(check_id: str, call: str, probe: str, judge: Callable[[JudgeCase], Verdict], *, points: float = 1,
            description: str = "", timeout: float | None = None, inputs: dict[str, Any] | None = None,
            options: dict[str, Any] | None = None, resembles: Callable[[Any, Any], bool] | None = outputs_alike,
            threshold: Threshold | None = None, measure: Callable | None = None, depth: int = 1) -> Check:
    """A check of the vocabulary (every declaring function below ends here), added to `CHECKS`.
    `resembles` tells a known mistake's behaviour: None where the judge compares with the reference
    (the judge itself then does, at the check's tolerance), output closeness where it does not."""
    _check_call(check_id, call)
    if threshold is not None:
        threshold.check = check_id
    caller = sys._getframe(depth)
    check = Check(check_id, probe=probe, judge=judge, inputs=_drawer(call, dict(inputs or {}), dict(options or {})),
                  resembles=resembles, points=points, description=description, timeout=timeout,
                  threshold=threshold, measure=measure, line=caller.f_lineno)
    _declared_in(caller.f_globals, "CHECKS", check, "id")
    return check


def close(check_id: str, call: str, *, rtol: float = 1e-5, atol: float = 1e-8, like: Any = None,
          dtype: bool = False, numpy: bool = False, name: str | None = None, points: float = 1,
          description: str = "", timeout: float | None = None, **inputs: Any) -> Check:
    """The value of `call` is close to the reference's (shape, and dtype with `dtype=True`); with
    `like`, it must first have that type: `float`, `dict_of(float, "abcd")`, `(dict_of(...), list_of(float))`.
    `numpy=True` passes arrays as NumPy arrays (NumPy-only code) instead of tensors."""
    judge = functools.partial(judges.judge_close, name=name or call, rtol=rtol, atol=atol, like=like, dtype=dtype)
    return declare(check_id, call, "probe_value", judge, points=points, description=description, timeout=timeout,
                   inputs=inputs, options={"_numpy": numpy} if numpy else {}, resembles=None, depth=2)


def backward(check_id: str, function: str, *, x: Any, grad_output: Any, rtol: float = 1e-5, atol: float = 1e-6,
             points: float = 1, description: str = "", timeout: float | None = None) -> Check:
    """`function`'s own backward (a custom autograd Function's, or autograd through hand-written
    code) gives the reference's x.grad for `grad_output`, in the shape of x."""
    judge = functools.partial(judges.judge_backward, name=function, rtol=rtol, atol=atol)
    return declare(check_id, function, "probe_backward", judge, points=points, description=description,
                   timeout=timeout, inputs={"x": x, "grad_output": grad_output}, resembles=None,
                   options={"_subclass_of": _subclass_of(function, "torch.autograd.Function")}, depth=2)


def gradcheck(check_id: str, function: str, *, x: Any, points: float = 1, description: str = "",
              timeout: float | None = None) -> Check:
    """In float64, `function`'s Jacobian from its backward matches the reference's, entry by entry
    (d out[i]/d input[j]), and torch.autograd.gradcheck's own verdict is reported beside it."""
    judge = functools.partial(judges.judge_gradcheck, name=function)
    return declare(check_id, function, "probe_jacobians", judge, points=points, description=description,
                   timeout=timeout, inputs={"x": x}, resembles=None,
                   options={"_subclass_of": _subclass_of(function, "torch.autograd.Function")}, depth=2)


def saves_input(check_id: str, function: str, *, x: Any, points: float = 1, description: str = "",
                timeout: float | None = None) -> Check:
    """A custom Function's forward saves its input with ctx.save_for_backward (not a copy, not a
    placeholder, not a plain ctx attribute)."""
    judge = functools.partial(judges.judge_saves_input, name=function)
    return declare(check_id, function, "probe_saved_tensors", judge, points=points, description=description,
                   timeout=timeout, inputs={"x": x},
                   options={"_subclass_of": _subclass_of(function, "torch.autograd.Function")}, depth=2)


def parameters(check_id: str, module: str, names: list[str] | str, *, scalar: bool = False, points: float = 1,
               description: str = "", timeout: float | None = None) -> Check:
    """The module built by `module` (e.g. `"Polynomial3()"`) registered exactly the parameters
    `names` with nn.Module, each requiring gradients (and each a single number with `scalar`)."""
    judge = functools.partial(judges.judge_parameters, name=module, names=list(names), scalar=scalar)
    return declare(check_id, module, "probe_parameters", judge, points=points, description=description,
                   timeout=timeout, options={"_subclass_of": _subclass_of(module, "torch.nn.Module")}, depth=2)


def from_reference(seeds: int = 25, reduce: str = "max", times: float = 1.0, plus: float = 0.0) -> Threshold:
    """A threshold derived from the reference: its `measure` over `seeds` draws of the check's
    inputs, reduced (max, min, mean), then `* times + plus`. `tensorgrade thresholds` computes it."""
    if reduce not in judges.REDUCTIONS:
        raise ValueError(f"from_reference: reduce must be one of {sorted(judges.REDUCTIONS)}, not {reduce!r}")
    return Threshold(seeds=seeds, reduce=reduce, times=times, plus=plus)


def below(check_id: str, call: str, *, measure: Callable[[Any, dict], float], threshold: Threshold | float,
          like: Any = None, curve: Callable[[Any], Any] | None = None, what: str = "loss", name: str | None = None,
          points: float = 1, description: str = "", timeout: float | None = None, **inputs: Any) -> Check:
    """`measure(value of call, inputs)` (a final loss, computed here from what the call returned)
    stays below `threshold`, a number or `from_reference(...)`; `curve(value)` is plotted in reports."""
    if not isinstance(threshold, Threshold):
        threshold = Threshold(value=float(threshold))
    judge = functools.partial(judges.judge_below, name=name or call, measure=measure, threshold=threshold,
                              like=like, curve=curve, what=what)
    return declare(check_id, call, "probe_value", judge, points=points, description=description, timeout=timeout,
                   inputs=inputs, threshold=threshold, measure=lambda output, drawn: measure(plain(output["value"]), drawn),
                   depth=2)


def custom(check_id: str, judge: Callable[[JudgeCase], Verdict], *, call: str | None = None, probe: str | None = None,
           resembles: Callable[[Any, Any], bool] | None = outputs_alike, points: float = 1, description: str = "",
           timeout: float | None = None, **inputs: Any) -> Check:
    """A check with your own judge: on `case.student["value"]` (a typed tree; `plain(...)` gives its
    values) of `call`, or on what your own `probe` (a function of a probes cell) returns."""
    if (call is None) == (probe is None):
        raise ValueError(f"{check_id}: custom() takes either call= (an expression) or probe= (a probe's name)")
    return declare(check_id, call or "None", probe or "probe_value", judge, points=points, description=description,
                   timeout=timeout, inputs=inputs, resembles=resembles, depth=2)
