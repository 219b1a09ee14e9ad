# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     notebook_metadata_filter: tensorgrade
#   kernelspec: {display_name: Python 3, language: python, name: python3}
#   tensorgrade:
#     id: a4_training
#     title: A training loop that works on any device
#     version: "1.0"
#     secret_seed: 55751189
#     files: [data/mnist_train.csv]
#     # devicesim is imported (not installed) before the integrity baseline; see its docstring.
#     preload: [torch, numpy, matplotlib.pyplot, tensorgrade.checking.inside.devicesim]
#     limits: {cell_timeout: 60, check_timeout: 30, submission_timeout: 300}
# ---

# %% [markdown]
# # Assignment 4: a training loop that works on any device
#
# Every PyTorch training loop is the same five steps per batch:
#
# ```python
# optimizer.zero_grad()            # 1. forget the previous batch's gradients
# logits = model(images)           # 2. forward pass
# loss = loss_fn(logits, labels)   # 3. loss
# loss.backward()                  # 4. gradients of the loss, added into each p.grad
# optimizer.step()                 # 5. update the parameters
# ```
#
# The same loop must run on a laptop without a GPU, on a server with CUDA, and on the grader. That
# works only if the code never assumes where it runs: it asks which device is available, moves the
# model there once, moves every batch there, and never writes `'cuda:0'` or `'mps'` itself.
#
# 1. **`get_device`**: the device to train on;
# 2. **`build_classifier`**: a small network for MNIST digits;
# 3. **`train_one_epoch`**: one pass over the data, on the given device;
# 4. **`fit`**: several epochs, returning the loss curve.
#
# The grader also runs your functions on a (simulated) GPU and checks that they give the same numbers
# as on the CPU, so device mistakes show up even on a machine without one. Run the public checks at
# any time with `tensorgrade check a4_training.ipynb`. Only the functions named above are graded; add
# cells of your own freely.

# %% tags=["given"]
import numpy as np
import torch
from torch import nn
import matplotlib.pyplot as plt

torch.manual_seed(0)

# %% [markdown]
# ## The data
#
# `data/mnist_train.csv` holds 4000 MNIST digits, one per row: the label (0 to 9), then the 784 pixel
# values (0 to 255) of the 28 x 28 image. `mnist_loader` turns it into a `DataLoader` whose batches are
# `(images, labels)`: `images` float32 of shape `(B, 784)` scaled to `[0, 1]`, `labels` int64 of shape
# `(B,)`. Batches from a `DataLoader` are always on the CPU.

# %% tags=["given"]
DATA_FILE = "data/mnist_train.csv"


def mnist_loader(path=DATA_FILE, batch_size=64, shuffle=True, rows=None):
    """(images, labels) batches: images float32 (B, 784) in [0, 1], labels int64 (B,), on the CPU."""
    table = np.loadtxt(path, delimiter=",", dtype=np.int64, max_rows=rows)
    images = torch.tensor(table[:, 1:], dtype=torch.float32) / 255
    labels = torch.tensor(table[:, 0])
    dataset = torch.utils.data.TensorDataset(images, labels)
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=shuffle)

# %% [markdown]
# ## Q1 (2 points): which device?
#
# A tensor lives on a **device**: `cpu`, `cuda` (an NVIDIA GPU), `mps` (Apple silicon), ... Operations
# need all their tensors on the same device. Write `get_device()` that returns a **`torch.device`**:
# `torch.device("cuda")` when `torch.cuda.is_available()` says a GPU can be used, else
# `torch.device("cpu")`.
#
# Ask, do not assume: the grader calls your function both on a machine with CUDA and on one without,
# and expects the right answer on each.

# %% question="q1" title="get_device: CUDA when available, else CPU"
def get_device():
    ### BEGIN SOLUTION
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    ### END SOLUTION

# %% tags=["checks"]
from tensorgrade.authoring import *  # the check vocabulary (docs/authoring.md)

# Rows of the MNIST file students are given (`make data` writes it from datasets.student_rows(), never
# from the held-out rows). The device checks are public: a student sees what went wrong on a GPU they
# may not have.
MNIST = "data/mnist_train.csv"
returns_device("q1.returns_device", "get_device", description="returns a torch.device")
device_availability("q1.availability", "get_device",
                    description="device check: cuda when torch.cuda.is_available(), else cpu (simulated both ways)")

# %% [markdown]
# ## Q2 (2 points): a classifier
#
# Write `build_classifier()` returning an `nn.Module` that maps a batch of images of shape `(B, 784)`
# to **logits** of shape `(B, 10)`: one raw score per digit. A hidden layer or two with a ReLU is plenty,
# for example `nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))`.
#
# Do not end with a softmax: `nn.CrossEntropyLoss` takes raw scores and applies log-softmax itself.

# %% question="q2" title="build_classifier: (B, 784) images to (B, 10) logits"
def build_classifier():
    ### BEGIN SOLUTION
    return nn.Sequential(
        nn.Linear(784, 128),
        nn.ReLU(),
        nn.Dropout(0.2),
        nn.Linear(128, 10),
    )
    ### END SOLUTION

# %% tags=["checks"]
classifier_shapes("q2.shapes", "build_classifier()", batch_sizes=lambda rng: [1, int(rng.integers(2, 32)), 64],
                  data=csv_batches(MNIST, 64, 64),
                  description="(B, 784) -> (B, 10) float32 for several B; trainable parameters")

# %% tags=["hidden-checks"]
raw_logits("q2.logits", "build_classifier()", data=csv_batches(MNIST, 48, 48),
           batch_sizes=lambda rng: [int(rng.integers(2, 48))], description="outputs raw logits, not probabilities")

# %% [markdown]
# ## Q3 (6 points): one epoch
#
# Write `train_one_epoch(model, loader, loss_fn, optimizer, device)`: one pass over `loader`, the five
# steps above for each batch, and return the **mean loss** over the batches as a **Python float**.
#
# * The model is **already on `device`** when it is passed in (the caller moved it); each batch comes
#   from the `DataLoader` on the CPU, so move **both** the images and the labels:
#   `images, labels = images.to(device), labels.to(device)`.
# * Put the model in **training mode** first (`model.train()`): it may come straight from an evaluation
#   in eval mode, where dropout and batch norm do not train.
# * **Reset the gradients every step**: `backward()` *adds* into `p.grad`.
# * Call `loss_fn(logits, labels)` (an `nn.CrossEntropyLoss`).
# * Keep the running total as a Python number with `loss.item()`: adding up loss tensors keeps every
#   batch's graph in memory, and `.numpy()` fails on a GPU tensor. Do not create tensors inside the
#   loop without `device=`; do not write `'cuda'` anywhere: use `device`.

# %% question="q3" title="train_one_epoch: zero_grad / forward / loss / backward / step"
def train_one_epoch(model, loader, loss_fn, optimizer, device):
    ### BEGIN SOLUTION
    model.train()
    total = 0.0
    for images, labels in loader:
        images, labels = images.to(device), labels.to(device)
        optimizer.zero_grad()
        logits = model(images)
        loss = loss_fn(logits, labels)
        loss.backward()
        optimizer.step()
        total += loss.item()
    return total / len(loader)
    ### END SOLUTION

# %% tags=["checks"]
epoch_mean_loss("q3.mean_loss", "train_one_epoch", data=csv_batches(MNIST, 64, 16), lr=0.1,
                description="returns the mean batch loss as a Python float")
epoch_update("q3.update", "train_one_epoch", data=csv_batches(MNIST, 64, 16), lr=0.1,
             description="weights after one epoch match the reference's")
epoch_on_device("q3.device", "train_one_epoch", data=csv_batches(MNIST, 64, 16), lr=0.1, points=2,
                description="device check: trains on a (simulated) GPU, identical to the CPU, no device mistakes")

# %% tags=["hidden-checks"]
resets_gradients("q3.zero_grad", "train_one_epoch", data=csv_batches(MNIST, 96, 16), lr=0.1,
                 description="every step uses only its own batch's gradient")
trains_in_train_mode("q3.train_mode", "train_one_epoch", data=csv_batches(MNIST, 96, 16), lr=0.1,
                     description="a model given in eval mode trains in training mode")

# %% [markdown]
# ## Q4 (4 points): several epochs
#
# Write `fit(model, train_loader, epochs, device)` that trains the model for `epochs` epochs with
# `train_one_epoch` and returns the list of the per-epoch mean losses (Python floats).
#
# `fit` is where the training starts, so it receives the model **where it was built, usually on the
# CPU**: move it to `device` first, with `model.to(device)` (it moves the parameters in place, so an
# optimizer built before or after still sees them). Then pick the loss (`nn.CrossEntropyLoss()`) and an
# optimizer, for example `torch.optim.SGD(model.parameters(), lr=0.1)`. The loss should fall every
# epoch.

# %% question="q4" title="fit: train for some epochs on the given device"
def fit(model, train_loader, epochs, device):
    ### BEGIN SOLUTION
    model.to(device)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    losses = []
    for epoch in range(epochs):
        losses.append(train_one_epoch(model, train_loader, loss_fn, optimizer, device))
    return losses
    ### END SOLUTION

# %% tags=["checks"]
fit_losses("q4.losses", "fit", data=csv_batches(MNIST, 256, 32), epochs=3,
           description="returns one Python float per epoch")
fit_on_device("q4.device", "fit", data=csv_batches(MNIST, 96, 32), epochs=2, points=2,
              description="device check: moves a CPU model to the given device and trains there, identical to the CPU")

# %% tags=["hidden-checks"]
# The reference (SGD, lr=0.1) ends at 39-48% of its first epoch's loss on these inputs: a fit must lose at
# least a tenth of its smallest relative decrease (Adam at 1e-3 and SGD at 0.03 pass easily; a loop that
# does not learn does not).
fit_decreases("q4.decreases", "fit", data=csv_batches(MNIST, 512, 32), epochs=4,
              threshold=from_reference(seeds=25, reduce="max", times=0.1, plus=0.9),
              description="the loss falls every epoch, by at least a threshold set from the reference")

# %% [markdown]
# ## Try it
#
# Train on the whole file and plot the loss curve (this cell is yours to change; it is not graded).

# %%
# device = get_device()
# print("training on", device)
# losses = fit(build_classifier(), mnist_loader(), epochs=5, device=device)
# plt.plot(range(1, len(losses) + 1), losses, marker="o")
# plt.xlabel("epoch"); plt.ylabel("mean training loss"); plt.show()

# %% tags=["mistakes"]
mistake("forgot-zero-grad", "Gradients are never reset, so backward() adds each batch's gradient to all the earlier "
        "ones and every step applies their sum: training oscillates or diverges. Call optimizer.zero_grad() once "
        "per batch, before loss.backward().", q3={"        optimizer.zero_grad()\n": ""})
mistake("sum-not-mean", "The epoch's loss is the sum of the batch losses, not their mean: it grows with the number "
        "of batches and cannot be compared between loaders. Divide by the number of batches, len(loader).",
        q3={"return total / len(loader)": "return total"})
mistake("zero-grad-after-backward", "The gradients are reset between loss.backward() and optimizer.step(), so every "
        "step sees empty gradients and nothing is learned. Reset them before backward() (or after step()).",
        q3={"        optimizer.zero_grad()\n": "", "loss.backward()\n": "loss.backward()\n        optimizer.zero_grad()\n"})

# %% tags=["samples"]
# Of 14 points; the device checks are q1.availability (1), q3.device (2) and q4.device (2): each device
# mistake loses only those, each training mistake keeps all of them.
sample("correct", score=14)
# Right, written differently: a class, a loss weighted by batch size, zero_grad after the step, Adam,
# `model = model.to(device)`, non_blocking copies and torch.cuda.device_count().
sample("correct_alt", score=14, q1='''def get_device():
    if torch.cuda.device_count() > 0:
        return torch.device("cuda:0")
    return torch.device("cpu")''', q2='''class Classifier(nn.Module):
    def __init__(self, hidden=64):
        super().__init__()
        self.layer1 = nn.Linear(784, hidden)
        self.layer2 = nn.Linear(hidden, 10)

    def forward(self, x):
        return self.layer2(torch.relu(self.layer1(x)))


def build_classifier():
    return Classifier()''', q3='''def train_one_epoch(model, loader, loss_fn, optimizer, device):
    model.train()
    optimizer.zero_grad(set_to_none=True)
    seen, weighted = 0, 0.0
    for images, labels in loader:
        images = images.to(device, non_blocking=True)
        labels = labels.to(device, non_blocking=True)
        loss = loss_fn(model(images), labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        weighted += loss.item() * len(labels)
        seen += len(labels)
    return weighted / seen''', q4='''def fit(model, train_loader, epochs, device):
    model = model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    return [train_one_epoch(model, train_loader, loss_fn, optimizer, device) for _ in range(epochs)]''')
# --- training mistakes ---------------------------------------------------------------------------
sample("forgot_zero_grad", "forgot-zero-grad", score=10, diagnoses={
    "q3.mean_loss": "forgot-zero-grad", "q3.update": "forgot-zero-grad", "q3.zero_grad": "forgot-zero-grad",
    "q4.decreases": "forgot-zero-grad"})
sample("zero_grad_after_backward", "zero-grad-after-backward", score=10, diagnoses={
    "q3.mean_loss": "zero-grad-after-backward", "q3.update": "zero-grad-after-backward",
    "q3.zero_grad": "zero-grad-after-backward", "q4.decreases": "zero-grad-after-backward"})
sample("missing_train_mode", score=13, diagnoses={"q3.train_mode": "missing-train-mode"}, q3={"    model.train()\n": ""})
sample("sum_not_mean", "sum-not-mean", score=13, diagnoses={"q3.mean_loss": "sum-not-mean"})
sample("returns_tensor", score=12, diagnoses={"q3.mean_loss": "returns-tensor", "q4.losses": "returns-tensor"},
       q3={"total += loss.item()": "total = total + loss"})
sample("softmax_output", score=13, diagnoses={"q2.logits": "softmax-output"},
       q2={"        nn.Linear(128, 10),\n": "        nn.Linear(128, 10),\n        nn.Softmax(dim=1),\n"})
sample("crashing", score=4, q3={"logits = model(images)": "logits = model(image)"}, errors=[
    "q3.mean_loss", "q3.update", "q3.zero_grad", "q3.train_mode", "q3.device", "q4.losses", "q4.decreases", "q4.device"])
sample("stub_left", score=10, q4=STUB,
       diagnoses={"q4.losses": "not-implemented", "q4.decreases": "not-implemented", "q4.device": "not-implemented"})
# --- device mistakes -----------------------------------------------------------------------------
sample("model_not_on_device", score=12, diagnoses={"q4.device": "model-not-on-device"}, q4={"    model.to(device)\n": ""})
sample("batch_not_on_device", score=10, diagnoses={"q3.device": "batch-not-on-device", "q4.device": "batch-not-on-device"},
       q3={"images, labels = images.to(device), labels.to(device)": "labels = labels.to(device)"})
sample("labels_not_on_device", score=10, diagnoses={"q3.device": "batch-not-on-device", "q4.device": "batch-not-on-device"},
       q3={"images, labels = images.to(device), labels.to(device)": "images = images.to(device)"})
sample("tensor_without_device", score=10, diagnoses={
    "q3.device": "tensor-created-without-device", "q4.device": "tensor-created-without-device"},
    q3={"total = 0.0": "total = torch.zeros(1)", "total += loss.item()": "total += loss.detach()",
        "return total / len(loader)": "return total.item() / len(loader)"})
sample("numpy_on_device", score=10, diagnoses={"q3.device": "numpy-on-device-tensor", "q4.device": "numpy-on-device-tensor"},
       q3={"total = 0.0": "batch_losses = []", "total += loss.item()": "batch_losses.append(loss.detach().numpy())",
           "return total / len(loader)": "return float(np.mean(batch_losses))"})
sample("hardcoded_cuda", score=10, diagnoses={"q3.device": "hardcoded-cuda", "q4.device": "hardcoded-cuda"},
       q3={"images.to(device), labels.to(device)": 'images.to("cuda:0"), labels.to("cuda:0")'})
sample("hardcoded_cuda_method", score=12, diagnoses={"q4.device": "hardcoded-cuda"},
       q4={"model.to(device)": "model.cuda()"})
sample("hardcoded_mps", score=12, diagnoses={"q4.device": "hardcoded-cuda"}, q4={"model.to(device)": 'model.to("mps")'})
sample("get_device_always_cpu", score=13, diagnoses={"q1.availability": "get-device-ignores-availability"},
       q1={'"cuda" if torch.cuda.is_available() else "cpu"': '"cpu"'})
sample("get_device_always_cuda", score=13, diagnoses={"q1.availability": "get-device-ignores-availability"},
       q1={'"cuda" if torch.cuda.is_available() else "cpu"': '"cuda"'})
# A device chosen once at the top of the notebook ('cuda:0' if available, else the CPU) and used instead of
# the device argument: the batches go to the CPU, as a hard-coded device, not as batches never moved.
sample("device_chosen_at_top", score=10, diagnoses={"q3.device": "hardcoded-cuda", "q4.device": "hardcoded-cuda"},
       q3={"def train_one_epoch": 'DEVICE = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")\n\n\n'
           "def train_one_epoch", "images.to(device), labels.to(device)": "images.to(DEVICE), labels.to(DEVICE)"})
# --- real code: a tutorial's loop, with tqdm progress bars (tqdm's own monitor thread is no integrity
# finding) and the epoch's loss as np.mean of the batch losses, a numpy.float64 (a float by the contract)
sample("tutorial_loop", score=14, integrity=[], q3='''from tqdm import tqdm


def train_one_epoch(model, loader, loss_fn, optimizer, device):
    model.train()
    batch_losses = []
    for images, labels in tqdm(loader, desc="training", leave=False):
        images, labels = images.to(device), labels.to(device)
        optimizer.zero_grad()
        outputs = model(images)
        loss = loss_fn(outputs, labels)
        loss.backward()
        optimizer.step()
        batch_losses.append(loss.item())
    return np.mean(batch_losses)''', q4='''def fit(model, train_loader, epochs, device):
    model = model.to(device)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    history = []
    for epoch in tqdm(range(epochs), desc="epochs"):
        epoch_loss = train_one_epoch(model, train_loader, loss_fn, optimizer, device)
        history.append(epoch_loss)
    return history''')
