"""nbgrader-style test cells, inside the sandbox: `run_test_cell` runs a test cell's code in the
student's namespace and returns pass/fail and the assertion message as data.

Unlike a native check, whose judge compares plain data outside the sandbox, an assert-style test
decides inside the student's process: "passed" is an observation made there (the grader undoes
patched functions between cells and probes, but a value whose `__eq__` lies still satisfies an
`assert`). That is the price of reusing nbgrader tests unchanged; rewrite a test as a native
check where it matters. The judges are in `checking/outside/testcell_judges.py`.
"""

from __future__ import annotations

import traceback

from tensorgrade.checking.inside.probing import NotDefined

MAX_MESSAGE_CHARS = 2000


def run_test_cell(ns: dict, source: str, check_id: str) -> dict:
    """Run one test cell's code in the student's namespace, as nbgrader would, and report the outcome.

    An AssertionError is the test failing: reported as data (message and failing line). A name the
    test needs but the notebook lacks is `not defined`. Any other exception propagates, so the
    grader reports it as the student's code raising (and a stub's NotImplementedError as not
    implemented).
    """
    filename = f"<test {check_id}>"
    code = compile(source, filename, "exec")
    try:
        # The notebook's own namespace, as in nbgrader: a test may use the notebook's variables,
        # and what an earlier test cell imports stays available to later ones.
        exec(code, ns)
    except AssertionError as exc:
        lineno = next((frame.lineno for frame in reversed(traceback.extract_tb(exc.__traceback__))
                       if frame.filename == filename), None)
        lines = source.splitlines()
        line = lines[lineno - 1].strip() if lineno and 0 < lineno <= len(lines) else None
        message = str(exc)[:MAX_MESSAGE_CHARS]
        return {"passed": False, "message": message, "line": line, "lineno": lineno}
    except NameError as exc:
        if exc.name and exc.name not in ns:
            raise NotDefined(f"`{exc.name}` is not defined: define it in your notebook (check its spelling "
                             "and that its cell runs without an error)") from None
        raise
    return {"passed": True, "message": None, "line": None, "lineno": None}
