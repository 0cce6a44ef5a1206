"""The kernel leave-one-out mislabel detector against explicit refits, grid searches and analytic cases."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from trainfree import TrainfreeError
from trainfree.cli import main
from trainfree.data import load
from trainfree.experiments import score_dataset
from trainfree.kernels import arccos_gram
from trainfree.linalg.loo_predictions import fit_temperature, loo_loss_path, loo_predictions, one_vs_rest
from trainfree.scores import cg_score, mislabel_score
from trainfree.scores.cg import unit_rows
from trainfree.scores.mislabel import RIDGE_GRID


def blobs(rng, n_per=12, n_classes=3, d=5, sep=2.0):
    centres = rng.normal(0, sep, (n_classes, d))
    X = np.concatenate([c + rng.normal(size=(n_per, d)) for c in centres])
    return X, np.repeat(np.arange(n_classes), n_per)


def refit_loo(K, Y, lam):
    """F₋ᵢ by an explicit kernel ridge fit on all rows but i, with the same absolute ridge λ."""
    n = len(K)
    F = np.empty_like(Y)
    for i in range(n):
        keep = np.arange(n) != i
        alpha = np.linalg.solve(K[np.ix_(keep, keep)] + lam * np.eye(n - 1), Y[keep])
        F[i] = K[i, keep] @ alpha
    return F


@pytest.mark.parametrize("ridge", [0.0, 0.3, 2.0])
def test_loo_predictions_equal_explicit_refits(rng, ridge):
    X, y = blobs(rng)
    K = arccos_gram(torch.as_tensor(unit_rows(X, "raw"))).numpy()
    Y = one_vs_rest(y, 3)
    F, jitter = loo_predictions(torch.as_tensor(K.copy()), torch.as_tensor(Y), ridge * K.diagonal().mean())
    assert jitter == 0.0
    np.testing.assert_allclose(F.numpy(), refit_loo(K, Y, ridge * K.diagonal().mean()), rtol=1e-8, atol=1e-10)


def test_scores_follow_from_the_refit_predictions(rng):
    X, y = blobs(rng)
    res = mislabel_score(X, y, ridge=0.5, temperature=0.7, dtype="float64")
    K = arccos_gram(torch.as_tensor(unit_rows(X, "raw"))).numpy()
    F = refit_loo(K, one_vs_rest(y, 3), 0.5 * K.diagonal().mean())
    P = np.exp(F / 0.7) / np.exp(F / 0.7).sum(axis=1, keepdims=True)
    idx = np.arange(len(y))
    t = np.array([P[y == c, c].mean() for c in range(3)])  # mean confidence of each given label
    np.testing.assert_allclose(res.scores, np.log(t[y] / P[idx, y]), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(res["self_confidence"], P[idx, y], rtol=1e-8, atol=1e-14)
    others = F.copy()
    others[idx, y] = -np.inf
    np.testing.assert_allclose(res["margin"], others.max(axis=1) - F[idx, y], rtol=1e-8, atol=1e-10)
    np.testing.assert_array_equal(res["predicted"], F.argmax(axis=1))
    np.testing.assert_array_equal(res["flag_argmax"], (F.argmax(axis=1) != y) & (res.scores > 1e-3))
    assert np.isnan(res["stderr"]).all() and res.seed is None  # exact, all rows used to choose λ: no draws


def test_auto_ridge_equals_brute_force_grid_search(rng):
    X, y = blobs(rng, n_per=10, sep=1.0)
    y[[0, 11, 25]] = [2, 0, 1]  # some noise, so that the best ridge is not at an end of the grid
    res = mislabel_score(X, y)
    K = arccos_gram(torch.as_tensor(unit_rows(X, "raw"))).numpy()
    Y = one_vs_rest(y, 3)
    brute = []
    for r in RIDGE_GRID:  # refit without each example, fit τ, mean −log softmax(F/τ)[given]
        F = refit_loo(K, Y, r * K.diagonal().mean())
        tau = fit_temperature(F, y)
        Z = F / tau - (F / tau).max(axis=1, keepdims=True)
        brute.append(-(Z[np.arange(len(y)), y] - np.log(np.exp(Z).sum(axis=1))).mean())
    np.testing.assert_allclose(res.settings["ridge_loo_log_loss"], brute, rtol=1e-6)
    assert res.settings["ridge"] == RIDGE_GRID[int(np.argmin(brute))]
    assert 0 < res.settings["ridge"] < RIDGE_GRID[-1]


def test_singular_kernel_gets_infinite_error_without_ridge():
    K = torch.ones(3, 3, dtype=torch.float64)  # rank one
    losses = loo_loss_path(K, np.array([0, 1, 0]), [0.0, 1.0])
    assert losses[0] == np.inf and np.isfinite(losses[1])


def test_temperature_maximises_the_likelihood_of_the_given_labels(rng):
    F = rng.normal(size=(50, 4))
    codes = rng.integers(0, 4, 50)
    F[np.arange(50), codes] += 1.0

    def loglik(tau):
        Z = F / tau
        return (Z[np.arange(50), codes] - np.log(np.exp(Z).sum(axis=1))).mean()

    grid = np.exp(np.linspace(np.log(0.05), np.log(20), 4001))
    best = grid[np.argmax([loglik(t) for t in grid])]
    assert fit_temperature(F, codes) == pytest.approx(best, rel=2e-3)


def test_separable_problem_with_one_flip_flags_exactly_that_label(rng):
    X, y = blobs(rng, n_per=15, n_classes=4, sep=8.0)
    y[17] = 3
    res = mislabel_score(X, y)
    assert np.flatnonzero(res.flags).tolist() == [17]
    assert res.scores.argmax() == 17 and res["predicted"][17] == 1


@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-9), ("float32", 1e-4)])
def test_invariant_to_row_order(rng, dtype, rtol):
    X, y = blobs(rng, sep=1.0)
    perm = rng.permutation(len(y))
    a, b = mislabel_score(X, y, dtype=dtype), mislabel_score(X[perm], y[perm], dtype=dtype)
    assert a.settings["ridge"] == b.settings["ridge"] and a.settings["dtype"] == dtype
    np.testing.assert_allclose(b.scores, a.scores[perm], rtol=rtol, atol=rtol)


def test_float32_by_default_when_the_ridge_allows_it(rng):
    X, y = blobs(rng, sep=1.0)
    single, double = mislabel_score(X, y, ridge=0.3), mislabel_score(X, y, ridge=0.3, dtype="float64")
    assert (single.settings["dtype"], double.settings["dtype"]) == ("float32", "float64")
    np.testing.assert_allclose(single.scores, double.scores, rtol=1e-4, atol=1e-7)
    assert mislabel_score(X, y, ridge=0.0).settings["dtype"] == "float64"  # the interpolation needs float64
    assert mislabel_score(X, y, ridge=0.005).settings["dtype"] == "float64"


def test_stochastic_with_one_chunk_equals_exact_and_chunks_are_seeded(rng):
    X, y = blobs(rng, n_per=20, sep=1.0)
    exact = mislabel_score(X, y, ridge=0.3, dtype="float64")
    whole = mislabel_score(X, y, method="stochastic", chunk_size=len(y), n_chunk_repeats=2, ridge=0.3, random_state=0,
                           dtype="float64")
    np.testing.assert_allclose(whole.scores, exact.scores, rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(whole["stderr"], 0, atol=1e-9)
    part = mislabel_score(X, y, method="stochastic", chunk_size=25, n_chunk_repeats=3, ridge=0.3, random_state=0)
    again = mislabel_score(X, y, method="stochastic", chunk_size=25, n_chunk_repeats=3, ridge=0.3, random_state=0,
                           n_jobs=2)
    np.testing.assert_allclose(again.scores, part.scores, rtol=1e-9, atol=0)
    assert np.isfinite(part["stderr"]).all() and part["stderr"].max() > 0
    assert part.settings["chunk_size"] == 25 and part.seed is not None


def test_precomputed_kernel_equals_the_built_in_one(rng):
    X, y = blobs(rng)
    K = arccos_gram(torch.as_tensor(unit_rows(X, "raw"))).numpy()
    np.testing.assert_allclose(mislabel_score(K, y, kernel="precomputed", dtype="float64").scores,
                               mislabel_score(X, y, dtype="float64").scores, rtol=1e-9, atol=1e-14)
    with pytest.raises(TrainfreeError, match="n×n kernel matrix"):
        mislabel_score(X, y, kernel="precomputed")
    with pytest.raises(TrainfreeError, match="symmetric"):
        mislabel_score(K + np.triu(np.ones_like(K), 1), y, kernel="precomputed")


def test_lambda_zero_own_column_gives_the_cg_score(rng):
    """λ = 0 and H∞: α_i/d_i of the own column is the CG-score's α_i/d_i, so CG = (Y_i − F_i)²·d_i ≥ 0."""
    X, y = blobs(rng, n_classes=2)
    K = arccos_gram(torch.as_tensor(unit_rows(X, "center")))
    d = torch.cholesky_inverse(torch.linalg.cholesky(K)).diagonal().numpy()
    Y = one_vs_rest(y, 2)
    F, _ = loo_predictions(K.clone(), torch.as_tensor(Y), 0.0)
    own = np.arange(len(y)), y
    np.testing.assert_allclose((Y[own] - F.numpy()[own]) ** 2 * d, cg_score(X, y).scores, rtol=1e-8)


def test_detects_flipped_digits_and_pair_noise():
    data = load("digits", n=600, random_state=0)
    sym = score_dataset(data, score="mislabel", noise_rate=0.2, random_state=0)
    assert sym.metrics["auroc"] > 0.99 and sym.metrics["precision"] > 0.8
    pair = score_dataset(data, score="mislabel", noise_rate=0.2, noise_mode="pair", random_state=0)
    codes = {c: i for i, c in enumerate(data.classes)}
    given = np.array([codes[v] for v in pair["label"]])
    flipped = pair["flipped"]
    np.testing.assert_array_equal(given[flipped], (data.y[flipped] + 1) % 10)
    assert pair.metrics["noise_mode"] == "pair" and pair.metrics["auroc"] > 0.95


def test_cli_score_mislabel(tmp_path, capsys):
    out = tmp_path / "o"
    rc = main(["score", "mislabel", "--data", "digits", "--n", "300", "--noise", "0.2", "--noise-mode", "pair",
               "--seed", "0", "--out", str(out)])
    assert rc == 0
    df = pd.read_parquet(out / "scores.parquet")
    assert {"score", "flag_mislabel", "predicted", "margin", "flipped", "original_label"} <= set(df)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["settings"]["noise_mode"] == "pair" and summary["metrics"]["auroc"] > 0.9
    assert "leave-one-out" in capsys.readouterr().out
    assert main(["score", "mislabel", "--data", "digits", "--ridge", "-1", "--out", str(tmp_path / "b")]) == 2


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu(rng):
    X, y = blobs(rng, sep=1.0)
    for method, dtype, rtol in (("exact", "float64", 1e-7), ("stochastic", "float64", 1e-7), ("exact", None, 1e-4)):
        cpu = mislabel_score(X, y, method=method, chunk_size=20, random_state=0, dtype=dtype)
        gpu = mislabel_score(X, y, method=method, chunk_size=20, random_state=0, device="cuda", dtype=dtype)
        assert gpu.settings["ridge"] == cpu.settings["ridge"] and gpu.settings["dtype"] == cpu.settings["dtype"]
        np.testing.assert_allclose(gpu.scores, cpu.scores, rtol=rtol, atol=rtol)


def test_large_method_ranks_like_exact_and_records_its_solver():
    data = load("digits", n=600, random_state=0)
    exact = score_dataset(data, score="mislabel", noise_rate=0.2, random_state=0)
    large = score_dataset(data, score="mislabel", noise_rate=0.2, random_state=0, method="large", chunk_size=300)
    from scipy.stats import spearmanr
    assert spearmanr(large.scores, exact.scores).statistic > 0.95
    assert large.settings["converged"] and large.settings["n_chunks"] == 2
    assert large.metrics["auroc"] > exact.metrics["auroc"] - 0.01


def test_stochastic_resumes_from_its_checkpoint(rng, tmp_path):
    X, y = blobs(rng, n_per=20, sep=1.0)
    first = mislabel_score(X, y, method="stochastic", chunk_size=25, n_chunk_repeats=2, random_state=0,
                           checkpoint=tmp_path / "u")
    assert len(list((tmp_path / "u").glob("*.npz"))) >= 6
    again = mislabel_score(X, y, method="stochastic", chunk_size=25, n_chunk_repeats=2, random_state=0,
                           checkpoint=tmp_path / "u")
    np.testing.assert_allclose(again.scores, first.scores, rtol=1e-12, atol=0)
    with pytest.raises(TrainfreeError, match="chunk_size"):
        mislabel_score(X, y, method="stochastic", chunk_size=30, n_chunk_repeats=2, random_state=0,
                       checkpoint=tmp_path / "u")


def test_stochastic_resume_without_a_seed_keeps_the_saved_one(rng, tmp_path):
    X, y = blobs(rng, n_per=20, sep=1.0)  # as cg_score: random_state=None continues the folder's run
    first = mislabel_score(X, y, method="stochastic", chunk_size=25, n_chunk_repeats=2, checkpoint=tmp_path / "u")
    again = mislabel_score(X, y, method="stochastic", chunk_size=25, n_chunk_repeats=2, checkpoint=tmp_path / "u")
    assert again.seed == first.seed
    np.testing.assert_allclose(again.scores, first.scores, rtol=1e-12, atol=0)


def test_large_method_runs_and_resumes_with_a_checkpoint(rng, tmp_path):
    X, y = blobs(rng, n_per=40, sep=1.0)  # a mislabel_score identity once blocked large_solve's own units
    ref = mislabel_score(X, y, method="large", chunk_size=50, n_chunk_repeats=2, ridge=0.3, random_state=0)
    first = mislabel_score(X, y, method="large", chunk_size=50, n_chunk_repeats=2, ridge=0.3, random_state=0,
                           checkpoint=tmp_path / "u")
    assert len(list((tmp_path / "u").glob("unit-chunk-*.npz"))) == first.settings["n_chunks"] * 2 == 6
    again = mislabel_score(X, y, method="large", chunk_size=50, n_chunk_repeats=2, ridge=0.3, random_state=0,
                           checkpoint=tmp_path / "u")
    np.testing.assert_allclose(first.scores, ref.scores, rtol=1e-12, atol=0)
    np.testing.assert_allclose(again.scores, first.scores, rtol=1e-12, atol=0)


def test_conv_kernel_is_the_arccos_kernel_of_random_cnn_features(rng):
    from trainfree._random import check_random_state, child
    from trainfree.kernels import random_conv_features

    images = rng.random((40, 8, 8))
    y = np.repeat([0, 1], 20)
    images[y == 1, :4] += 1.0  # class 1 is bright on top
    res = mislabel_score(images, y, ridge=0.3, random_state=3)  # kernel="auto" takes images to "conv"
    assert res.settings["kernel"] == "conv" and res.seed is not None
    feats = random_conv_features(torch.as_tensor(images[:, None], dtype=torch.float32),
                                 random_state=child(check_random_state(3), "conv")).numpy().astype(np.float64)
    ref = mislabel_score(unit_rows(feats, "center"), y, kernel="arccos", preprocess="raw", ridge=0.3)
    np.testing.assert_allclose(res.scores, ref.scores, rtol=1e-9, atol=1e-14)
    assert mislabel_score(images.reshape(40, -1), y, ridge=0.3).settings["kernel"] == "arccos"
    with pytest.raises(TrainfreeError, match="needs images"):
        mislabel_score(images.reshape(40, -1), y, kernel="conv")


def test_duplicate_rows_without_ridge_warn_about_the_jitter(rng):
    X, y = blobs(rng)
    X, y = np.r_[X, X[:1]], np.r_[y, (y[0] + 1) % 3]  # the same image under two labels
    with pytest.warns(UserWarning, match="jitter"):
        res = mislabel_score(X, y, ridge=0.0)
    assert res.settings["jitter_used"] > 0 and np.isfinite(res.scores).all()
