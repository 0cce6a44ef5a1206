"""The detector's low-rank mode: its algebra against the exact formula, the detector against the exact mode, Dask."""

import json

import numpy as np
import pytest
import torch

from trainfree import TrainfreeError
from trainfree.kernels import arccos_gram
from trainfree.linalg.loo_predictions import loo_loss_path, loo_predictions, one_vs_rest
from trainfree.linalg.lowrank_loo import LowRankSpectrum, NystromMap, lowrank_loo, lowrank_loss_path
from trainfree.linalg.nystrom import rp_cholesky
from trainfree.data import inject_label_noise, load
from trainfree.scores import mislabel_lowrank, mislabel_score
from trainfree.scores.mislabel_lowrank import MAX_RANK, RANK_LOSS_TOL, RANK_START
from trainfree.scores.cg import unit_rows

RTOL = {torch.float64: 1e-8, torch.float32: 1e-3}


def _blobs(n_per=60, d=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    centres = 3.0 * np.eye(d)[:classes]  # separate directions: the arc-cosine kernel sees angles
    X = np.concatenate([rng.normal(c, 1.0, (n_per, d)) for c in centres])
    y = np.repeat(np.arange(classes), n_per)
    y[[3, n_per + 4]] = [1, 2]  # two wrong labels
    return X, y


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_full_rank_factor_gives_the_exact_leave_one_out(dtype):
    X, y = _blobs()
    K = arccos_gram(torch.as_tensor(unit_rows(X, "raw")))
    Y = torch.as_tensor(one_vs_rest(y, 3))
    ridge = 0.05
    exact, _ = loo_predictions(K.clone(), Y, ridge)
    Phi = torch.linalg.cholesky(K).to(dtype)  # ΦΦᵀ = K, r = n
    spec = LowRankSpectrum.from_sums(Phi.T @ Phi, Phi.T @ Y.to(dtype))
    F = lowrank_loo(Phi, Y, spec, ridge)
    np.testing.assert_allclose(F.numpy(), exact.numpy(), rtol=RTOL[dtype], atol=RTOL[dtype] * float(exact.abs().max()))


def test_rank_deficient_factor_against_brute_force_inverse():
    rng = np.random.default_rng(1)
    Phi = torch.as_tensor(rng.normal(size=(40, 7)))
    Y = torch.as_tensor(one_vs_rest(rng.integers(0, 3, 40), 3))
    ridge = 0.3
    inv = torch.linalg.inv(Phi @ Phi.T + ridge * torch.eye(40, dtype=torch.float64))
    brute = Y - (inv @ Y) / inv.diagonal()[:, None]
    spec = LowRankSpectrum.from_sums(Phi.T @ Phi, Phi.T @ Y)
    np.testing.assert_allclose(lowrank_loo(Phi, Y, spec, ridge).numpy(), brute.numpy(), rtol=1e-9, atol=1e-9)
    # a block of rows predicted from the sums over all rows is the same rows of F
    np.testing.assert_allclose(lowrank_loo(Phi[10:20], Y[10:20], spec, ridge).numpy(), brute[10:20].numpy(),
                               rtol=1e-9, atol=1e-9)


def test_loss_path_matches_the_exact_path_at_full_rank():
    X, y = _blobs(seed=2)
    K = arccos_gram(torch.as_tensor(unit_rows(X, "raw")))
    grid = [0.01, 0.1, 1.0]
    exact = loo_loss_path(K.clone(), y, grid, n_classes=3)
    Phi = torch.linalg.cholesky(K)
    scale = float(K.diagonal().mean())
    spec = LowRankSpectrum.from_sums(Phi.T @ Phi, Phi.T @ torch.as_tensor(one_vs_rest(y, 3)))
    low, taus = lowrank_loss_path(Phi, y, spec, [g * scale for g in grid], n_classes=3)
    np.testing.assert_allclose(low, exact, rtol=1e-6)
    assert len(taus) == 3 and min(taus) > 0


def test_zero_ridge_is_refused():
    Phi = torch.eye(3, dtype=torch.float64)
    spec = LowRankSpectrum.from_sums(Phi, Phi)
    with pytest.raises(TrainfreeError, match="ridge > 0"):
        lowrank_loo(Phi, Phi, spec, 0.0)


def test_nystrom_map_reproduces_rp_cholesky_factor():
    X, _ = _blobs(seed=3)
    Xt = torch.as_tensor(unit_rows(X, "raw"))
    K = arccos_gram(Xt)
    F, piv = rp_cholesky(lambda S: K[:, S], K.diagonal().clone(), 40, rng=np.random.default_rng(0), block=10)
    nmap = NystromMap.from_landmarks(K[np.ix_(piv, piv)])
    Phi = nmap(K[:, piv])
    np.testing.assert_allclose((Phi @ Phi.T).numpy(), (F @ F.T).numpy(), atol=1e-8)


def test_rp_cholesky_tolerance_stops_early():
    X, _ = _blobs(seed=4)
    K = arccos_gram(torch.as_tensor(unit_rows(X, "raw")))
    F, _ = rp_cholesky(lambda S: K[:, S], K.diagonal().clone(), 180, rng=np.random.default_rng(0), block=10,
                       tol=0.05)
    resid = float(K.diagonal().sum() - F.square().sum()) / float(K.diagonal().sum())
    assert F.shape[1] < 180 and resid <= 0.05


def test_rp_cholesky_stop_ends_after_the_block_it_is_true_for():
    X, _ = _blobs(seed=4)
    K = arccos_gram(torch.as_tensor(unit_rows(X, "raw")))
    seen = []
    F, _ = rp_cholesky(lambda S: K[:, S], K.diagonal().clone(), 180, rng=np.random.default_rng(0), block=10,
                       stop=lambda F: seen.append(F.shape[1]) or len(seen) == 3)
    assert F.shape[1] == seen[-1] and len(seen) == 3 and seen == sorted(seen)


def test_detector_lowrank_at_full_rank_equals_exact():
    X, y = _blobs()
    exact = mislabel_score(X, y, ridge=0.1, random_state=0)
    low = mislabel_score(X, y, method="lowrank", ridge=0.1, rank=len(y), random_state=0)
    assert low.settings["rank"] == len(y) and low.settings["rank_rule"] == "given"
    np.testing.assert_allclose(low.scores, exact.scores, rtol=1e-3, atol=1e-3)  # exact runs in float32 here
    assert set(np.flatnonzero(low.flags)) == set(np.flatnonzero(exact.flags))


def test_detector_lowrank_automatic_rank_and_ridge():
    X, y = _blobs()
    res = mislabel_score(X, y, method="lowrank", random_state=0)
    s = res.settings
    assert 0 not in s["ridge_grid"] and s["ridge"] in s["ridge_grid"]
    assert 1 <= s["rank"] <= len(y) and s["rank_path"][0][0] <= s["rank"] and s["solve_device"] == "cpu"
    assert set(np.argsort(res.scores)[-2:]) == {3, 64}


def test_rank_rule_doubles_while_it_pays_then_skips_the_block_correction():
    data = load("digits", random_state=0)
    y, _ = inject_label_noise(np.asarray(data.y), 0.2, random_state=1)
    s = mislabel_score(np.asarray(data.X), y, method="lowrank", random_state=0).settings
    path = s["rank_path"]  # measured: ranks 98, 192, 388, 768; the last doubling bought 0.93%
    assert len(path) >= 3 and s["rank"] == path[-1][0] < MAX_RANK
    gains = [1 - b[1] / a[1] for a, b in zip(path, path[1:])]
    assert all(g >= RANK_LOSS_TOL for g in gains[:-1]) and gains[-1] < RANK_LOSS_TOL
    assert all(1.8 * a[0] <= b[0] < 2 * a[0] + RANK_START for a, b in zip(path, path[1:]))  # rounds of 100
    # the rule's last loss is the ridge search's best on the same factor (float32 columns: not bitwise)
    assert min(s["ridge_loo_log_loss"]) == pytest.approx(path[-1][1], rel=1e-4)
    assert s["rank_stopped"] == "rule" and s["block_correction"] is False
    assert "stopped at" in s["block_correction_skipped"]


def test_rank_at_the_cap_gets_the_block_correction(monkeypatch):
    monkeypatch.setattr(mislabel_lowrank, "MAX_RANK", 60)
    X, y = _blobs()
    s = mislabel_score(X, y, method="lowrank", random_state=0).settings
    assert s["rank"] == 60 and s["rank_path"] == [] and s["block_correction"] is True and s["blocks"] == 1
    assert s["rank_stopped"] == "cap"


def test_every_row_a_landmark_is_the_exact_kernel_and_needs_no_correction():
    X, y = _blobs()  # 180 rows: below the cap, so the rank reaches n
    low = mislabel_score(X, y, method="lowrank", ridge=0.1, random_state=0)
    s = low.settings
    assert s["rank"] == len(y) and s["rank_stopped"] == "all rows" and s["block_correction"] is False
    assert "exact" in s["block_correction_skipped"]
    exact = mislabel_score(X, y, ridge=0.1, random_state=0)
    np.testing.assert_allclose(low.scores, exact.scores, rtol=1e-3, atol=1e-3)  # exact runs in float32 here


def test_detector_lowrank_precomputed_kernel():
    X, y = _blobs()
    K = arccos_gram(torch.as_tensor(unit_rows(X, "raw"))).numpy()
    rows = mislabel_score(X, y, method="lowrank", ridge=0.1, rank=50, random_state=0)
    pre = mislabel_score(K, y, kernel="precomputed", method="lowrank", ridge=0.1, rank=50, random_state=0)
    # the same landmarks; rows' kernel columns are computed in float32, whose rounding arccos amplifies
    np.testing.assert_allclose(pre.scores, rows.scores, rtol=2e-3, atol=2e-3)
    assert pre.settings["rank"] == rows.settings["rank"] == 50


def test_detector_lowrank_refuses_zero_ridge_and_bad_rank():
    X, y = _blobs()
    with pytest.raises(TrainfreeError, match="ridge > 0"):
        mislabel_score(X, y, method="lowrank", ridge=0)
    with pytest.raises(TrainfreeError, match="rank"):
        mislabel_score(X, y, method="lowrank", rank=0)


def test_auto_picks_exact_for_small_n():
    X, y = _blobs()
    res = mislabel_score(X, y, method="auto", random_state=0)
    assert res.settings["method"] == "exact" and res.settings["method_auto"].startswith("exact (n = 180")


def test_dask_array_on_a_local_cluster_matches_the_local_result():
    da = pytest.importorskip("dask.array")
    distributed = pytest.importorskip("distributed")
    X, y = _blobs(n_per=80)
    local = mislabel_score(X, y, method="lowrank", block_rows=0, random_state=0)  # on Dask: off
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=":0") as cluster, distributed.Client(cluster):
        remote = mislabel_score(da.from_array(X, chunks=(50, 6)), y, method="auto", random_state=0)
    assert remote.settings["method"] == "lowrank" and remote.settings["rank"] == local.settings["rank"]
    np.testing.assert_allclose(remote.scores, local.scores, rtol=1e-9, atol=1e-9)


def test_dask_array_refusals():
    da = pytest.importorskip("dask.array")
    X, y = _blobs()
    with pytest.raises(TrainfreeError, match="lowrank"):
        mislabel_score(da.from_array(X, chunks=(50, 6)), y, method="exact")
    with pytest.raises(TrainfreeError, match="center"):
        mislabel_score(da.from_array(X, chunks=(50, 6)), y, method="lowrank", preprocess="center")


def test_cli_lowrank_records_rank_and_refuses_zero_ridge(tmp_path):
    from trainfree.cli import main

    out = tmp_path / "o"
    assert main(["score", "mislabel", "--data", "digits", "--n", "300", "--noise", "0.2", "--method", "lowrank",
                 "--rank", "40", "--seed", "0", "--out", str(out), "--no-report", "--quiet"]) == 0
    settings = json.loads((out / "summary.json").read_text())["settings"]
    assert settings["method"] == "lowrank" and settings["rank"] == 40 and settings["rank_rule"] == "given"
    assert main(["score", "mislabel", "--data", "digits", "--n", "300", "--method", "lowrank", "--ridge", "0",
                 "--out", str(tmp_path / "z"), "--no-report", "--quiet"]) == 2
