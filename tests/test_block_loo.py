"""The low-rank mode's block correction: K ≈ ΦΦᵀ + blockdiag(K_bb − Φ_bΦ_bᵀ) (trainfree.linalg.block_loo), its
algebra against brute-force inverses, and its place in mislabel_score(method="lowrank")."""

import json
import warnings

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from trainfree import TrainfreeError
from trainfree.data import inject_label_noise, load
from trainfree.kernels import arccos_gram
from trainfree.linalg.block_loo import block_loo, block_loo_path, split_large
from trainfree.linalg.loo_predictions import loo_predictions, one_vs_rest
from trainfree.scores import mislabel_score
from trainfree.scores.cg import unit_rows


def _problem(n=45, r=6, seed=2):
    rng = np.random.default_rng(seed)
    K = arccos_gram(torch.as_tensor(unit_rows(rng.normal(size=(n, 7)), "raw")))
    Phi = torch.linalg.cholesky(K)[:, :r]  # a rank-r Cholesky (Nyström) factor: K − ΦΦᵀ is PSD
    Y = torch.as_tensor(one_vs_rest(rng.integers(0, 3, n), 3))
    return rng, K, Phi, Y


def test_block_correction_against_brute_force_inverse():
    rng, K, Phi, Y = _problem()
    n = len(K)
    blocks = [np.sort(b) for b in np.array_split(rng.permutation(n), 4)]
    same = np.zeros((n, n), dtype=bool)
    for b in blocks:
        same[np.ix_(b, b)] = True
    ridge = 0.05
    approx = Phi @ Phi.T + (K - Phi @ Phi.T) * torch.as_tensor(same)
    inv = torch.linalg.inv(approx + ridge * torch.eye(n, dtype=torch.float64))
    brute = Y - (inv @ Y) / inv.diagonal()[:, None]
    F, jitter = block_loo(Phi, Y, blocks, lambda idx: K[np.ix_(idx, idx)], ridge)
    np.testing.assert_allclose(F.numpy(), brute.numpy(), rtol=1e-8, atol=1e-8)
    assert jitter == 0.0
    # the correction changes the predictions: not the plain Nyström formula in disguise
    plain_inv = torch.linalg.inv(Phi @ Phi.T + ridge * torch.eye(n, dtype=torch.float64))
    plain = Y - (plain_inv @ Y) / plain_inv.diagonal()[:, None]
    assert float((F - plain).abs().max()) > 1e-2


def test_one_block_of_all_rows_is_the_exact_leave_one_out():
    _, K, Phi, Y = _problem(seed=3)
    exact, _ = loo_predictions(K.clone(), Y, 0.05)
    whole, _ = block_loo(Phi, Y, [np.arange(len(K))], lambda idx: K[np.ix_(idx, idx)], 0.05)
    np.testing.assert_allclose(whole.numpy(), exact.numpy(), rtol=1e-8, atol=1e-8)


def test_block_loo_path_is_block_loo_at_each_ridge():
    rng, K, Phi, Y = _problem(seed=5)
    blocks = [np.sort(b) for b in np.array_split(rng.permutation(len(K)), 3)]
    calls = []

    def kernel_block(idx):
        calls.append(len(idx))
        return K[np.ix_(idx, idx)]

    Fs, _ = block_loo_path(Phi, Y, blocks, kernel_block, [0.01, 0.1, 1.0])
    assert len(calls) == 3  # each block's residual formed once for all three ridges
    for F, ridge in zip(Fs, [0.01, 0.1, 1.0]):
        one, _ = block_loo(Phi, Y, blocks, lambda idx: K[np.ix_(idx, idx)], ridge)
        np.testing.assert_allclose(F.numpy(), one.numpy(), rtol=1e-10, atol=1e-10)
    assert float((Fs[0] - Fs[2]).abs().max()) > 1e-2


def test_block_loo_refuses_a_zero_ridge_and_a_non_partition():
    _, K, Phi, Y = _problem()
    with pytest.raises(TrainfreeError, match="ridge > 0"):
        block_loo(Phi, Y, [np.arange(len(K))], lambda idx: K[np.ix_(idx, idx)], 0.0)
    with pytest.raises(TrainfreeError, match="partition"):
        block_loo(Phi, Y, [np.arange(10)], lambda idx: K[np.ix_(idx, idx)], 0.1)


def test_split_large_caps_a_block_and_keeps_a_partition():
    labels = np.r_[np.zeros(2500, int), np.ones(900, int), np.full(10, 2)]
    blocks = split_large(labels, 1000, np.random.default_rng(0))
    assert max(len(b) for b in blocks) <= 1000
    np.testing.assert_array_equal(np.sort(np.concatenate(blocks)), np.arange(len(labels)))
    assert all(len(set(labels[b])) == 1 for b in blocks)


@pytest.fixture(scope="module")
def digits():
    data = load("digits", random_state=0)
    y, flipped = inject_label_noise(np.asarray(data.y), 0.2, random_state=1)
    X = np.asarray(data.X)
    return X, y, flipped, mislabel_score(X, y, random_state=0).scores


def test_block_correction_ranks_closer_to_the_exact_mode(digits):
    X, y, _, exact = digits
    plain = mislabel_score(X, y, method="lowrank", rank=100, block_rows=0, random_state=0)
    blocks = mislabel_score(X, y, method="lowrank", rank=100, block_rows=400, random_state=0)
    assert plain.settings["block_correction"] is False and plain.settings["blocks"] == 0
    s = blocks.settings
    assert s["block_correction"] is True and s["block_rows"] == 400 and s["blocks"] >= 4
    # the uncorrected search's pick and its grid neighbours, chosen again by the corrected log loss
    assert plain.settings["ridge"] in s["block_ridge_grid"] and len(s["block_ridge_grid"]) == 3
    assert s["ridge"] == s["block_ridge_grid"][int(np.argmin(s["block_ridge_loo_log_loss"]))]
    assert "block_correction_s" in blocks.timings
    rho_plain, rho_blocks = spearmanr(plain.scores, exact)[0], spearmanr(blocks.scores, exact)[0]
    assert rho_plain < 0.93 and rho_blocks > rho_plain + 0.02  # measured 0.905 and 0.945


def test_default_is_the_block_correction_and_seeded(digits):
    X, y, _, _ = digits
    a = mislabel_score(X[:600], y[:600], method="lowrank", rank=60, random_state=0)
    b = mislabel_score(X[:600], y[:600], method="lowrank", rank=60, random_state=0)
    assert a.settings["block_correction"] is True and a.settings["block_rows"] == 1000 and a.settings["blocks"] == 1
    np.testing.assert_allclose(a.scores, b.scores, rtol=1e-12, atol=1e-12)
    full = mislabel_score(X[:600], y[:600], method="lowrank", rank=60, block_rows=300, random_state=0)
    again = mislabel_score(X[:600], y[:600], method="lowrank", rank=60, block_rows=300, random_state=0)
    np.testing.assert_allclose(full.scores, again.scores, rtol=1e-12, atol=1e-12)


def test_other_methods_ignore_block_rows_and_bad_values_are_refused(digits):
    X, y, _, _ = digits
    res = mislabel_score(X[:300], y[:300], block_rows=50, random_state=0)
    assert res.settings["method"] == "exact" and "block_correction" not in res.settings
    for bad in (-1, 2.5, "many"):
        with pytest.raises(TrainfreeError, match="block_rows"):
            mislabel_score(X[:300], y[:300], method="lowrank", block_rows=bad)


def test_dask_default_falls_back_to_plain_nystrom_and_says_so():
    da = pytest.importorskip("dask.array")
    X, y, _, _ = _blobs_digits()
    with pytest.warns(UserWarning, match="block correction is not available on a Dask array"):
        remote = mislabel_score(da.from_array(X, chunks=(100, X.shape[1])), y, method="lowrank", rank=40,
                                random_state=0)
    s = remote.settings
    assert s["block_correction"] is False and s["blocks"] == 0 and "Dask" in s["block_correction_skipped"]
    local = mislabel_score(X, y, method="lowrank", rank=40, block_rows=0, random_state=0)
    np.testing.assert_allclose(remote.scores, local.scores, rtol=1e-9, atol=1e-9)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # off on purpose: no warning
        mislabel_score(da.from_array(X, chunks=(100, X.shape[1])), y, method="lowrank", rank=40, block_rows=0,
                       random_state=0)
    with pytest.raises(TrainfreeError, match="block_rows=0"):
        mislabel_score(da.from_array(X, chunks=(100, X.shape[1])), y, method="lowrank", block_rows=1000)


def _blobs_digits():
    data = load("digits", n=300, random_state=0)
    return np.asarray(data.X, dtype=np.float64), np.asarray(data.y), None, None


def test_cli_block_rows(tmp_path, capsys):
    from trainfree.cli import main

    out = tmp_path / "o"
    assert main(["score", "mislabel", "--data", "digits", "--n", "300", "--method", "lowrank", "--rank", "40",
                 "--block-rows", "100", "--seed", "0", "--out", str(out), "--no-report", "--quiet"]) == 0
    settings = json.loads((out / "summary.json").read_text())["settings"]
    assert settings["block_correction"] is True and settings["block_rows"] == 100 and settings["blocks"] >= 3
    assert main(["score", "mislabel", "--data", "digits", "--n", "300", "--block-rows", "lots",
                 "--out", str(tmp_path / "z"), "--quiet"]) == 2
    assert "--block-rows" in capsys.readouterr().err


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_lowrank_on_cuda_matches_cpu(digits):
    X, y, _, _ = digits
    for kw in ({}, {"rank": 100, "block_rows": 400}):  # the rank rule (plain Nyström), then the block correction
        cpu = mislabel_score(X, y, method="lowrank", random_state=0, **kw)
        gpu = mislabel_score(X, y, method="lowrank", random_state=0, device="cuda", **kw)
        assert cpu.settings["solve_device"] == "cpu" and gpu.settings["solve_device"].startswith("cuda")
        assert gpu.settings["rank"] == cpu.settings["rank"] and gpu.settings["ridge"] == cpu.settings["ridge"]
        np.testing.assert_allclose(gpu.scores, cpu.scores, rtol=1e-3, atol=1e-3)  # float32 kernel columns
