"""DAVINZ utility: every shortcut equals the direct NumPy computation of ν."""

import itertools

import numpy as np
import pytest
import torch
from torch import nn

from trainfree import TrainfreeError
from trainfree.kernels import empirical_ntk
from trainfree.semivalues import exact_shapley, permutation_shapley
from trainfree.valuation import NtkOptions, NuOptions
from trainfree.valuation.davinz import DavinzUtility

ALL = NuOptions("paper", outputs="all")  # the paper's ν with one NTK per class output


def net(d=4, out=3, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d, 32), nn.ReLU(), nn.Linear(32, out))


def parts(rng, K=3, n=12, d=4, C=3):
    return [(rng.normal(loc=0.3 * k, size=(n + k, d)), rng.integers(0, C, n + k)) for k in range(K)]


def direct_value(contribs, X_val, model, C, kappa, sigma, jitter):
    """ν(S) from scratch with NumPy for one coalition (a list of contributors)."""
    X = np.concatenate([c[0] for c in contribs])
    y = np.concatenate([c[1] for c in contribs]).astype(int)
    Xt = torch.as_tensor(X)
    model = model.double().eval()
    with torch.no_grad():
        out = model(Xt).numpy()
    r = 1.0 - out[np.arange(len(y)), y]
    theta = empirical_ntk(model, Xt, out1=torch.as_tensor(y)).numpy()
    theta = theta + jitter * np.eye(len(y))
    ntk = np.sqrt(r @ np.linalg.solve(theta, r) / len(y))
    k = lambda A, B: np.exp(-((A[:, None] - B[None]) ** 2).sum(-1) / (2 * sigma**2))  # noqa: E731
    mmd2 = k(X_val, X_val).mean() + k(X, X).mean() - 2 * k(X_val, X).mean()
    return -kappa * ntk - np.sqrt(max(mmd2, 0))


def test_every_coalition_equals_direct_computation(rng):
    C = parts(rng)
    X_val = rng.normal(size=(15, 4))
    u = DavinzUtility(C, X_val, model=net(), nu="paper", ntk=NtkOptions(jitter=0.0), bandwidth=2.0, kappa=0.7)
    for r in range(1, 4):
        for coal in itertools.combinations(range(3), r):
            ref = direct_value([C[i] for i in coal], X_val, net(), 3, 0.7, 2.0, 0.0)
            assert u(coal) == pytest.approx(ref, rel=1e-9)


def test_incremental_equals_from_scratch_on_every_prefix(rng):
    C = parts(rng, K=4)
    X_val = rng.normal(size=(10, 4))
    inc = DavinzUtility(C, X_val, model=net(), nu="paper")
    scratch = DavinzUtility(C, X_val, model=net(), nu="paper", ntk=NtkOptions(from_scratch=True))
    for perm in [(0, 1, 2, 3), (3, 1, 0, 2), (2, 3, 1, 0)]:
        a, b = inc.along_permutation(perm), scratch.along_permutation(perm)
        np.testing.assert_allclose(a, b, rtol=1e-10)
        for j in range(1, 5):  # the callable, through the prefix cache, agrees too
            assert inc(perm[:j]) == pytest.approx(a[j], rel=1e-10)


def test_kappa_singletons_formula_and_empty_coalition(rng):
    C = parts(rng)
    X_val = rng.normal(size=(10, 4))
    u = DavinzUtility(C, X_val, model=net(), nu="paper")
    terms = [u.terms((i,)) for i in range(3)]
    assert u.kappa == pytest.approx(sum(m for _, m in terms) / sum(n for n, _ in terms))
    k = np.exp(-((X_val[:, None] - X_val[None]) ** 2).sum(-1) / (2 * u.bandwidth**2))
    assert u(()) == pytest.approx(-np.sqrt(k.mean()))


def test_kappa_of_the_thresholded_mmd_balances_against_the_biased_one(rng):
    C, X_val = parts(rng), rng.normal(size=(10, 4))
    u = DavinzUtility(C, X_val, model=net(), nu="recommended")
    assert u.settings["mmd_estimator"] == "thresholded"
    ntk = sum(u.terms((i,))[0] for i in range(3))
    assert u.kappa == pytest.approx(sum(u.mmd((i,), "biased") for i in range(3)) / ntk, rel=1e-12)
    assert u((0, 1)) == pytest.approx(-u.kappa * u.terms((0, 1))[0] - u.mmd((0, 1)), rel=1e-12)


def test_block_mmd_equals_direct_unbiased(rng):
    C = parts(rng)
    X_val = rng.normal(size=(9, 4))
    u = DavinzUtility(C, X_val, model=net(), bandwidth=1.5, nu=NuOptions("paper", mmd_estimator="unbiased"))
    from trainfree.kernels import mmd

    S = torch.as_tensor(np.concatenate([C[0][0], C[2][0]]))
    assert u.mmd((0, 2)) == pytest.approx(mmd(torch.as_tensor(X_val), S, bandwidth=1.5, estimator="unbiased"))


def test_one_block_equals_exact_and_blocks_zero_cross_terms(rng):
    C = parts(rng)
    X_val = rng.normal(size=(8, 4))
    exact = DavinzUtility(C, X_val, model=net(), nu="paper")
    one = DavinzUtility(C, X_val, model=net(), nu="paper", ntk=NtkOptions(blocks=1), random_state=3)
    np.testing.assert_array_equal(exact.theta.numpy(), one.theta.numpy())
    approx = DavinzUtility(C, X_val, model=net(), nu="paper", ntk=NtkOptions(blocks=3), random_state=3)
    assert (approx.theta.numpy() == 0).mean() > 0.5
    assert np.isfinite(approx((0, 1, 2)))


def test_block_permutations_average_the_quadratic_form_over_partitions(rng):
    """ŷᵀΘ⁻¹ŷ with P partitions is the mean over them of the exact Θ masked to each partition's blocks."""
    C = parts(rng)
    X_val = rng.normal(size=(8, 4))
    exact = DavinzUtility(C, X_val, model=net(), nu="paper", ntk=NtkOptions(jitter=0.0))
    u = DavinzUtility(C, X_val, model=net(), nu="paper", ntk=NtkOptions(blocks=3, permutations=4, jitter=0.0),
                      random_state=5)
    theta, r = exact.theta[0].numpy(), exact.residual[0].numpy()
    assign = u.block_assignment
    assert assign.shape == (4, len(r)) and len({tuple(a) for a in assign}) == 4
    coalition = (0, 2)
    idx = np.r_[np.arange(exact.offsets[0], exact.offsets[1]), np.arange(exact.offsets[2], exact.offsets[3])]
    quad = []
    for a in assign:
        masked = np.where(a[:, None] == a[None, :], theta, 0.0)[np.ix_(idx, idx)]
        quad.append(r[idx] @ np.linalg.solve(masked, r[idx]))
    assert u.terms(coalition)[0] == pytest.approx(np.sqrt(np.mean(quad) / len(idx)), rel=1e-8)
    assert u.along_permutation((2, 0))[-1] == pytest.approx(u((0, 2)), rel=1e-10)
    with pytest.raises(TrainfreeError, match=r"permutations > 1.*Set blocks > 1"):
        NtkOptions(permutations=2)


def test_regression_and_semivalues_run(rng):
    C = [(rng.normal(size=(10, 3)), rng.normal(size=10)) for _ in range(3)]
    u = DavinzUtility(C, rng.normal(size=(10, 3)), model=net(3, 1), task="regression")
    exact = exact_shapley(u, 3)
    mc = permutation_shapley(u, 3, max_permutations=200, tolerance=1e-9, random_state=0)
    assert np.sum(exact.values) == pytest.approx(u((0, 1, 2)) - u(()))
    assert np.all(np.abs(mc.values - exact.values) <= 4 * mc.stderr + 1e-9)


def test_quantity_awareness(rng):
    """More data of the validation distribution raises ν (the paper's Proposition 1)."""
    X = rng.normal(size=(200, 4))
    y = (X[:, 0] > 0).astype(int)
    C = [(X[:40], y[:40]), (X[40:80], y[40:80]), (X[80:160], y[80:160])]
    for nu in ("paper", "recommended"):
        u = DavinzUtility(C, X[160:], model=net(out=2), nu=nu)
        assert u((0,)) < u((0, 1)) < u((0, 1, 2))


@pytest.mark.parametrize("contribs, X_val, model, match", [
    ([(np.zeros((0, 4)), np.zeros(0))], np.zeros((5, 4)), None, "at least 2"),
    ([(np.ones((1, 4)), np.zeros(1))], np.zeros((5, 4)), None, "at least 2"),
    ([(np.random.rand(5, 4), np.zeros(5))], np.zeros((5, 3)), None, "share an input shape"),
    ([(np.random.rand(5, 4), np.arange(5))], np.zeros((5, 4)), None, "outputs 3 values but labels go up to 4"),
    ([(np.random.rand(5, 4), np.zeros(5))], np.full((5, 4), np.nan), None, "NaN"),
    ([], np.zeros((5, 4)), None, "No contributors"),
])
def test_bad_input(contribs, X_val, model, match):
    with pytest.raises(TrainfreeError, match=match):
        DavinzUtility(contribs, X_val, model=model or net())


def test_all_outputs_equals_sum_of_per_class_kernels(rng):
    C = parts(rng, K=2)
    X_val = rng.normal(size=(8, 4))
    u = DavinzUtility(C, X_val, model=net(), nu=ALL, ntk=NtkOptions(jitter=0.0), kappa=1.0, bandwidth=1.0)
    X = torch.as_tensor(np.concatenate([c[0] for c in C]))
    y = np.concatenate([c[1] for c in C]).astype(int)
    model = net().double().eval()
    with torch.no_grad():
        f = model(X).numpy()
    total = 0.0
    for c in range(3):
        theta = empirical_ntk(model, X, out1=torch.full((len(y),), c)).numpy()
        r = (y == c) - f[:, c]
        total += r @ np.linalg.solve(theta, r)
    assert u.terms((0, 1))[0] == pytest.approx(np.sqrt(total / len(y)), rel=1e-9)
    np.testing.assert_allclose(u.along_permutation((1, 0)), DavinzUtility(
        C, X_val, model=net(), nu=ALL, ntk=NtkOptions(jitter=0.0, from_scratch=True), kappa=1.0,
        bandwidth=1.0).along_permutation((1, 0)), rtol=1e-10)


def test_all_outputs_sees_label_noise_own_class_does_not(rng):
    """At init the own-class residual is ≈ 1 for every example: only outputs='all' sees flipped labels."""
    X = np.concatenate([rng.normal(3 * c, 1.0, size=(40, 4)) for c in range(3)])
    y = np.repeat(np.arange(3), 40)
    perm = rng.permutation(120)
    X, y = X[perm], y[perm]
    noisy = y[:60].copy()
    noisy[:30] = (noisy[:30] + 1) % 3
    C = [(X[:60], noisy), (X[60:], y[60:])]
    all_ = DavinzUtility(C, X, model=net(), nu=ALL)
    own = DavinzUtility(C, X, model=net(), nu="paper")
    gap_all = all_.terms((0,))[0] / all_.terms((1,))[0]
    gap_own = own.terms((0,))[0] / own.terms((1,))[0]
    assert gap_all > 1.3 and abs(gap_own - 1) < 0.1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu(rng):
    C = parts(rng)
    X_val = rng.normal(size=(10, 4))
    cpu = DavinzUtility(C, X_val, model=net())
    gpu = DavinzUtility(C, X_val, model=net(), device="cuda")
    np.testing.assert_allclose(gpu.along_permutation((2, 0, 1)), cpu.along_permutation((2, 0, 1)), rtol=1e-8)


def test_preference_awareness_domain_shift_lowers_value(rng):
    """Data from another distribution than T is worth less (the paper's Theorem 1)."""
    X = rng.normal(size=(160, 4))
    y = (X[:, 0] > 0).astype(int)
    shifted = X[40:80] + 3.0
    C = [(X[:40], y[:40]), (shifted, y[40:80])]
    for nu in ("paper", "recommended"):
        u = DavinzUtility(C, X[80:], model=net(out=2), nu=nu)
        assert u((1,)) < u((0,))
        assert u.terms((1,))[1] > 3 * u.terms((0,))[1]


def test_stability_small_label_noise_changes_values_little(rng):
    """Flipping 2% of labels moves every contributor's Shapley value by far less than 40% does."""
    X = rng.normal(size=(240, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    base = [(X[i * 60:(i + 1) * 60], y[i * 60:(i + 1) * 60]) for i in range(3)]

    def values(rate):
        flipped = [(Xi, np.where(np.arange(60) < int(rate * 60), 1 - yi, yi)) for Xi, yi in base]
        return exact_shapley(DavinzUtility(flipped, X[180:], model=net(out=2), nu=ALL, kappa=1.0,
                                           bandwidth=2.0), 3).values

    clean, small, large = values(0.0), values(0.02), values(0.4)
    assert np.max(np.abs(small - clean)) < 0.2 * np.max(np.abs(large - clean))


def test_callers_model_is_left_untouched(rng):
    model = net()
    before = [p.clone() for p in model.parameters()]
    DavinzUtility(parts(rng), rng.normal(size=(8, 4)), model=model)
    assert all(p.dtype == torch.float32 and torch.equal(p, q) for p, q in zip(model.parameters(), before))


def test_one_class_data_is_refused(rng):
    C = [(rng.normal(size=(8, 4)), np.full(8, 2)) for _ in range(3)]
    with pytest.raises(TrainfreeError, match=r"All contributors' labels are class 2: .*constant.*at least two "
                                             r"classes, or use task='regression'"):
        DavinzUtility(C, rng.normal(size=(6, 4)), model=net())
    C[1] = (C[1][0], np.r_[np.full(7, 2), 0])  # one example of another class is enough
    assert np.isfinite(DavinzUtility(C, rng.normal(size=(6, 4)), model=net())((0, 1, 2)))


def test_more_ntk_blocks_than_examples_is_refused(rng):
    C = parts(rng, K=2, n=5)  # 5 + 6 = 11 examples
    with pytest.raises(TrainfreeError, match=r"NtkOptions\(blocks=12\) exceeds the 11 examples .* blocks <= 11"):
        DavinzUtility(C, rng.normal(size=(6, 4)), model=net(), ntk=NtkOptions(blocks=12))
    u = DavinzUtility(C, rng.normal(size=(6, 4)), model=net(), ntk=NtkOptions(blocks=11))  # one example per block
    assert np.isfinite(u((0, 1)))


@pytest.mark.parametrize("call", [lambda u: u((0, 7)), lambda u: u((-1,)), lambda u: u.terms((3,)),
                                  lambda u: u.mmd((0, -2)), lambda u: u.along_permutation((0, 5, 1))])
def test_coalitions_outside_the_players_are_refused(rng, call):
    u = DavinzUtility(parts(rng), rng.normal(size=(6, 4)), model=net())
    with pytest.raises(TrainfreeError, match=r"Coalition \(.*\) has player indices \[-?\d\] outside 0..2: this "
                                             r"utility has 3 contributors"):
        call(u)


def test_malformed_coalitions_are_refused(rng):
    u = DavinzUtility(parts(rng), rng.normal(size=(6, 4)), model=net())
    with pytest.raises(TrainfreeError, match=r"Coalition \(0, 0\) lists a player more than once"):
        u((0, 0))
    with pytest.raises(TrainfreeError, match="integer player indices"):
        u((0.5,))
    assert u((np.int64(1), 0)) == pytest.approx(u((0, 1)), rel=1e-12)  # numpy ints and any order are fine


def test_semivalues_refuse_more_players_than_contributors(rng):
    u = DavinzUtility(parts(rng), rng.normal(size=(6, 4)), model=net())
    assert u.n_players == 3
    with pytest.raises(TrainfreeError, match=r"utility has 3 players .* but n_players=5"):
        exact_shapley(u, 5)
    with pytest.raises(TrainfreeError, match=r"utility has 3 players .* but n_players=2"):
        permutation_shapley(u, 2)


def test_memory_is_checked_before_the_ntk_is_allocated(rng):
    C, X_val = parts(rng), rng.normal(size=(6, 4))  # 12 + 13 + 14 = 39 examples, 259 parameters
    with pytest.raises(TrainfreeError, match=r"DAVINZ's NTK on 39 examples \(3 kernel\(s\) of 39×39 float64.*"
                                             r"needs about .* but only .* available\. To fit, value fewer examples .*"
                                             r"outputs='mean' .*dtype='float32'"):
        DavinzUtility(C, X_val, model=net(), nu=ALL, ntk=NtkOptions(max_memory_bytes=1000))
    # The estimate: Θ₀ and two factors of its size, plus the Jacobians (of all 3 outputs) and one block kernel.
    need = 3 * 3 * 39**2 * 8 + 39 * 259 * 3 * 8 + 39**2 * 8
    with pytest.raises(TrainfreeError, match="needs about"):
        DavinzUtility(C, X_val, model=net(), nu=ALL, ntk=NtkOptions(max_memory_bytes=need - 1))
    u = DavinzUtility(C, X_val, model=net(), nu=ALL, ntk=NtkOptions(max_memory_bytes=need))
    assert u.theta.numel() * u.theta.element_size() * 3 <= need
    # outputs='own' in float32 needs a sixth of the kernels' memory and passes where 'all' did not.
    small = DavinzUtility(C, X_val, model=net(), nu="paper", dtype="float32", ntk=NtkOptions(max_memory_bytes=need // 3))
    assert small.theta.shape == (1, 39, 39)
    # outputs='mean' keeps every class's residual against one kernel: a third of the kernels' memory of 'all'.
    mean = DavinzUtility(C, X_val, model=net(), nu=NuOptions("paper", outputs="mean"),
                         ntk=NtkOptions(max_memory_bytes=need - 2 * 3 * 39**2 * 8))
    assert mean.theta.shape == (1, 39, 39) and mean.residual.shape == (1, 39, 3)


def test_fingerprint_identifies_the_problem(rng):
    C, X_val = parts(rng), rng.normal(size=(6, 4))
    fp = DavinzUtility(C, X_val, model=net(), nu="paper").fingerprint()
    assert fp == DavinzUtility(C, X_val, model=net(), nu="paper").fingerprint()  # same inputs and machine: same bits
    # The preset's name is not compared, only what it resolves to.
    same = NuOptions("recommended", outputs="own", size_ridge=0.0, mmd_estimator="biased")
    assert DavinzUtility(C, X_val, model=net(), nu=same).fingerprint() == fp
    assert fp["class"] == "DavinzUtility" and fp["settings"]["sizes"] == [12, 13, 14]
    others = [DavinzUtility(C, X_val, model=net(seed=1), nu="paper"),  # another initialization
              DavinzUtility(C, X_val, model=net(), nu=ALL),
              DavinzUtility(C, X_val, model=net()),  # the recommended ν
              DavinzUtility([C[0], C[2], C[1]], X_val, model=net(), nu="paper"),  # contributors reordered
              DavinzUtility(C[:1] + [(C[1][0], (C[1][1] + 1) % 3)] + C[2:], X_val, model=net(), nu="paper")]
    for other in others:
        assert other.fingerprint() != fp


def test_checkpoint_of_another_davinz_problem_is_refused(rng, tmp_path):
    C, X_val = parts(rng), rng.normal(size=(6, 4))
    ckpt = tmp_path / "run.npz"
    kw = dict(max_permutations=16, tolerance=None, batch_size=8, random_state=0, checkpoint=ckpt)
    first = permutation_shapley(DavinzUtility(C, X_val, model=net(), nu="paper"), 3, **kw)
    # The same problem, rebuilt, resumes to the saved values.
    again = permutation_shapley(DavinzUtility(C, X_val, model=net(), nu="paper"), 3, **kw)
    np.testing.assert_allclose(again.values, first.values, rtol=1e-12)
    with pytest.raises(TrainfreeError, match=r"different run \(fingerprint\.settings\.outputs: saved 'own', "
                                             r"now 'all'.*new checkpoint path"):
        permutation_shapley(DavinzUtility(C, X_val, model=net(), nu=ALL), 3, **kw)
    with pytest.raises(TrainfreeError, match=r"different run \(fingerprint\.settings\.kappa: saved [\d.]+, now "
                                             r"[\d.]+; fingerprint\.theta: saved \[[\d., ]+"):
        permutation_shapley(DavinzUtility(C, X_val, model=net(seed=1), nu="paper"), 3, **kw)


def test_memory_budget_on_cuda_is_the_free_gpu_memory(monkeypatch):
    from trainfree.valuation._davinz_checks import check_ntk_memory

    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (10 * 2**20, 80 * 2**30))
    kw = dict(outputs="own", n_outputs=1, ntk_permutations=1, max_jacobian_bytes=2 * 2**30)
    # 1000 examples: 3 × 8 MB of kernels in float64 exceed 80% of 10 MiB free on the GPU; float32 does not.
    with pytest.raises(TrainfreeError, match=r"DAVINZ's NTK on 1000 examples.*only 0.0 GiB is available.*float32"):
        check_ntk_memory(1000, 1, 1000, 10, torch.float64, torch.device("cuda"), None, **kw)
    check_ntk_memory(300, 1, 300, 10, torch.float32, torch.device("cuda"), None, **kw)
    # An explicit budget wins over the device's free memory.
    check_ntk_memory(1000, 1, 1000, 10, torch.float64, torch.device("cuda"), 2**30, **kw)


def test_many_schur_walk_equals_each_coalition_alone(rng):
    """The depth-first Schur-complement walk gives every coalition's ν, for all subsets and for a sparse family."""
    C = parts(rng, K=5, n=6)
    X_val = rng.normal(size=(8, 4))
    fresh = lambda: DavinzUtility(C, X_val, model=net(), nu=ALL, kappa=1.0)  # noqa: E731
    all_subsets = [c for r in range(6) for c in itertools.combinations(range(5), r)]
    alone = fresh()
    ref = np.array([alone(c) for c in all_subsets])
    np.testing.assert_allclose(fresh().many(all_subsets), ref, rtol=1e-10)
    sparse = [(4, 1), (0, 2, 3), (1,), ()]
    np.testing.assert_allclose(fresh().many(sparse), [alone(c) for c in sparse], rtol=1e-10)
    u = fresh()
    exact = exact_shapley(u, 5)  # the evaluator calls many()
    assert len(u.solves.quads) == 32 and u.solves.n_extensions == 0
    np.testing.assert_allclose(exact.values, exact_shapley(lambda c: alone(c), 5).values, rtol=1e-10)


def test_permutation_path_reuses_known_prefixes(rng):
    C = parts(rng, K=4, n=6)
    u = DavinzUtility(C, rng.normal(size=(8, 4)), model=net(), nu="paper")
    u.along_permutation((0, 1, 2, 3))
    n = u.solves.n_extensions
    second = u.along_permutation((1, 0, 2, 3))
    np.testing.assert_allclose(second, [u(()), u((1,)), u((0, 1)), u((0, 1, 2)), u((0, 1, 2, 3))], rtol=1e-10)
    # (1,) is new; (0, 1), (0, 1, 2), (0, 1, 2, 3) were known from the first permutation: one factorisation, no extension
    assert u.solves.n_extensions == n


@pytest.mark.parametrize("estimator", ["biased", "unbiased", "thresholded"])
def test_mmd_along_a_permutation_equals_each_prefix(rng, estimator):
    u = DavinzUtility(parts(rng, K=4, n=5), rng.normal(size=(7, 4)), model=net(),
                      nu=NuOptions("paper", mmd_estimator=estimator))
    perm = (2, 0, 3, 1)
    np.testing.assert_allclose(u.mmd_along(perm), [u.mmd(perm[:j]) for j in range(5)], rtol=1e-12)


@pytest.mark.parametrize("outputs", ["all", "mean"])
def test_size_ridge_equals_direct_restatement(rng, outputs):
    """size_ridge=ρ: Σ_c r_cᵀ(Θ_c,S + (jitter + ρ·m_S)·d·I)⁻¹r_c / m_S, d the mean diagonal of the union's Θ_c.

    ``outputs="mean"``: every Θ_c replaced by their average over the classes c.
    """
    C = parts(rng, K=3, n=6)
    X_val = rng.normal(size=(8, 4))
    rho, jitter = 0.05, 1e-6
    u = DavinzUtility(C, X_val, model=net(), nu=NuOptions("recommended", outputs=outputs, size_ridge=rho),
                      ntk=NtkOptions(jitter=jitter), kappa=0.5, bandwidth=1.0)
    X = torch.as_tensor(np.concatenate([c[0] for c in C]))
    y = np.concatenate([c[1] for c in C]).astype(int)
    model = net().double().eval()
    grads = np.zeros((3, len(y), sum(p.numel() for p in model.parameters())))
    for i in range(len(y)):  # per-example gradient of each output, by plain autograd
        for c in range(3):
            g = torch.autograd.grad(model(X[i:i + 1])[0, c], list(model.parameters()))
            grads[c, i] = torch.cat([t.reshape(-1) for t in g]).numpy()
    with torch.no_grad():
        f = model(X).numpy()
    thetas = np.einsum("cip,cjp->cij", grads, grads)
    if outputs == "mean":
        thetas = np.broadcast_to(thetas.mean(0), thetas.shape)
    d = np.mean([np.diag(t).mean() for t in thetas])
    start = np.r_[0, np.cumsum([len(c[1]) for c in C])]
    coalitions = [s for r in range(1, 4) for s in itertools.combinations(range(3), r)]
    ref = []
    for s in coalitions:
        idx = np.concatenate([np.arange(start[i], start[i + 1]) for i in s])
        m = len(idx)
        quad = sum(((y[idx] == c) - f[idx, c]) @ np.linalg.solve(
            thetas[c][np.ix_(idx, idx)] + (jitter + rho * m) * d * np.eye(m), (y[idx] == c) - f[idx, c])
            for c in range(3))
        ref.append(-0.5 * np.sqrt(quad / m) - u.mmd(s))
        assert u.terms(s)[0] == pytest.approx(np.sqrt(quad / m), rel=1e-8)
    np.testing.assert_allclose([u(s) for s in coalitions], ref, rtol=1e-8)
    np.testing.assert_allclose(u.many(coalitions), ref, rtol=1e-8)
    np.testing.assert_allclose(u.along_permutation((2, 0, 1))[1:], [ref[2], ref[4], ref[6]], rtol=1e-8)
    assert u.settings["size_ridge"] == rho and "ρ·d·m_S" in u.settings["nu_description"]
    assert (u.settings["nu"], u.settings["outputs"]) == ("recommended", outputs)
    assert u.theta.shape[0] == (1 if outputs == "mean" else 3)  # one kernel for every class output
    with pytest.raises(TrainfreeError, match="size_ridge"):
        NuOptions(size_ridge=-1.0)
