"""Real student code, graded for real (issue 19): what the first pass left without a real notebook.
Each notebook is the reference solution with answer cells as students write them, graded through
the sandbox:

* a5's accuracies as NumPy computes them (np.mean of a comparison: numpy.float64) score full;
* a model with a training method of its own named `train` (nn.Module.eval() calls self.train(False)),
  in a5 and a4: the checks that put the student's model in eval mode say the grader called
  `model.eval()`, which called the student's `train()`, and nothing of the grader's own comment beside it;
* a6's NaiveDense with Keras 3 variables made with trainable=False fails, saying why;
* keras.datasets' download says there is no network during grading and what to use instead.
"""

from __future__ import annotations

import re

import pytest

from test_real_student_code import grade, not_passed, notebook_with

A5_NUMPY_ACCURACY = '''def accuracy(logits, labels):
    predicted = logits.argmax(dim=1).cpu().numpy()
    return np.mean(predicted == labels.cpu().numpy())  # a numpy.float64
'''

A5_NUMPY_EVALUATE = '''def evaluate(model, loader, device):
    model.eval()
    hits = []
    with torch.no_grad():
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            hits.append((model(images).argmax(dim=1) == labels).cpu().numpy())
    return np.concatenate(hits).mean()  # a numpy.float64
'''

A5_MODEL_THAT_TRAINS_ITSELF = '''class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))

    def forward(self, x):
        return self.net(x)

    def train(self, loader, epochs=6, device="cpu"):  # shadows nn.Module.train(mode)
        optimizer = torch.optim.Adam(self.parameters(), lr=2e-3)
        loss_fn = nn.CrossEntropyLoss()
        for epoch in range(epochs):
            for images, labels in loader:
                images, labels = images.to(device), labels.to(device)
                optimizer.zero_grad()
                loss_fn(self(images), labels).backward()
                optimizer.step()
        return self


def train_classifier(train_loader, device):
    model = Classifier().to(device)
    return model.train(train_loader, device=device)
'''


@pytest.mark.slow
def test_a5_numpy_accuracies_score_and_a_models_own_train_is_named_as_called_by_model_eval(tmp_path):
    path = notebook_with(tmp_path, "a5_evaluation", {"def accuracy": A5_NUMPY_ACCURACY,
                                                     "def evaluate": A5_NUMPY_EVALUATE,
                                                     "def train_classifier": A5_MODEL_THAT_TRAINS_ITSELF})
    result = grade("a5_evaluation", path)
    assert result.status == "graded", result.error
    assert [c for c in not_passed(result) if c[0].split(".")[0] != "q3"] == []  # numpy.float64 accuracies
    q3 = [c for c in result.checks if c.question == "q3"]
    assert q3 and all(c.status == "error" for c in q3), not_passed(result)
    for check in q3:
        if check.visibility == "hidden":
            continue
        first = check.message.split("\n")[0]
        # the call the grader made, without its comment, the student's train() it reached, where that raised
        assert re.fullmatch(r"the grader called `model\.eval\(\)`, which called your `train\(\)`; "
                            r"it raised TypeError: 'bool' object is not iterable \(cell \d+, line 13\)", first), \
            check.message
        assert "#" not in first and ", in train\n" in check.message, check.message


A4_CLASSIFIER_THAT_TRAINS_ITSELF = '''class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))

    def forward(self, x):
        return self.net(x)

    def train(self, loader, epochs=1):  # shadows nn.Module.train(mode)
        for epoch in range(epochs):
            for images, labels in loader:
                pass
        return self


def build_classifier():
    return Classifier()
'''


@pytest.mark.slow
def test_a4_the_grader_call_in_a_message_is_its_code_without_its_comment(tmp_path):
    """a4's classifier probe writes `model.eval()  # a batch of one is fine at inference, ...`: the
    student reads the call, not the grader's remark."""
    path = notebook_with(tmp_path, "a4_training", {"def build_classifier": A4_CLASSIFIER_THAT_TRAINS_ITSELF})
    result = grade("a4_training", path)
    assert result.status == "graded", result.error
    shapes = next(c for c in result.checks if c.id == "q2.shapes")
    assert shapes.status == "error" and re.fullmatch(
        r"the grader called `model\.eval\(\)`, which called your `train\(\)`; "
        r"it raised TypeError: 'bool' object is not iterable \(cell \d+, line 11\)", shapes.message.split("\n")[0]), \
        shapes.message
    assert "The grader's check called `model.eval()`\n" in shapes.message, shapes.message


A6_KERAS3_FROZEN = '''import keras


class NaiveDense:
    def __init__(self, input_size, output_size, activation=None):
        self.activation = activation
        # frozen: no GradientTape watches these, so a training step cannot update them
        self.W = keras.Variable(shape=(input_size, output_size), initializer="uniform", trainable=False)
        self.b = keras.Variable(shape=(output_size,), initializer="zeros", trainable=False)

    def __call__(self, inputs):
        x = keras.ops.matmul(inputs, self.W) + self.b
        return self.activation(x) if self.activation is not None else x

    @property
    def weights(self):
        return [self.W, self.b]
'''

KERAS_DOWNLOAD = '''from tensorflow import keras as tf_keras

(x_train, y_train), (x_test, y_test) = tf_keras.datasets.mnist.load_data()
'''


@pytest.mark.slow
def test_a6_frozen_keras_variables_fail_saying_why_and_a_keras_download_says_no_network(tmp_path):
    path = notebook_with(tmp_path, "a6_tensorflow", {"class NaiveDense": A6_KERAS3_FROZEN},
                         extra_cells=(KERAS_DOWNLOAD,))
    result = grade("a6_tensorflow", path)
    assert result.status == "graded", result.error
    dense = next(c for c in result.checks if c.id == "q3.dense")
    assert dense.status == "failed" and "a keras.src.backend.Variable that does not behave as a tf.Variable" \
        in dense.message and "(is it trainable=False?)" in dense.message, dense.message
    download = result.cells[-1]
    assert download.status == "error" and "load_data()" in download.error, download.error
    assert "[grader] no network during grading" in download.error \
        and "use the data files given with the assignment" in download.error, download.error
