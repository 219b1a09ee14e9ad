"""a4_training's device checks on a real GPU: the same probes and judges as in grading, given the real
CUDA device instead of the simulated one (`real_device: "cuda"` in the probes' inputs).

Skipped where torch.cuda.is_available() is False (CPU-only CI).  The grading sandbox does not expose
GPUs, so the probes run here in a plain subprocess on our own sample notebooks; the judges run in
this process, as in grading.

On a real GPU a hard-coded 'cuda:0' or .cuda() works (the machine has that device), so the
hardcoded-cuda samples are caught only by the simulated checks, which run on every machine; their
CPU runs would also fail here, so they are not part of this test.
"""

import subprocess
import sys
import textwrap

import pytest
import torch

from tensorgrade.sandbox import transport
from tensorgrade.course.assignment import load_assignment
from tensorgrade.checking.checks import draw_inputs
from tensorgrade.checking.outside.judging import JudgeCase
from conftest import ROOT, sample_cells, solution_cells

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="needs a CUDA device (torch.cuda.is_available() is False)")

DEVICE_CHECKS = ("q1.availability", "q3.device", "q4.device")

# sample -> {check: expected diagnosis, or None for a pass}
EXPECTED = {
    "correct": {},
    "correct_alt": {},
    "forgot_zero_grad": {},  # a training mistake: still identical on the GPU and on the CPU
    "model_not_on_device": {"q4.device": "model-not-on-device"},
    "batch_not_on_device": {"q3.device": "batch-not-on-device", "q4.device": "batch-not-on-device"},
    "labels_not_on_device": {"q3.device": "batch-not-on-device", "q4.device": "batch-not-on-device"},
    "tensor_without_device": {"q3.device": "tensor-created-without-device",
                              "q4.device": "tensor-created-without-device"},
    "numpy_on_device": {"q3.device": "numpy-on-device-tensor", "q4.device": "numpy-on-device-tensor"},
    "get_device_always_cpu": {"q1.availability": "get-device-ignores-availability"},
    "get_device_always_cuda": {},  # right on a machine with CUDA; the simulated check without CUDA catches it
}

RUNNER = textwrap.dedent('''
    import importlib.util, sys
    from tensorgrade.sandbox import transport

    request = transport.loads(open(sys.argv[1], "rb").read())
    spec = importlib.util.spec_from_file_location("a4_public_probes", request["probes"])
    probes = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(probes)
    results = {}
    for name, cells in request["notebooks"].items():
        namespace = {"__name__": "__main__"}
        for cell in cells:
            exec(compile(cell, f"<{name}>", "exec"), namespace)
        results[name] = {}
        for check, (probe, inputs) in request["probes_to_run"].items():
            import torch
            torch.manual_seed(0)
            results[name][check] = getattr(probes, probe)(namespace, {**inputs, "real_device": "cuda"})
    open(sys.argv[2], "w").write(transport.dumps(results))
''')


@pytest.mark.cuda
@needs_cuda
def test_device_checks_on_real_cuda(tmp_path):
    assignment = load_assignment(ROOT / "assignments" / "a4_training")
    checks = {check_id: assignment.implementations[check_id] for check_id in DEVICE_CHECKS}
    inputs = {check_id: draw_inputs(check, assignment.secret_seed) for check_id, check in checks.items()}
    notebooks = {name: sample_cells("a4_training", name) for name in EXPECTED}
    notebooks["reference"] = solution_cells("a4_training")
    request = {"probes": str(ROOT / "assignments" / "a4_training" / "probes.py"), "notebooks": notebooks,
               "probes_to_run": {check_id: [check.probe, inputs[check_id]] for check_id, check in checks.items()}}
    (tmp_path / "request.json").write_text(transport.dumps(request))
    done = subprocess.run([sys.executable, "-c", RUNNER, str(tmp_path / "request.json"), str(tmp_path / "out.json")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    results = transport.loads((tmp_path / "out.json").read_bytes())

    for name, expected in {"reference": {}, **EXPECTED}.items():
        for check_id, check in checks.items():
            output = results[name][check_id]
            if check_id != "q1.availability":
                assert output["kind"] == "real" and output["device"].startswith("cuda"), output["device"]
            verdict = check.judge(JudgeCase(student=output, reference=None, inputs=inputs[check_id]))
            want = expected.get(check_id)
            if want is None:
                assert verdict.passed, f"{name} {check_id}: {verdict.message}"
            else:
                assert not verdict.passed and verdict.diagnosis == want, \
                    f"{name} {check_id}: {verdict.diagnosis} != {want}: {verdict.message}"


@pytest.mark.parametrize("message, forward, diagnosis", [
    # torch 2.13's device check in a CUDA kernel's wrapper (the format is in libtorch_cpu.so)
    ("Expected all tensors to be on the same device, but got target is on cpu, different from other tensors on "
     "cuda:0 (when checking argument in method wrapper_CUDA_nll_loss_forward)",
     {"training": True, "input": "cuda:0", "weights": "cuda:0"}, "batch-not-on-device"),
    ("Expected all tensors to be on the same device, but got mat1 is on cuda:0, different from other tensors on "
     "cpu (when checking argument in method wrapper_CUDA_addmm)",
     {"training": True, "input": "cuda:0", "weights": "cpu"}, "model-not-on-device"),
    # TensorIterator's check (an in-place add into a CPU tensor)
    ("Expected all tensors to be on the same device, but found at least two devices, cuda:0 and cpu!",
     {"training": True, "input": "cuda:0", "weights": "cuda:0"}, "tensor-created-without-device"),
    ("can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() to copy the tensor to host memory first.",
     {"training": True, "input": "cuda:0", "weights": "cuda:0"}, "numpy-on-device-tensor"),
])
def test_real_device_errors_are_read_like_the_simulators_events(message, forward, diagnosis):
    """What the probes make of CUDA's own errors (no GPU needed: only the reading is tested here)."""
    from tensorgrade.checking.inside.training_probes import Devices  # a4's device checks, in the vocabulary
    from tensorgrade.checking.outside.training_judges import judge_on_device

    devices = Devices({"real_device": "cuda:0"})
    assert devices.sim is None and str(devices.device) == "cuda:0"
    error = {"type": "TypeError" if "numpy" in message else "RuntimeError", "message": message}
    output = {"kind": "real", "device": "cuda:0", "subject": "fit", "cpu": {"value": [2.3], "parameters": {}},
              "run": {"error": error, "events": devices.events(error), "value": None, "parameters": None,
                      "forward": forward, "loss": None, "model_on_device": False, "model_given_on_device": False}}
    verdict = judge_on_device(JudgeCase(student=output, reference=None, inputs={}))
    assert not verdict.passed and verdict.diagnosis == diagnosis, verdict.message
    if diagnosis == "batch-not-on-device":
        assert verdict.message.startswith("labels are on cpu while the model is on cuda:0, in nll_loss_forward")
