"""CG preprocessing: the official code's scalar shift and scale with MNIST's constants."""

import numpy as np
import pytest

from trainfree.scores import cg_score
from trainfree.scores.cg import unit_rows


def test_mnist_shift_is_one_scalar_shift_then_unit_norm(rng):
    X = rng.random((6, 3, 3))
    Z = (X.reshape(6, -1) - 0.1307) / 0.3081  # torchvision Normalize((0.1307,), (0.3081,)) on [0, 1] pixels
    np.testing.assert_allclose(unit_rows(X, "mnist-shift"), Z / np.linalg.norm(Z, axis=1, keepdims=True), rtol=1e-12)
    # not per-pixel centring
    assert not np.allclose(unit_rows(X, "mnist-shift"), unit_rows(X, "center"))


def test_cg_score_records_the_preprocessing(rng):
    X = rng.random((30, 8))
    y = np.r_[np.zeros(15), np.ones(15)]
    res = cg_score(X, y, preprocess="mnist-shift")
    assert res.settings["preprocess"] == "mnist-shift"
    assert res.scores == pytest.approx(cg_score(unit_rows(X, "mnist-shift"), y, preprocess="raw").scores, rel=1e-9)


@pytest.mark.parametrize("preprocess", ["raw", "center", "mnist-shift"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unit_rows_against_the_definition_and_in_place_only_when_asked(rng, preprocess, dtype):
    X = (rng.normal(size=(40, 9)) + 0.3).astype(dtype)
    before = X.copy()
    out = unit_rows(X, preprocess)
    np.testing.assert_array_equal(X, before)  # copy=True (default) leaves X alone
    ref = before.astype(np.float64)
    if preprocess == "mnist-shift":
        ref = (ref - 0.1307) / 0.3081
    if preprocess == "center":
        ref = ref - ref.mean(axis=0)
    ref = ref / np.linalg.norm(ref, axis=1, keepdims=True)
    tol = 10 * np.finfo(dtype).eps
    np.testing.assert_allclose(out, ref, rtol=tol, atol=tol)
    assert out.dtype == dtype
    inplace = unit_rows(X, preprocess, copy=False)
    np.testing.assert_allclose(inplace, out, rtol=tol, atol=tol)
    assert np.shares_memory(inplace, X) == (preprocess != "mnist-shift")  # the shift makes a new array anyway
