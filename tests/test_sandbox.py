"""Hostile cells against the real sandbox: the grader keeps running, verdicts are the ones the code
deserves, nothing hidden is reachable, and no process of the submission survives."""

import socket
import threading

import pytest

from conftest import ROOT, sample_cells, solution_cells, student_processes, write_notebook

SOLUTIONS = ROOT / "solutions" / "a2_autograd"


def grade_with(a2_grader, tmp_path, extra_cells, base="solution", position="after"):
    cells = solution_cells("a2_autograd") if base == "solution" else sample_cells("a2_autograd", base)
    cells = [*cells, *extra_cells] if position == "after" else [*extra_cells, *cells]
    result = a2_grader.grade(write_notebook(tmp_path / "hostile.ipynb", cells))
    assert result.status == "graded", result.error
    assert not student_processes(), "a process of the submission survived"
    return result


def cell_of(result, source_marker_index):
    return result.cells[source_marker_index]


READ_ATTEMPTS = f"""
import os, glob
targets = [{str(SOLUTIONS / 'a2_autograd.py')!r}, {str(SOLUTIONS / 'thresholds.json')!r}, {str(SOLUTIONS / 'solution.ipynb')!r},
           '../../solutions/a2_autograd/a2_autograd.py', {str(ROOT)!r}, '/jobs', '/root/.bash_history',
           '/proc/1/environ', '/proc/1/mem', '/proc/self/../1/root/jobs']
for t in targets:
    try:
        if os.path.isdir(t):
            # The checkout's own folder exists inside only as the parent of the package and the
            # virtualenv bound read-only (visible as such when it lies under /tmp, as in a CI clone).
            data = sorted(set(os.listdir(t)) - {'tensorgrade', '.venv'})
            if not data:
                raise PermissionError('only the bound package and virtualenv')
        else:
            data = open(t).read()
        print('LEAKED', t, str(data)[:40])
    except Exception as e:
        print('BLOCKED', t, type(e).__name__)
print('GLOB', [p for pattern in ('/*/secret.yaml', '/work/**/secret.yaml', '/tmp/**/secret.yaml', '/root/**/*.yaml')
               for p in glob.glob(pattern, recursive=True)][:3])
os.symlink('/proc/1/root', 'escape')
try:
    print('LEAKED symlink', os.listdir('escape/jobs'))
except Exception as e:
    print('BLOCKED symlink', type(e).__name__)
"""


def test_solutions_jobs_and_grader_files_are_unreachable(a2_grader, tmp_path):
    result = grade_with(a2_grader, tmp_path, [READ_ATTEMPTS])
    output = result.cells[-1].output
    assert "LEAKED" not in output, output
    assert output.count("BLOCKED") == 11, output
    assert "GLOB []" in output
    assert result.score == 10


def test_network_is_unreachable_including_host_loopback(a2_grader, tmp_path):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    accepted = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    cell = f"""
import socket
for host, port in [('127.0.0.1', {port}), ('1.1.1.1', 53), ('::1', {port})]:
    try:
        socket.create_connection((host, port), timeout=2)
        print('CONNECTED', host)
    except Exception as e:
        print('BLOCKED', host, type(e).__name__, e)
"""
    result = grade_with(a2_grader, tmp_path, [cell])
    server.close()
    assert "CONNECTED" not in result.cells[-1].output
    assert result.cells[-1].output.count("BLOCKED") == 3
    assert not accepted


@pytest.mark.parametrize("attack, expected_status, text", [
    ("import os\nos._exit(3)", "error", "exited with code 3"),
    ("import sys\nsys.exit(0)", "error", "SystemExit"),
    ("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)", "error", "PermissionError"),
    ("import os, signal\nos.killpg(0, signal.SIGKILL)", "error", "killed by signal SIGKILL"),
    ("while True:\n    pass", "timeout", "cell time limit"),
    ("import time\nwhile True:\n    try:\n        time.sleep(10)\n    except KeyboardInterrupt:\n        pass",
     "timeout", "did not stop when interrupted"),
    ("import signal, time\nsignal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})\nwhile True: pass",
     "timeout", "did not stop when interrupted"),
    ("import numpy as np\nhog = np.ones(10**10)", "error", "MemoryError"),
    # Exhaustion either fails with its own error or runs into the cell limit: both are contained.
    ("hog = []\nwhile True:\n    hog.append(bytearray(200_000_000))", {"error", "timeout"}, None),
    ("import os\nwhile True:\n    os.fork()", {"error", "timeout"}, None),
    ("import subprocess\nsubprocess.Popen(['sleep', '1000'], start_new_session=True)\nimport os\nif os.fork() == 0:\n"
     "    os.setsid()\n    import time\n    time.sleep(1000)", "ok", None),
    ("import threading, time\nthreading.Thread(target=lambda: time.sleep(1000), daemon=False).start()", "ok", None),
])
def test_hostile_cell_costs_only_itself(a2_grader, tmp_path, attack, expected_status, text):
    """The correct answers in the other cells still score full, whatever this cell does."""
    result = grade_with(a2_grader, tmp_path, [attack])
    hostile = result.cells[-1]
    allowed = expected_status if isinstance(expected_status, set) else {expected_status}
    assert hostile.status in allowed, (hostile.status, hostile.error)
    if text:
        assert text in (hostile.error or ""), hostile.error
    assert result.score == 10, [(c.id, c.status, c.message[:200]) for c in result.checks if c.status != "passed"]


def test_hostile_cell_before_answers_does_not_stop_later_cells(a2_grader, tmp_path):
    result = grade_with(a2_grader, tmp_path, ["import os\nos._exit(1)"], position="before")
    assert result.cells[0].status == "error" and result.score == 10


def test_output_flood_is_capped(a2_grader, tmp_path):
    result = grade_with(a2_grader, tmp_path, ["for i in range(60_000):\n    print('x' * 1000)"])
    assert result.cells[-1].status == "ok"
    assert len(result.cells[-1].output) <= 20_000
    assert any("bytes of printed output were dropped" in f for f in result.integrity)
    assert result.score == 10


def test_huge_file_is_stopped_by_the_file_size_limit(a2_grader, tmp_path):
    cell = "with open('big.bin', 'wb') as f:\n    for _ in range(100):\n        f.write(b'0' * 10_000_000)"
    result = grade_with(a2_grader, tmp_path, [cell])
    assert result.cells[-1].status == "error"
    assert "File too large" in result.cells[-1].error or "SIGXFSZ" in result.cells[-1].error
    assert result.score == 10


PATCHES = """
import math, builtins, torch, numpy as np
math.isclose = lambda *a, **k: True
np.allclose = lambda *a, **k: True
np.testing.assert_allclose = lambda *a, **k: None
torch.allclose = lambda *a, **k: True
torch.testing.assert_close = lambda *a, **k: None
torch.Tensor.__eq__ = lambda self, other: torch.ones_like(self, dtype=torch.bool)
builtins.isinstance = lambda obj, cls: True
builtins.abs = lambda x: 0
class AlwaysEqual(float):
    def __eq__(self, other): return True
    def __lt__(self, other): return True
get_ipython().input_transformers_post.append(lambda lines: ['pass\\n'])
import sys
sys.settrace(lambda *a: None)
"""


def test_patching_comparisons_builtins_and_transformers_changes_no_verdict(a2_grader, tmp_path):
    honest = a2_grader.grade(write_notebook(tmp_path / "honest.ipynb", sample_cells("a2_autograd", "wrong_gradient_sign")))
    cheat = grade_with(a2_grader, tmp_path, [PATCHES], base="wrong_gradient_sign", position="before")
    assert [(c.id, c.status, c.points) for c in cheat.checks] == [(c.id, c.status, c.points) for c in honest.checks]
    assert cheat.score == honest.score == 5
    findings = "\n".join(cheat.integrity)
    for patched in ("math.isclose", "numpy.allclose", "torch.allclose", "torch.testing.assert_close",
                    "builtins.isinstance", "torch.Tensor.__eq__", "input_transformers_post"):
        assert patched in findings, findings


def test_grader_keeps_grading_after_every_attack(a2_grader):
    result = a2_grader.grade(ROOT / "solutions" / "a2_autograd" / "solution.ipynb")
    assert result.score == 10


@pytest.mark.skipif(not __import__("shutil").which("bwrap"), reason="bubblewrap is not installed")
def test_read_only_paths_under_host_tmp_stay_visible_and_the_rest_of_tmp_stays_private(tmp_path):
    """A CI clone (and its .venv) under the host's /tmp must not vanish behind the sandbox's private /tmp."""
    import os
    import subprocess
    import sys

    from tensorgrade.sandbox.host import bwrap

    shared = tmp_path / "checkout"
    shared.mkdir()
    (shared / "visible.txt").write_text("visible")
    (tmp_path / "private.txt").write_text("private")
    probe = (f"import os; print(open({str(shared / 'visible.txt')!r}).read(), "
             f"os.path.exists({str(tmp_path / 'private.txt')!r}))")
    argv = bwrap.sandbox_command(
        [sys.executable, "-c", probe], read_only=bwrap.sandbox_read_only_paths([shared]), binds={},
        tmp_size_mb=16, env={"PATH": "/usr/bin:/bin"}, root=os.geteuid() == 0)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["visible", "False"]


def test_every_cell_output_lands_in_its_own_cell(a2_grader, tmp_path):
    """Output and protocol messages travel on two pipes: fast cells must not lose or swap output."""
    cells = [f"print('cell {i}')" for i in range(40)]
    result = grade_with(a2_grader, tmp_path, cells)
    assert [cell.output for cell in result.cells[-40:]] == [f"cell {i}\n" for i in range(40)]


LEAVE_BEHIND = """
import ctypes, os, subprocess
libc = ctypes.CDLL(None, use_errno=True)
made = []
for name, call in (("shm", lambda: libc.shmget(0x5EC2E7, 4096, 0o1000 | 0o666)),
                   ("msg", lambda: libc.msgget(0x5EC2E7, 0o1000 | 0o666)),
                   ("sem", lambda: libc.semget(0x5EC2E7, 1, 0o1000 | 0o666)),
                   ("mq", lambda: libc.mq_open(b"/left", os.O_CREAT | os.O_RDWR, 0o666, None))):
    if call() >= 0:
        made.append(name)
for path in ("/tmp/left", "/dev/shm/left", "/tmp/work/left"):
    try:
        open(path, "w").write("for the next one")
        made.append(path)
    except OSError:
        pass
subprocess.Popen(["python3", "-c", "import socket, time; s = socket.socket(socket.AF_UNIX); "
                  "s.bind('\\\\0left-behind'); s.listen(); time.sleep(1000)"], start_new_session=True)
print("MADE", made)
"""

FIND_LEFTOVERS = """
import os, socket
found = [row for table in ("shm", "msg", "sem") for row in open(f"/proc/sysvipc/{table}").read().splitlines()[1:]]
found += [path for path in ("/tmp/left", "/dev/shm/left", "/tmp/work/left") if os.path.exists(path)]
try:
    socket.socket(socket.AF_UNIX).connect("\\0left-behind")
    found.append("abstract socket")
except OSError:
    pass
print("FOUND", found)
"""


def test_nothing_one_submission_leaves_reaches_the_next_on_the_same_worker(a2_grader, tmp_path):
    """IPC objects, files outside the work folder and listening sockets would outlive a submission
    in the worker's namespaces; the next submission graded by that worker must find none."""
    first = grade_with(a2_grader, tmp_path, [LEAVE_BEHIND])
    # The sandbox's private /dev/shm is writable (DataLoader workers need it) and wiped between submissions.
    assert "MADE ['/dev/shm/left']" in first.cells[-1].output, first.cells[-1].output
    second = grade_with(a2_grader, tmp_path, [FIND_LEFTOVERS])
    assert "FOUND []" in second.cells[-1].output, second.cells[-1].output
    assert first.score == second.score == 10


def test_dataloader_workers_run_in_the_sandbox(a2_grader, tmp_path):
    """DataLoader(num_workers > 0) needs POSIX semaphores and shared memory: a private /dev/shm."""
    cell = """
import torch
from torch.utils.data import DataLoader, TensorDataset
loader = DataLoader(TensorDataset(torch.arange(12.)), batch_size=4, num_workers=2)
print([batch[0].tolist() for batch in loader])
"""
    result = grade_with(a2_grader, tmp_path, [cell])
    assert result.cells[-1].status == "ok", result.cells[-1].error
    assert "[[0.0, 1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0], [8.0, 9.0, 10.0, 11.0]]" in result.cells[-1].output
    assert result.score == 10


def test_graders_side_by_side_never_share_a_student_uid(tmp_path):
    """Kill-by-uid and the process-count limit are per uid: two graders on one host (two TAs, a test
    beside a batch) must give their workers different uids, and a closed worker frees its uid."""
    import os

    from tensorgrade.course.assignment import load_assignment
    from tensorgrade.grading.grader import Grader

    if os.geteuid() != 0:
        pytest.skip("student uids are used only when the grader runs as root")
    assignment = load_assignment(ROOT / "assignments" / "a2_autograd")
    with Grader(assignment, jobs=2) as first, Grader(assignment, jobs=2) as second:
        first.grade(ROOT / "solutions" / "a2_autograd" / "samples" / "correct.ipynb")
        second.grade(ROOT / "solutions" / "a2_autograd" / "samples" / "correct.ipynb")
        uids = [w.student_uid for grader in (first, second) for w in grader.pool.workers]
    assert len(set(uids)) == 4 and None not in uids, uids
    # Closed, their uids are free again. Claimed as preferred (other graders, e.g. the suite's other
    # test process, may take the lowest free uids meanwhile): most of the four come back as asked.
    from tensorgrade.sandbox.host.uids import StudentUid

    claims = [StudentUid.claim(preferred=uid) for uid in uids]
    try:
        assert sum(claim.uid == uid for claim, uid in zip(claims, uids)) >= 2, [c.uid for c in claims]
    finally:
        for claim in claims:
            claim.release()
    with Grader(assignment, jobs=1) as third:
        result = third.grade(ROOT / "solutions" / "a2_autograd" / "samples" / "correct.ipynb")
        assert result.score == result.max_score and third.pool.workers[0].student_uid is not None


# ---------------------------------------------------------------------------------------------
# Integrity: what a name means, beyond a module's __dict__ (tensorgrade/sandbox/inside/integrity.py)
# ---------------------------------------------------------------------------------------------

@pytest.fixture
def integrity_baseline():
    """A Baseline taken in this process (with a stand-in for IPython's shell); whatever a test
    changed is put back by the Baseline itself, and that must leave nothing to report."""
    import types

    from tensorgrade.sandbox.inside import integrity

    shell = types.SimpleNamespace(input_transformer_manager=types.SimpleNamespace())
    baseline = integrity.Baseline.capture(shell)
    assert baseline.findings(shell) == []
    yield baseline, shell
    baseline.restore(shell)
    assert baseline.findings(shell) == []


def test_integrity_sees_and_undoes_a_module_class_swap(integrity_baseline):
    """torch.__class__ = a ModuleType subclass changes what torch.allclose is for every caller
    without touching vars(torch) or sys.modules; its __dict__ and __setattr__ lie and refuse."""
    import sys
    import types

    import torch

    baseline, shell = integrity_baseline
    modules = sys.modules

    class Agreeable(types.ModuleType):
        def __getattribute__(self, name):
            if name == "allclose":
                return lambda *args, **kwargs: True
            if name == "__dict__":
                return {}
            return super().__getattribute__(name)

        def __setattr__(self, name, value):
            pass

    torch.__class__ = Agreeable
    sys.modules = dict(sys.modules)
    assert torch.allclose(torch.zeros(1), torch.ones(1))
    found = "\n".join(baseline.findings(shell))
    baseline.restore(shell)
    assert "torch.__class__ was replaced by class test_integrity_sees_and_undoes_a_module_class_swap.<locals>.Agreeable" \
        in found, found
    assert "sys.modules was replaced by dict object" in found, found
    assert type(torch) is types.ModuleType and sys.modules is modules
    assert not torch.allclose(torch.zeros(1), torch.ones(1))


def test_integrity_sees_and_undoes_a_watched_class_s_metaclass_and_bases(integrity_baseline):
    import torch

    baseline, shell = integrity_baseline
    function_meta = type(torch.autograd.Function)

    class Claims(function_meta):
        def __subclasscheck__(cls, subclass):
            return True

    class Agreeable(torch.Tensor):
        def __eq__(self, other):
            return True

    torch.autograd.Function.__class__ = Claims
    torch.nn.Parameter.__bases__ = (Agreeable,)
    assert issubclass(int, torch.autograd.Function)
    found = "\n".join(baseline.findings(shell))
    baseline.restore(shell)
    assert "torch.autograd.Function.__class__ (its metaclass) was replaced by class " in found, found
    assert "torch.nn.Parameter.__bases__ was replaced by (class " in found, found
    assert type(torch.autograd.Function) is function_meta and not issubclass(int, torch.autograd.Function)
    assert torch.nn.Parameter.__bases__ == (torch.Tensor,) and Agreeable not in torch.nn.Parameter.__mro__


def test_integrity_sees_and_undoes_deleted_names_module_getattr_lookalikes_and_closures(integrity_baseline):
    """A deleted entry answered by a module-level __getattr__, a lookalike module in sys.modules and
    as a parent's attribute (torch.nn), a library function's closure cell given another function."""
    import sys
    import types

    import numpy as np
    import torch

    baseline, shell = integrity_baseline
    real_grad, real_nn, real_optim = torch.autograd.grad, torch.nn, torch.optim
    del torch.autograd.grad
    torch.autograd.__getattr__ = lambda name: (lambda *args, **kwargs: "a fake gradient")
    sys.modules["torch.optim"] = types.ModuleType("torch.optim")
    torch.nn = types.ModuleType("torch.nn")
    name, cells = next(iter(baseline.closures.items()))
    variable, cell, original = cells[0]
    cell.cell_contents = lambda *args, **kwargs: None
    del np.allclose
    found = "\n".join(baseline.findings(shell))
    baseline.restore(shell)
    for text in ("torch.autograd.grad was deleted", "torch.autograd.__getattr__ was added",
                 "sys.modules['torch.optim'] was replaced by another module object",
                 "torch.nn was replaced by another module object", "numpy.allclose was deleted",
                 f"{name} had its closure changed ({variable} replaced by "):
        assert text in found, (text, found)
    assert torch.autograd.grad is real_grad and "__getattr__" not in vars(torch.autograd)
    assert torch.nn is real_nn and sys.modules["torch.optim"] is real_optim and cell.cell_contents is original
    assert np.allclose(1.0, 1.0)


def test_integrity_module_class_swap_is_reported_and_undone_between_cells(a2_grader, tmp_path):
    cell = """
import types, torch
class Agreeable(types.ModuleType):
    def __getattribute__(self, name):
        if name == "allclose":
            return lambda *args, **kwargs: True
        return super().__getattribute__(name)
torch.__class__ = Agreeable
"""
    later = "import torch, types\nprint('genuine', type(torch) is types.ModuleType, torch.allclose(torch.zeros(1), torch.ones(1)))"
    result = grade_with(a2_grader, tmp_path, [cell, later])
    assert "genuine True False" in result.cells[-1].output, result.cells[-1].output
    assert any(f.startswith("torch.__class__ was replaced by class Agreeable") for f in result.integrity), result.integrity
    assert result.score == 10
