"""Course content: what each known mistake is, in a sentence, and which lecture idea it is about."""

from __future__ import annotations

from dataclasses import dataclass


# ---------------------------------------------------------------------------------------------
# Known diagnoses: what the mistake is, in a sentence, and which lecture idea it is about
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Diagnosis:
    title: str
    explanation: str
    lecture: str


KNOWN_DIAGNOSES: dict[str, Diagnosis] = {
    "not-defined": Diagnosis(
        "A name the check needs is not defined",
        "The check looks up a function or class by the exact name the assignment gives; it is missing, "
        "misspelt, or the cell defining it raised before the definition ran.",
        "The assignment's fixed names and signatures"),
    "not-implemented": Diagnosis(
        "Not implemented yet",
        "The function still raises the template's NotImplementedError: replace the stub "
        "(`# YOUR CODE HERE` / `raise NotImplementedError()`) with your code.",
        "The assignment notebook: every stub is to be replaced"),
    "forgot-zero-grad": Diagnosis(
        "Gradients are never reset",
        "PyTorch adds each backward() into `.grad`, so without a reset every step uses the sum of all "
        "earlier gradients and training oscillates or diverges; reset them every step.",
        "Training loops: zero_grad / forward / loss / backward / step"),
    "no-save-for-backward": Diagnosis(
        "Input not saved with ctx.save_for_backward",
        "Tensors backward needs must be saved in forward with `ctx.save_for_backward(...)` and read back "
        "with `ctx.saved_tensors`; plain ctx attributes escape autograd's in-place checks and leak memory.",
        "Custom autograd Functions: ctx.save_for_backward and ctx.saved_tensors"),
    "wrong-gradient-sign": Diagnosis(
        "Gradient with the wrong sign",
        "backward returns the negated derivative, so every gradient through it points the wrong way; "
        "by the chain rule backward returns grad_output * f'(input).",
        "Custom autograd Functions: backward and the chain rule"),
    "backward-missing-factor": Diagnosis(
        "A constant factor is missing from backward",
        "Every gradient is off by the same constant factor: a factor of the derivative was dropped; "
        "differentiate the forward formula term by term.",
        "Custom autograd Functions: backward is the derivative of forward"),
    "wrong-gradient-shape": Diagnosis(
        "Gradient of the wrong shape",
        "backward must return one gradient per input, each with that input's shape; autograd may hide "
        "a wrong shape by summing it away.",
        "Custom autograd Functions: one input-shaped gradient per input"),
    "wrong-update-sign": Diagnosis(
        "The update climbs the gradient",
        "Gradient descent subtracts: `p -= learning_rate * p.grad`; adding it makes the loss grow.",
        "Gradient descent by hand, inside torch.no_grad()"),
    "parameters-not-registered": Diagnosis(
        "Parameters are not registered",
        "Tensors assigned as plain attributes are not parameters: wrap them in `torch.nn.Parameter` so "
        "`model.parameters()`, the optimizer and `.to(device)` see them.",
        "nn.Module: nn.Parameter and model.parameters()"),
    "model-not-on-device": Diagnosis(
        "The model is not on the device",
        "The model's parameters stay on the CPU while the data is on the device; move it once with "
        "`model.to(device)`.",
        "Training on any device: model.to(device)"),
    "batch-not-on-device": Diagnosis(
        "The batch is not moved to the device",
        "Each batch from the DataLoader starts on the CPU; move the inputs with `.to(device)` inside the "
        "loop, before the forward pass.",
        "Training on any device: moving each batch"),
    "labels-not-on-device": Diagnosis(
        "The labels are not moved to the device",
        "The loss compares logits on the device with labels still on the CPU; move the labels with "
        "`.to(device)` too.",
        "Training on any device: moving each batch"),
    "hardcoded-cuda": Diagnosis(
        "A hard-coded 'cuda' device",
        "`'cuda:0'` fails on machines without that GPU; use the `device` you are given "
        "(or `get_device()`) everywhere.",
        "Training on any device: the classic 'cuda:0' and mps mistakes"),
    "tensor-created-without-device": Diagnosis(
        "A tensor created on the CPU",
        "A tensor created without `device=` lives on the CPU and cannot meet device tensors; pass "
        "`device=...` (or use `*_like`).",
        "Training on any device: factory functions take device="),
    "numpy-on-device-tensor": Diagnosis(
        "`.numpy()` on a device tensor",
        "Only CPU tensors convert to NumPy; call `.cpu()` (and `.detach()`) first, or use `.item()` "
        "for a single number.",
        "Training on any device: getting results back to the CPU"),
    "missing-no-grad": Diagnosis(
        "Evaluation builds a graph",
        "Evaluation should run inside `torch.no_grad()` (or inference mode): no graph, less memory, "
        "no accidental gradient updates.",
        "Evaluation: torch.no_grad()"),
    "missing-eval-mode": Diagnosis(
        "The model is not in eval mode",
        "Call `model.eval()` before evaluating so dropout and batch norm behave deterministically "
        "(and `model.train()` before training again).",
        "Evaluation: model.eval()"),
    "missing-train-mode": Diagnosis(
        "The model is not in training mode",
        "Call `model.train()` at the start of each epoch: a model left in eval mode trains without "
        "dropout and with frozen batch-norm statistics.",
        "Training loops: model.train()"),
    "zero-grad-after-backward": Diagnosis(
        "Gradients are reset before the step uses them",
        "`optimizer.zero_grad()` between `loss.backward()` and `optimizer.step()` empties the gradients "
        "the step needs, so nothing is learned; reset them before `backward()` (or after `step()`).",
        "Training loops: zero_grad / forward / loss / backward / step"),
    "sum-not-mean": Diagnosis(
        "The epoch's loss is a sum, not a mean",
        "Adding up the batch losses gives a number that grows with the number of batches; divide by "
        "`len(loader)` to get the mean loss per batch.",
        "Training loops: reporting the mean loss of an epoch"),
    "returns-tensor": Diagnosis(
        "A tensor returned where a Python float is expected",
        "Adding up `loss` tensors keeps every batch's computation graph alive and returns a tensor; "
        "add up `loss.item()`, a Python float, instead.",
        "Training loops: loss.item()"),
    "softmax-output": Diagnosis(
        "The model ends with a softmax",
        "`nn.CrossEntropyLoss` applies log-softmax itself and expects raw scores (logits); a softmax "
        "before it squashes the gradients and training stalls. Remove the final softmax.",
        "Classifiers: logits and nn.CrossEntropyLoss"),
    "get-device-ignores-availability": Diagnosis(
        "get_device() does not ask what is available",
        "Return `torch.device('cuda')` only when `torch.cuda.is_available()` is True, else "
        "`torch.device('cpu')`: a fixed answer is wrong on every other machine.",
        "Training on any device: choosing the device"),
    "image-not-normalized": Diagnosis(
        "Pixels are not scaled to [0, 1]",
        "MNIST pixels are 0..255; divide by 255 and return float32 so the image is in [0, 1].",
        "Dataset and DataLoader: __getitem__ returns model-ready tensors"),
    "not-one-hot": Diagnosis(
        "The target is not one-hot",
        "The target must be a float32 tensor of shape (10,) with a single 1 at the label's index.",
        "Dataset and DataLoader: one-hot targets"),
    "one-hot-not-float": Diagnosis(
        "The one-hot target is not float32",
        "`torch.nn.functional.one_hot` returns int64; a one-hot target is compared with float outputs, "
        "so convert it with `.float()` (or build it from `torch.zeros(10)`).",
        "Dataset and DataLoader: one-hot targets"),
    "image-not-float32": Diagnosis(
        "The image is not float32",
        "NumPy computes in float64 and `torch.from_numpy` keeps that dtype, while a model's weights are "
        "float32; convert with `.float()` or `torch.tensor(..., dtype=torch.float32)`.",
        "Dataset and DataLoader: __getitem__ returns model-ready tensors"),
    "label-not-int": Diagnosis(
        "The label is not a Python int",
        "Indexing a NumPy array gives a NumPy scalar (and a tensor a 0-d tensor), not an int; convert the "
        "label with `int(...)`.",
        "Dataset and DataLoader: __getitem__ returns model-ready items"),
    "first-row-skipped": Diagnosis(
        "The first line is skipped as a header",
        "The MNIST CSV has no header line: skipping its first line (`skiprows=1`, `next(reader)`, "
        "`pandas.read_csv` without `header=None`) loses a digit and shifts every item by one.",
        "Dataset and DataLoader: reading the CSV"),
    "reads-file-every-item": Diagnosis(
        "The file is read again for every item",
        "`__getitem__` runs once per item, every epoch: parse the CSV once in `__init__`, keep it in "
        "memory and only index into it in `__getitem__`.",
        "Dataset and DataLoader: load once, index many times"),
    "loader-ignores-batch-size": Diagnosis(
        "make_loader ignores batch_size",
        "Pass `batch_size=batch_size` on to `DataLoader`, whose default batch size is 1.",
        "Dataset and DataLoader: batches"),
    "loader-ignores-shuffle": Diagnosis(
        "make_loader ignores shuffle",
        "Pass `shuffle=shuffle` on to `DataLoader`: a new random order every epoch for training, the "
        "dataset's order for evaluation.",
        "Dataset and DataLoader: shuffling"),
    # a6_tensorflow
    "missing-bias": Diagnosis(
        "The bias is left out",
        "An affine model is `inputs @ W + b`; without `+ b` every prediction line passes through the "
        "origin, and `tape.gradient` returns None for the unused `b`.",
        "TensorFlow: a linear classifier, prediction = inputs @ W + b"),
    "square-loss-not-mean": Diagnosis(
        "The loss is summed, not averaged",
        "`tf.reduce_sum` makes the loss and its gradients N times larger than the mean squared error, "
        "so a learning rate that suits the mean makes training diverge; use `tf.reduce_mean`.",
        "TensorFlow: the mean squared error with tf.square and tf.reduce_mean"),
    "no-in-place-update": Diagnosis(
        "The variables are never updated",
        "`W = W - learning_rate * grad` only gives the function's local name a new tensor; the caller's "
        "`tf.Variable` changes only through `W.assign_sub(learning_rate * grad)` (or `assign`).",
        "TensorFlow: tf.Variable and assign_sub"),
    "activation-not-applied": Diagnosis(
        "The activation is not applied",
        "A dense layer computes `activation(inputs @ W + b)`; without the activation every layer is "
        "linear, and a stack of linear layers is one linear map.",
        "TensorFlow: NaiveDense, a dense layer from scratch"),
    "sequential-weights-nested": Diagnosis(
        "The weights are a list of lists",
        "`weights` is one flat list `[W1, b1, W2, b2, ...]`, as `tape.gradient` and an optimizer expect; "
        "extend the list with each layer's weights instead of appending the layer's list.",
        "TensorFlow: NaiveSequential and its weights"),
}


def explain(name: str | None, assignment=None) -> dict | None:
    """The explanation of a diagnosis: title, sentence, lecture idea, and the assignment's own
    explanation of that mistake (its mistake file's leading comment) where it has one."""
    if not name:
        return None
    known = KNOWN_DIAGNOSES.get(name)
    mistake = ""
    for candidate in getattr(assignment, "mistakes", None) or []:
        if candidate.name == name:
            mistake = candidate.explanation
    return {"name": name,
            "title": known.title if known else name.replace("-", " ").replace("_", " ").capitalize(),
            "explanation": known.explanation if known else "",
            "lecture": known.lecture if known else "",
            "mistake": mistake}
