"""DAVINZ's official conventions, each against a direct restatement of the official formula on a tiny network.

The restatement follows the official code's ``ntk.py`` and ``main.py``: a per-example loop of
``autograd.grad`` over Linear/Conv2d weights and biases, BatchNorm2d reset and in eval mode with the rest
in train mode, H + 1e-4·I inverted explicitly, sqrt(YᵀH⁻¹Y/N); MMD with σ = 5; κ = mean MMD / mean NTK
term over the leave-one-out coalitions and the grand coalition (or the parties alone with --no-loo).
"""

import copy

import numpy as np
import pytest
import torch
from torch import nn

from trainfree import TrainfreeError
from trainfree.training import make_model
from trainfree.valuation import NtkOptions
from trainfree.valuation.davinz import DavinzUtility


def tiny_net(seed=0):
    """Conv2d + BatchNorm2d (statistics and affine moved off their initial values) + LayerNorm + Linear."""
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(),
                        nn.LayerNorm(3 * 5 * 5), nn.Linear(3 * 5 * 5, 3))
    bn, ln = net[1], net[4]
    with torch.no_grad():
        bn.running_mean.fill_(0.7), bn.running_var.fill_(3.0), bn.weight.fill_(2.0), bn.bias.fill_(0.5)
        ln.weight.mul_(1.5), ln.bias.add_(0.3)
    return net


def official_ntk_term(net, X, y, ridge=1e-4):
    """sqrt(YᵀH⁻¹Y/N) as the official compute_ntk_score_batched computes it (n_batch=1), in float64."""
    net = copy.deepcopy(net).double().train()
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):  # official deactivate_batchnorm
            m.reset_parameters()
            m.eval()
    weights = [p for m in net.modules() if isinstance(m, (nn.Linear, nn.Conv2d))
               for p in (m.weight, m.bias) if p is not None]
    X = torch.as_tensor(X, dtype=torch.float64)
    grads, fx = [], []
    for i in range(len(X)):
        out = net(X[i:i + 1])[0, int(y[i])]
        grads.append(torch.cat([g.reshape(-1) for g in torch.autograd.grad(out, weights)]))
        fx.append(float(out.detach()))
    G = torch.stack(grads)
    H = G @ G.T + ridge * torch.eye(len(X), dtype=torch.float64)
    Y = 1.0 - torch.tensor(fx, dtype=torch.float64)
    return float(torch.sqrt(Y @ torch.linalg.inv(H) @ Y / len(X)))


def official_mmd(S, T, sigma=5.0):
    k = lambda A, B: np.exp(-((A[:, None] - B[None]) ** 2).sum(-1) / (2 * sigma**2))  # noqa: E731
    S, T = S.reshape(len(S), -1), T.reshape(len(T), -1)
    return float(np.sqrt(k(S, S).mean() + k(T, T).mean() - 2 * k(S, T).mean()))


@pytest.fixture
def problem(rng):
    parts = [(rng.normal(0.2 * k, 1.0, size=(6 + k, 1, 5, 5)), rng.integers(0, 3, 6 + k)) for k in range(3)]
    return parts, rng.normal(size=(8, 1, 5, 5))


def coalition_data(parts, c):
    return np.concatenate([parts[i][0] for i in c]), np.concatenate([parts[i][1] for i in c])


@pytest.mark.parametrize("kappa, reference", [("leave_one_out", [(1, 2), (0, 2), (0, 1), (0, 1, 2)]),
                                              ("singletons", [(0,), (1,), (2,)])])
def test_official_convention_and_kappa_modes_equal_the_official_formulas(problem, kappa, reference):
    parts, T = problem
    u = DavinzUtility(parts, T, model=tiny_net(), nu="paper", convention="official", bandwidth=5.0, kappa=kappa)
    assert u.kappa_coalitions(kappa) == reference
    ntk = [official_ntk_term(tiny_net(), *coalition_data(parts, c)) for c in reference]
    mmd = [official_mmd(coalition_data(parts, c)[0], T) for c in reference]
    kappa_official = np.mean(mmd) / np.mean(ntk)  # main.py
    assert u.kappa == pytest.approx(kappa_official, rel=1e-9)
    for c, a, b in zip(reference, ntk, mmd):
        assert u.terms(c) == pytest.approx((a, b), rel=1e-9)
        assert u(c) == pytest.approx(-kappa_official * a - b, rel=1e-9)
    assert u.settings["convention"] == "official" and u.settings["jitter"] == 1e-4


def test_each_official_convention_changes_the_numbers_where_it_should(problem):
    """The BN reset, the Linear/Conv-only gradients and the absolute ridge each matter on this network."""
    parts, T = problem
    X, y = coalition_data(parts, (0, 1, 2))
    official = DavinzUtility(parts, T, model=tiny_net(), nu="paper", convention="official",
                             kappa=1.0).terms((0, 1, 2))[0]
    ours = DavinzUtility(parts, T, model=tiny_net(), nu="paper", kappa=1.0).terms((0, 1, 2))[0]
    assert official == pytest.approx(official_ntk_term(tiny_net(), X, y), rel=1e-9)
    assert abs(official - ours) > 1e-3 * official
    # Absolute ridge: another value is another ν, restated the same way.
    big = DavinzUtility(parts, T, model=tiny_net(), nu="paper", convention="official", ntk=NtkOptions(jitter=0.5),
                        kappa=1.0)
    assert big.terms((0, 1, 2))[0] == pytest.approx(official_ntk_term(tiny_net(), X, y, ridge=0.5), rel=1e-9)
    assert big.jitter_abs == 0.5


def test_conventions_agree_on_the_official_bias_free_cnn(rng):
    """No BatchNorm, no dropout, only Conv2d/Linear weights: the two conventions differ only in the ridge."""
    parts = [(rng.random((5, 1, 28, 28)), rng.integers(0, 10, 5)) for _ in range(2)]
    T = rng.random((4, 1, 28, 28))
    net = make_model("davinz_cnn", (1, 28, 28), 10, random_state=0)
    off = DavinzUtility(parts, T, model=net, nu="paper", convention="official", kappa=1.0)
    ours = DavinzUtility(parts, T, model=net, nu="paper", kappa=1.0, ntk=NtkOptions(jitter=off.jitter_abs / float(
        (off.theta.diagonal(dim1=1, dim2=2) - off.jitter_abs).mean())))
    assert ours.jitter_abs == pytest.approx(1e-4, rel=1e-9)
    assert ours.terms((0, 1)) == pytest.approx(off.terms((0, 1)), rel=1e-9)
    X, y = coalition_data(parts, (0, 1))
    assert off.terms((0, 1))[0] == pytest.approx(official_ntk_term(net, X, y), rel=1e-8)


def test_official_models_are_the_official_architectures():
    cnn = make_model("davinz_cnn", (1, 28, 28), 10)
    assert sum(p.numel() for p in cnn.parameters()) == 28_880
    assert all(not n.endswith("bias") for n, _ in cnn.named_parameters()) and cnn[-1].in_features == 1568
    assert make_model("davinz_cnn", (1, 28, 28), 10)(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    mlp = make_model("davinz_mlp", (8,), 1)
    widths = [m.out_features for m in mlp if isinstance(m, nn.Linear)]
    assert widths == [128, 256, 256, 256, 128, 64, 32, 16, 10, 1]
    assert all(not n.endswith("bias") for n, _ in mlp.named_parameters())
    assert sum(p.numel() for p in make_model("cnn", (1, 28, 28), 10).parameters()) == 18_378


def test_official_convention_refuses_batchnorm1d(rng):
    net = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    parts = [(rng.normal(size=(4, 4)), np.array([0, 1, 0, 1])) for _ in range(2)]
    with pytest.raises(TrainfreeError, match="convention='trainfree'"):
        DavinzUtility(parts, rng.normal(size=(3, 4)), model=net, convention="official")
    with pytest.raises(TrainfreeError, match="kappa"):
        DavinzUtility(parts, rng.normal(size=(3, 4)), model=net, kappa="auto")
