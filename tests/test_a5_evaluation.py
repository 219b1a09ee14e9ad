"""a5_evaluation beyond the sample gradings of test_course.py: the held-out labels never enter a
sandbox, the held-out accuracy is computed by the judge, and the device checks work on a real GPU
(skipped without CUDA) exactly as they do on the simulated one.

The device checks' harness runs the public device probes outside the sandbox, on the answer cells of
the samples and of the reference, in a process of its own (`python tests/test_a5_evaluation.py
[real device]`): the simulated accelerator installs itself process-wide, and a GPU is not visible
inside the sandbox.
"""

import importlib.util
import json
import linecache
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
A5 = "a5_evaluation"
DEVICE_CHECKS = ("q1.device", "q2.device", "q3.device")


def _assignment():
    from tensorgrade.course.assignment import load_assignment

    return load_assignment(ROOT / "assignments" / A5)


def _arrays(value, path="inputs"):
    """Every numpy array in decoded probe data, with where it is."""
    if isinstance(value, np.ndarray):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _arrays(item, f"{path}[{key!r}]")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _arrays(item, f"{path}[{index}]")


def test_probe_inputs_never_hold_held_out_labels(tmp_path):
    import base64

    from tensorgrade.sandbox import transport
    from tensorgrade.course.datasets import held_out_rows, student_rows
    from tensorgrade.sandbox.host.jobs import write_job
    from tensorgrade.grading.grader import build_job, draw_all_inputs

    assignment = _assignment()
    held_out, students = held_out_rows(), student_rows()
    secret_labels = held_out.labels
    encodings = {base64.b64encode(secret_labels.astype(dtype).tobytes()).decode()
                 for dtype in ("int64", "int32", "uint8")}
    student_images = {row.tobytes() for row in students.pixels}
    for seed in (assignment.secret_seed, 1, 2):
        inputs = draw_all_inputs(assignment, seed)
        # What the sandbox receives: the job's probe payload, exactly as written for a worker.
        job = build_job(assignment, [(0, "pass")], inputs)
        folder = tmp_path / str(seed)
        folder.mkdir()
        write_job(folder, job)
        payload_text = (folder / "probes.json").read_text()
        assert not any(encoded in payload_text for encoded in encodings)
        payload = transport.loads(payload_text)
        for call in payload["calls"]:
            for where, array in _arrays(call["inputs"], f"{call['check']} inputs"):
                if array.dtype.kind in "iu" and array.ndim == 1 and len(array) >= 100:
                    assert not np.array_equal(array, secret_labels[:len(array)]), where
                    assert not np.array_equal(np.sort(array), np.sort(secret_labels)) or len(array) != 1000, where
        held = inputs["q3.held_out"]
        # what the sandbox gets besides the check's call (`_call`): no labels of the held-out rows
        assert sorted(k for k in held if not k.startswith("_")) == ["batch_size", "images", "train_labels", "train_pixels"]
        assert np.array_equal(held["images"], held_out.pixels)  # the judge's labels line up with these
        assert all(row.tobytes() in student_images for row in held["train_pixels"])  # training: students' rows
        for check, value in inputs.items():
            if check != "q3.held_out":
                for where, array in _arrays(value, check):
                    if array.dtype == np.uint8 and array.ndim == 2:
                        assert all(row.tobytes() in student_images for row in array), where


def test_held_out_accuracy_is_computed_by_the_judge():
    from tensorgrade.course.datasets import held_out_rows
    from tensorgrade.checking.outside.judging import JudgeCase

    assignment = _assignment()
    check = assignment.implementations["q3.held_out"]
    labels = held_out_rows().labels
    threshold = json.loads((ROOT / "solutions" / A5 / "thresholds.json").read_text())["q3.held_out"]["value"]

    def output(predictions):
        return {"kind": {"type": "torch.nn.modules.container.Sequential"}, "seconds": 1.0,
                "logits": {"type": "torch.Tensor", "shape": str((len(labels), 10)), "dtype": "torch.float32"},
                "predictions": predictions}

    reference = output(labels.copy())
    inputs = {"images": np.zeros((len(labels), 784), dtype=np.uint8)}
    wrong = labels.copy()
    wrong[: int(len(labels) * (1 - threshold)) + 20] = (wrong[: int(len(labels) * (1 - threshold)) + 20] + 1) % 10
    right = labels.copy()
    right[: int(len(labels) * (1 - threshold)) - 20] = (right[: int(len(labels) * (1 - threshold)) - 20] + 1) % 10
    assert check.judge(JudgeCase(output(right), reference, inputs)).passed
    verdict = check.judge(JudgeCase(output(wrong), reference, inputs))
    assert not verdict.passed and f"below the threshold {threshold:.3f}" in verdict.message
    chance = check.judge(JudgeCase(output(np.zeros_like(labels)), reference, inputs))
    assert not chance.passed and "chance level" in chance.message
    not_a_model = dict(output(None), kind={"type": "builtins.NoneType"})
    assert "should return the trained model" in check.judge(JudgeCase(not_a_model, reference, inputs)).message


# --- device checks, simulated and real -------------------------------------------------------------

# (sample, check) -> diagnosis; None: the check passes. The hard-coded devices are named only where
# the given device is not the hard-coded one: on the simulated `gpu:0`, not on a real `cuda:0`.
EXPECTED = {
    ("correct", "q1.device"): None, ("correct", "q2.device"): None, ("correct", "q3.device"): None,
    ("correct_alt", "q2.device"): None, ("correct_alt", "q3.device"): None,
    ("batch_not_on_device", "q2.device"): "batch-not-on-device",
    ("labels_not_on_device", "q3.device"): "batch-not-on-device",
    ("model_not_on_device", "q3.device"): "model-not-on-device",
    ("tensor_without_device", "q2.device"): "tensor-created-without-device",
    ("numpy_on_device", "q1.device"): "numpy-on-device-tensor",
}
SIMULATED_ONLY = {
    ("hardcoded_cuda", "q3.device"): "hardcoded-cuda",
    ("hardcoded_cuda0", "q2.device"): "hardcoded-cuda",
    ("hardcoded_mps", "q3.device"): "hardcoded-cuda",
    ("cuda_call", "q2.device"): "hardcoded-cuda",
}


def run_device_checks(real_device: str | None) -> dict[str, dict]:
    """In this process: the device probes on the samples' and the reference's answers, judged."""
    import nbformat

    from tensorgrade.sandbox import transport
    from tensorgrade.grading.grader import draw_all_inputs
    from tensorgrade.checking.outside.judging import JudgeCase

    assignment = _assignment()
    inputs = draw_all_inputs(assignment, assignment.secret_seed)
    probes = types.ModuleType("a5_public_probes")
    exec(compile(assignment.probe_sources["public"], "<probes:public>", "exec"), probes.__dict__)

    def namespace(path: Path) -> dict:
        ns: dict = {"__name__": "__main__"}
        cells = nbformat.read(path, as_version=4).cells
        imports = next(c for c in cells if c.metadata.get("tensorgrade", {}).get("given"))  # the first given cell
        for cell in cells:
            meta = cell.metadata.get("tensorgrade", {})
            if cell.cell_type == "code" and (cell is imports or meta.get("answer")):
                # Named like a notebook cell, so that the probes quote the student's line as in grading.
                filename = f"<ipython-input-{path.stem}-{cell.get('id')}>"
                linecache.cache[filename] = (len(cell.source), None, cell.source.splitlines(True), filename)
                exec(compile(cell.source, filename, "exec"), ns)
        return ns

    def probe(ns: dict, check: str):
        implementation = assignment.implementations[check]
        data = dict(inputs[check], **({"real_device": real_device} if real_device else {}))
        return transport.loads(transport.dumps(getattr(probes, implementation.probe)(ns, data)))

    wanted = {**EXPECTED, **({} if real_device else SIMULATED_ONLY)}
    reference_ns = namespace(ROOT / "solutions" / A5 / "solution.ipynb")
    reference = {check: probe(reference_ns, check) for check in DEVICE_CHECKS}
    results = {}
    for sample in sorted({sample for sample, _ in wanted}):
        ns = namespace(ROOT / "solutions" / A5 / "samples" / f"{sample}.ipynb")
        for check in sorted(c for s, c in wanted if s == sample):
            output = probe(ns, check)
            verdict = assignment.implementations[check].judge(JudgeCase(output, reference[check], inputs[check]))
            results[f"{sample} {check}"] = {"passed": verdict.passed, "diagnosis": verdict.diagnosis,
                                           "message": verdict.message, "device": output["device"]}
    return results


def _device_checks_in_subprocess(real_device: str | None) -> dict[str, dict]:
    argv = [sys.executable, str(Path(__file__).resolve()), *([real_device] if real_device else [])]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _assert_expected(results: dict, expected: dict, device: str) -> None:
    assert set(results) == {f"{sample} {check}" for sample, check in expected}
    for (sample, check), diagnosis in expected.items():
        result = results[f"{sample} {check}"]
        assert result["device"] == device
        assert result["passed"] == (diagnosis is None), (sample, check, result["message"])
        assert result["diagnosis"] == diagnosis, (sample, check, result["message"])


def test_device_checks_on_the_simulated_device_outside_the_sandbox():
    # The harness of the real-GPU test below, run where there is no GPU, so that it is known to work.
    results = _device_checks_in_subprocess(None)
    _assert_expected(results, {**EXPECTED, **SIMULATED_ONLY}, "gpu:0")
    assert "labels are on cpu while the model is on gpu:0" in results["labels_not_on_device q3.device"]["message"]
    assert "aten.nll_loss_forward" in results["labels_not_on_device q3.device"]["message"]


def _cuda_available() -> bool:
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return torch.cuda.is_available()


@pytest.mark.skipif(not _cuda_available(), reason="no CUDA device: the device checks run on the simulated one")
def test_device_checks_on_real_cuda():
    results = _device_checks_in_subprocess("cuda")
    _assert_expected(results, EXPECTED, "cuda:0")
    assert "labels are on cpu while the model is on cuda:0" in results["labels_not_on_device q3.device"]["message"]


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    import torch

    torch.set_num_threads(1)  # as in the sandbox; a shared CI machine has few cores
    print(json.dumps(run_device_checks(sys.argv[1] if len(sys.argv) > 1 else None)))
