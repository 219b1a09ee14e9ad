"""What a submission did to the interpreter it ran in, and undoing it before probes run.

Taken in the student's process before the first cell: the identity of every attribute of the
modules and classes probes rely on, IPython's transformer lists and sys.modules entries.  After
the cells, anything replaced is reported to the TA as an integrity finding and put back, so the
probes run on genuine torch/numpy/builtins whatever the student patched.  (Verdicts are computed
outside the sandbox anyway; restoring keeps the probe *observations* honest too.)
"""

from __future__ import annotations

import builtins
import importlib
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

WATCHED_MODULES = (
    "builtins", "math", "operator", "json", "base64", "random", "copy", "functools", "numbers",
    "numpy", "numpy.testing", "numpy.linalg",
    "torch", "torch.nn", "torch.nn.functional", "torch.testing", "torch.autograd",
    "torch.autograd.gradcheck", "torch.optim", "torch.utils.data",
    "autograder.transport", "autograder.probing", "autograder.kernel", "autograder.integrity",
)
WATCHED_CLASSES = (
    ("torch", "Tensor"), ("torch.nn", "Module"), ("torch.nn", "Parameter"),
    ("torch.autograd", "Function"), ("torch.optim", "Optimizer"), ("torch.utils.data", "DataLoader"),
)
# (path from the shell to the object holding the list, attribute): every hook that rewrites cells.
TRANSFORMER_LISTS = (("", "input_transformers_post"), ("", "ast_transformers"),
                     ("input_transformer_manager", "cleanup_transforms"),
                     ("input_transformer_manager", "line_transforms"),
                     ("input_transformer_manager", "token_transformers"))
# IPython rebinds these per cell; they are not the student's doing.
IGNORED_NAMES = {"_", "__", "___", "_i", "_ii", "_iii", "_oh", "_dh", "In", "Out", "get_ipython",
                 "exit", "quit", "display", "__IPYTHON__", "__builtins__"}


def _describe(value: Any) -> str:
    code = getattr(value, "__code__", None)
    if code is not None:
        where = code.co_filename
        if where.startswith("<ipython-input-"):
            where = "a notebook cell"
        return f"{getattr(value, '__qualname__', 'a function')} defined in {where}"
    return f"{type(value).__name__} object"


@dataclass
class Baseline:
    modules: dict[str, dict[str, Any]] = field(default_factory=dict)
    module_objects: dict[str, Any] = field(default_factory=dict)
    classes: dict[str, tuple[type, dict[str, Any]]] = field(default_factory=dict)
    transformers: dict[tuple[str, str], tuple[object, list, list]] = field(default_factory=dict)

    @classmethod
    def capture(cls, shell) -> "Baseline":
        baseline = cls()
        for name in WATCHED_MODULES:
            module = sys.modules.get(name)
            if module is None:
                try:
                    module = importlib.import_module(name)
                except Exception:
                    continue
            baseline.module_objects[name] = module
            baseline.modules[name] = dict(vars(module))
        for module_name, class_name in WATCHED_CLASSES:
            module = baseline.module_objects.get(module_name)
            klass = getattr(module, class_name, None) if module else None
            if isinstance(klass, type):
                baseline.classes[f"{module_name}.{class_name}"] = (klass, dict(vars(klass)))
        for owner_name, attr in TRANSFORMER_LISTS:
            owner = getattr(shell, owner_name) if owner_name else shell
            current = getattr(owner, attr, None)
            if isinstance(current, list):
                baseline.transformers[(owner_name, attr)] = (owner, current, list(current))
        return baseline

    def findings(self, shell) -> list[str]:
        """What differs from the baseline.  Builtins are compared and put back first, using only
        dict operations and `is`, because the rest of this code needs genuine builtins."""
        builtins_now = vars(builtins)
        builtins_then = self.modules["builtins"]
        changed = [key for key, value in builtins_then.items()
                   if key not in IGNORED_NAMES and key in builtins_now and builtins_now[key] is not value]
        replaced = {key: builtins_now[key] for key in changed}
        for key in changed:
            builtins_now[key] = builtins_then[key]
        found = [f"builtins.{key} was replaced by {_describe(value)}" for key, value in replaced.items()]
        for name, module in self.module_objects.items():
            if sys.modules.get(name) is not module:
                found.append(f"sys.modules[{name!r}] was replaced by {_describe(sys.modules.get(name))}")
            if name == "builtins":
                continue
            current = vars(module)
            for key, original in self.modules[name].items():
                if key in IGNORED_NAMES or key not in current:
                    continue
                if current[key] is not original and (callable(original) or isinstance(original, type)):
                    found.append(f"{name}.{key} was replaced by {_describe(current[key])}")
        for qualname, (klass, original) in self.classes.items():
            current = vars(klass)
            for key in set(current) | set(original):
                if current.get(key) is not original.get(key):
                    action = "added" if key not in original else "replaced"
                    found.append(f"{qualname}.{key} was {action} ({_describe(current.get(key))})")
        for (owner_name, attr), (owner, _, original) in self.transformers.items():
            added = [t for t in getattr(owner, attr, None) or [] if t not in original]
            if added:
                found.append(f"IPython {owner_name + '.' if owner_name else ''}{attr} was given {len(added)} new transformer(s): "
                             + ", ".join(_describe(t) for t in added))
        if sys.gettrace() is not None:
            found.append(f"a trace function was installed (sys.settrace: {_describe(sys.gettrace())})")
        if sys.getprofile() is not None:
            found.append("a profile function was installed (sys.setprofile)")
        extra_threads = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
        if extra_threads:
            found.append(f"{len(extra_threads)} thread(s) started by the notebook still running: "
                         + ", ".join(extra_threads[:5]))
        return sorted(set(found))

    def restore(self, shell) -> None:
        for name, module in self.module_objects.items():
            sys.modules[name] = module
            current = vars(module)
            for key, original in self.modules[name].items():
                if key not in IGNORED_NAMES and current.get(key, original) is not original:
                    setattr(module, key, original)
        for klass, original in self.classes.values():
            for key in set(vars(klass)) - set(original):
                try:
                    delattr(klass, key)
                except (AttributeError, TypeError):
                    pass
            for key, value in original.items():
                if vars(klass).get(key) is not value:
                    try:
                        setattr(klass, key, value)
                    except (AttributeError, TypeError):
                        pass
        self.restore_transformers(shell)
        sys.settrace(None)
        sys.setprofile(None)
        threading.settrace(None)  # type: ignore[arg-type]
        threading.setprofile(None)  # type: ignore[arg-type]
        builtins.__import__ = self.modules["builtins"]["__import__"]

    def restore_transformers(self, shell) -> None:
        for (owner_name, attr), (owner, original_list, contents) in self.transformers.items():
            original_list[:] = contents
            if getattr(owner, attr, None) is not original_list:
                try:
                    setattr(owner, attr, original_list)
                except AttributeError:
                    pass
