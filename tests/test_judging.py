import numpy as np

from tensorgrade.checking.outside.judging import compare, jacobian_mismatch
from tensorgrade.sandbox.transport import OpaqueObject


def test_close_values_pass():
    assert compare(np.ones(3), np.ones(3) + 1e-9, name="y") is None


def test_mismatch_message_names_count_index_values_and_ratio():
    expected = np.arange(1.0, 7.0).reshape(2, 3)
    verdict = compare(expected * 2, expected, name="y")
    assert not verdict.passed
    assert "Mismatched elements: 6 / 6 (100.0%)" in verdict.message
    assert "at index (1, 2) (yours 12, expected 6" in verdict.message
    assert "2 times the expected value" in verdict.message


def test_sign_flip_and_shape_messages():
    assert "sign is flipped" in compare(-np.ones(4), np.ones(4), name="g").message
    verdict = compare(np.ones(3), np.ones((3, 1)), name="grad")
    assert "shape (3,), expected (3, 1)" in verdict.message and "reshape" in verdict.message
    assert "should be an array" in compare(OpaqueObject("x.Lie"), np.ones(2), name="y").message


def test_jacobian_message_has_entry_values_and_ratio():
    verdict = jacobian_mismatch(np.diag([-4.358, 1.0]), np.diag([-2.179, 0.5]), output="out", wrt="input")
    assert "d out[0]/d input[0]: yours -4.358, expected -2.179 (ratio 2)" in verdict.message
    assert "2 times the expected one" in verdict.message
