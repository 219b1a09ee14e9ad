"""Builds a6_tensorflow's template, reference solution and sample submissions from one source.

    .venv/bin/python solutions/a6_tensorflow/build_notebooks.py

Each sample is the template with the answer cells filled in as a student would (same cells, same
cell ids); the comment on each entry of SAMPLES says what it gets wrong, and
`samples/expected.yaml` the score and diagnoses the grader must give it (tests/test_course.py).
"""

from pathlib import Path

from tensorgrade.course.notebook_builder import edit, write_course_notebooks

HERE = Path(__file__).resolve().parent
VERSION = "1.0"

INTRO = """# Assignment 6: the same ideas in TensorFlow

Everything you did with PyTorch has a TensorFlow counterpart:

| PyTorch | TensorFlow |
| --- | --- |
| a tensor with `requires_grad=True` | a **`tf.Variable`**: mutable state, changed with `assign`, `assign_add`, `assign_sub` |
| autograd records operations on tensors | a **`tf.GradientTape`** records the operations run inside its `with` block |
| `loss.backward()` then `p.grad` | `tape.gradient(loss, [W, b])` returns the gradients |
| `with torch.no_grad(): p -= lr * p.grad` | `W.assign_sub(learning_rate * grad_W)` |

You will write, as in the lecture (F. Chollet, *Deep Learning with Python*, chapters 2 and 3):

1. **`model`** and **`square_loss`**: a linear classifier and its loss;
2. **`training_step`**: one step of gradient descent with `tf.GradientTape`;
3. **`NaiveDense`**: a dense layer from scratch;
4. **`NaiveSequential`**: a stack of layers.

Run the public checks at any time with `tensorgrade check a6_tensorflow.ipynb`.
Only the functions and classes named above are graded; add cells of your own freely."""

IMPORTS = """import numpy as np
import tensorflow as tf
import matplotlib.pyplot as plt

tf.random.set_seed(0)"""

DATA_TEXT = """## The data: two point clouds

Two classes of 1000 points each in the plane, drawn from Gaussians with the same covariance
$\\begin{pmatrix}1 & 0.5\\\\ 0.5 & 1\\end{pmatrix}$ and centred at $(0, 3)$ (class 0) and $(3, 0)$
(class 1). `inputs` has shape `(2000, 2)`, `targets` shape `(2000, 1)`, both float32 (TensorFlow does
not mix float32 and float64 silently)."""

DATA = """num_samples_per_class = 1000
rng = np.random.default_rng(0)
negative_samples = rng.multivariate_normal(
    mean=[0, 3], cov=[[1, 0.5], [0.5, 1]], size=num_samples_per_class)
positive_samples = rng.multivariate_normal(
    mean=[3, 0], cov=[[1, 0.5], [0.5, 1]], size=num_samples_per_class)
inputs = np.vstack((negative_samples, positive_samples)).astype(np.float32)
targets = np.vstack((np.zeros((num_samples_per_class, 1), dtype=np.float32),
                     np.ones((num_samples_per_class, 1), dtype=np.float32)))"""

DATA_TRY = """# Look at the data (not graded).
# plt.scatter(inputs[:, 0], inputs[:, 1], c=targets[:, 0], s=4)
# plt.show()"""

Q1_TEXT = """## Q1 (3 points): a linear classifier and its loss

The model is an affine map, `prediction = inputs @ W + b`, with `W` of shape `(2, 1)` and `b` of
shape `(1,)` (broadcast over the rows). It is trained to output 0 for class 0 and 1 for class 1;
a point is then classified as class 1 when its prediction is above 0.5.

* `model(inputs, W, b)` returns `inputs @ W + b` (`tf.matmul(inputs, W) + b`), shape `(N, 1)`.
* `square_loss(targets, predictions)` returns the **mean** of the squared differences over all
  samples, a scalar tensor: `tf.square` then `tf.reduce_mean`. Keep it a tensor (no `float(...)`,
  no `.numpy()`): the tape in Q2 can only differentiate TensorFlow operations.

Both must work for any sizes: `N` rows, `D` inputs and `K` outputs (`W` of shape `(D, K)`, `b` of
shape `(K,)`), the mean taken over every entry.

The parameters are `tf.Variable`s, created once below and updated in place during training."""

VARIABLES = """input_dim = 2
output_dim = 1
W = tf.Variable(initial_value=tf.random.uniform(shape=(input_dim, output_dim)))
b = tf.Variable(initial_value=tf.zeros(shape=(output_dim,)))"""

Q1_STUB = """def model(inputs, W, b):
    # YOUR CODE HERE
    raise NotImplementedError()


def square_loss(targets, predictions):
    # YOUR CODE HERE
    raise NotImplementedError()"""

Q1_SOLUTION = """def model(inputs, W, b):
    return tf.matmul(inputs, W) + b


def square_loss(targets, predictions):
    per_sample_losses = tf.square(targets - predictions)
    return tf.reduce_mean(per_sample_losses)"""

Q2_TEXT = """## Q2 (4 points): a training step with `tf.GradientTape`

`training_step(inputs, targets, W, b, learning_rate)`:

1. inside `with tf.GradientTape() as tape:` compute the predictions and the loss (the tape records
   only what runs inside the block; trainable `tf.Variable`s are watched automatically);
2. after the block, `tape.gradient(loss, [W, b])` gives the gradients of the loss with respect to
   `W` and `b`, in that order;
3. update the variables **in place**, against the gradient: `W.assign_sub(learning_rate * grad_W)`,
   and the same for `b`. A plain `W = W - ...` would only rebind the local name `W` to a new tensor:
   the caller's variable would never change;
4. return the loss.

Then 40 steps with `learning_rate=0.1` separate the two clouds (try it below). The grader calls
`training_step(inputs, targets, W, b, learning_rate=...)` on data of its own and compares the loss and
the change of `W` and `b` with the reference's; hidden, it runs 40 steps on fresh point clouds and
checks the accuracy of the `W` and `b` you reach."""

Q2_STUB = """def training_step(inputs, targets, W, b, learning_rate):
    # YOUR CODE HERE
    raise NotImplementedError()"""

Q2_SOLUTION = """def training_step(inputs, targets, W, b, learning_rate):
    with tf.GradientTape() as tape:
        predictions = model(inputs, W, b)
        loss = square_loss(targets, predictions)
    grad_loss_wrt_W, grad_loss_wrt_b = tape.gradient(loss, [W, b])
    W.assign_sub(grad_loss_wrt_W * learning_rate)
    b.assign_sub(grad_loss_wrt_b * learning_rate)
    return loss"""

Q2_TRY = """# Try it (not graded): train, then look at the decision line.
# for step in range(40):
#     loss = training_step(inputs, targets, W, b, learning_rate=0.1)
#     print(f"Loss at step {step}: {float(loss):.4f}")
# predictions = model(inputs, W, b).numpy()
# print("accuracy:", np.mean((predictions > 0.5) == targets))
# # The line where the prediction is 0.5: w1 * x + w2 * y + b = 0.5.
# x_line = np.linspace(-1, 4, 100)
# y_line = -W[0, 0].numpy() / W[1, 0].numpy() * x_line + (0.5 - b[0].numpy()) / W[1, 0].numpy()
# plt.plot(x_line, y_line, "-r")
# plt.scatter(inputs[:, 0], inputs[:, 1], c=predictions[:, 0] > 0.5, s=4)
# plt.show()"""

Q3_TEXT = """## Q3 (2 points): a dense layer from scratch

A dense layer computes `activation(inputs @ W + b)`. `NaiveDense(input_size, output_size, activation)`:

* `__init__` stores `activation` (a function such as `tf.nn.relu` or `tf.nn.softmax`) and creates two
  `tf.Variable`s: `W` of shape `(input_size, output_size)`, small random values
  (`tf.random.uniform(..., minval=0, maxval=1e-1)`), and `b` of shape `(output_size,)`, zeros;
* `__call__(inputs)` returns `activation(tf.matmul(inputs, W) + b)`;
* the property `weights` returns the list `[W, b]` of the layer's own variables (what an optimizer
  updates: assigning new values to them changes what the layer computes)."""

Q3_STUB = """class NaiveDense:
    def __init__(self, input_size, output_size, activation):
        # YOUR CODE HERE
        raise NotImplementedError()

    def __call__(self, inputs):
        # YOUR CODE HERE
        raise NotImplementedError()

    @property
    def weights(self):
        # YOUR CODE HERE
        raise NotImplementedError()"""

Q3_SOLUTION = """class NaiveDense:
    def __init__(self, input_size, output_size, activation):
        self.activation = activation
        w_shape = (input_size, output_size)
        w_initial_value = tf.random.uniform(w_shape, minval=0, maxval=1e-1)
        self.W = tf.Variable(w_initial_value)
        b_shape = (output_size,)
        b_initial_value = tf.zeros(b_shape)
        self.b = tf.Variable(b_initial_value)

    def __call__(self, inputs):
        return self.activation(tf.matmul(inputs, self.W) + self.b)

    @property
    def weights(self):
        return [self.W, self.b]"""

Q4_TEXT = """## Q4 (2 points): a stack of layers

`NaiveSequential(layers)` chains layers: `__call__(inputs)` feeds the inputs to the first layer,
its output to the second, and so on, and returns the last output. The property `weights` returns
**one flat list** with every layer's weights in order: `[W1, b1, W2, b2, ...]` (not a list of lists)."""

Q4_STUB = """class NaiveSequential:
    def __init__(self, layers):
        # YOUR CODE HERE
        raise NotImplementedError()

    def __call__(self, inputs):
        # YOUR CODE HERE
        raise NotImplementedError()

    @property
    def weights(self):
        # YOUR CODE HERE
        raise NotImplementedError()"""

Q4_SOLUTION = """class NaiveSequential:
    def __init__(self, layers):
        self.layers = layers

    def __call__(self, inputs):
        x = inputs
        for layer in self.layers:
            x = layer(x)
        return x

    @property
    def weights(self):
        weights = []
        for layer in self.layers:
            weights += layer.weights
        return weights"""

Q4_TRY = """# Try it (not graded): a small two-layer network on the point clouds.
# net = NaiveSequential([
#     NaiveDense(input_size=2, output_size=8, activation=tf.nn.relu),
#     NaiveDense(input_size=8, output_size=1, activation=tf.nn.sigmoid),
# ])
# print(net(inputs[:5]).shape, [tuple(w.shape) for w in net.weights])"""

# Cell ids are fixed (nbformat 4.5) and shared by the template, the reference and every sample.
CELLS = [
    ("intro", "markdown", INTRO, None),
    ("imports", "given", IMPORTS, None),
    ("data-text", "markdown", DATA_TEXT, None),
    ("data", "given", DATA, None),
    ("data-try", "code", DATA_TRY, None),
    ("q1-text", "markdown", Q1_TEXT, None),
    ("variables", "given", VARIABLES, None),
    ("q1-answer", "answer", None, "q1"),
    ("q2-text", "markdown", Q2_TEXT, None),
    ("q2-answer", "answer", None, "q2"),
    ("q2-try", "code", Q2_TRY, None),
    ("q3-text", "markdown", Q3_TEXT, None),
    ("q3-answer", "answer", None, "q3"),
    ("q4-text", "markdown", Q4_TEXT, None),
    ("q4-answer", "answer", None, "q4"),
    ("q4-try", "code", Q4_TRY, None),
]


STUBS = {"q1": Q1_STUB, "q2": Q2_STUB, "q3": Q3_STUB, "q4": Q4_STUB}
SOLUTION = {"q1": Q1_SOLUTION, "q2": Q2_SOLUTION, "q3": Q3_SOLUTION, "q4": Q4_SOLUTION}


def solution(**changes: str) -> dict[str, str]:
    """The reference answers with some replaced: each sample differs from it where its README row says."""
    return {**SOLUTION, **changes}


CORRECT_ALT = {
    # Right, written differently: the @ operator, ** 2, a loop over (variable, gradient) pairs,
    # normally distributed initial weights, a flattening comprehension.
    "q1": """def model(inputs, W, b):
    return inputs @ W + b


def square_loss(targets, predictions):
    return tf.reduce_mean((targets - predictions) ** 2)""",
    "q2": """def training_step(inputs, targets, W, b, learning_rate):
    with tf.GradientTape() as tape:
        loss = square_loss(targets, model(inputs, W, b))
    gradients = tape.gradient(loss, [W, b])
    for variable, gradient in zip([W, b], gradients):
        variable.assign(variable - learning_rate * gradient)
    return loss""",
    "q3": """class NaiveDense:
    def __init__(self, input_size, output_size, activation):
        self.activation = activation
        self.W = tf.Variable(tf.random.normal((input_size, output_size), stddev=0.05))
        self.b = tf.Variable(tf.zeros((output_size,)))

    def __call__(self, inputs):
        return self.activation(inputs @ self.W + self.b)

    @property
    def weights(self):
        return [self.W, self.b]""",
    "q4": """class NaiveSequential:
    def __init__(self, layers):
        self.layers = list(layers)

    def __call__(self, inputs):
        for layer in self.layers:
            inputs = layer(inputs)
        return inputs

    @property
    def weights(self):
        return [weight for layer in self.layers for weight in layer.weights]""",
}

# NaiveDense and NaiveSequential as the textbook's current (3rd) edition writes them, with Keras 3:
# keras.Variable (no tf.Variable subclass, but assignable in place and tracked by tf.GradientTape) and
# keras.ops; the activation is optional there.
KERAS3_DENSE = """import keras
from keras import ops


class NaiveDense:
    def __init__(self, input_size, output_size, activation=None):
        self.activation = activation
        # W: (input_size, output_size), random uniform values; b: (output_size,), zeros
        self.W = keras.Variable(shape=(input_size, output_size), initializer="uniform")
        self.b = keras.Variable(shape=(output_size,), initializer="zeros")

    def __call__(self, inputs):
        x = ops.matmul(inputs, self.W)
        x = x + self.b
        if self.activation is not None:
            x = self.activation(x)
        return x

    @property
    def weights(self):
        return [self.W, self.b]"""

KERAS3_SEQUENTIAL = """class NaiveSequential:
    def __init__(self, layers):
        self.layers = layers

    def __call__(self, inputs):
        x = inputs
        for layer in self.layers:
            x = layer(x)
        return x

    @property
    def weights(self):
        weights = []
        for layer in self.layers:
            weights += layer.weights
        return weights"""

SAMPLES = {
    "correct": SOLUTION,
    "correct_alt": CORRECT_ALT,
    # One sample per known mistake (solutions/a6_tensorflow/mistakes/<name>.py explains each), made
    # exactly as the mistake file makes it ...
    "wrong_update_sign": solution(q2=edit(edit(Q2_SOLUTION, "W.assign_sub(", "W.assign_add("),
                                            "b.assign_sub(", "b.assign_add(")),
    "no_in_place_update": solution(q2=edit(edit(Q2_SOLUTION, "    W.assign_sub(grad_loss_wrt_W * learning_rate)",
                                                "    W = W - grad_loss_wrt_W * learning_rate"),
                                           "    b.assign_sub(grad_loss_wrt_b * learning_rate)",
                                           "    b = b - grad_loss_wrt_b * learning_rate")),
    "square_loss_not_mean": solution(q1=edit(Q1_SOLUTION, "tf.reduce_mean(per_sample_losses)",
                                             "tf.reduce_sum(per_sample_losses)")),
    "missing_bias": solution(q1=edit(Q1_SOLUTION, "return tf.matmul(inputs, W) + b", "return tf.matmul(inputs, W)")),
    "activation_not_applied": solution(q3=edit(Q3_SOLUTION, "return self.activation(tf.matmul(inputs, self.W) + self.b)",
                                               "return tf.matmul(inputs, self.W) + self.b")),
    "sequential_weights_nested": solution(q4=edit(Q4_SOLUTION, "            weights += layer.weights",
                                                  "            weights.append(layer.weights)")),
    # The loss is computed after the tape's block, so the tape recorded nothing and
    # tape.gradient returns [None, None]; None * learning_rate raises a TypeError.
    "crashing": solution(q2="""def training_step(inputs, targets, W, b, learning_rate):
    with tf.GradientTape() as tape:
        predictions = model(inputs, W, b)
    loss = square_loss(targets, predictions)
    grad_loss_wrt_W, grad_loss_wrt_b = tape.gradient(loss, [W, b])
    W.assign_sub(grad_loss_wrt_W * learning_rate)
    b.assign_sub(grad_loss_wrt_b * learning_rate)
    return loss"""),
    "stub_left": solution(q4=Q4_STUB),
    # ... and two of them written differently, which must get the same diagnoses: the mistake is
    # recognised from what the code does, not from how it is written.
    "ascent_with_assign": solution(q2=edit(CORRECT_ALT["q2"], "variable.assign(variable - learning_rate * gradient)",
                                           "variable.assign(variable + learning_rate * gradient)")),
    "new_variables": solution(q2=edit(edit(Q2_SOLUTION, "    W.assign_sub(grad_loss_wrt_W * learning_rate)",
                                           "    W = tf.Variable(W - learning_rate * grad_loss_wrt_W)"),
                                      "    b.assign_sub(grad_loss_wrt_b * learning_rate)",
                                      "    b = tf.Variable(b - learning_rate * grad_loss_wrt_b)")),
    # square_loss leaves TensorFlow for a Python float: its value is right, but the tape cannot
    # differentiate through float(), so training_step fails inside tape.gradient.
    "loss_not_a_tensor": solution(q1=edit(Q1_SOLUTION, "return tf.reduce_mean(per_sample_losses)",
                                          "return float(tf.reduce_mean(per_sample_losses))")),
    # Right numbers, but the gradients are written by hand instead of taken from tf.GradientTape:
    # q2.training_step requires the tape, the accuracy check passes.
    "gradients_by_hand": solution(q2="""def training_step(inputs, targets, W, b, learning_rate):
    predictions = model(inputs, W, b)
    loss = square_loss(targets, predictions)
    # d loss / d predictions for the mean of the squared errors
    grad_predictions = 2.0 * (predictions - targets) / tf.cast(tf.size(targets), tf.float32)
    grad_W = tf.matmul(inputs, grad_predictions, transpose_a=True)
    grad_b = tf.reduce_sum(grad_predictions, axis=0)
    W.assign_sub(learning_rate * grad_W)
    b.assign_sub(learning_rate * grad_b)
    return loss"""),
    # Right, with Keras 3 variables (see KERAS3_DENSE)
    "keras3_naive_dense": solution(q3=KERAS3_DENSE, q4=KERAS3_SEQUENTIAL),
}


def main() -> None:
    write_course_notebooks(HERE.parent.parent, "a6_tensorflow", VERSION, CELLS, STUBS, SOLUTION, SAMPLES)


if __name__ == "__main__":
    main()
