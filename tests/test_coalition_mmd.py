"""The thresholded MMD: its null scale against a direct computation and against simulation."""

import numpy as np
import pytest
import torch

from trainfree import TrainfreeError
from trainfree.kernels import mmd, rbf_kernel
from trainfree.kernels.mmd import NULL_Z, CoalitionMMD


def _t(a):
    return torch.as_tensor(a, dtype=torch.float64)


def test_null_scale_and_thresholded_mmd_equal_their_direct_definitions(rng):
    T = _t(rng.normal(size=(40, 3)))
    S = [_t(rng.normal(size=(15, 3))), _t(rng.normal(loc=0.8, size=(25, 3)))]
    c = CoalitionMMD(torch.cat(S), [15, 25], T, bandwidth=1.3, estimator="thresholded", block_rows=7)
    K = rbf_kernel(T, T, 1.3).numpy()
    H = np.eye(40) - 1 / 40
    Kc = H @ K @ H  # the kernel centred on T's distribution
    off = ~np.eye(40, dtype=bool)
    assert c.null_scale == pytest.approx(np.sqrt((Kc[off] ** 2).mean()), rel=1e-10)
    for coalition, X in (((0,), S[0]), ((1,), S[1]), ((0, 1), torch.cat(S))):
        u2 = mmd(T, X, bandwidth=1.3, estimator="unbiased") ** 2  # the estimators clamp at 0
        sigma0 = np.sqrt(2) * (1 / len(X) + 1 / 40) * c.null_scale
        assert c.of(coalition) == pytest.approx(np.sqrt(max(u2 - NULL_Z * sigma0, 0.0)), abs=1e-12)
        assert c.of(coalition, "biased") == pytest.approx(mmd(T, X, bandwidth=1.3), rel=1e-10)
        assert c.of(coalition) == pytest.approx(mmd(T, X, bandwidth=1.3, estimator="thresholded"), abs=1e-12)
    # The shifted contributor stands out; the one drawn like T does not.
    assert c.of((0,)) == 0.0 and c.of((1,)) > 0.1


def test_null_scale_is_the_standard_deviation_of_the_unbiased_mmd_without_shift():
    """σ₀(m) = √2·(1/m + 1/m_T)·sqrt(E k̃²) against 300 simulated sets drawn from T's distribution."""
    g = np.random.default_rng(0)
    T = _t(g.normal(size=(200, 2)))
    m, draws = 50, 300
    u2 = []
    for _ in range(draws):
        X = _t(g.normal(size=(m, 2)))
        c = CoalitionMMD(X, [m], T, bandwidth=1.0, estimator="unbiased")
        mT = 200  # the U-statistic before its clamp at 0
        u2.append((c.s_TT - mT) / (mT * (mT - 1)) + (c.s_SS.sum() - m) / (m * (m - 1)) - 2 * c.s_TS.sum() / (mT * m))
    sigma0 = np.sqrt(2) * (1 / m + 1 / 200) * c.null_scale
    # T is one fixed draw, so the spread over fresh S alone is a little below σ₀ (which also counts T's).
    assert 0.6 < np.std(u2) / sigma0 < 1.1
    assert np.mean(np.array(u2) > NULL_Z * sigma0) < 0.03  # few false alarms at 3 σ₀


def test_unknown_estimator_is_refused(rng):
    with pytest.raises(TrainfreeError, match="'estimator'.*'median'"):
        mmd(_t(rng.normal(size=(5, 2))), _t(rng.normal(size=(4, 2))), bandwidth=1.0, estimator="median")


def test_too_few_validation_examples_are_refused(rng):
    with pytest.raises(TrainfreeError, match="2 validation"):
        CoalitionMMD(_t(rng.normal(size=(5, 2))), [5], _t(rng.normal(size=(1, 2))), bandwidth=1.0,
                     estimator="thresholded")
