"""Assert-style tests (nbgrader, otter-grader), lifted: decided outside the sandbox.

`plan(code)` reads a test's code once, outside: each `assert` whose test is built from comparisons,
arithmetic, literals and the well-known checking functions (`np.allclose`, `math.isclose`,
`np.testing.assert_*`, `isinstance`, `len`, `abs`, ...) is *lifted*: only its leaves (the
sub-expressions that need the student's namespace, such as `add(1, 2)` or `x`) are evaluated inside
the sandbox (checking/inside/assertion_probes.py) and come back as plain data; the comparison itself
is evaluated here, on that data. A lying `__eq__`, a shadowed `np` or a patched `isclose` in the
student's process decides nothing. Any other statement runs inside as the original test would, and
an assertion that cannot be lifted is decided inside: the verdict says so (`decided_inside`).
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from tensorgrade.checking.outside.judging import JudgeCase, Verdict, failed, passed, what_is
from tensorgrade.checking.outside.standard_judges import plain

MODULES = {"np": "numpy", "numpy": "numpy", "math": "math", "torch": "torch"}


def _allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    return bool(np.allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=rtol, atol=atol,
                            equal_nan=equal_nan))


def _assert_allclose(actual, desired, rtol=1e-07, atol=0, err_msg="", equal_nan=True, **_):
    np.testing.assert_allclose(np.asarray(actual), np.asarray(desired), rtol=rtol, atol=atol, equal_nan=equal_nan,
                               err_msg=str(err_msg))


def _torch_allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    return _allclose(a, b, rtol, atol, equal_nan)


# The functions a lifted assertion may call, evaluated here on plain values (by dotted name).
FUNCTIONS = {
    "abs": abs, "len": len, "round": round, "float": float, "int": int, "bool": bool, "sum": sum, "min": min,
    "max": max, "all": all, "any": any, "sorted": sorted, "list": list, "tuple": tuple, "set": set, "str": str,
    "numpy.allclose": _allclose, "numpy.isclose": np.isclose, "numpy.array_equal": np.array_equal,
    "numpy.all": np.all, "numpy.any": np.any, "numpy.abs": np.abs, "numpy.array": np.array,
    "numpy.asarray": np.asarray, "numpy.shape": np.shape, "numpy.isnan": np.isnan, "numpy.isfinite": np.isfinite,
    "numpy.testing.assert_allclose": _assert_allclose,
    "numpy.testing.assert_array_equal": np.testing.assert_array_equal,
    "numpy.testing.assert_equal": np.testing.assert_equal,
    "numpy.testing.assert_almost_equal": np.testing.assert_almost_equal,
    "numpy.testing.assert_array_almost_equal": np.testing.assert_array_almost_equal,
    "math.isclose": math.isclose, "math.isnan": math.isnan, "math.isfinite": math.isfinite,
    "torch.allclose": _torch_allclose, "torch.equal": np.array_equal,
}
METHODS = {"all", "any"}
# Calls whose values are not plain data (a class, an iterator, a set): an assertion with one is decided
# inside, with the grader's own np/math/torch (nbgrader's AUTOTEST writes `str(type(x)) == "<class 'int'>"`).
INSIDE_CALLS = {"type", "map", "filter", "zip", "set", "frozenset", "reversed", "enumerate", "range", "iter", "vars",
                "dir", "id", "hash", "repr"}
# `isinstance(x, T)` for these T, judged from the type the probe recorded (never the object's claim).
TYPES = {"int": ("int", "bool"), "float": ("float",), "str": ("str",), "bool": ("bool",), "list": ("list",),
         "tuple": ("tuple",), "dict": ("dict",), "numpy.ndarray": ("ndarray",), "torch.Tensor": ("tensor",)}


def dotted(node: ast.AST) -> str | None:
    """`np.testing.assert_allclose` -> "numpy.testing.assert_allclose" (library aliases resolved)."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(MODULES.get(node.id, node.id) if parts else node.id)
    return ".".join(reversed(parts))


class _Leaves(ast.NodeTransformer):
    """Replaces each leaf (a sub-expression that needs the student's namespace) by `__leaf__[i]`,
    collecting its source; raises ValueError on what cannot be evaluated outside."""

    def __init__(self, source: str):
        self.source, self.leaves = source, []

    def leaf(self, node: ast.AST) -> ast.AST:
        self.leaves.append(ast.get_source_segment(self.source, node) or ast.unparse(node))
        return ast.Subscript(ast.Name("__leaf__", ast.Load()), ast.Constant(len(self.leaves) - 1), ast.Load())

    def visit(self, node):
        if isinstance(node, (ast.Constant, ast.operator, ast.cmpop, ast.boolop, ast.unaryop, ast.keyword,
                             ast.expr_context)):
            return self.generic_visit(node)
        if isinstance(node, (ast.Compare, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Tuple, ast.List)):
            return self.generic_visit(node)
        if isinstance(node, ast.Call):
            name = dotted(node.func)
            if name == "isinstance" and len(node.args) == 2 and dotted(node.args[1]) in TYPES:
                node.args[0] = self.visit(node.args[0])
                if isinstance(node.args[0], ast.Subscript):  # a leaf: judged by its recorded type
                    node.args[0].value = ast.Name("__kinds__", ast.Load())
                node.args[1] = ast.Constant(dotted(node.args[1]))
                return node
            if name in INSIDE_CALLS:
                raise ValueError(f"{name}() gives no plain data to judge outside")
            if name in FUNCTIONS:
                node.args = [self.visit(a) for a in node.args]
                node.keywords = [ast.keyword(k.arg, self.visit(k.value)) for k in node.keywords]
                return node
            if isinstance(node.func, ast.Attribute) and node.func.attr in METHODS and not node.args \
                    and dotted(node.func) is None:
                node.func.value = self.visit(node.func.value)
                return node
            if any(isinstance(a, ast.Starred) for a in node.args):
                raise ValueError("starred arguments")
            return self.leaf(node)
        if isinstance(node, (ast.Name, ast.Attribute, ast.Subscript)):
            if isinstance(node, ast.Name) and node.id in MODULES:
                raise ValueError(f"the module {node.id} itself")
            return self.leaf(node)
        raise ValueError(type(node).__name__)


@dataclass
class Step:
    kind: str  # "exec": run inside as is; "lifted": leaves inside, test here; "inside": an assert run inside
    code: str
    line: int
    test: str | None = None  # lifted: the assertion's test with leaves replaced (source of an expression)
    message: str | None = None  # lifted: the assertion's message expression, replaced likewise
    leaves: tuple[str, ...] = ()
    asserts_inside: bool = False  # an ordinary statement holding assertions (a loop): decided inside


def plan(code: str) -> list[Step]:
    """The steps of a test cell: which statements run inside, which assertions are lifted."""
    tree = ast.parse(code)
    steps = []
    for statement in tree.body:
        text = ast.get_source_segment(code, statement) or ast.unparse(statement)
        target = None
        if isinstance(statement, ast.Assert):
            target = statement
        elif isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call) and \
                (dotted(statement.value.func) or "").startswith("numpy.testing.assert"):
            target = statement.value
        if target is None:
            steps.append(Step("exec", text, statement.lineno,
                              asserts_inside=any(isinstance(n, ast.Assert) for n in ast.walk(statement))))
            continue
        leaves = _Leaves(code)
        try:
            if isinstance(target, ast.Assert):
                test = ast.unparse(leaves.visit(target.test))
                message = ast.unparse(leaves.visit(target.msg)) if target.msg is not None else None
            else:
                test, message = ast.unparse(leaves.visit(target)), None
        except ValueError:
            steps.append(Step("inside", text, statement.lineno))
            continue
        steps.append(Step("lifted", text, statement.lineno, test, message, tuple(leaves.leaves)))
    return steps


def lifted_count(code: str) -> tuple[int, int]:
    """(lifted, all) assertions of a test's code."""
    steps = plan(code)
    return sum(s.kind == "lifted" for s in steps), sum(s.kind in ("lifted", "inside") for s in steps)


def _evaluate(expression: str, leaves: list[Any], kinds: list[Kind]) -> Any:
    tree = ast.parse(expression, mode="eval")
    env: dict[str, Any] = {"__builtins__": {}, "__leaf__": leaves, "__kinds__": kinds}
    for node in ast.walk(tree):  # functions by their dotted names, nothing else reachable
        if isinstance(node, ast.Call):
            name = dotted(node.func)
            if name in FUNCTIONS:
                node.func = ast.Subscript(ast.Name("__functions__", ast.Load()), ast.Constant(name), ast.Load())
            elif name == "isinstance":
                node.func = ast.Name("__isinstance__", ast.Load())
    env["__functions__"], env["__isinstance__"] = FUNCTIONS, _isinstance
    return eval(compile(ast.fix_missing_locations(tree), "<lifted assertion>", "eval"), env)


class Kind(str):
    """The type the probe recorded for a leaf (a typed tree's "type"): what isinstance is judged on."""


def _isinstance(value: Any, type_name: str) -> bool:
    kind = value if isinstance(value, Kind) else type(value).__name__
    return kind in TYPES[type_name]


def _describe(values: list[Any], leaves: tuple[str, ...]) -> str:
    shown = [f"{leaf} = {_short(value)}" for leaf, value in zip(leaves, values)]
    return ("; where " + ", ".join(shown)) if shown else ""


def _short(value: Any) -> str:
    if isinstance(value, np.ndarray):
        text = np.array2string(value, threshold=12, precision=6)
        return text if len(text) < 200 else what_is(value)
    text = repr(value)
    return text if len(text) < 200 else text[:197] + "..."


def _exact(tree: Any) -> Any:
    """`plain`, but a tuple stays a tuple: `assert f() == (1, 2)` compares as the original would."""
    if isinstance(tree, dict) and tree.get("type") == "tuple":
        return tuple(_exact(item) for item in tree["items"])
    if isinstance(tree, dict) and tree.get("type") == "list":
        return [_exact(item) for item in tree["items"]]
    if isinstance(tree, dict) and tree.get("type") == "dict":
        return {key: _exact(item) for key, item in tree["items"].items()}
    return plain(tree)


def judge_assertions(case: JudgeCase, *, code: str, hidden: bool) -> Verdict:
    """The test's verdict: its lifted assertions evaluated here, the others as observed inside."""
    steps = plan(code)
    records = case.student["steps"]
    inside = [s for s in steps if s.kind == "inside" or s.asserts_inside]
    details = {"decided_inside": bool(inside) or any(r.get("raised") or r.get("inside") for r in records),
               "lifted": sum(s.kind == "lifted" for s in steps), "assertions": sum(s.kind != "exec" for s in steps)}
    for step, record in zip(steps, records):
        where = "" if hidden else f" (line {step.line}: `{step.code.splitlines()[0]}`)"
        if record.get("raised"):  # an assertion inside an ordinary statement (a loop) failed inside
            return failed("a test assertion failed (decided inside the sandbox)" + where
                          + (f": {record['message']}" if record.get("message") and not hidden else ""), details=details)
        if step.kind == "inside" and not record.get("passed", True):
            return failed("a test assertion failed (decided inside the sandbox)" + where
                          + (f": {record['message']}" if record.get("message") else ""), details=details)
        if step.kind != "lifted" or "values" not in record:  # (a lifted one the probe had to decide inside)
            continue
        values = [_exact(tree) for tree in record["values"]]
        kinds = [Kind(tree.get("type", "?")) for tree in record["values"]]
        try:
            holds = _evaluate(step.test, values, kinds)
            holds = True if holds is None else bool(holds)  # np.testing.assert_* return None when they hold
            problem = None
        except AssertionError as exc:
            holds, problem = False, str(exc).strip().splitlines()[-1] if str(exc).strip() else None
        except Exception as exc:  # e.g. comparing arrays with == (ambiguous), as the original would fail
            holds, problem = False, f"{type(exc).__name__}: {exc}"
        if not holds:
            message = None
            if step.message is not None:
                try:
                    message = str(_evaluate(step.message, values, kinds))
                except Exception:
                    message = None
            text = "a hidden test assertion failed" if hidden else f"assert failed{where}"
            if message:
                text += f": {message}"
            if problem:
                text += f" ({problem})"
            if not hidden:
                text += _describe(values, step.leaves)
            return failed(text, details=details)
    suffix = " (some decided inside the sandbox)" if details["decided_inside"] else ""
    return passed(f"every assertion of the test holds{suffix}", details=details)
