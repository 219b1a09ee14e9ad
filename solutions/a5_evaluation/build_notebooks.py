"""Builds a5_evaluation's template, reference solution and sample submissions from one source.

    .venv/bin/python solutions/a5_evaluation/build_notebooks.py

Each sample is the template with the answer cells filled in as a student would (same cells, same
cell ids); `samples/expected.yaml` says what each must score and which diagnosis each failing check
must carry (tests/test_course.py checks both).
"""

from pathlib import Path

from tensorgrade.course.notebook_builder import edit, write_course_notebooks

HERE = Path(__file__).resolve().parent
VERSION = "1.0"

INTRO = """# Assignment 5: evaluating a classifier

A training loop makes the loss go down; **evaluation** tells you how good the model is on images it
did not train on. In this assignment you write the evaluation side of a PyTorch project:

1. **`accuracy(logits, labels)`**: the fraction of right predictions in one batch;
2. **`evaluate(model, loader, device)`**: the accuracy over a whole `DataLoader`, with the model in
   eval mode, without building autograd graphs, on any device;
3. **`train_classifier(train_loader, device)`**: your best MNIST classifier, graded by its accuracy
   on 1000 held-out images that you never see (nor their labels).

Your code must work on whatever device it is given: the grader also runs it on a GPU (a simulated one
when the grading machine has none), and mistakes that only show there cost the device checks' points.

Run the public checks at any time with `tensorgrade check a5_evaluation.ipynb`.
Only the functions named above are graded; add cells of your own freely."""

IMPORTS = """import numpy as np
import torch
from torch import nn
import matplotlib.pyplot as plt

torch.manual_seed(0)"""

DATA_TEXT = """## The data

`data/mnist_train.csv` holds 4000 MNIST digits in the lecture's format: one image per line, the label
first, then 784 pixel values 0..255. `load_mnist` turns it into a `TensorDataset` of
`(image, label)` pairs, the image a float32 tensor of shape `(784,)` scaled to `[0, 1]` and the label an
int64, so that a `DataLoader` gives batches `(images, labels)` of shapes `(B, 784)` and `(B,)`, as in
assignment 4. We keep 800 images aside to validate on.

`device` is the GPU when there is one, else the CPU. Your functions receive the device as an
argument: use that argument, never a device of your own."""

DATA = """def load_mnist(csv_path):
    \"\"\"The MNIST CSV as a TensorDataset of (image float32 (784,) in [0, 1], label int64).\"\"\"
    table = np.loadtxt(csv_path, delimiter=",", dtype=np.int64, ndmin=2)
    images = torch.tensor(table[:, 1:], dtype=torch.float32) / 255
    labels = torch.tensor(table[:, 0], dtype=torch.int64)
    return torch.utils.data.TensorDataset(images, labels)


device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
mnist = load_mnist("data/mnist_train.csv")
train_set, valid_set = torch.utils.data.random_split(mnist, [3200, 800], generator=torch.Generator().manual_seed(0))
train_loader = torch.utils.data.DataLoader(train_set, batch_size=64, shuffle=True)
valid_loader = torch.utils.data.DataLoader(valid_set, batch_size=256)
print(f"{len(train_set)} training and {len(valid_set)} validation images; device: {device}")"""

Q1_TEXT = """## Q1 (3 points): accuracy

A classifier returns **logits**: for a batch of `B` images, a tensor of shape `(B, 10)` with one score per
class. The predicted class of an image is the index of its largest score, `logits.argmax(dim=1)`, and the
accuracy of a batch is the fraction of predictions equal to the labels:

```python
predicted = logits.argmax(dim=1)          # (B,) int64
right = (predicted == labels)             # (B,) bool
```

Write `accuracy(logits, labels)` that returns that fraction as a **Python float** in `[0, 1]` (a tensor
of one element becomes a Python number with `.item()`); `labels` is an int64 tensor of shape `(B,)`.

**Ties.** When several classes share the largest logit, the prediction is the **first** of them (the
smallest class index), which is what `torch.argmax` returns. The checks use logits with many ties.

`logits` and `labels` may live on a GPU: keep the computation in torch (`.numpy()` only works on CPU
tensors)."""

Q1_STUB = """def accuracy(logits, labels):
    # YOUR CODE HERE
    raise NotImplementedError()"""

Q1_SOLUTION = """def accuracy(logits, labels):
    predicted = logits.argmax(dim=1)
    return (predicted == labels).float().mean().item()"""

Q1_TRY = """logits = torch.tensor([[2.0, 1.0, 0.1], [0.5, 2.5, 2.5], [3.0, 0.0, 3.0]])
print(accuracy(logits, torch.tensor([0, 2, 0])))  # 2 of 3: row 2 predicts class 1 (the first of the tie)"""

Q2_TEXT = """## Q2 (5 points): evaluate

`evaluate(model, loader, device)` returns the accuracy of `model` over every image of `loader` as a
Python float. The model is already on `device`; the loader gives CPU batches `(images, labels)`.

* **`model.eval()`** first: dropout must keep every unit and batch norm must use its running statistics.
  In training mode both behave randomly or depend on the batch, and batch norm even changes the model.
* **`with torch.no_grad():`** around the loop: evaluation needs no gradients, so no graph should be built
  (less memory, faster). `torch.inference_mode()` does the same.
* **Move each batch** to `device`, the images *and* the labels, before using them with the model's outputs.
* Count the right predictions over **all** images and divide by the number of images. The mean of the
  batches' accuracies is not the same when the last batch is smaller.

After evaluating, training code calls `model.train()` again; `evaluate` does not need to."""

Q2_STUB = """def evaluate(model, loader, device):
    # YOUR CODE HERE
    raise NotImplementedError()"""

Q2_SOLUTION = """def evaluate(model, loader, device):
    model.eval()
    correct, total = 0, 0
    with torch.no_grad():
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            predicted = model(images).argmax(dim=1)
            correct += (predicted == labels).sum().item()
            total += labels.size(0)
    return correct / total"""

Q2_TRY = """untrained = nn.Sequential(nn.Linear(784, 10)).to(device)
print(f"an untrained model: {evaluate(untrained, valid_loader, device):.3f} (about 0.1, chance level)")"""

Q3_TEXT = """## Q3 (5 points): your best classifier

Write `train_classifier(train_loader, device)`: build a model that maps a batch `(B, 784)` to logits
`(B, 10)`, **move it to `device`**, train it on the batches of `train_loader` (moving each one to
`device`) and return it. The loop is assignment 4's: `model.train()`, then for every batch
`optimizer.zero_grad()`, forward, loss (`nn.CrossEntropyLoss`), `backward()`, `optimizer.step()`.

The grader calls it with a loader over the 4000 training images (batches of 64, shuffled) and measures
the returned model's accuracy on **1000 held-out images** whose labels never reach your code; it must
come close to the reference's (about 90%). **Time budget:** training must finish within 60 seconds on
one CPU core; the reference (one hidden layer of 128 units, Adam, a few epochs) takes a few seconds.
Check your choices on `valid_loader` with your `evaluate`."""

Q3_STUB = """def train_classifier(train_loader, device):
    # YOUR CODE HERE
    raise NotImplementedError()"""

Q3_SOLUTION = """EPOCHS = 6


def train_classifier(train_loader, device):
    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10)).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(EPOCHS):
        model.train()
        for images, labels in train_loader:
            images, labels = images.to(device), labels.to(device)
            optimizer.zero_grad()
            loss = loss_fn(model(images), labels)
            loss.backward()
            optimizer.step()
    return model"""

Q3_TRY = """# Uncomment to train and validate (a few seconds):
# model = train_classifier(train_loader, device)
# print(f"validation accuracy: {evaluate(model, valid_loader, device):.3f}")"""

CELLS = [
    ("intro", "markdown", INTRO, None),
    ("imports", "given", IMPORTS, None),
    ("data-text", "markdown", DATA_TEXT, None),
    ("data", "given", DATA, None),
    ("q1-text", "markdown", Q1_TEXT, None),
    ("q1-answer", "answer", "q1", "q1"),
    ("q1-try", "code", Q1_TRY, None),
    ("q2-text", "markdown", Q2_TEXT, None),
    ("q2-answer", "answer", "q2", "q2"),
    ("q2-try", "code", Q2_TRY, None),
    ("q3-text", "markdown", Q3_TEXT, None),
    ("q3-answer", "answer", "q3", "q3"),
    ("q3-try", "code", Q3_TRY, None),
]


STUBS = {"q1": Q1_STUB, "q2": Q2_STUB, "q3": Q3_STUB}
SOLUTION = {"q1": Q1_SOLUTION, "q2": Q2_SOLUTION, "q3": Q3_SOLUTION}


def solution(**changes: str) -> dict[str, str]:
    """The reference answers with some replaced: each sample differs from it where its comment says."""
    return {**SOLUTION, **changes}


MOVE_BATCH = "            images, labels = images.to(device), labels.to(device)\n"

CORRECT_ALT = {
    # Right, written differently: torch.max and a division in accuracy; inference_mode, train(False)
    # and len() in evaluate; a wider network with dropout, moved after building, SGD with momentum,
    # and the best epoch's weights kept with copy.deepcopy (which must not look like tampering).
    "q1": """def accuracy(logits, labels):
    _, predicted = torch.max(logits, dim=1)
    return float((predicted == labels).sum()) / len(labels)""",
    "q2": """def evaluate(model, loader, device):
    model.train(False)
    right = 0
    with torch.inference_mode():
        for images, labels in loader:
            logits = model(images.to(device))
            right += int((logits.argmax(1) == labels.to(device)).sum())
    return right / len(loader.dataset)""",
    "q3": """import copy


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
    return model""",
}

SAMPLES = {
    "correct": SOLUTION,
    "correct_alt": CORRECT_ALT,
    # evaluate
    "missing_no_grad": solution(q2="""def evaluate(model, loader, device):
    model.eval()
    correct, total = 0, 0
    for images, labels in loader:
        images, labels = images.to(device), labels.to(device)
        predicted = model(images).argmax(dim=1)
        correct += (predicted == labels).sum().item()
        total += labels.size(0)
    return correct / total"""),
    "missing_eval_mode": solution(q2=edit(Q2_SOLUTION, "    model.eval()\n", "")),
    "mean_of_batch_accuracies": solution(q2="""def evaluate(model, loader, device):
    model.eval()
    accuracies = []
    with torch.no_grad():
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            accuracies.append(accuracy(model(images), labels))
    return sum(accuracies) / len(accuracies)"""),
    # accuracy
    "accuracy_counts_correct": solution(q1=edit(Q1_SOLUTION, "(predicted == labels).float().mean().item()",
                                                "(predicted == labels).sum().item()")),
    "accuracy_returns_tensor": solution(q1=edit(Q1_SOLUTION, ".float().mean().item()", ".float().mean()")),
    "ties_any_max": solution(q1="""def accuracy(logits, labels):
    best = logits.max(dim=1).values
    of_label = logits.gather(1, labels.unsqueeze(1)).squeeze(1)
    return (of_label == best).float().mean().item()"""),
    # train_classifier
    "no_optimizer_step": solution(q3=edit(Q3_SOLUTION, "            optimizer.step()\n", "")),
    # device mistakes: each costs only the device check of its function (a hard-coded 'cuda:0' or 'mps'
    # is sent to the CPU in the CPU runs, and recorded)
    "model_not_on_device": solution(q3=edit(Q3_SOLUTION, "nn.Linear(128, 10)).to(device)", "nn.Linear(128, 10))")),
    "batch_not_on_device": solution(q2=edit(Q2_SOLUTION, MOVE_BATCH, "            labels = labels.to(device)\n")),
    "labels_not_on_device": solution(q3=edit(Q3_SOLUTION, MOVE_BATCH, "            images = images.to(device)\n")),
    "tensor_without_device": solution(q2="""def evaluate(model, loader, device):
    model.eval()
    correct = torch.zeros(1)
    total = 0
    with torch.no_grad():
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            predicted = model(images).argmax(dim=1)
            correct += (predicted == labels).sum()
            total += labels.size(0)
    return correct.item() / total"""),
    "numpy_on_device": solution(q1="""def accuracy(logits, labels):
    predicted = logits.argmax(dim=1).numpy()
    return float(np.mean(predicted == labels.numpy()))"""),
    "hardcoded_cuda": solution(q3=edit(Q3_SOLUTION, "def train_classifier(train_loader, device):\n",
                                       "def train_classifier(train_loader, device):\n"
                                       "    device = torch.device(\"cuda\" if torch.cuda.is_available() else \"cpu\")\n")),
    "hardcoded_cuda0": solution(q2=edit(Q2_SOLUTION, MOVE_BATCH,
                                        "            images, labels = images.to(\"cuda:0\"), labels.to(\"cuda:0\")\n")),
    "hardcoded_mps": solution(q3=edit(Q3_SOLUTION, "def train_classifier(train_loader, device):\n",
                                      "def train_classifier(train_loader, device):\n"
                                      "    device = torch.device(\"mps\")\n")),
    "cuda_call": solution(q2=edit(Q2_SOLUTION, MOVE_BATCH, "            images, labels = images.cuda(), labels.cuda()\n")),
    # cheating: looks the held-out labels up in the grader's own copy of the data, which the sandbox hides
    "reads_held_out_labels": solution(q3="""def train_classifier(train_loader, device):
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

    return LookUp().to(device)"""),
    # a device chosen once at the top ('cuda:0' if available, else the CPU: the grader has no GPU) used instead
    # of the device argument: a hard-coded device, though each batch is moved
    "device_chosen_at_top": solution(q2="DEVICE = \"cuda:0\" if torch.cuda.is_available() else \"cpu\"\n\n\n"
                                        + edit(Q2_SOLUTION, MOVE_BATCH,
                                               "            images, labels = images.to(DEVICE), labels.to(DEVICE)\n")),
    # real code: accuracy in percent, as the PyTorch CIFAR-10 tutorial prints it (100 * correct / total)
    "tutorial_percent": solution(q1="""def accuracy(logits, labels):
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
    return 100 * correct / total"""),
    # broken
    "crashing": solution(q2=edit(Q2_SOLUTION, "predicted = model(images)", "predicted = model(image)")),
    "stub_left": solution(q3=Q3_STUB),
}


def main() -> None:
    write_course_notebooks(HERE.parent.parent, "a5_evaluation", VERSION, CELLS, STUBS, SOLUTION, SAMPLES)


if __name__ == "__main__":
    main()
