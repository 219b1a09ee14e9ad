"""The simulated accelerator: CPU-identical numbers, CUDA's device errors, recorded device mistakes.

Installing the simulated device is process-wide and irreversible, so every scenario runs in a fresh
Python process and reports plain JSON back.
"""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

MISMATCH = "Expected all tensors to be on the same device, but found at least two devices, "

PRELUDE = '''
import json
import torch
from torch import nn
from tensorgrade.checking.inside.devicesim import DeviceEvent, SimulatedAccelerator

sim = SimulatedAccelerator.install(name="gpu", cuda_available=CUDA_AVAILABLE)
result = {}

def error_of(action):
    try:
        action()
    except Exception as error:
        return {"type": type(error).__name__, "message": str(error)}
    return None

def events():
    assert all(isinstance(e, DeviceEvent) for e in sim.events)
    return [{"kind": e.kind, "message": e.message, "op": e.op} for e in sim.events]

def build_classifier():
    return nn.Sequential(nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10))

def make_loader():
    generator = torch.Generator().manual_seed(1)
    images = torch.rand(64, 784, generator=generator)
    labels = torch.randint(0, 10, (64,), generator=generator)
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images, labels), batch_size=16)

def train_one_epoch(model, loader, loss_fn, optimizer, device, move_images=True, move_labels=True):
    model.train()
    total = 0.0
    for images, labels in loader:
        if move_images:
            images = images.to(device)
        if move_labels:
            labels = labels.to(device)
        optimizer.zero_grad()
        loss = loss_fn(model(images), labels)
        loss.backward()
        optimizer.step()
        total += loss.item()
    return total / len(loader)

def evaluate(model, loader, device):
    model.eval()
    correct, count = 0.0, 0
    with torch.no_grad():
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            predicted = model(images).argmax(dim=1)
            correct += (predicted == labels).float().sum().item()
            count += len(labels)
    return correct / count
'''


def run_scenario(body: str, cuda_available: bool = True) -> dict:
    code = PRELUDE.replace("CUDA_AVAILABLE", str(cuda_available)) + textwrap.dedent(body)
    code += "\nprint(json.dumps(result))\n"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def single_mismatch(result: dict) -> dict:
    assert result["error"]["type"] == "RuntimeError"
    assert result["error"]["message"].startswith(MISMATCH)
    [event] = result["events"]
    assert event["kind"] == "device-mismatch" and event["message"] == result["error"]["message"]
    return event


def test_training_on_the_simulated_device_is_bit_identical_to_cpu():
    result = run_scenario('''
        def train(device, optimizer_class):
            torch.manual_seed(0)
            model = build_classifier().to(device)
            optimizer = optimizer_class(model.parameters(), lr=0.01)
            images, labels = next(iter(make_loader()))
            losses = []
            for _ in range(20):
                optimizer.zero_grad()
                loss = nn.functional.cross_entropy(model(images.to(device)), labels.to(device))
                loss.backward()
                optimizer.step()
                losses.append(loss.item())
            return losses, model

        with sim.active():
            for optimizer_class in (torch.optim.SGD, torch.optim.Adam):
                cpu_losses, _ = train("cpu", optimizer_class)
                device_losses, model = train(sim.device, optimizer_class)
                result[optimizer_class.__name__] = {
                    "cpu": cpu_losses, "device": device_losses,
                    "model_on_device": sim.is_on_device(model),
                    "grads_on_device": all(sim.is_on_device(p.grad) for p in model.parameters()),
                }
        result["events"] = events()
    ''')
    for name in ("SGD", "Adam"):
        run = result[name]
        assert len(run["cpu"]) == 20 and run["cpu"][-1] < run["cpu"][0]
        assert run["device"] == run["cpu"]
        assert run["model_on_device"] and run["grads_on_device"]
    assert result["events"] == []


def test_correct_train_loop_and_evaluation_record_no_events():
    result = run_scenario('''
        with sim.active():
            torch.manual_seed(0)
            model = build_classifier().to(sim.device)
            optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
            loader = make_loader()
            losses = [train_one_epoch(model, loader, nn.CrossEntropyLoss(), optimizer, sim.device) for _ in range(3)]
            accuracy = evaluate(model, loader, sim.device)
            result.update(losses=losses, accuracy=accuracy, on_device=sim.is_on_device(model),
                          training=model.training, device=str(sim.device))
        result["events"] = events()
    ''')
    assert result["device"] == "gpu:0"
    assert all(isinstance(loss, float) for loss in result["losses"]) and result["losses"][-1] < result["losses"][0]
    assert 0.0 <= result["accuracy"] <= 1.0
    assert result["on_device"] and result["training"] is False
    assert result["events"] == []


def test_model_not_moved_raises_cuda_style_mismatch_naming_the_op():
    result = run_scenario('''
        with sim.active():
            model = build_classifier()
            optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
            result["error"] = error_of(
                lambda: train_one_epoch(model, make_loader(), nn.CrossEntropyLoss(), optimizer, sim.device))
        result["events"] = events()
    ''')
    event = single_mismatch(result)
    assert event["op"] == "aten.addmm"
    assert result["error"]["message"] == (
        MISMATCH + "cpu and gpu:0! (in aten.addmm: argument 'mat1' is on gpu:0 while argument 'self' is on cpu)")


def test_batch_not_moved_raises_mismatch_naming_the_input():
    result = run_scenario('''
        with sim.active():
            model = build_classifier().to(sim.device)
            optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
            result["error"] = error_of(lambda: train_one_epoch(
                model, make_loader(), nn.CrossEntropyLoss(), optimizer, sim.device, move_images=False))
        result["events"] = events()
    ''')
    single_mismatch(result)
    assert result["error"]["message"] == (
        MISMATCH + "gpu:0 and cpu! (in aten.addmm: argument 'mat1' is on cpu while argument 'self' is on gpu:0)")


def test_labels_not_moved_raises_mismatch_in_the_loss():
    result = run_scenario('''
        with sim.active():
            model = build_classifier().to(sim.device)
            optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
            result["error"] = error_of(lambda: train_one_epoch(
                model, make_loader(), nn.CrossEntropyLoss(), optimizer, sim.device, move_labels=False))
        result["events"] = events()
    ''')
    event = single_mismatch(result)
    assert event["op"] == "aten.nll_loss_forward"
    assert "argument 'target' is on cpu while argument 'self' is on gpu:0" in result["error"]["message"]


def test_tensor_created_without_device_is_on_cpu_and_mixing_it_fails():
    result = run_scenario('''
        with sim.active():
            logits = build_classifier().to(sim.device)(torch.rand(4, 784).to(sim.device))
            counts = torch.zeros(10)
            result["created_device"] = str(counts.device)
            result["scalar_mix"] = (logits * torch.tensor(2.0)).device.type
            result["error"] = error_of(lambda: counts + logits.softmax(dim=1).sum(dim=0))
        result["events"] = events()
    ''')
    assert result["created_device"] == "cpu"
    assert result["scalar_mix"] == "gpu"  # a 0-dim CPU tensor may mix in, as on CUDA
    event = single_mismatch(result)
    assert event["op"] == "aten.add"
    assert "argument 'other' is on gpu:0 while argument 'self' is on cpu" in result["error"]["message"]


def test_numpy_on_device_raises_cuda_style_type_error_while_item_and_tolist_work():
    result = run_scenario('''
        with sim.active():
            predicted = build_classifier().to(sim.device)(torch.rand(4, 784).to(sim.device)).argmax(dim=1)
            result["error"] = error_of(lambda: predicted.numpy())
            result["item"] = predicted[0].item()
            result["tolist"] = predicted.tolist()
            result["via_cpu"] = predicted.cpu().numpy().tolist()
            result["formatted"] = f"{predicted.float().mean():.2f}"
        result["events"] = events()
    ''')
    message = ("can't convert gpu:0 device type tensor to numpy. "
               "Use Tensor.cpu() to copy the tensor to host memory first.")
    assert result["error"] == {"type": "TypeError", "message": message}
    assert result["tolist"] == result["via_cpu"] and result["item"] == result["tolist"][0]
    assert float(result["formatted"]) >= 0
    assert result["events"] == [{"kind": "numpy-on-device", "message": message, "op": "torch.Tensor.numpy"}]


def test_hardcoded_cuda_and_mps_are_recorded_and_aliased():
    result = run_scenario('''
        def get_device():
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")

        with sim.active():
            result["is_available"] = torch.cuda.is_available()
            model = build_classifier().cuda()
            images = torch.rand(4, 784).to("cuda:0")
            labels = torch.zeros(4, dtype=torch.long, device="mps")
            other = build_classifier().to(get_device())
            loss = nn.functional.cross_entropy(model(images) + other(images), labels)
            result["loss_device"] = str(loss.device)
            result["on_device"] = [sim.is_on_device(model), sim.is_on_device(other), sim.is_on_device(images)]
            torch.rand(2).to("cuda:0")  # the same mistake again: still one event
        result["is_available_after"] = torch.cuda.is_available()
        result["events"] = events()
    ''')
    assert result["is_available"] is True and result["is_available_after"] is False
    assert result["loss_device"] == "gpu:0" and result["on_device"] == [True, True, True]
    assert result["events"] == [
        {"kind": "hardcoded-cuda", "message": "model.cuda()", "op": "torch.nn.Module.cuda"},
        {"kind": "hardcoded-cuda", "message": "tensor.to('cuda:0')", "op": "torch.Tensor.to"},
        {"kind": "hardcoded-cuda", "message": "torch.zeros(..., device='mps')", "op": "torch.zeros"},
        {"kind": "hardcoded-cuda", "message": "model.to(torch.device('cuda'))", "op": "torch.nn.Module.to"},
    ]


def test_without_simulated_cuda_a_cuda_request_fails_as_on_a_cpu_machine():
    result = run_scenario('''
        with sim.active():
            result["is_available"] = torch.cuda.is_available()
            result["tensor_error"] = error_of(lambda: torch.rand(2).to("cuda"))
            result["model_error"] = error_of(lambda: build_classifier().cuda())
        result["events"] = events()
    ''', cuda_available=False)
    assert result["is_available"] is False
    for error in (result["tensor_error"], result["model_error"]):
        assert "Torch not compiled with CUDA enabled" in error["message"]
    assert [(e["kind"], e["message"]) for e in result["events"]] == [
        ("hardcoded-cuda", "tensor.to('cuda')"), ("hardcoded-cuda", "model.cuda()")]


def test_moving_helpers_and_module_to_keep_parameters_like_cuda():
    result = run_scenario('''
        x = torch.arange(6.0).reshape(2, 3)
        moved = sim.to_device({"a": [x, 3], "b": (x,)})
        back = sim.to_cpu(moved)
        model = build_classifier()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)  # built before .to(), as students do
        first_weight = model[0].weight
        with sim.active():
            model.to(sim.device)
            loss = model(torch.rand(2, 784, device=sim.device)).sum()
            loss.backward()
            optimizer.step()
        result.update(
            moved=[sim.is_on_device(moved["a"][0]), moved["a"][1], sim.is_on_device(moved["b"][0])],
            back=[back["a"][0].device.type, torch.equal(back["b"][0], x)],
            same_parameter=model[0].weight is first_weight,
            parameter=isinstance(model[0].weight, nn.Parameter),
            stepped=sim.is_on_device(model[0].weight.grad),
            repr=repr(torch.ones(2, device=sim.device)),
            factories=[tuple(t.shape) for t in (torch.arange(5, device=sim.device), torch.eye(3, device="gpu"),
                                                torch.tensor([[1, 2]], device="gpu:0"))],
        )
    ''')
    assert result["moved"] == [True, 3, True] and result["back"] == ["cpu", True]
    assert result["same_parameter"] and result["parameter"] and result["stepped"]
    assert result["repr"] == "tensor([1., 1.], device='gpu:0')"
    assert result["factories"] == [[5], [3, 3], [1, 2]]


def test_install_is_explicit_idempotent_and_fixed_per_process():
    code = '''
import json, torch
import tensorgrade.checking.inside.devicesim as devicesim
renamed_at_import = torch._C._get_privateuse1_backend_name() != "privateuseone"
sim = devicesim.SimulatedAccelerator.install(name="gpu", cuda_available=True)
again = devicesim.SimulatedAccelerator.install(name="gpu", cuda_available=True)
try:
    devicesim.SimulatedAccelerator.install(name="gpu", cuda_available=False)
    changed = "allowed"
except ValueError:
    changed = "refused"
print(json.dumps({"renamed_at_import": renamed_at_import, "same": sim is again, "changed": changed,
                  "device": str(sim.device)}))
'''
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout) == {"renamed_at_import": False, "same": True, "changed": "refused",
                                       "device": "gpu:0"}


def test_backward_on_the_device_starts_no_autograd_thread_and_the_process_exits_cleanly():
    # Autograd's per-device threads made about every other such process abort at exit; none may start.
    result = run_scenario('''
        import os, threading

        def backward():
            with sim.active():
                nn.Linear(3, 2).to(sim.device)(torch.ones(1, 3, device=sim.device)).sum().backward()

        worker = threading.Thread(target=backward)
        worker.start()
        worker.join()
        backward()
        weights = torch.ones(2, device=sim.device, requires_grad=True)  # alive, with its gradient, at exit
        weights.sum().backward()
        tasks = os.listdir("/proc/self/task")
        result["threads"] = [open(f"/proc/self/task/{task}/comm").read().strip() for task in tasks]
        result["grad"] = weights.grad.tolist()
    ''')
    assert result["grad"] == [1.0, 1.0]
    assert not [name for name in result["threads"] if name.startswith("pt_autograd")]


def test_availability_can_be_set_per_block_and_hardcoded_devices_sent_to_the_cpu():
    # One process, one device, but a probe may ask both questions (get_device with and without CUDA)
    # and grade code with a hard-coded 'cuda:0' on the CPU while still recording it.
    result = run_scenario('''
        def get_device():
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")

        with sim.active(cuda_available=False):
            result["without"] = [str(get_device()), torch.cuda.device_count()]
            result["without_error"] = error_of(lambda: torch.rand(2).to("cuda:0"))
        with sim.active(cuda_available=True):
            result["with"] = [str(get_device()), torch.cuda.device_count(),
                              str(torch.rand(2).to("cuda:0").device)]
        sim.clear_events()
        with sim.active(cuda_available=False, hardcoded_to="cpu"):
            torch.manual_seed(0)
            model = build_classifier().cuda()
            images, labels = next(iter(make_loader()))
            loss = nn.functional.cross_entropy(model(images.to("cuda:0")), labels.to("mps"))
            result["cpu_run"] = [loss.device.type, next(model.parameters()).device.type,
                                 torch.zeros(2, device="cuda").device.type, torch.rand(2).cuda().device.type]
            result["cpu_events"] = events()
        torch.manual_seed(0)
        model = build_classifier()
        images, labels = next(iter(make_loader()))
        result["same_loss"] = loss.item() == nn.functional.cross_entropy(model(images), labels).item()
        result["is_available_after"] = torch.cuda.is_available()
    ''', cuda_available=True)
    assert result["without"] == ["cpu", 0]
    assert "Torch not compiled with CUDA enabled" in result["without_error"]["message"]
    assert result["with"] == ["cuda", 1, "gpu:0"]
    assert result["cpu_run"] == ["cpu", "cpu", "cpu", "cpu"] and result["same_loss"]
    assert [e["message"] for e in result["cpu_events"]] == [
        "model.cuda()", "tensor.to('cuda:0')", "tensor.to('mps')", "torch.zeros(..., device='cuda')", "tensor.cuda()"]
    assert result["is_available_after"] is False


def test_installing_and_training_change_no_class_a_grader_watches():
    # The grader's integrity reset compares torch's classes before and after each check: a device check
    # must leave them as they were after the import (which a worker does before its baseline).
    code = '''
import json, torch
import tensorgrade.checking.inside.devicesim as devicesim
watched = (torch.Tensor, torch.nn.Module, torch.nn.Parameter, torch.optim.Optimizer)
before = [dict(vars(c)) for c in watched]
sim = devicesim.SimulatedAccelerator.install(name="gpu", cuda_available=True)
with sim.active():
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4)).to(sim.device)
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    model(torch.ones(2, 3, device=sim.device)).sum().backward()
changed = sorted(f"{c.__name__}.{k}" for c, b in zip(watched, before)
                 for k in set(vars(c)) | set(b) if vars(c).get(k) is not b.get(k))
print(json.dumps({"changed": changed, "on_device": sim.is_on_device(model)}))
'''
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout) == {"changed": [], "on_device": True}


def test_legacy_cuda_tensor_types_work_on_the_simulated_device_as_on_a_gpu():
    result = run_scenario('''
        with sim.active():
            if torch.cuda.is_available():  # as a popular book's notebooks do
                torch.set_default_tensor_type(torch.cuda.FloatTensor)
            x = torch.zeros(3)
            result["default"] = [str(x.device), str(x.dtype), isinstance(x, torch.cuda.FloatTensor)]
            result["layer"] = str(nn.Linear(3, 2).weight.device)
            result["constructed"] = str(torch.cuda.LongTensor([1, 2]).dtype)
            result["type"] = [str(torch.ones(2).cpu().type(torch.cuda.DoubleTensor).device),
                              str(torch.ones(2).cpu().type("torch.cuda.DoubleTensor").dtype)]
            torch.set_default_tensor_type(torch.FloatTensor)
            result["back"] = str(torch.zeros(1).device)
            torch.set_default_tensor_type(torch.cuda.FloatTensor)
        # leaving the block leaves torch as it was: CPU defaults, the real types, Tensor.type inherited
        result["after"] = [str(torch.zeros(1).device), str(torch.get_default_dtype()),
                           torch.cuda.FloatTensor.__module__, "type" in vars(torch.Tensor)]
        result["events"] = events()
    ''')
    assert result["default"] == ["gpu:0", "torch.float32", True] and result["layer"] == "gpu:0"
    assert result["constructed"] == "torch.int64" and result["type"] == ["gpu:0", "torch.float64"]
    assert result["back"] == "cpu"
    assert result["after"] == ["cpu", "torch.float32", "torch.cuda", False] and result["events"] == []


def test_an_a4_submission_that_sets_the_legacy_cuda_default_type_gets_full_marks(tmp_path):
    import nbformat

    from tensorgrade.course.assignment import load_assignment
    from tensorgrade.grading.grader import Grader

    root = Path(__file__).resolve().parent.parent
    notebook = nbformat.read(root / "solutions" / "a4_training" / "solution.ipynb", as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code" and "def get_device" in cell.source:
            cell.source = ("def get_device():\n    if torch.cuda.is_available():\n"
                           "        torch.set_default_tensor_type(torch.cuda.FloatTensor)\n"
                           "        return torch.device('cuda')\n    return torch.device('cpu')")
    nbformat.write(notebook, tmp_path / "legacy.ipynb")
    assignment = load_assignment(root / "assignments" / "a4_training", root / "solutions" / "a4_training")
    with Grader(assignment) as grader:
        result = grader.grade(tmp_path / "legacy.ipynb")
    assert result.status == "graded" and result.score == result.max_score, [
        (c.id, c.status, c.message) for c in result.checks if c.status != "passed"]
