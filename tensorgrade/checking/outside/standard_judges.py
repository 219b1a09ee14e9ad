"""The judges of the check vocabulary (tensorgrade/checking/vocabulary.py), run outside the sandbox.

They read what the standard probes returned (plain data; values as typed trees, see
checking/inside/standard_probes.typed) and compare it with the reference's output on the same
inputs. Every message says what was expected, what came back and where they differ.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from tensorgrade.sandbox.transport import OpaqueObject
from tensorgrade.checking.outside.judging import (JudgeCase, Verdict, at_most, compare, failed, jacobian_mismatch,
                                                  passed)

# ---------------------------------------------------------------------------------------------
# Typed trees: what a returned value was, and its plain values
# ---------------------------------------------------------------------------------------------

NUMBER_TYPES = {"float": float, "int": int}


def plain(tree: Any) -> Any:
    """A typed tree's values: floats, ints, arrays, lists and dicts; anything else is its type name."""
    if not isinstance(tree, dict) or "type" not in tree:
        return tree
    kind = tree["type"]
    if kind in ("list", "tuple"):
        return [plain(item) for item in tree["items"]]
    if kind == "dict":
        return {key: plain(item) for key, item in tree["items"].items()}
    if kind == "None":
        return None
    if "value" in tree:
        return tree["value"]
    return OpaqueObject(kind)  # what it claims to be is not asked: only its type is known


def type_name(tree: dict) -> str:
    kind = tree.get("type", "?")
    if kind == "tensor":
        return f"a torch.Tensor ({tree['dtype']}, shape {tuple(np.shape(tree['value']))})"
    if kind == "ndarray":
        return f"a numpy.ndarray ({tree['dtype']})"
    if kind in NUMBER_TYPES:
        return "a NumPy scalar" if tree.get("numpy") else f"a Python {kind}"
    if kind in ("list", "tuple", "dict"):
        return f"a {kind} of {len(tree.get('items', ()))}"
    return "None" if kind == "None" else f"a {kind}"


@dataclass(frozen=True)
class Contract:
    """What a returned value must be: `float`, `int`, `str`, or `dict_of`/`list_of`/a tuple of contracts."""
    kind: str  # float | int | str | dict | list | tuple
    item: Any = None  # the contract of each item (dict, list) or the items' contracts (tuple)
    keys: tuple[str, ...] | None = None
    length: int | str | None = None  # a number, or the name of an input that gives it
    name: str | None = None  # what the value is called in messages (`params`, `losses`)

    def describe(self) -> str:
        if self.kind in NUMBER_TYPES:
            return f"a Python {self.kind}"
        if self.kind == "dict":
            return f"a dict of {_plural(self.item)} with keys {', '.join(self.keys or ())}"
        if self.kind == "list":
            count = f" (one per `{self.length}`)" if isinstance(self.length, str) else \
                (f" of length {self.length}" if self.length is not None else "")
            return f"a list of {_plural(self.item)}{count}"
        if self.kind == "tuple":
            return "(" + ", ".join(c.describe() for c in self.item) + ")"
        return f"a {self.kind}"


def _plural(contract: "Contract") -> str:
    return {"float": "Python floats", "int": "Python ints", "str": "strings"}.get(contract.kind, contract.describe())


def contract_of(like: Any) -> Contract:
    if isinstance(like, Contract):
        return like
    if like in (float, int, str):
        return Contract(like.__name__)
    if isinstance(like, tuple):
        return Contract("tuple", tuple(contract_of(item) for item in like), length=len(like))
    raise TypeError(f"a returned value's contract is float, int, str, dict_of(...), list_of(...) or a tuple "
                    f"of those, not {like!r}")


def dict_of(item: Any, keys: str | list[str], name: str | None = None) -> Contract:
    return Contract("dict", contract_of(item), keys=tuple(keys), name=name)


def list_of(item: Any, length: int | str | None = None, name: str | None = None) -> Contract:
    return Contract("list", contract_of(item), length=length, name=name)


def breach(tree: dict, contract: Contract, name: str, inputs: dict, hint: str = " (use .item())") -> str | None:
    """Where `tree` breaks `contract`, as a sentence naming the place and what is there, or None."""
    kind = tree.get("type")
    name = contract.name or name
    if contract.kind in NUMBER_TYPES or contract.kind == "str":
        value = tree.get("value")
        # The recorded type and the value itself: a "float" whose value is not one number is not a float.
        if kind == contract.kind and (contract.kind == "str" or
                                      (isinstance(value, (int, float)) and not isinstance(value, bool))):
            return None
        return f"{name} should be {contract.describe()}, but it is {type_name(tree)}" + \
            (hint if kind == "tensor" and contract.kind in NUMBER_TYPES else "")
    if contract.kind == "dict":
        if kind != "dict":
            return f"{name} should be {contract.describe()}, but it is {type_name(tree)}"
        if sorted(tree["keys"]) != sorted(contract.keys):
            return f"{name} has keys {sorted(tree['keys'])}, expected {list(contract.keys)}"
        wrong = {k: type_name(v) for k, v in tree["items"].items() if breach(v, contract.item, name, inputs)}
        return None if not wrong else f"{name} should be {contract.describe()}, but {wrong}{hint}"
    expected_kinds = ("list", "tuple") if contract.kind == "list" else ("tuple", "list")
    if kind not in expected_kinds:
        return f"{name} should be {contract.describe()}, but it is {type_name(tree)}"
    length = inputs.get(contract.length) if isinstance(contract.length, str) else contract.length
    if length is not None and tree["length"] != length:
        if isinstance(contract.length, str):
            return f"{tree['length']} {name} returned for {contract.length}={length}; expected one per step"
        return f"{name} has {tree['length']} entries; expected {length}"
    if contract.kind == "tuple":
        for i, (item, part) in enumerate(zip(tree["items"], contract.item)):
            problem = breach(item, part, f"{name}[{i}]", inputs, hint)
            if problem:
                return problem
        return None
    wrong = sorted({type_name(item) for item in tree["items"] if breach(item, contract.item, name, inputs)})
    return None if not wrong else f"{name} should hold {_plural(contract.item)}, but holds {wrong}{hint}"


# ---------------------------------------------------------------------------------------------
# Judges
# ---------------------------------------------------------------------------------------------

def judge_close(case: JudgeCase, *, name: str, rtol: float, atol: float, like: Any = None,
                dtype: bool = False) -> Verdict:
    student, reference = case.student["value"], case.reference["value"]
    if like is not None:
        problem = breach(student, contract_of(like), name, case.inputs)
        if problem:
            return failed(problem)
    if student.get("type") == "tensor" and reference.get("type") == "tensor":
        if tuple(np.shape(student["value"])) != tuple(np.shape(reference["value"])):
            return failed(f"{name} has shape {tuple(np.shape(student['value']))}, expected "
                          f"{tuple(np.shape(reference['value']))}")
        if dtype and student["dtype"] != reference["dtype"]:
            return failed(f"{name} has dtype {student['dtype']}, expected {reference['dtype']}")
    return compare(plain(student), plain(reference), name=name, rtol=rtol, atol=atol) or \
        passed(f"{name} matches the reference")


def judge_backward(case: JudgeCase, *, name: str, rtol: float, atol: float) -> Verdict:
    raw, shape = case.student["raw_shape"], case.student["input_shape"]
    if raw is not None and raw != shape:
        return failed(f"backward returned a gradient of shape {tuple(raw)} for an input of shape {tuple(shape)}; "
                      "it must return one gradient the shape of `input` (autograd may hide this by summing)",
                      diagnosis="wrong-gradient-shape")
    return (compare(case.student["grad"], case.reference["grad"], name="x.grad after y.backward(grad_output)",
                    rtol=rtol, atol=atol)
            or passed(f"backward of {name} matches the reference's gradient"))


def judge_gradcheck(case: JudgeCase, *, name: str) -> Verdict:
    s, r = case.student, case.reference
    verdict = jacobian_mismatch(s["analytic"], r["analytic"], output="out", wrt="input")
    if verdict is None:
        return passed("gradcheck passes in float64: backward is the derivative of forward")
    consistent = jacobian_mismatch(s["analytic"], s["numeric"], output="out", wrt="input", rtol=1e-4, atol=1e-5)
    verdict.message = (f"the gradient of {name} (float64) differs from the reference's. " + verdict.message
                       + ("\ntorch.autograd.gradcheck on your function fails too: backward is not the "
                          "derivative of your forward." if consistent is not None else ""))
    return verdict


def _saved_difference(tensor: dict, x: Any, input_dtype: str) -> str | None:
    """How one saved tensor differs from the input the probe passed in, or None if it is the input."""
    if tensor["is_input"]:
        return None
    if tensor["type"] != "torch.Tensor":
        return f"a {tensor['type']}, not the input tensor"
    shape, expected = tuple(tensor["shape"]), tuple(np.shape(x))
    if shape != expected:
        return f"a tensor of shape {shape} while the input has shape {expected}"
    if tensor["values"] is None:
        return "a tensor whose values could not be read"
    values = np.asarray(tensor["values"])
    if not np.array_equal(values, np.asarray(x)):
        dtype = f" ({tensor['dtype']}, the input is {input_dtype})" if tensor["dtype"] != input_dtype else ""
        gap = float(np.max(np.abs(values.astype(np.float64) - np.asarray(x, np.float64)))) \
            if np.issubdtype(values.dtype, np.number) else math.nan
        return f"a tensor of the input's shape but other values{dtype}, off by up to {gap:.3g}"
    return None


def judge_saves_input(case: JudgeCase, *, name: str) -> Verdict:
    s = case.student
    if not s["has_grad_fn"]:
        return failed(f"the output of {name} has no grad_fn: forward must not detach its result")
    advice = ("save the input in forward with ctx.save_for_backward(input) and read it in backward "
              "with ctx.saved_tensors: tensors stored as plain ctx attributes escape autograd's "
              "checks for in-place changes and leak memory")
    if s["saved"] == 0:
        return failed("nothing was saved with ctx.save_for_backward (out.grad_fn.saved_tensors is empty); " + advice,
                      diagnosis="no-save-for-backward")
    # What autograd holds, compared with the input the probe passed in: saving some other tensor
    # (a placeholder, while backward reads the input from a plain ctx attribute) does not count.
    differences = [_saved_difference(t, s["input"], s["input_dtype"]) for t in s["tensors"]]
    if None in differences:
        return passed("forward saves its input with ctx.save_for_backward")
    listed = "; ".join(f"saved tensor {i + 1} is {d}" for i, d in enumerate(differences))
    return failed(f"the input was not saved with ctx.save_for_backward: out.grad_fn.saved_tensors holds "
                  f"{s['saved']} tensor{'s' if s['saved'] != 1 else ''}, none of them the input of shape "
                  f"{tuple(np.shape(s['input']))} ({listed}); " + advice, diagnosis="no-save-for-backward")


def judge_parameters(case: JudgeCase, *, name: str, names: list[str], scalar: bool) -> Verdict:
    params = case.student["parameters"]
    found = [p["name"] for p in params]
    if sorted(found) != sorted(names):
        hint = ""
        if not found:
            hint = (" No parameters are registered: tensors assigned as plain attributes are not parameters; "
                    "wrap them in torch.nn.Parameter so model.parameters() (and the optimizer) sees them.")
        return failed(f"{name}.named_parameters() gives {found}, expected {sorted(names)}.{hint}",
                      diagnosis="parameters-not-registered" if not found else None)
    wrong = [p for p in params if scalar and math.prod(p["shape"]) != 1]
    if wrong:
        return failed("each parameter should hold a single number (a scalar), but "
                      + ", ".join(f"{p['name']} has shape {tuple(p['shape'])}" for p in wrong))
    frozen = [p["name"] for p in params if not p["requires_grad"]]
    if frozen:
        return failed(f"parameters {frozen} do not require gradients, so training cannot change them")
    return passed(f"{len(names)} {'scalar ' if scalar else ''}parameters {', '.join(names)} are registered")


def judge_below(case: JudgeCase, *, name: str, measure: Callable[[Any, dict], float], threshold: "Threshold",
                like: Any = None, curve: Callable[[Any], Any] | None = None, what: str = "value") -> Verdict:
    student, reference = case.student["value"], case.reference["value"]
    limit = threshold.resolved()
    details = {"threshold": limit}
    if curve is not None:
        details.update(curve=_curve(curve, plain(student)), reference_curve=_curve(curve, plain(reference)),
                       ylabel=what.split()[0], xlabel="step")
    if like is not None:
        problem = breach(student, contract_of(like), name, case.inputs)
        if problem:
            return failed(problem, details=details)
    value = measure(plain(student), case.inputs)
    achieved = measure(plain(reference), case.inputs)
    verdict = at_most(value, limit, name=f"the {what} after {name}", details=details, message=lambda: (
        f"the {what} after {name} is {value:.6g}; it must be below {limit:.4g} (the reference reaches {achieved:.4g})"))
    return verdict or passed(f"the {what} after {name} is {value:.4g}, below {limit:.4g} (reference {achieved:.4g})",
                             details=details)


def _curve(curve: Callable[[Any], Any], value: Any) -> list[float | None] | None:
    """The points to plot: numbers, None where the student's value is not one (reports store it as JSON)."""
    try:
        points = list(curve(value))
    except Exception:  # a returned value of the wrong shape: its contract's message says so
        return None
    return [float(p) if isinstance(p, (int, float)) and not isinstance(p, bool) else None for p in points]


def outputs_alike(a: Any, b: Any, rtol: float = 1e-3, atol: float = 1e-3) -> bool:
    """Two probe outputs are the same behaviour (what naming a known mistake needs)."""
    unwrap = (lambda o: plain(o["value"])) if isinstance(a, dict) and "value" in a else (lambda o: o)
    try:
        return compare(unwrap(a), unwrap(b), name="output", rtol=rtol, atol=atol) is None
    except Exception:
        return False


# ---------------------------------------------------------------------------------------------
# Thresholds derived from the reference
# ---------------------------------------------------------------------------------------------

REDUCTIONS = {"max": max, "min": min, "mean": lambda values: sum(values) / len(values)}


@dataclass
class Threshold:
    """`from_reference(seeds=25, reduce="max", times=1.25)`: the reference's measure over `seeds`
    draws of the check's inputs, reduced so; computed by `tensorgrade thresholds` and read at load."""
    seeds: int = 25
    reduce: str = "max"
    times: float = 1.0
    plus: float = 0.0
    value: float | None = None  # set when the assignment is loaded
    check: str = ""

    def resolved(self) -> float:
        if self.value is None:
            raise LookupError(f"{self.check}: its threshold is derived from the reference and was not computed: "
                              "run `tensorgrade thresholds` on the assignment's source")
        return self.value

    def derive(self, measures: list[float]) -> float:
        return REDUCTIONS[self.reduce](measures) * self.times + self.plus

    def declaration(self) -> dict:
        return {"seeds": self.seeds, "reduce": self.reduce, "times": self.times, "plus": self.plus}
