"""What a submission did to the interpreter it ran in, and undoing it before probes run.

Taken in the student's process before the first cell: the identity of every attribute of the
modules and classes probes rely on (the grader's own included), the body (`__code__`), default
arguments and closure of every function among them, IPython's transformer lists, sys.modules
entries, the SIGINT handler and signal mask the grader interrupts cells with, and global torch state
(grad mode, default dtype, function and dispatch modes).  After every cell, anything replaced is
reported to the TA as an integrity finding and put back; before each probe the global state that
shapes results is put back too, so probes observe the student's definitions on genuine
torch/numpy/builtins.  (Verdicts are computed outside the sandbox anyway; restoring keeps the probe
*observations* honest.)

What a name means is more than a module's `__dict__`, so the baseline holds the rest too: the type
of every module (`torch.__class__ = <a ModuleType subclass>` with a `__getattribute__` changes what
`torch.allclose` is for everyone without touching `vars(torch)`), the metaclass and bases of every
watched class, the module objects themselves (in sys.modules, the sys.modules dict itself, and as
attributes of their parents: `torch.nn`), the IPython shell's class.  Entries deleted from a
module's namespace (which a module-level `__getattr__` could then answer) count as replaced.  Types
are put back first, through `object`'s own `__class__` setter, and namespaces are read and written
as the dicts captured here: a replaced `__getattribute__`/`__setattr__`/`__dict__` cannot hide a
change from this code, nor keep it from being undone.
"""

from __future__ import annotations

import builtins
import importlib
import signal
import sys
import threading
import types
from dataclasses import dataclass, field
from typing import Any

WATCHED_MODULES = (
    "builtins", "math", "operator", "json", "base64", "random", "copy", "functools", "numbers",
    "numpy", "numpy.testing", "numpy.linalg",
    "torch", "torch.nn", "torch.nn.functional", "torch.testing", "torch.autograd",
    "torch.autograd.gradcheck", "torch.optim", "torch.utils.data",
    # the grader's own modules in the student's process
    "tensorgrade.sandbox.transport", "tensorgrade.sandbox.protocol", "tensorgrade.checking.inside.probing",
    "tensorgrade.sandbox.inside.kernel", "tensorgrade.sandbox.inside.integrity", "tensorgrade.sandbox.inside.audit",
    "tensorgrade.sandbox.inside.shell",
    # tqdm's monitor thread is exempt from the thread note (see `_tqdm_monitor`): its class must be tqdm's
    "tqdm._monitor",
)
WATCHED_CLASSES = (
    ("torch", "Tensor"), ("torch.nn", "Module"), ("torch.nn", "Parameter"),
    ("torch.autograd", "Function"), ("torch.optim", "Optimizer"), ("torch.utils.data", "DataLoader"),
    # the grader's own classes in the student's process: replacing their methods must not switch
    # off this very reset, the messages or the transport
    ("tensorgrade.sandbox.inside.kernel", "StudentSession"), ("tensorgrade.sandbox.inside.kernel", "Channel"),
    ("tensorgrade.sandbox.inside.integrity", "Baseline"), ("tensorgrade.sandbox.transport", "OpaqueObject"),
    ("tensorgrade.sandbox.protocol", "MessageOrder"),
    ("tqdm._monitor", "TMonitor"),
)
FUNCTION_STATE = ("__code__", "__defaults__", "__kwdefaults__")
# (path from the shell to the object holding the list, attribute): every hook that rewrites cells.
TRANSFORMER_LISTS = (("", "input_transformers_post"), ("", "ast_transformers"),
                     ("input_transformer_manager", "cleanup_transforms"),
                     ("input_transformer_manager", "line_transforms"),
                     ("input_transformer_manager", "token_transformers"))
# IPython rebinds these per cell; they are not the student's doing.
IGNORED_NAMES = {"_", "__", "___", "_i", "_ii", "_iii", "_oh", "_dh", "In", "Out", "get_ipython",
                 "exit", "quit", "display", "__IPYTHON__", "__builtins__"}
# Module-level hooks whose appearance changes what a module answers for names it lacks.
MODULE_HOOKS = ("__getattr__", "__dir__")

# Genuine accessors, taken at import (before any student code): the type of any object and setting
# it (object's own `__class__` descriptor, past any `__setattr__` or `__class__` of a subclass), a
# class's namespace and bases (type's own descriptors, past any metaclass's `__getattribute__`).
_TYPE = type
_SET_CLASS = object.__dict__["__class__"].__set__
_CLASS_DICT = type.__dict__["__dict__"].__get__
_GET_BASES, _SET_BASES = type.__dict__["__bases__"].__get__, type.__dict__["__bases__"].__set__
_CLASS_NAME = type.__dict__["__qualname__"].__get__
_CLASS_MODULE = type.__dict__["__module__"].__get__
_SYS_NAMESPACE = vars(sys)


def _describe(value: Any) -> str:
    code = getattr(value, "__code__", None)
    if code is not None:
        where = code.co_filename
        if where.startswith("<ipython-input-"):
            where = "a notebook cell"
        return f"{getattr(value, '__qualname__', 'a function')} defined in {where}"
    if isinstance(value, type):
        return _describe_class(value)
    if isinstance(value, types.ModuleType):
        kind = _TYPE(value)
        return "another module object" + ("" if kind is types.ModuleType else f" ({_describe_class(kind)})")
    return f"{_CLASS_NAME(_TYPE(value))} object"


def _describe_class(klass: type) -> str:
    module = _CLASS_MODULE(klass)
    where = "a notebook cell" if module == "__main__" else f"module {module}"
    return f"class {_CLASS_NAME(klass)} defined in {where}"


def _set_class(obj: Any, original: type) -> str:
    """Put `obj`'s type back through object's own `__class__` setter; a note when that fails."""
    try:
        _SET_CLASS(obj, original)
    except TypeError as exc:
        return f" and could not be put back ({exc})"
    return ""


THREAD_NOTE = " thread(s) started by the notebook still running"


def is_thread_note(finding: str) -> bool:
    return THREAD_NOTE in finding


def shapes_observations(finding: str) -> bool:
    """Whether a change made while a probe ran can have shaped what it observed (replaced functions,
    classes, transformers, trace functions, modules, torch modes), as opposed to state left behind
    that the next probe's reset undoes (threads, signal handlers and masks, timers, grad mode, dtype)."""
    if is_thread_note(finding) or "signal" in finding or "SIG" in finding:
        return False
    return not finding.startswith("torch's ") or "modes" in finding


def _handler(value: Any) -> str:
    return value.name if isinstance(value, signal.Handlers) else _describe(value)


def _functions(namespace: dict, prefix: str) -> dict[str, types.FunctionType]:
    """The Python functions a module or class namespace holds (methods, static/class methods, the
    accessors of properties), by a name for messages."""
    found = {}
    for key, value in list(namespace.items()):
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        if isinstance(value, property):
            for part in ("fget", "fset", "fdel"):
                function = getattr(value, part)
                if isinstance(function, types.FunctionType):
                    found[f"{prefix}.{key}.{part}"] = function
        elif isinstance(value, types.FunctionType):
            found[f"{prefix}.{key}"] = value
    return found


def _signal_state() -> tuple[dict[int, Any], set[int]]:
    handlers = {}
    # Not SIGCHLD: DataLoader workers install their own handler, which shapes no observation.
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM, signal.SIGVTALRM, signal.SIGPROF,
                   signal.SIGUSR1, signal.SIGUSR2, signal.SIGXCPU):
        handlers[int(number)] = signal.getsignal(number)
    return handlers, {int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])}


def _torch_state() -> dict[str, Any]:
    torch = sys.modules.get("torch")
    if torch is None:
        return {}
    return {"grad mode": torch.is_grad_enabled(), "default dtype": torch.get_default_dtype(),
            "anomaly detection": torch.is_anomaly_enabled(),
            "function modes": torch._C._len_torch_function_stack(),
            "dispatch modes": torch._C._len_torch_dispatch_stack()}


def _matters(value: Any) -> bool:
    """Whether a replaced or deleted namespace entry is reported (what probes call, construct or
    import from), rather than only put back (plain data: constants, caches, flags)."""
    return callable(value) or isinstance(value, (type, types.ModuleType))


def _lazy_module_type() -> type | None:
    try:
        import importlib.util

        return importlib.util._LazyModule  # turns itself into a plain module on first use
    except (ImportError, AttributeError):
        return None


def _closure(function: types.FunctionType) -> list[tuple[str, Any, Any]]:
    """(free variable, cell, contents) of the closure cells that hold a function, class or module:
    replacing `cell_contents` changes what a library function calls without touching its code."""
    found = []
    for name, cell in zip(function.__code__.co_freevars, function.__closure__ or ()):
        try:
            contents = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        if _matters(contents):
            found.append((name, cell, contents))
    return found


@dataclass
class Baseline:
    modules: dict[str, dict[str, Any]] = field(default_factory=dict)
    module_objects: dict[str, Any] = field(default_factory=dict)
    # The watched modules' namespaces themselves (a module's __dict__ cannot be rebound): read and
    # written directly, never through the module's (possibly replaced) class.
    namespaces: dict[str, dict[str, Any]] = field(default_factory=dict)
    # (name, object, type) of everything in sys.modules, and the sys.modules dict itself.
    module_types: list[tuple[str, Any, type]] = field(default_factory=list)
    sys_modules: dict[str, Any] = field(default_factory=dict)
    classes: dict[str, tuple[type, dict[str, Any]]] = field(default_factory=dict)
    # qualified name -> (class, metaclass, bases)
    class_types: dict[str, tuple[type, type, tuple]] = field(default_factory=dict)
    shell_type: tuple[Any, type] | None = None
    transformers: dict[tuple[str, str], tuple[object, list, list]] = field(default_factory=dict)
    functions: dict[str, tuple[types.FunctionType, tuple]] = field(default_factory=dict)
    closures: dict[str, list[tuple[str, Any, Any]]] = field(default_factory=dict)
    signals: tuple[dict[int, Any], set[int]] = field(default_factory=lambda: ({}, set()))
    torch: dict[str, Any] = field(default_factory=dict)
    import_hooks: tuple[list, list] = field(default_factory=lambda: ([], []))
    # Threads alive when the baseline was taken (none in a submission's process, which is a fork):
    # only threads started after it are the notebook's.
    threads_before: frozenset = frozenset()

    @classmethod
    def capture(cls, shell) -> "Baseline":
        baseline = cls()
        baseline.threads_before = frozenset(id(t) for t in threading.enumerate())
        for name in WATCHED_MODULES:
            module = sys.modules.get(name)
            if module is None:
                try:
                    module = importlib.import_module(name)
                except Exception:
                    continue
            baseline.module_objects[name] = module
            baseline.namespaces[name] = vars(module)
            baseline.modules[name] = dict(vars(module))
        baseline.sys_modules = sys.modules
        lazy = _lazy_module_type()
        baseline.module_types = [(name, module, _TYPE(module)) for name, module in list(sys.modules.items())
                                 if module is not None and not (lazy and isinstance(module, lazy))]
        for module_name, class_name in WATCHED_CLASSES:
            module = baseline.module_objects.get(module_name)
            klass = getattr(module, class_name, None) if module else None
            if isinstance(klass, type):
                qualname = f"{module_name}.{class_name}"
                baseline.classes[qualname] = (klass, dict(_CLASS_DICT(klass)))
                baseline.class_types[qualname] = (klass, _TYPE(klass), _GET_BASES(klass))
        baseline.shell_type = (shell, _TYPE(shell))
        namespaces = [(name, vars(module)) for name, module in baseline.module_objects.items()]
        namespaces += [(name, _CLASS_DICT(klass)) for name, (klass, _) in baseline.classes.items()]
        for prefix, namespace in namespaces:
            for name, function in _functions(namespace, prefix).items():
                baseline.functions[name] = (function, tuple(getattr(function, a) for a in FUNCTION_STATE))
                closure = _closure(function)
                if closure:
                    baseline.closures[name] = closure
        baseline.signals = _signal_state()
        baseline.torch = _torch_state()
        baseline.import_hooks = (list(sys.meta_path), list(sys.path_hooks))
        for owner_name, attr in TRANSFORMER_LISTS:
            owner = getattr(shell, owner_name) if owner_name else shell
            current = getattr(owner, attr, None)
            if isinstance(current, list):
                baseline.transformers[(owner_name, attr)] = (owner, current, list(current))
        return baseline

    def findings(self, shell) -> list[str]:
        """What differs from the baseline.  Builtins are compared and put back first, using only
        dict operations and `is`, because the rest of this code needs genuine builtins."""
        builtins_now = self.namespaces["builtins"]
        builtins_then = self.modules["builtins"]
        missing = object()
        changed = [key for key, value in builtins_then.items()
                   if key not in IGNORED_NAMES and builtins_now.get(key, missing) is not value]
        replaced = {key: builtins_now.get(key, missing) for key in changed}
        for key in changed:
            builtins_now[key] = builtins_then[key]
        found = [f"builtins.{key} was deleted" if value is missing else f"builtins.{key} was replaced by {_describe(value)}"
                 for key, value in replaced.items()]
        # Then what a module, a class or the shell *is*, put back at once: everything below reads
        # through them.
        found += self._put_back_types()
        for name, module in self.module_objects.items():
            entry = self.sys_modules.get(name, missing)
            if entry is not module:
                found.append(f"sys.modules[{name!r}] was " + ("deleted" if entry is missing else
                             f"replaced by {_describe(entry)}"))
            if name == "builtins":
                continue
            current = self.namespaces[name]
            for key, original in self.modules[name].items():
                if key in IGNORED_NAMES:
                    continue
                now = current.get(key, missing)
                if now is not original and _matters(original):
                    found.append(f"{name}.{key} was deleted" if now is missing
                                 else f"{name}.{key} was replaced by {_describe(now)}")
            for key in MODULE_HOOKS:
                if key in current and key not in self.modules[name]:
                    found.append(f"{name}.{key} was added ({_describe(current[key])}): it answers for the "
                                 "module's missing names")
        for qualname, (klass, original) in self.classes.items():
            current = _CLASS_DICT(klass)
            for key in set(current) | set(original):
                if current.get(key) is not original.get(key):
                    action = "added" if key not in original else "replaced"
                    found.append(f"{qualname}.{key} was {action} ({_describe(current.get(key))})")
        for (owner_name, attr), (owner, _, original) in self.transformers.items():
            added = [t for t in getattr(owner, attr, None) or [] if t not in original]
            if added:
                found.append(f"IPython {owner_name + '.' if owner_name else ''}{attr} was given {len(added)} new transformer(s): "
                             + ", ".join(_describe(t) for t in added))
        for name, (function, state) in self.functions.items():
            for attribute, original in zip(FUNCTION_STATE, state):
                current = getattr(function, attribute)
                if current is not original:
                    what = ("was given another body (its __code__ replaced)" if attribute == "__code__"
                            else f"had its default arguments replaced ({attribute})")
                    found.append(f"{name} {what}")
        for name, cells in self.closures.items():
            for variable, cell, original in cells:
                try:
                    now = cell.cell_contents
                except ValueError:
                    now = None
                if now is not original:
                    found.append(f"{name} had its closure changed ({variable} replaced by {_describe(now)})")
        handlers, mask = self.signals
        if signal.getsignal(signal.SIGINT) is not handlers[int(signal.SIGINT)]:
            found.append(f"the SIGINT handler (the grader's interrupt) was replaced by "
                         f"{_handler(signal.getsignal(signal.SIGINT))}")
        blocked = {int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])} - mask
        if blocked:
            found.append("signals were blocked: " + ", ".join(sorted(signal.Signals(s).name for s in blocked)))
        if sys.gettrace() is not None:
            found.append(f"a trace function was installed (sys.settrace: {_describe(sys.gettrace())})")
        if sys.getprofile() is not None:
            found.append("a profile function was installed (sys.setprofile)")
        monitor = self._tqdm_monitor()
        extra_threads = [t.name for t in threading.enumerate() if t is not threading.main_thread()
                         and id(t) not in self.threads_before and not (monitor is not None and _TYPE(t) is monitor)]
        if extra_threads:
            found.append(f"{len(extra_threads)}{THREAD_NOTE}: "
                         + ", ".join(extra_threads[:5]))
        return sorted(set(found))

    def _tqdm_monitor(self) -> type | None:
        """tqdm's own monitor thread class (`tqdm._monitor.TMonitor`, as the baseline found it, before
        any cell ran): tqdm starts one daemon thread of it with the first progress bar, and it is not
        the notebook's doing.  Only threads of exactly that class are exempt from the thread note; a
        thread the notebook starts itself (a subclass of TMonitor included) is still reported."""
        monitor = self.modules.get("tqdm._monitor", {}).get("TMonitor")
        return monitor if isinstance(monitor, type) else None

    def restore(self, shell) -> None:
        self._put_back_types()
        missing = object()
        for name, module in self.module_objects.items():
            self.sys_modules[name] = module
            current = self.namespaces[name]
            for key, original in self.modules[name].items():
                if key not in IGNORED_NAMES and current.get(key, missing) is not original:
                    current[key] = original
            for key in MODULE_HOOKS:
                if key in current and key not in self.modules[name]:
                    del current[key]
        for klass, original in self.classes.values():
            for key in set(_CLASS_DICT(klass)) - set(original):
                try:
                    type.__delattr__(klass, key)
                except (AttributeError, TypeError):
                    pass
            for key, value in original.items():
                if _CLASS_DICT(klass).get(key, missing) is not value:
                    try:
                        type.__setattr__(klass, key, value)
                    except (AttributeError, TypeError):
                        pass
        for function, state in self.functions.values():
            for attribute, original in zip(FUNCTION_STATE, state):
                if getattr(function, attribute) is not original:
                    setattr(function, attribute, original)
        for cells in self.closures.values():
            for _, cell, original in cells:
                try:
                    if cell.cell_contents is original:
                        continue
                except ValueError:
                    pass
                cell.cell_contents = original
        handlers, mask = self.signals
        if signal.getsignal(signal.SIGINT) is not handlers[int(signal.SIGINT)]:
            signal.signal(signal.SIGINT, handlers[int(signal.SIGINT)])
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        self.restore_transformers(shell)
        sys.settrace(None)
        sys.setprofile(None)
        threading.settrace(None)  # type: ignore[arg-type]
        threading.setprofile(None)  # type: ignore[arg-type]
        builtins.__import__ = self.modules["builtins"]["__import__"]

    def _put_back_types(self) -> list[str]:
        """Report and undo, at once, replaced types: the sys.modules dict, every module's class, the
        metaclass and bases of every watched class, the IPython shell's class."""
        found = []
        if _SYS_NAMESPACE.get("modules") is not self.sys_modules:
            found.append(f"sys.modules was replaced by {_describe(_SYS_NAMESPACE.get('modules'))}")
            _SYS_NAMESPACE["modules"] = self.sys_modules
        for name, module, original in self.module_types:
            now = _TYPE(module)
            if now is not original:
                found.append(f"{name}.__class__ was replaced by {_describe_class(now)}"
                             + _set_class(module, original))
        for qualname, (klass, meta, bases) in self.class_types.items():
            now = _TYPE(klass)
            if now is not meta:
                found.append(f"{qualname}.__class__ (its metaclass) was replaced by {_describe_class(now)}"
                             + _set_class(klass, meta))
            now_bases = _GET_BASES(klass)
            if now_bases != bases or any(a is not b for a, b in zip(now_bases, bases)):
                found.append(f"{qualname}.__bases__ was replaced by ("
                             + ", ".join(_describe_class(b) for b in now_bases) + ")")
                try:
                    _SET_BASES(klass, bases)
                except TypeError as exc:
                    found[-1] += f" and could not be put back ({exc})"
        if self.shell_type is not None:
            shell, original = self.shell_type
            now = _TYPE(shell)
            if now is not original:
                found.append(f"the IPython shell's class was replaced by {_describe_class(now)}"
                             + _set_class(shell, original))
        return found

    def state_findings(self) -> list[str]:
        """Process-wide state that shapes what a probe computes, changed since the baseline."""
        found = []
        handlers, _ = self.signals
        for number, original in handlers.items():
            if number != signal.SIGINT and signal.getsignal(number) is not original:
                found.append(f"the {signal.Signals(number).name} handler was replaced by "
                             f"{_handler(signal.getsignal(number))}")
        if any(signal.getitimer(timer)[0] for timer in (signal.ITIMER_REAL, signal.ITIMER_VIRTUAL, signal.ITIMER_PROF)):
            found.append("a timer signal (signal.alarm / setitimer) was left running")
        for key, value in _torch_state().items():
            if value != self.torch.get(key):
                found.append(f"torch's {key} was left at {value} (the grader runs checks at {self.torch.get(key)})")
        if list(sys.meta_path) != self.import_hooks[0] or list(sys.path_hooks) != self.import_hooks[1]:
            found.append("import hooks were added (sys.meta_path / sys.path_hooks)")
        return found

    def restore_state(self) -> None:
        """Put back what `state_findings` looks at, before a probe: checks run in the conditions
        the reference ran in, whatever modes, defaults or handlers the notebook left behind."""
        handlers, mask = self.signals
        for number, original in handlers.items():
            if signal.getsignal(number) is not original:
                signal.signal(number, original)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        for timer in (signal.ITIMER_REAL, signal.ITIMER_VIRTUAL, signal.ITIMER_PROF):
            signal.setitimer(timer, 0)
        torch = sys.modules.get("torch")
        if torch is not None and self.torch:
            while torch._C._len_torch_function_stack() > self.torch["function modes"]:
                torch._C._pop_torch_function_stack()
            while torch._C._len_torch_dispatch_stack() > self.torch["dispatch modes"]:
                torch._C._pop_torch_dispatch_stack()
            torch.set_grad_enabled(self.torch["grad mode"])
            torch.set_default_dtype(self.torch["default dtype"])
            torch.set_anomaly_enabled(self.torch["anomaly detection"])
        sys.meta_path[:] = self.import_hooks[0]
        sys.path_hooks[:] = self.import_hooks[1]

    def restore_transformers(self, shell) -> None:
        for (owner_name, attr), (owner, original_list, contents) in self.transformers.items():
            original_list[:] = contents
            if getattr(owner, attr, None) is not original_list:
                try:
                    setattr(owner, attr, original_list)
                except AttributeError:
                    pass
