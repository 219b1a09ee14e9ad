"""An otter test case -> our test code (the code of an `asserts(...)` check), and each case's points
as otter resolves them. OK-format (doctest) cases are translated example by example, lifted where each
example's check is a value; exception-based cases are inlined (importers/otter.py says more).
"""

from __future__ import annotations

import ast
import doctest
from typing import Any

from tensorgrade.course.importers.otter_master import ImportFailure, OtterTest

# ---------------------------------------------------------------------------------------------
# Points of the test cases (otter's TestFile.resolve_test_file_points)
# ---------------------------------------------------------------------------------------------

def resolve_points(total: Any, tests: list[OtterTest], where: str) -> list[float]:
    """Each test case's points, as otter resolves them (TestFile.resolve_test_file_points)."""
    values = [t.points for t in tests]
    if isinstance(total, dict):
        total = total.get("each", 1) * len(tests)
    if isinstance(total, list):
        if len(total) != len(tests):
            raise ImportFailure(f"{where}: `points` lists {len(total)} values for {len(tests)} test cases")
        values, total = list(total), None
    elif total is not None and (isinstance(total, bool) or not isinstance(total, (int, float))):
        raise ImportFailure(f"{where}: `points` must be a number, a list or `each:`, got {total!r}")
    given = sum(p for p in values if p is not None)
    missing = sum(p is None for p in values)
    if total is not None:
        if given > total:
            raise ImportFailure(f"{where}: the test cases' points ({given:g}) exceed the question's ({total:g})")
        rest = (total - given) / missing if missing else 0.0
    elif given == 0 and all(p in (0, None) for p in values):
        rest = 1 / missing if missing else 0.0
    else:
        rest = 0.0
    return [float(p) if p is not None else rest for p in values]


# ---------------------------------------------------------------------------------------------
# Test cases -> asserts(...)
# ---------------------------------------------------------------------------------------------

def _doctest_inside(body: str, name: str) -> str:
    """Run the case with doctest in the student's namespace, exactly as otter's run_doctest does."""
    return "\n".join([
        "import doctest as _otter_doctest",
        f"_otter_case = _otter_doctest.DocTestParser().get_doctest({body!r}, dict(globals()), {name!r}, None, 0)",
        "_otter_runner = _otter_doctest.DocTestRunner(verbose=False)",
        "_otter_report = []",
        "_otter_runner.run(_otter_case, out=_otter_report.append, clear_globs=False)",
        # An assertion inside a statement: decided inside (and counted so), not lifted.
        "if _otter_runner.failures:",
        "    assert False, ''.join(_otter_report)",
    ])


PYTHON_BOOLS = ("allclose", "array_equal", "array_equiv", "iscomplexobj", "isrealobj", "isscalar", "may_share_memory",
                "shares_memory", "isfortran")  # NumPy functions that return a Python bool
NUMPY_BOOLS: list[str] = []  # notes of the current import (make_source clears and reads it)


def translate_ok(body: str, name: str) -> str:
    """An OK-format case (a doctest) as test code: lifted where each example's check is a value."""
    try:
        examples = doctest.DocTestParser().get_examples(body, name)
    except ValueError:
        return _doctest_inside(body, name)
    lines = []
    for example in examples:
        code, want = example.source.rstrip("\n"), example.want
        try:
            tree = ast.parse(code)
        except SyntaxError:
            return _doctest_inside(body, name)
        if any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in ("print", "display")
               for n in ast.walk(tree)):
            return _doctest_inside(body, name)  # printed output is compared as text
        if len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr):
            expression = code
            if not want:
                lines.append(f"assert ({expression}) is None")  # doctest: a value shown where none is expected
                continue
            if "<BLANKLINE>" in want:
                return _doctest_inside(body, name)
            # What doctest compares: the value's repr with the expected text (`True`, `9`, a Series).
            lines.append(f"assert repr({expression}) == {want[:-1]!r}")
            call = tree.body[0].value
            if want.strip() in ("True", "False") and isinstance(call, ast.Call) and \
                    ast.unparse(call.func).split(".")[0] in ("np", "numpy") and \
                    ast.unparse(call.func).split(".")[-1] not in PYTHON_BOOLS:
                NUMPY_BOOLS.append(f"{name}: `{expression}` returns a NumPy bool, which NumPy 2 prints as "
                                   f"`np.{want.strip()}_`, so otter's doctest (and this check) fails for every "
                                   f"student; wrap it in bool(...) in the source if that is not intended")
        elif want.strip():
            return _doctest_inside(body, name)
        else:
            lines.append(code)
    return "\n".join(lines) if lines else "pass"


def translate_exception(body: str) -> str:
    """An exception-based case (`def test_x(sieve): assert ...`), called as otter calls it."""
    function = ast.parse(body).body[0]
    params = [a.arg for a in function.args.args]
    returns = any(isinstance(n, (ast.Return, ast.Yield, ast.YieldFrom, ast.Nonlocal, ast.Global))
                  for n in ast.walk(function))
    clash = any(isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store) and n.id in params for n in ast.walk(function))
    if not returns and not clash and "env" not in params and not function.decorator_list and not function.args.vararg \
            and not function.args.kwarg and not function.args.kwonlyargs and not function.args.defaults:
        # Inlined: the parameters are the student's names, as otter passes them (its assertions get lifted).
        return "\n".join(ast.unparse(statement) for statement in function.body)
    call = ", ".join("env=globals()" if p == "env" else f"{p}=globals().get({p!r})" for p in params)
    return body + f"\n{function.name}({call})"
