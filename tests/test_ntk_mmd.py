"""Empirical NTK and MMD against explicit, brute-force definitions."""

import numpy as np
import pytest
import torch
from torch import nn

from trainfree import TrainfreeError
from trainfree.kernels import empirical_ntk, median_bandwidth, mmd, rbf_kernel


def explicit_ntk(model, X, idx=None):
    """Loop over examples: autograd gradient of the chosen output, flattened, then J Jᵀ."""
    model.eval()
    rows = []
    for i in range(len(X)):
        out = model(X[i:i + 1]).reshape(-1)
        val = out[0] if idx is None else out[int(idx[i])]
        grads = torch.autograd.grad(val, list(model.parameters()))
        rows.append(torch.cat([g.reshape(-1) for g in grads]))
    J = torch.stack(rows)
    return J @ J.T


def tiny_cnn():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 6 * 6, 4))
    net.double()
    with torch.no_grad():  # non-trivial running statistics: eval mode must use them
        net[1].running_mean.uniform_(-0.5, 0.5)
        net[1].running_var.uniform_(0.5, 2.0)
    return net


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_ntk_equals_explicit_jacobian_product(kind):
    torch.manual_seed(1)
    if kind == "mlp":
        net = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3)).double()
        X = torch.randn(9, 5, dtype=torch.float64)
    else:
        net = tiny_cnn()
        X = torch.randn(9, 1, 8, 8, dtype=torch.float64)
    idx = torch.randint(0, 3, (9,))
    net.train()
    fast = empirical_ntk(net, X, out1=idx, batch_size=4).numpy()
    assert net.training  # the caller's mode is restored
    np.testing.assert_allclose(fast, explicit_ntk(net, X, idx).numpy(), rtol=1e-10, atol=1e-12)


def test_ntk_scalar_output_cross_and_block_sizes():
    torch.manual_seed(2)
    net = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 1)).double()
    X = torch.randn(11, 4, dtype=torch.float64)
    full = explicit_ntk(net, X).numpy()
    for bs in (1, 3, 64):
        np.testing.assert_allclose(empirical_ntk(net, X, batch_size=bs).numpy(), full, rtol=1e-10)
    # The bounded-memory path (Jacobians recomputed per block) gives the same kernel.
    np.testing.assert_allclose(empirical_ntk(net, X, batch_size=3, max_jacobian_bytes=0).numpy(), full, rtol=1e-10)
    cross = empirical_ntk(net, X[:4], X[4:], batch_size=2).numpy()
    np.testing.assert_allclose(cross, full[:4, 4:], rtol=1e-10)


def brute_mmd2(T, S, sigma, unbiased=False):
    k = lambda a, b: np.exp(-np.sum((a - b) ** 2) / (2 * sigma**2))  # noqa: E731
    m, n = len(T), len(S)
    if unbiased:
        tt = sum(k(T[i], T[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
        ss = sum(k(S[i], S[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    else:
        tt = sum(k(a, b) for a in T for b in T) / m**2
        ss = sum(k(a, b) for a in S for b in S) / n**2
    ts = sum(k(a, b) for a in T for b in S) / (m * n)
    return tt + ss - 2 * ts



@pytest.mark.parametrize("kind", ["cnn", "mlp"])
@pytest.mark.parametrize("jacobian_bytes", [2**30, 100])  # Jacobians kept, or recomputed block by block
def test_every_output_at_once_equals_one_output_at_a_time(kind, jacobian_bytes):
    """outputs='each' stacks the per-output kernels and 'mean' averages them, cross kernels included."""
    torch.manual_seed(0)
    if kind == "cnn":
        net = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 6 * 6, 4)).double()
        X, Y = torch.randn(9, 1, 8, 8, dtype=torch.float64), torch.randn(5, 1, 8, 8, dtype=torch.float64)
    else:
        net = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 4)).double()
        X, Y = torch.randn(9, 5, dtype=torch.float64), torch.randn(5, 5, dtype=torch.float64)
    one = lambda A, B, c: empirical_ntk(net, A, B, out1=torch.full((len(A),), c),  # noqa: E731
                                        out2=None if B is None else torch.full((len(B),), c))
    for B in (None, Y):
        ref = torch.stack([one(X, B, c) for c in range(4)])
        each = empirical_ntk(net, X, B, outputs="each", max_jacobian_bytes=jacobian_bytes)
        mean = empirical_ntk(net, X, B, outputs="mean", max_jacobian_bytes=jacobian_bytes)
        assert each.shape == (4, 9, 9 if B is None else 5)
        torch.testing.assert_close(each, ref, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(mean, ref.mean(0), rtol=1e-12, atol=1e-12)
    with pytest.raises(TrainfreeError, match="drop out1"):
        empirical_ntk(net, X, outputs="each", out1=torch.zeros(9, dtype=torch.long))
    with pytest.raises(TrainfreeError, match="outputs must be"):
        empirical_ntk(net, X, outputs="sum")

@pytest.mark.parametrize("estimator", ["biased", "unbiased"])
def test_mmd_matches_double_loop_and_is_symmetric(rng, estimator):
    T, S = rng.normal(size=(7, 3)), rng.normal(0.7, 1.0, size=(5, 3))
    ref = np.sqrt(max(brute_mmd2(T, S, 1.3, estimator == "unbiased"), 0))
    Tt, St = torch.as_tensor(T), torch.as_tensor(S)
    assert mmd(Tt, St, bandwidth=1.3, estimator=estimator) == pytest.approx(ref, rel=1e-10)
    assert mmd(St, Tt, bandwidth=1.3, estimator=estimator) == pytest.approx(ref, rel=1e-10)


def test_mmd_of_identical_sets_is_zero_and_grows_with_shift(rng):
    Z = torch.as_tensor(rng.normal(size=(20, 4)))
    assert mmd(Z, Z, bandwidth=1.0) < 1e-7
    assert mmd(Z, Z + 0.5, bandwidth=1.0) < mmd(Z, Z + 2.0, bandwidth=1.0)


def test_median_heuristic_and_rbf(rng):
    Z = rng.normal(size=(15, 3))
    d = np.sqrt(((Z[:, None] - Z[None]) ** 2).sum(-1))
    assert median_bandwidth(torch.as_tensor(Z)) == pytest.approx(np.median(d[np.triu_indices(15, 1)]))
    K = rbf_kernel(torch.as_tensor(Z), torch.as_tensor(Z), 2.0).numpy()
    np.testing.assert_allclose(K, np.exp(-d**2 / 8), rtol=1e-10, atol=1e-12)
