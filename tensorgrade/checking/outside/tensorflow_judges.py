"""Judge helpers for TensorFlow assignments (a6_tensorflow), outside the sandbox, on plain data only:
`kind_text`, `shape_text`, `weights_text` and `same_output`."""

from __future__ import annotations

from tensorgrade.checking.outside.judging import compare

# float32 values computed by two implementations (reference and student) of the same formula
RTOL, ATOL = 1e-5, 1e-6


def shape_text(shape) -> str:
    """(3, 1), (4), ()"""
    return str(tuple(shape)).replace(",)", ")") if shape is not None else "no shape"


def kind_text(info: dict) -> str:
    """A `kind()` in words: `a tf.Tensor of shape (3, 1) and dtype float32`, `a float`, `None`."""
    name = info.get("type", "?")
    if name == "builtins.NoneType":
        return "None"
    if info.get("variable"):
        name = "tf.Variable"
    elif info.get("tensor"):
        name = "tf.Tensor"
    text = f"a {name.removeprefix('builtins.')}"
    if "shape" in info:
        text += f" of shape {shape_text(info['shape'])}"
    if "dtype" in info:
        text += f" and dtype {info['dtype']}"
    return text


def weights_text(structure) -> str:
    """A `weights_structure()` that is not a list, in words, with the usual cause when it is a method."""
    name = structure.get("type", "something else") if isinstance(structure, dict) else type(structure).__name__
    if name == "builtins.method":
        return "a method: make `weights` a property (@property above `def weights(self):`)"
    if name == "builtins.NoneType":
        return "None"
    if name.endswith("EagerTensor"):
        return "a tf.Tensor (not a tf.Variable, which an update can change in place)"
    if name.rpartition(".")[2] == "Variable":  # a keras.Variable, say, that is not trainable
        return (f"a {name} that does not behave as a tf.Variable: .assign must change it in place and "
                "tf.GradientTape must track it (is it trainable=False?)")
    return name.removeprefix("builtins.")


def same_output(a, b) -> bool:
    """Two probe outputs are the same behaviour when every value agrees to float32 precision: how
    a known mistake is recognised on checks whose judge also tests absolute properties."""
    return compare(a, b, name="output", rtol=1e-4, atol=ATOL) is None
