# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     notebook_metadata_filter: tensorgrade
#   kernelspec: {display_name: Python 3, language: python, name: python3}
#   tensorgrade:
#     id: a6_tensorflow
#     title: "The same ideas in TensorFlow: tf.GradientTape, NaiveDense, NaiveSequential"
#     version: "1.0"
#     secret_seed: 79253750
#     files: []
#     # TensorFlow is the grader's optional extra '.[tensorflow]' (without it: a grader error naming it, never a
#     # failed student); torch too: the grader's modules use it (1.2 s per submission preloaded, 4-7 s not).
#     preload: [numpy, tensorflow, torch, matplotlib.pyplot]
#     limits: {cell_timeout: 60, check_timeout: 30, submission_timeout: 300, memory_mb: 6144, cpu_seconds: 600}
# ---

# %% [markdown]
# # Assignment 6: the same ideas in TensorFlow
#
# Everything you did with PyTorch has a TensorFlow counterpart:
#
# | PyTorch | TensorFlow |
# | --- | --- |
# | a tensor with `requires_grad=True` | a **`tf.Variable`**: mutable state, changed with `assign`, `assign_add`, `assign_sub` |
# | autograd records operations on tensors | a **`tf.GradientTape`** records the operations run inside its `with` block |
# | `loss.backward()` then `p.grad` | `tape.gradient(loss, [W, b])` returns the gradients |
# | `with torch.no_grad(): p -= lr * p.grad` | `W.assign_sub(learning_rate * grad_W)` |
#
# You will write, as in the lecture (F. Chollet, *Deep Learning with Python*, chapters 2 and 3):
#
# 1. **`model`** and **`square_loss`**: a linear classifier and its loss;
# 2. **`training_step`**: one step of gradient descent with `tf.GradientTape`;
# 3. **`NaiveDense`**: a dense layer from scratch;
# 4. **`NaiveSequential`**: a stack of layers.
#
# Run the public checks at any time with `tensorgrade check a6_tensorflow.ipynb`.
# Only the functions and classes named above are graded; add cells of your own freely.

# %% tags=["given"]
import numpy as np
import tensorflow as tf
import matplotlib.pyplot as plt

tf.random.set_seed(0)

# %% [markdown]
# ## The data: two point clouds
#
# Two classes of 1000 points each in the plane, drawn from Gaussians with the same covariance
# $\begin{pmatrix}1 & 0.5\\ 0.5 & 1\end{pmatrix}$ and centred at $(0, 3)$ (class 0) and $(3, 0)$
# (class 1). `inputs` has shape `(2000, 2)`, `targets` shape `(2000, 1)`, both float32 (TensorFlow does
# not mix float32 and float64 silently).

# %% tags=["given"]
num_samples_per_class = 1000
rng = np.random.default_rng(0)
negative_samples = rng.multivariate_normal(
    mean=[0, 3], cov=[[1, 0.5], [0.5, 1]], size=num_samples_per_class)
positive_samples = rng.multivariate_normal(
    mean=[3, 0], cov=[[1, 0.5], [0.5, 1]], size=num_samples_per_class)
inputs = np.vstack((negative_samples, positive_samples)).astype(np.float32)
targets = np.vstack((np.zeros((num_samples_per_class, 1), dtype=np.float32),
                     np.ones((num_samples_per_class, 1), dtype=np.float32)))

# %%
# Look at the data (not graded).
# plt.scatter(inputs[:, 0], inputs[:, 1], c=targets[:, 0], s=4)
# plt.show()

# %% [markdown]
# ## Q1 (3 points): a linear classifier and its loss
#
# The model is an affine map, `prediction = inputs @ W + b`, with `W` of shape `(2, 1)` and `b` of
# shape `(1,)` (broadcast over the rows). It is trained to output 0 for class 0 and 1 for class 1;
# a point is then classified as class 1 when its prediction is above 0.5.
#
# * `model(inputs, W, b)` returns `inputs @ W + b` (`tf.matmul(inputs, W) + b`), shape `(N, 1)`.
# * `square_loss(targets, predictions)` returns the **mean** of the squared differences over all
#   samples, a scalar tensor: `tf.square` then `tf.reduce_mean`. Keep it a tensor (no `float(...)`,
#   no `.numpy()`): the tape in Q2 can only differentiate TensorFlow operations.
#
# Both must work for any sizes: `N` rows, `D` inputs and `K` outputs (`W` of shape `(D, K)`, `b` of
# shape `(K,)`), the mean taken over every entry.
#
# The parameters are `tf.Variable`s, created once below and updated in place during training.

# %% tags=["given"]
input_dim = 2
output_dim = 1
W = tf.Variable(initial_value=tf.random.uniform(shape=(input_dim, output_dim)))
b = tf.Variable(initial_value=tf.zeros(shape=(output_dim,)))

# %% question="q1" title="model and square_loss: a linear classifier and its loss"
def model(inputs, W, b):
    ### BEGIN SOLUTION
    return tf.matmul(inputs, W) + b
    ### END SOLUTION


def square_loss(targets, predictions):
    ### BEGIN SOLUTION
    per_sample_losses = tf.square(targets - predictions)
    return tf.reduce_mean(per_sample_losses)
    ### END SOLUTION

# %% tags=["checks"]
from tensorgrade.authoring import *  # the check vocabulary (docs/authoring.md)


def sizes(rng, low, high, n=1):
    """n integers from low to high, both included."""
    return [int(v) for v in rng.integers(low, high + 1, size=n)]


def linear(rng):
    n, d = sizes(rng, 3, 8) + sizes(rng, 2, 4)
    return dict(inputs=rng.standard_normal((n, d)), W=rng.standard_normal((d, 1)), b=rng.standard_normal(1) + 1.0)


def losses(rng):
    n = sizes(rng, 5, 20)[0]
    return dict(targets=rng.integers(0, 2, size=(n, 1)).astype(np.float64), predictions=rng.standard_normal((n, 1)))


tf_close("q1.model", "model(inputs, W, b)", variables=["W", "b"], draw=linear, description="model(inputs, W, b) "
         "computes inputs @ W + b", name="model(inputs, W, b) for inputs of shape {inputs.shape}")
tf_close("q1.square_loss", "square_loss(targets, predictions)", constants=["predictions"], scalar=True, draw=losses,
         name="square_loss(targets, predictions) for {targets.shape[0]} samples", description="square_loss is the "
         "mean squared error, a scalar tensor", hint="tf.reduce_mean of tf.square(targets - predictions)")

# %% tags=["hidden-checks"]
def one_row(rng):
    d, k = sizes(rng, 2, 5) + sizes(rng, 2, 4)
    n = sizes(rng, 6, 15)[0]
    return dict(inputs=rng.standard_normal((1, d)), W=rng.standard_normal((d, k)), b=rng.standard_normal(k),
                targets=rng.integers(0, 2, size=(n, k)).astype(np.float64), predictions=rng.standard_normal((n, k)))


tf_close("q1.hidden_shapes", "model(inputs, W, b), square_loss(targets, predictions)", variables=["W", "b"],
         constants=["predictions"], scalar=[False, True], hint=["", "the mean over all {targets.size} entries"],
         name=["model(inputs, W, b) for one row (inputs of shape {inputs.shape}) and {b.size} outputs",
               "square_loss(targets, predictions) for {targets.shape[0]} samples of {targets.shape[1]} outputs"],
         draw=one_row, description="model and square_loss with several outputs and a single row")

# %% [markdown]
# ## Q2 (4 points): a training step with `tf.GradientTape`
#
# `training_step(inputs, targets, W, b, learning_rate)`:
#
# 1. inside `with tf.GradientTape() as tape:` compute the predictions and the loss (the tape records
#    only what runs inside the block; trainable `tf.Variable`s are watched automatically);
# 2. after the block, `tape.gradient(loss, [W, b])` gives the gradients of the loss with respect to
#    `W` and `b`, in that order;
# 3. update the variables **in place**, against the gradient: `W.assign_sub(learning_rate * grad_W)`,
#    and the same for `b`. A plain `W = W - ...` would only rebind the local name `W` to a new tensor:
#    the caller's variable would never change;
# 4. return the loss.
#
# Then 40 steps with `learning_rate=0.1` separate the two clouds (try it below). The grader calls
# `training_step(inputs, targets, W, b, learning_rate=...)` on data of its own and compares the loss and
# the change of `W` and `b` with the reference's; hidden, it runs 40 steps on fresh point clouds and
# checks the accuracy of the `W` and `b` you reach.

# %% question="q2" title="training_step: gradient descent with tf.GradientTape"
def training_step(inputs, targets, W, b, learning_rate):
    ### BEGIN SOLUTION
    with tf.GradientTape() as tape:
        predictions = model(inputs, W, b)
        loss = square_loss(targets, predictions)
    grad_loss_wrt_W, grad_loss_wrt_b = tape.gradient(loss, [W, b])
    W.assign_sub(grad_loss_wrt_W * learning_rate)
    b.assign_sub(grad_loss_wrt_b * learning_rate)
    return loss
    ### END SOLUTION

# %% tags=["checks"]
def step(rng):
    n, d = sizes(rng, 20, 50) + sizes(rng, 2, 3)
    return dict(inputs=rng.standard_normal((n, d)), targets=rng.integers(0, 2, size=(n, 1)).astype(np.float64),
                W=0.5 * rng.standard_normal((d, 1)), b=0.5 * rng.standard_normal(1),
                learning_rate=round(float(rng.uniform(0.05, 0.2)), 3))


tape_step("q2.training_step", "training_step(inputs, targets, W, b, learning_rate=learning_rate)", draw=step,
          name="training_step(inputs, targets, W, b, learning_rate={learning_rate:g})", points=2,
          description="one step: the loss, gradients from tf.GradientTape, W and b updated in place")

# %% tags=["hidden-checks"]
def clouds(rng):
    """The lecture's data (two Gaussian clouds centred at (0, 3) and (3, 0), covariance [[1, 0.5], [0.5, 1]]),
    fresh points, either cloud as class 1; W from uniform [0, 1), b zeros."""
    means = [[0.0, 3.0], [3.0, 0.0]][::-1 if rng.integers(2) else 1]
    x = np.vstack([rng.multivariate_normal(mean, [[1.0, 0.5], [0.5, 1.0]], size=1000) for mean in means])
    return dict(inputs=x, targets=np.vstack([np.zeros((1000, 1)), np.ones((1000, 1))]),
                W=rng.uniform(0, 1, size=(2, 1)), b=np.zeros(1))


def accuracy(final, inputs):
    """Share of points on the right side of prediction = 0.5, as the lecture classifies them."""
    x = np.asarray(inputs["inputs"], dtype=np.float32).astype(np.float64)
    return float(np.mean((x @ final["W"] + final["b"] > 0.5) == (np.asarray(inputs["targets"]) > 0.5)))


tape_training("q2.accuracy", "training_step(inputs, targets, W, b, learning_rate=learning_rate)", steps=40,
              measure=accuracy, threshold=from_reference(seeds=100, reduce="min", plus=-0.02), draw=clouds,
              name="training_step(inputs, targets, W, b, learning_rate=0.1) on two point clouds of {inputs.shape[0]} "
              "points", what="accuracy of W and b", learning_rate=0.1, points=2, timeout=60,
              description="40 steps on hidden point clouds reach the reference-derived accuracy")

# %%
# Try it (not graded): train, then look at the decision line.
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
# plt.show()

# %% [markdown]
# ## Q3 (2 points): a dense layer from scratch
#
# A dense layer computes `activation(inputs @ W + b)`. `NaiveDense(input_size, output_size, activation)`:
#
# * `__init__` stores `activation` (a function such as `tf.nn.relu` or `tf.nn.softmax`) and creates two
#   `tf.Variable`s: `W` of shape `(input_size, output_size)`, small random values
#   (`tf.random.uniform(..., minval=0, maxval=1e-1)`), and `b` of shape `(output_size,)`, zeros;
# * `__call__(inputs)` returns `activation(tf.matmul(inputs, W) + b)`;
# * the property `weights` returns the list `[W, b]` of the layer's own variables (what an optimizer
#   updates: assigning new values to them changes what the layer computes).

# %% question="q3" title="NaiveDense: a dense layer from scratch"
class NaiveDense:
    def __init__(self, input_size, output_size, activation):
        ### BEGIN SOLUTION
        self.activation = activation
        w_shape = (input_size, output_size)
        w_initial_value = tf.random.uniform(w_shape, minval=0, maxval=1e-1)
        self.W = tf.Variable(w_initial_value)
        b_shape = (output_size,)
        b_initial_value = tf.zeros(b_shape)
        self.b = tf.Variable(b_initial_value)
        ### END SOLUTION

    def __call__(self, inputs):
        ### BEGIN SOLUTION
        return self.activation(tf.matmul(inputs, self.W) + self.b)
        ### END SOLUTION

    @property
    def weights(self):
        ### BEGIN SOLUTION
        return [self.W, self.b]
        ### END SOLUTION

# %% tags=["checks"]
def dense(rng, low=2, high=5, rows=(3, 6)):
    (i, o), n = sizes(rng, low, high, 2), sizes(rng, *rows)[0]
    return dict(input_size=i, output_size=o, x=rng.standard_normal((n, i)),
                weights=[rng.standard_normal((i, o)), rng.standard_normal(o)])


tf_layer("q3.dense", "NaiveDense(input_size=input_size, output_size=output_size, activation=tf.nn.relu)",
         weights="weights", draw=dense, name="layer(inputs) with activation=tf.nn.relu and given W, b", description=
         "weights is [W, b] (tf.Variables of the right shapes); __call__ computes activation(inputs @ W + b)")

# %% tags=["hidden-checks"]
tf_layer("q3.activation", "NaiveDense(input_size=input_size, output_size=output_size, activation=activation)",
         weights="weights", record_activation=True, tensor_input=True, draw=lambda rng: dense(rng, 3, 7, (1, 5)),
         name="layer(inputs) for {x.shape[0]} row(s) with a custom activation", description="the given activation "
         "is applied once, to inputs @ W + b, on hidden sizes")

# %% [markdown]
# ## Q4 (2 points): a stack of layers
#
# `NaiveSequential(layers)` chains layers: `__call__(inputs)` feeds the inputs to the first layer,
# its output to the second, and so on, and returns the last output. The property `weights` returns
# **one flat list** with every layer's weights in order: `[W1, b1, W2, b2, ...]` (not a list of lists).

# %% question="q4" title="NaiveSequential: a stack of layers"
class NaiveSequential:
    def __init__(self, layers):
        ### BEGIN SOLUTION
        self.layers = layers
        ### END SOLUTION

    def __call__(self, inputs):
        ### BEGIN SOLUTION
        x = inputs
        for layer in self.layers:
            x = layer(x)
        return x
        ### END SOLUTION

    @property
    def weights(self):
        ### BEGIN SOLUTION
        weights = []
        for layer in self.layers:
            weights += layer.weights
        return weights
        ### END SOLUTION

# %% tags=["checks"]
def chain(rng):
    dims, n = sizes(rng, 2, 5, 4), sizes(rng, 3, 6)[0]
    return dict(x=rng.standard_normal((n, dims[0])), Ws=[rng.standard_normal(dims[i:i + 2]) for i in range(3)],
                bs=[rng.standard_normal(dims[i + 1]) for i in range(3)])


tf_sequential("q4.sequential", "NaiveSequential(layers)", draw=chain,
              description="layers applied in order; weights is one flat list of every layer's weights")

# %% tags=["hidden-checks"]
def stack(rng):
    d0, d1, d2 = sizes(rng, 3, 6) + sizes(rng, 4, 8) + sizes(rng, 2, 4)
    n = sizes(rng, 4, 8)[0]
    return dict(d0=d0, d1=d1, d2=d2, x=rng.standard_normal((n, d0)), weights=[
        rng.standard_normal((d0, d1)), rng.standard_normal(d1), rng.standard_normal((d1, d2)), rng.standard_normal(d2)])


tf_layer("q4.stack", "NaiveSequential([NaiveDense(input_size=d0, output_size=d1, activation=tf.nn.relu), "
         "NaiveDense(input_size=d1, output_size=d2, activation=tf.nn.softmax)])", weights="weights", draw=stack,
         description="a stack of your NaiveDense layers: output shape, weight shapes and values")

# %%
# Try it (not graded): a small two-layer network on the point clouds.
# net = NaiveSequential([
#     NaiveDense(input_size=2, output_size=8, activation=tf.nn.relu),
#     NaiveDense(input_size=8, output_size=1, activation=tf.nn.sigmoid),
# ])
# print(net(inputs[:5]).shape, [tuple(w.shape) for w in net.weights])

# %% tags=["mistakes"]
mistake("activation-not-applied", "NaiveDense.__call__ returns inputs @ W + b without the activation, so every layer "
        "is linear (and a stack of linear layers is still just one linear map). Return "
        "self.activation(tf.matmul(inputs, self.W) + self.b).",
        q3={"return self.activation(tf.matmul(inputs, self.W) + self.b)": "return tf.matmul(inputs, self.W) + self.b"})
mistake("missing-bias", "The model leaves out the bias: it returns inputs @ W instead of inputs @ W + b, so its "
        "decision line must pass through the origin, and b gets no gradient (tape.gradient returns None for it).",
        q1={"return tf.matmul(inputs, W) + b": "return tf.matmul(inputs, W)"})
mistake("no-in-place-update", "The update rebinds the names instead of changing the variables: W = W - "
        "learning_rate * grad makes a new tensor called W inside the function, and the tf.Variable the caller passed "
        "in is never changed, so nothing is learned. Update a tf.Variable in place: W.assign_sub(...).",
        q2={"W.assign_sub(grad_loss_wrt_W * learning_rate)": "W = W - grad_loss_wrt_W * learning_rate",
            "b.assign_sub(grad_loss_wrt_b * learning_rate)": "b = b - grad_loss_wrt_b * learning_rate"})
mistake("sequential-weights-nested", "NaiveSequential.weights returns a list of lists, one [W, b] per layer, instead "
        "of one flat list [W1, b1, W2, b2, ...]; tape.gradient and an optimizer expect the flat list. Extend the list "
        "(weights += layer.weights) rather than appending to it.",
        q4={"weights += layer.weights": "weights.append(layer.weights)"})
mistake("square-loss-not-mean", "The loss sums the squared errors (tf.reduce_sum) instead of averaging them "
        "(tf.reduce_mean), so it and its gradients are N times too large and learning_rate=0.1 makes the training "
        "diverge.", q1={"tf.reduce_mean(per_sample_losses)": "tf.reduce_sum(per_sample_losses)"})
mistake("wrong-update-sign", "The update adds the gradient (assign_add) instead of subtracting it, so every step "
        "climbs the loss and the training diverges. Gradient descent moves against the gradient: "
        "W.assign_sub(learning_rate * grad_W).", q2={".assign_sub(": ".assign_add("})

# %% tags=["samples"]
# Right, written differently: the @ operator, ** 2, a loop over (variable, gradient) pairs, normally
# distributed initial weights, a flattening comprehension.
ALT = {"q1": """def model(inputs, W, b):
    return inputs @ W + b


def square_loss(targets, predictions):
    return tf.reduce_mean((targets - predictions) ** 2)""",
       "q2": """def training_step(inputs, targets, W, b, learning_rate):
    with tf.GradientTape() as tape:
        loss = square_loss(targets, model(inputs, W, b))
    gradients = tape.gradient(loss, [W, b])
    for variable, gradient in zip([W, b], gradients):
        variable.assign(variable - learning_rate * gradient)
    return loss""", "q3": """class NaiveDense:
    def __init__(self, input_size, output_size, activation):
        self.activation = activation
        self.W = tf.Variable(tf.random.normal((input_size, output_size), stddev=0.05))
        self.b = tf.Variable(tf.zeros((output_size,)))

    def __call__(self, inputs):
        return self.activation(inputs @ self.W + self.b)

    @property
    def weights(self):
        return [self.W, self.b]""", "q4": """class NaiveSequential:
    def __init__(self, layers):
        self.layers = list(layers)

    def __call__(self, inputs):
        for layer in self.layers:
            inputs = layer(inputs)
        return inputs

    @property
    def weights(self):
        return [weight for layer in self.layers for weight in layer.weights]"""}
STEP = ["q2.training_step", "q2.accuracy"]
sample("correct", score=11)
sample("correct_alt", score=11, **ALT)
# The loss is computed after the tape's block, so the tape recorded nothing and tape.gradient returns
# [None, None]; None * learning_rate raises a TypeError.
sample("crashing", score=7, errors=STEP, q2={"        loss = square_loss": "    loss = square_loss"})
sample("activation_not_applied", "activation-not-applied", score=8,
       diagnoses={check: "activation-not-applied" for check in ["q3.dense", "q3.activation", "q4.stack"]})
# Right numbers, but the gradients are written by hand instead of taken from tf.GradientTape:
# q2.training_step requires the tape, the accuracy check passes.
sample("gradients_by_hand", score=9, q2="""def training_step(inputs, targets, W, b, learning_rate):
    predictions = model(inputs, W, b)
    loss = square_loss(targets, predictions)
    # d loss / d predictions for the mean of the squared errors
    grad_predictions = 2.0 * (predictions - targets) / tf.cast(tf.size(targets), tf.float32)
    grad_W = tf.matmul(inputs, grad_predictions, transpose_a=True)
    grad_b = tf.reduce_sum(grad_predictions, axis=0)
    W.assign_sub(learning_rate * grad_W)
    b.assign_sub(learning_rate * grad_b)
    return loss""")
# square_loss leaves TensorFlow for a Python float: its value is right, but the tape cannot
# differentiate through float(), so training_step fails inside tape.gradient.
sample("loss_not_a_tensor", score=5, errors=STEP,
       q1={"return tf.reduce_mean(per_sample_losses)": "return float(tf.reduce_mean(per_sample_losses))"})
sample("missing_bias", "missing-bias", score=5, errors=STEP,
       diagnoses={"q1.model": "missing-bias", "q1.hidden_shapes": "missing-bias"})
NO_UPDATE = {check: "no-in-place-update" for check in STEP}
sample("no_in_place_update", "no-in-place-update", score=7, diagnoses=NO_UPDATE)
sample("sequential_weights_nested", "sequential-weights-nested", score=9,
       diagnoses={"q4.sequential": "sequential-weights-nested", "q4.stack": "sequential-weights-nested"})
sample("square_loss_not_mean", "square-loss-not-mean", score=5, diagnoses={
    check: "square-loss-not-mean" for check in ["q1.square_loss", "q1.hidden_shapes", *STEP]})
sample("stub_left", score=9, q4=STUB, diagnoses={"q4.sequential": "not-implemented", "q4.stack": "not-implemented"})
SIGN = {check: "wrong-update-sign" for check in STEP}
sample("wrong_update_sign", "wrong-update-sign", score=7, diagnoses=SIGN)
# Two mistakes written differently, which must get the same diagnoses: the mistake is recognised from
# what the code does, not from how it is written.
sample("ascent_with_assign", score=7, diagnoses=SIGN, q2=ALT["q2"].replace("variable - ", "variable + "))
sample("new_variables", score=7, diagnoses=NO_UPDATE,
       q2={"W.assign_sub(grad_loss_wrt_W * learning_rate)": "W = tf.Variable(W - learning_rate * grad_loss_wrt_W)",
           "b.assign_sub(grad_loss_wrt_b * learning_rate)": "b = tf.Variable(b - learning_rate * grad_loss_wrt_b)"})
# Right, as the textbook's 3rd edition writes NaiveDense with Keras 3: keras.Variable (no tf.Variable
# subclass, but assignable in place and tracked by tf.GradientTape) and keras.ops; activation optional.
sample("keras3_naive_dense", score=11, q3="""import keras
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
        return [self.W, self.b]""")
