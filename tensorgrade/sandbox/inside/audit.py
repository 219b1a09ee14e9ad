"""The audit hook in the student's process: reports tampering with the grader the moment it happens.

Audit hooks cannot be removed by Python code, and each report goes straight to the supervisor (a
`protocol.Tamper` line on the message pipe), so erasing the patch afterwards does not erase it.
"""

from __future__ import annotations

import os
import sys
import types

from tensorgrade.sandbox import protocol
from tensorgrade.sandbox.inside import integrity

# Modules whose functions' bodies student code must not replace (the audit hook reports it).
PROTECTED_PACKAGES = frozenset({"tensorgrade", "torch", "numpy", "builtins", "math", "operator", "json", "base64",
                                "random", "copy", "functools", "numbers", "IPython", "tensorflow", "keras"})


def _code_objects(code: types.CodeType, into: set) -> None:
    into.add(code)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _code_objects(const, into)


def grader_code(namespaces) -> set:
    """Every code object of the functions (and methods) in these module namespaces."""
    found: set = set()
    seen: set = set()
    stack = list(namespaces)
    while stack:
        namespace = stack.pop()
        for value in list(namespace.values()):
            if isinstance(value, (staticmethod, classmethod)):
                value = value.__func__
            if isinstance(value, property):
                for part in (value.fget, value.fset, value.fdel):
                    if isinstance(part, types.FunctionType):
                        _code_objects(part.__code__, found)
            elif isinstance(value, types.FunctionType):
                _code_objects(value.__code__, found)
            elif isinstance(value, type) and id(value) not in seen and value.__module__.startswith("tensorgrade"):
                seen.add(id(value))
                stack.append(dict(vars(value)))
    return found


def install_audit_hook(fd: int) -> set:
    """Report tampering with the grader to the supervisor as it happens; returns the set of code
    objects counted as the grader's own (the kernel adds the probes' when it loads them).

    Audit hooks cannot be removed by Python code, and the report leaves the process at once, so
    erasing the patch afterwards does not erase the report.  The supervisor turns a report made
    while a check runs into a failed check, and one against the grader's own code into a run whose
    results are not trusted."""
    import json as json_module

    allowed = grader_code(vars(module) for name, module in list(sys.modules.items())
                          if name.startswith("tensorgrade") and module is not None)
    write, dumps, getframe = os.write, json_module.dumps, sys._getframe
    function_type, protected = types.FunctionType, PROTECTED_PACKAGES
    watched = {"object.__setattr__", "object.__delattr__", "sys.settrace", "sys.setprofile",
               "gc.get_objects", "gc.get_referrers", "gc.get_referents", "open"}

    # A `protocol.Tamper` message, built from functions taken now: the report must not go through
    # code the notebook may have patched since.
    tamper = protocol.Tamper.op

    def report(what: str, grader: bool) -> None:
        try:
            write(fd, (dumps({"op": tamper, "what": what[:300], "grader": grader}) + "\n").encode())
        except Exception:
            pass

    def hook(event, args):
        if event not in watched:
            return
        if event == "open":
            path = args[0]
            if not (isinstance(path, str) and path.startswith("/proc/") and path.endswith("/mem")):
                return
        elif event.startswith("object."):
            target, name = args[0], args[1]
            if not (isinstance(target, function_type) and name in integrity.FUNCTION_STATE):
                return
            module = str(getattr(target, "__module__", None) or "")
            if module.split(".")[0] not in protected:
                return
        try:
            caller = getframe(1).f_code
        except ValueError:
            return
        if caller in allowed:
            return
        if event.startswith("object."):
            report(f"{module}.{target.__qualname__}.{name} was replaced", module.startswith("tensorgrade"))
        elif event == "open":
            report(f"opened {path} (a process's memory)", False)
        else:
            report(f"called {event}", False)

    sys.addaudithook(hook)
    return allowed
