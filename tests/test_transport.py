import math

import numpy as np
import pytest
import torch

from tensorgrade.sandbox import transport
from tensorgrade.sandbox.transport import OpaqueObject, TransportError


def test_round_trip_keeps_values_shapes_and_dtypes():
    data = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "t": torch.tensor([1, 2], dtype=torch.int64),
            "f": 1.5, "nan": float("nan"), "inf": -math.inf, "s": "x", "l": [1, None, True]}
    back = transport.loads(transport.dumps(data))
    assert back["a"].dtype == np.float32 and back["a"].shape == (2, 3)
    np.testing.assert_array_equal(back["a"], data["a"])
    assert back["t"].dtype == np.int64 and back["t"].tolist() == [1, 2]
    assert math.isnan(back["nan"]) and back["inf"] == -math.inf
    assert back["l"] == [1, None, True] and back["s"] == "x" and back["f"] == 1.5


def test_lying_subclasses_cross_as_opaque_objects():
    class AlwaysEqual(float):
        def __eq__(self, other):
            return True

    class LyingTensor(torch.Tensor):
        pass

    back = transport.loads(transport.dumps({"x": AlwaysEqual(3.0), "t": torch.ones(2).as_subclass(LyingTensor)}))
    assert isinstance(back["x"], OpaqueObject) and "AlwaysEqual" in back["x"].type_name
    assert isinstance(back["t"], OpaqueObject) and "LyingTensor" in back["t"].type_name


@pytest.mark.parametrize("text, problem", [
    ('{"x": NaN}', "constant"),
    ('{"x": ', "malformed"),
    ('{"__array__": {"dtype": "object", "shape": [1], "data": ""}}', "not allowed"),
    ('{"__array__": {"dtype": "float64", "shape": [4], "data": "AAAA"}}', "does not match"),
    ('{"__float__": "__import__"}', "bad float"),
])
def test_malformed_or_dangerous_data_is_rejected(text, problem):
    with pytest.raises(TransportError, match=problem):
        transport.loads(text)


def test_size_cap():
    with pytest.raises(TransportError, match="cap"):
        transport.loads("[" + "1," * 100 + "1]", max_bytes=50)


def test_an_int_past_pythons_digit_limit_is_refused_even_where_the_notebook_lifted_the_limit():
    import sys

    previous = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)  # what a notebook may do: json.dumps would then write the int out
    try:
        assert transport.loads(transport.dumps([-(10 ** 4300 - 1)])) == [-(10 ** 4300 - 1)]
        with pytest.raises(TransportError, match=r"Exceeds the limit \(4300 digits\).*about 5,001 digits"):
            transport.dumps({"losses": [7 * 10 ** 5000]})
    finally:
        sys.set_int_max_str_digits(previous)
