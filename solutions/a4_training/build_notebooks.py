"""Builds a4_training's template, reference solution and sample submissions from one source.

    .venv/bin/python solutions/a4_training/build_notebooks.py

Each sample is the template with the answer cells filled in as a student would; `expected.yaml`
beside the samples says what each must score and which diagnosis each failing check must get (the
tests check both).  The device samples each make one device mistake and lose only the device
checks' points; the others make one training mistake and keep the device checks' points.
"""

from pathlib import Path

from tensorgrade.course.notebook_builder import edit, write_course_notebooks

HERE = Path(__file__).resolve().parent
VERSION = "1.0"

INTRO = """# Assignment 4: a training loop that works on any device

Every PyTorch training loop is the same five steps per batch:

```python
optimizer.zero_grad()            # 1. forget the previous batch's gradients
logits = model(images)           # 2. forward pass
loss = loss_fn(logits, labels)   # 3. loss
loss.backward()                  # 4. gradients of the loss, added into each p.grad
optimizer.step()                 # 5. update the parameters
```

The same loop must run on a laptop without a GPU, on a server with CUDA, and on the grader. That
works only if the code never assumes where it runs: it asks which device is available, moves the
model there once, moves every batch there, and never writes `'cuda:0'` or `'mps'` itself.

1. **`get_device`**: the device to train on;
2. **`build_classifier`**: a small network for MNIST digits;
3. **`train_one_epoch`**: one pass over the data, on the given device;
4. **`fit`**: several epochs, returning the loss curve.

The grader also runs your functions on a (simulated) GPU and checks that they give the same numbers
as on the CPU, so device mistakes show up even on a machine without one. Run the public checks at
any time with `tensorgrade check a4_training.ipynb`. Only the functions named above are graded; add
cells of your own freely."""

IMPORTS = """import numpy as np
import torch
from torch import nn
import matplotlib.pyplot as plt

torch.manual_seed(0)"""

DATA_TEXT = """## The data

`data/mnist_train.csv` holds 4000 MNIST digits, one per row: the label (0 to 9), then the 784 pixel
values (0 to 255) of the 28 x 28 image. `mnist_loader` turns it into a `DataLoader` whose batches are
`(images, labels)`: `images` float32 of shape `(B, 784)` scaled to `[0, 1]`, `labels` int64 of shape
`(B,)`. Batches from a `DataLoader` are always on the CPU."""

DATA = '''DATA_FILE = "data/mnist_train.csv"


def mnist_loader(path=DATA_FILE, batch_size=64, shuffle=True, rows=None):
    """(images, labels) batches: images float32 (B, 784) in [0, 1], labels int64 (B,), on the CPU."""
    table = np.loadtxt(path, delimiter=",", dtype=np.int64, max_rows=rows)
    images = torch.tensor(table[:, 1:], dtype=torch.float32) / 255
    labels = torch.tensor(table[:, 0])
    dataset = torch.utils.data.TensorDataset(images, labels)
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=shuffle)'''

Q1_TEXT = """## Q1 (2 points): which device?

A tensor lives on a **device**: `cpu`, `cuda` (an NVIDIA GPU), `mps` (Apple silicon), ... Operations
need all their tensors on the same device. Write `get_device()` that returns a **`torch.device`**:
`torch.device("cuda")` when `torch.cuda.is_available()` says a GPU can be used, else
`torch.device("cpu")`.

Ask, do not assume: the grader calls your function both on a machine with CUDA and on one without,
and expects the right answer on each."""

Q1_STUB = """def get_device():
    # YOUR CODE HERE
    raise NotImplementedError()"""

Q1_SOLUTION = """def get_device():
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")"""

Q2_TEXT = """## Q2 (2 points): a classifier

Write `build_classifier()` returning an `nn.Module` that maps a batch of images of shape `(B, 784)`
to **logits** of shape `(B, 10)`: one raw score per digit. A hidden layer or two with a ReLU is plenty,
for example `nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))`.

Do not end with a softmax: `nn.CrossEntropyLoss` takes raw scores and applies log-softmax itself."""

Q2_STUB = """def build_classifier():
    # YOUR CODE HERE
    raise NotImplementedError()"""

Q2_SOLUTION = """def build_classifier():
    return nn.Sequential(
        nn.Linear(784, 128),
        nn.ReLU(),
        nn.Dropout(0.2),
        nn.Linear(128, 10),
    )"""

Q3_TEXT = """## Q3 (6 points): one epoch

Write `train_one_epoch(model, loader, loss_fn, optimizer, device)`: one pass over `loader`, the five
steps above for each batch, and return the **mean loss** over the batches as a **Python float**.

* The model is **already on `device`** when it is passed in (the caller moved it); each batch comes
  from the `DataLoader` on the CPU, so move **both** the images and the labels:
  `images, labels = images.to(device), labels.to(device)`.
* Put the model in **training mode** first (`model.train()`): it may come straight from an evaluation
  in eval mode, where dropout and batch norm do not train.
* **Reset the gradients every step**: `backward()` *adds* into `p.grad`.
* Call `loss_fn(logits, labels)` (an `nn.CrossEntropyLoss`).
* Keep the running total as a Python number with `loss.item()`: adding up loss tensors keeps every
  batch's graph in memory, and `.numpy()` fails on a GPU tensor. Do not create tensors inside the
  loop without `device=`; do not write `'cuda'` anywhere: use `device`."""

Q3_STUB = """def train_one_epoch(model, loader, loss_fn, optimizer, device):
    # YOUR CODE HERE
    raise NotImplementedError()"""

Q3_SOLUTION = """def train_one_epoch(model, loader, loss_fn, optimizer, device):
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
    return total / len(loader)"""

Q4_TEXT = """## Q4 (4 points): several epochs

Write `fit(model, train_loader, epochs, device)` that trains the model for `epochs` epochs with
`train_one_epoch` and returns the list of the per-epoch mean losses (Python floats).

`fit` is where the training starts, so it receives the model **where it was built, usually on the
CPU**: move it to `device` first, with `model.to(device)` (it moves the parameters in place, so an
optimizer built before or after still sees them). Then pick the loss (`nn.CrossEntropyLoss()`) and an
optimizer, for example `torch.optim.SGD(model.parameters(), lr=0.1)`. The loss should fall every
epoch."""

Q4_STUB = """def fit(model, train_loader, epochs, device):
    # YOUR CODE HERE
    raise NotImplementedError()"""

Q4_SOLUTION = """def fit(model, train_loader, epochs, device):
    model.to(device)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    losses = []
    for epoch in range(epochs):
        losses.append(train_one_epoch(model, train_loader, loss_fn, optimizer, device))
    return losses"""

TRY_TEXT = """## Try it

Train on the whole file and plot the loss curve (this cell is yours to change; it is not graded)."""

TRY_CODE = """# device = get_device()
# print("training on", device)
# losses = fit(build_classifier(), mnist_loader(), epochs=5, device=device)
# plt.plot(range(1, len(losses) + 1), losses, marker="o")
# plt.xlabel("epoch"); plt.ylabel("mean training loss"); plt.show()"""


# Cell ids are fixed (nbformat 4.5) and shared by the template, the reference and every sample.
CELLS = [
    ("intro", "markdown", INTRO, None),
    ("imports", "given", IMPORTS, None),
    ("data-text", "markdown", DATA_TEXT, None),
    ("data", "given", DATA, None),
    ("q1-text", "markdown", Q1_TEXT, None),
    ("q1-answer", "answer", "q1", "q1"),
    ("q2-text", "markdown", Q2_TEXT, None),
    ("q2-answer", "answer", "q2", "q2"),
    ("q3-text", "markdown", Q3_TEXT, None),
    ("q3-answer", "answer", "q3", "q3"),
    ("q4-text", "markdown", Q4_TEXT, None),
    ("q4-answer", "answer", "q4", "q4"),
    ("try-text", "markdown", TRY_TEXT, None),
    ("try", "code", TRY_CODE, None),
]


def q3(old: str, new: str) -> str:
    return edit(Q3_SOLUTION, old, new)


def q4(old: str, new: str) -> str:
    return edit(Q4_SOLUTION, old, new)


REFERENCE = {"q1": Q1_SOLUTION, "q2": Q2_SOLUTION, "q3": Q3_SOLUTION, "q4": Q4_SOLUTION}

# Right, as training loops in tutorials are written: tqdm progress bars (tqdm starts a monitor thread of
# its own, which is no integrity finding) and the epoch's loss as np.mean of the batch losses, a
# numpy.float64, which the contract counts as a Python float.
TUTORIAL_Q3 = """from tqdm import tqdm


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
    return np.mean(batch_losses)"""

TUTORIAL_Q4 = """def fit(model, train_loader, epochs, device):
    model = model.to(device)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    history = []
    for epoch in tqdm(range(epochs), desc="epochs"):
        epoch_loss = train_one_epoch(model, train_loader, loss_fn, optimizer, device)
        history.append(epoch_loss)
    return history"""

CORRECT_ALT = {
    # Right, written differently: a class, a loss weighted by batch size, zero_grad after the step,
    # Adam, `model = model.to(device)`, non_blocking copies and torch.cuda.device_count().
    "q1": """def get_device():
    if torch.cuda.device_count() > 0:
        return torch.device("cuda:0")
    return torch.device("cpu")""",
    "q2": """class Classifier(nn.Module):
    def __init__(self, hidden=64):
        super().__init__()
        self.layer1 = nn.Linear(784, hidden)
        self.layer2 = nn.Linear(hidden, 10)

    def forward(self, x):
        return self.layer2(torch.relu(self.layer1(x)))


def build_classifier():
    return Classifier()""",
    "q3": """def train_one_epoch(model, loader, loss_fn, optimizer, device):
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
    return weighted / seen""",
    "q4": """def fit(model, train_loader, epochs, device):
    model = model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    return [train_one_epoch(model, train_loader, loss_fn, optimizer, device) for _ in range(epochs)]""",
}

SAMPLES = {
    "correct": {},
    "correct_alt": CORRECT_ALT,
    # --- training mistakes: keep every device check's points -------------------------------------
    "forgot_zero_grad": {"q3": q3("        optimizer.zero_grad()\n", "")},
    "zero_grad_after_backward": {"q3": q3("        optimizer.zero_grad()\n        logits = model(images)\n"
                                          "        loss = loss_fn(logits, labels)\n        loss.backward()\n",
                                          "        logits = model(images)\n        loss = loss_fn(logits, labels)\n"
                                          "        loss.backward()\n        optimizer.zero_grad()\n")},
    "missing_train_mode": {"q3": q3("    model.train()\n", "")},
    "sum_not_mean": {"q3": q3("    return total / len(loader)", "    return total")},
    "returns_tensor": {"q3": q3("        total += loss.item()", "        total = total + loss")},
    "softmax_output": {"q2": edit(Q2_SOLUTION, "        nn.Linear(128, 10),\n",
                                     "        nn.Linear(128, 10),\n        nn.Softmax(dim=1),\n")},
    "crashing": {"q3": q3("        logits = model(images)", "        logits = model(image)")},
    "stub_left": {"q4": Q4_STUB},
    # --- device mistakes: lose only the device checks' points ------------------------------------
    "model_not_on_device": {"q4": q4("    model.to(device)\n", "")},
    "batch_not_on_device": {"q3": q3("        images, labels = images.to(device), labels.to(device)",
                                     "        labels = labels.to(device)")},
    "labels_not_on_device": {"q3": q3("        images, labels = images.to(device), labels.to(device)",
                                      "        images = images.to(device)")},
    "tensor_without_device": {"q3": q3("    total = 0.0\n", "    total = torch.zeros(1)\n")
                              .replace("        total += loss.item()", "        total += loss.detach()")
                              .replace("    return total / len(loader)", "    return total.item() / len(loader)")},
    "numpy_on_device": {"q3": q3("    total = 0.0\n", "    batch_losses = []\n")
                        .replace("        total += loss.item()", "        batch_losses.append(loss.detach().numpy())")
                        .replace("    return total / len(loader)", "    return float(np.mean(batch_losses))")},
    "hardcoded_cuda": {"q3": q3("        images, labels = images.to(device), labels.to(device)",
                                "        images, labels = images.to(\"cuda:0\"), labels.to(\"cuda:0\")")},
    "hardcoded_cuda_method": {"q4": q4("    model.to(device)\n", "    model.cuda()\n")},
    "hardcoded_mps": {"q4": q4("    model.to(device)\n", "    model.to(\"mps\")\n")},
    "get_device_always_cpu": {"q1": """def get_device():
    return torch.device("cpu")"""},
    "get_device_always_cuda": {"q1": """def get_device():
    return torch.device("cuda")"""},
    # A tutorial's device, chosen once at the top (the notebook runs where there is no GPU: the CPU) and
    # used instead of the device argument: a hard-coded device, not a batch left where it was.
    "device_chosen_at_top": {"q3": "DEVICE = torch.device(\"cuda:0\" if torch.cuda.is_available() else \"cpu\")\n\n\n"
                                   + q3("        images, labels = images.to(device), labels.to(device)",
                                        "        images, labels = images.to(DEVICE), labels.to(DEVICE)")},
    # --- real code: a tutorial's training loop, with tqdm progress bars and np.mean (a numpy.float64) ---
    "tutorial_loop": {"q3": TUTORIAL_Q3, "q4": TUTORIAL_Q4},
}


def main() -> None:
    stubs = {"q1": Q1_STUB, "q2": Q2_STUB, "q3": Q3_STUB, "q4": Q4_STUB}
    write_course_notebooks(HERE.parent.parent, "a4_training", VERSION, CELLS, stubs, REFERENCE, SAMPLES)


if __name__ == "__main__":
    main()
