"""Real student code, graded for real: what submissions built from public implementations lost points
for, and must not (issue 19, "Real student code").  Most of it is in the samples (tests/test_course.py
grades them): a1's tutorial_numpy and loss_numpy_scalar, a3's pandas_dataset, a4's tutorial_loop and
device_chosen_at_top, a5's tutorial_percent and device_chosen_at_top, a6's keras3_naive_dense.  Here:
what a sample's expected.yaml cannot say (a thread finding's exact text, a message's hint), each on a
notebook made from the reference solution with one answer cell as a student writes it, graded through
the sandbox, and the judges' side of it on plain data.
"""

from __future__ import annotations

import importlib.util
import io
import json
import subprocess
import sys
import textwrap

import nbformat
import numpy as np

from tensorgrade.checking.outside.judging import JudgeCase
from tensorgrade.course.assignment import load_assignment
from tensorgrade.grading.grader import Grader
from conftest import ROOT


def notebook_with(tmp_path, assignment_id: str, answers: dict[str, str], extra_cells: tuple[str, ...] = ()):
    """The reference solution with the code cell that contains each key replaced by its value, and
    `extra_cells` appended: a student's notebook, cells and all."""
    notebook = nbformat.read(ROOT / "solutions" / assignment_id / "solution.ipynb", as_version=4)
    replaced = set()
    for cell in notebook.cells:
        for marker, source in answers.items():
            if cell.cell_type == "code" and marker in cell.source:
                cell.source = source
                replaced.add(marker)
    assert replaced == set(answers), f"no cell holds {set(answers) - replaced}"
    notebook.cells += [nbformat.v4.new_code_cell(source) for source in extra_cells]
    path = tmp_path / f"{assignment_id}.ipynb"
    nbformat.write(notebook, path)
    return path


def grade(assignment_id: str, path):
    assignment = load_assignment(ROOT / "assignments" / assignment_id, ROOT / "solutions" / assignment_id)
    with Grader(assignment) as grader:
        return grader.grade(path)


def checks_module(path: str, name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def not_passed(result):
    return [(c.id, c.status, c.message[:300]) for c in result.checks if c.status != "passed"]


# --- NumPy scalars are numbers -------------------------------------------------------------------

A2_NUMPY_TRAINING = '''def train_legendre(x, y, steps=2000, learning_rate=5e-6):
    a = torch.full((), 0.0, dtype=x.dtype, requires_grad=True)
    b = torch.full((), -1.0, dtype=x.dtype, requires_grad=True)
    c = torch.full((), 0.0, dtype=x.dtype, requires_grad=True)
    d = torch.full((), 0.3, dtype=x.dtype, requires_grad=True)
    P3 = LegendrePolynomial3.apply
    losses = []
    for t in range(steps):
        y_pred = a + b * P3(c + d * x)
        loss = (y_pred - y).pow(2).sum()
        # the loss as NumPy computes it: np.sum returns a numpy.float32 here
        losses.append(np.sum((y_pred.detach().numpy() - y.numpy()) ** 2))
        loss.backward()
        with torch.no_grad():
            a -= learning_rate * a.grad
            b -= learning_rate * b.grad
            c -= learning_rate * c.grad
            d -= learning_rate * d.grad
            a.grad = None
            b.grad = None
            c.grad = None
            d.grad = None
    coefficients = np.array([a.item(), b.item(), c.item(), d.item()])
    return dict(zip("abcd", coefficients)), losses  # numpy.float64 values
'''


def test_a2_params_and_losses_of_numpy_scalars_are_floats(tmp_path):
    path = notebook_with(tmp_path, "a2_autograd", {"def train_legendre": "import numpy as np\n\n\n" + A2_NUMPY_TRAINING})
    result = grade("a2_autograd", path)
    assert result.status == "graded" and result.score == result.max_score, not_passed(result)


def test_a_float_subclass_or_a_0d_array_is_still_no_float():
    """The probes' helper: NumPy's exact scalar types are converted by NumPy; anything else is None."""
    from tensorgrade.checking.inside.probing import plain_number

    class Loss(float):
        def __float__(self):
            return 0.0

    assert plain_number(np.float64(2.5)) == 2.5 and type(plain_number(np.float32(0.5))) is float
    assert plain_number(np.int64(7), int) == 7 and type(plain_number(np.uint8(7), int)) is int
    assert [plain_number(v) for v in (Loss(3.0), np.asarray(2.5), np.int64(1), True, "1.0")] == [None] * 5
    assert [plain_number(v, int) for v in (np.bool_(True), True, 1.0, np.timedelta64(1), np.float64(1))] == [None] * 5


# --- tqdm's monitor thread is not the notebook's -------------------------------------------------

A1_FIT_WITH_TQDM = '''from tqdm import tqdm


def fit_poly(x, y, coeffs0, learning_rate=1e-6, steps=2000):
    coeffs = np.array(coeffs0, dtype=np.float64)
    for step in tqdm(range(steps), desc="gradient descent"):
        loss, grads = poly_loss_and_grads(x, y, coeffs)
        coeffs -= learning_rate * grads
    return coeffs
'''

OWN_THREADS = '''import threading

from tqdm import tqdm
from tqdm._monitor import TMonitor

stop = threading.Event()
threading.Thread(target=stop.wait, name="student-worker", daemon=True).start()


class MyMonitor(TMonitor):  # tqdm's class, but the notebook's own thread of it
    pass


MyMonitor(tqdm, 1000).name = "student-monitor"
'''


def test_tqdm_starts_its_monitor_thread_unreported_and_the_notebooks_own_threads_are_reported(tmp_path):
    """tqdm's bars in fit_poly start tqdm's monitor thread while the grader's probes run: no finding.
    The notebook's own threads, one of them of a TMonitor subclass, are still reported, and only they."""
    path = notebook_with(tmp_path, "a1_backprop", {"def fit_poly": A1_FIT_WITH_TQDM}, extra_cells=(OWN_THREADS,))
    result = grade("a1_backprop", path)
    assert result.score == result.max_score, not_passed(result)
    assert result.integrity == ["2 thread(s) started by the notebook still running: student-worker, student-monitor"]


def test_integrity_exempts_exactly_tqdms_monitor_class():
    """In this process: a baseline, then a tqdm bar (its monitor thread), a thread of the notebook's,
    and one of a TMonitor subclass: the finding names the last two only."""
    import threading
    import types

    import tqdm
    from tqdm._monitor import TMonitor

    from tensorgrade.sandbox.inside import integrity

    shell = types.SimpleNamespace(input_transformer_manager=types.SimpleNamespace())
    baseline = integrity.Baseline.capture(shell)

    class Subclass(TMonitor):
        pass

    stop = threading.Event()
    own = threading.Thread(target=stop.wait, name="own-thread", daemon=True)
    own.start()
    subclass = Subclass(tqdm.tqdm, 1000)
    try:
        for _ in tqdm.tqdm(range(3), file=io.StringIO()):
            pass
        genuine = tqdm.tqdm.monitor
        assert type(genuine) is TMonitor and genuine.is_alive()
        threads = [f for f in baseline.findings(shell) if integrity.is_thread_note(f)]
        assert threads == ["2 thread(s) started by the notebook still running: own-thread, tqdm_monitor"], threads
    finally:
        stop.set()
        subclass.exit()
        own.join()
    assert [f for f in baseline.findings(shell) if integrity.is_thread_note(f)] == []


# --- a3: timing is a note, never a verdict --------------------------------------------------------

def rereads_case(seconds: float, follows: bool = False, opening: int = 0):
    labels = [i % 10 for i in range(200)]
    indices = list(range(0, 190, 2))
    last = len(labels) - 1
    seen = [labels[last - i] if follows else labels[i] for i in indices]
    student = {"items": len(indices), "labels_seen": seen, "labels_again": [labels[i] for i in indices],
               "opens": opening, "items_opening": opening, "median_seconds": seconds}
    reference = {**student, "labels_seen": [labels[i] for i in indices], "opens": 0, "items_opening": 0,
                 "median_seconds": 2e-6}
    return JudgeCase(student=student, reference=reference, inputs={"labels": labels, "indices": indices})


def test_a3_a_slow_dataset_that_reads_from_memory_passes_with_a_note():
    # the judge of the check itself, as the grader loads it from the source
    judge_rereads = load_assignment(ROOT / "assignments" / "a3_dataset").implementations["q1.no_reread"].judge
    slow = judge_rereads(rereads_case(0.0066))  # pandas' .iloc per item, 3300 times the reference's
    assert slow.passed and "Note (no points lost): one item takes 6.6 ms" in slow.message, slow.message
    assert judge_rereads(rereads_case(float("nan"))).passed  # a clock that lies decides nothing
    assert "Note" not in judge_rereads(rereads_case(1e-5)).message
    # the deciding signals still decide, fast or slow
    for case in (rereads_case(1e-5, follows=True), rereads_case(0.0066, opening=95)):
        verdict = judge_rereads(case)
        assert not verdict.passed and verdict.diagnosis == "reads-file-every-item", verdict.message


# --- a5: an accuracy in percent gets the hint in every check that receives one ---------------------

def test_a5_percent_accuracy_gets_the_fraction_hint_in_accuracy_and_evaluate_checks():
    from tensorgrade.checking.outside import evaluation_judges as checks  # the judges of a5's checks

    hint = "a fraction in [0, 1], not a percentage"
    n = 200
    inputs = {"labels": np.zeros(n, np.int64), "batch_size": 64}
    evaluated = checks.judge_evaluate_value(JudgeCase(
        student={"value": 84.5, "kind": {"type": "builtins.float"}, "is_number": True},
        reference={"value": 0.845, "kind": {"type": "builtins.float"}, "is_number": True}, inputs=inputs))
    assert not evaluated.passed and hint in evaluated.message and evaluated.diagnosis == "accuracy-as-percentage"
    logits = np.eye(10, dtype=np.float32)[[0, 1, 2, 3]]
    data = {"logits": logits, "labels": np.array([0, 1, 2, 0])}
    accuracy = checks.judge_accuracy_value({"value": 75.0, "kind": {"type": "builtins.float"}, "is_number": True},
                                           {"value": 0.75}, data, "case 1")
    assert not accuracy.passed and hint in accuracy.message and accuracy.diagnosis == "accuracy-as-percentage"
    count = checks.judge_accuracy_value({"value": 3.0, "kind": {"type": "builtins.int"}, "is_number": True},
                                        {"value": 0.75}, data, "case 1")
    assert "number of right predictions" in count.message and hint not in count.message
    calls = [{"model": True, "batch_norm": True, "dropout": True}]
    eval_mode = checks.judge_eval_mode(JudgeCase(
        student={"calls": calls, "result": {"value": 71.0, "kind": {}}, "running_stats_changed": False},
        reference={"result": {"value": 0.8}}, inputs={}))
    assert eval_mode.diagnosis == "missing-eval-mode" and hint in eval_mode.message


# --- a device fixed outside the function: the simulator's CPU moves --------------------------------

def test_the_simulator_records_moves_to_the_cpu_only_where_the_device_is_given():
    code = textwrap.dedent('''
        import json, torch
        from tensorgrade.checking.inside.devicesim import SimulatedAccelerator
        sim = SimulatedAccelerator.install(name="gpu", cuda_available=True)
        DEVICE = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")  # at the top: the CPU
        seen = {}
        with sim.active(cuda_available=False, hardcoded_to="cpu"):  # a CPU run: the CPU is the device given
            torch.ones(2).to(DEVICE), torch.nn.Linear(2, 2).to(DEVICE)
        seen["cpu run"] = [e.message for e in sim.cpu_moves]
        with sim.active():
            on_device = torch.ones(2).to(sim.device)
            on_device.to("cpu"), on_device.cpu(), torch.ones(2).cpu()  # results back to the CPU: fine
            seen["results back"] = [e.message for e in sim.cpu_moves]
            torch.ones(2).to(DEVICE), torch.zeros(3, device=DEVICE), torch.nn.Linear(2, 2).to(DEVICE)
        seen["fixed device"] = [e.message for e in sim.cpu_moves]
        seen["events"] = [e.kind for e in sim.events]
        print(json.dumps(seen))
    ''')
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {"cpu run": [], "results back": [], "events": [],
                    "fixed device": ["tensor.to(torch.device('cpu'))", "torch.zeros(..., device=torch.device('cpu'))",
                                     "model.to(torch.device('cpu'))"]}
