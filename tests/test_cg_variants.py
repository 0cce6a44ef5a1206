"""CG′ against a literal leave-one-out computation, feature-space CG on digits, registration and the CLI."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from trainfree import TrainfreeError
from trainfree._random import check_random_state, child
from trainfree.cli import main
from trainfree.data import load
from trainfree.experiments import score_dataset
from trainfree.kernels import arccos_gram
from trainfree.linalg import one_vs_rest
from trainfree.scores import cg_features_score, cg_prime_score, cg_score, cg_variants
from trainfree.scores.cg import unit_rows
from trainfree.scores.cg_variants import penultimate_features
from trainfree.training import make_model


def _literal_cg_prime(X, codes, preprocess="center"):
    """yᵀHy − y₋ᵢᵀH₋ᵢy₋ᵢ by deleting row and column i, own class one-vs-rest."""
    H = arccos_gram(torch.as_tensor(unit_rows(X, preprocess), dtype=torch.float64)).numpy()
    Y = one_vs_rest(codes, codes.max() + 1)
    out = []
    for i in range(len(codes)):
        y = Y[:, codes[i]]
        keep = np.arange(len(codes)) != i
        out.append(y @ H @ y - y[keep] @ H[np.ix_(keep, keep)] @ y[keep])
    return np.array(out)


@pytest.mark.parametrize("preprocess", ["center", "raw"])
def test_cg_prime_matches_literal_leave_one_out(rng, preprocess):
    X = rng.normal(size=(15, 6))
    codes = np.arange(15) % 3
    res = cg_prime_score(X, codes, preprocess=preprocess)
    np.testing.assert_allclose(res.scores, _literal_cg_prime(X, codes, preprocess), rtol=1e-10, atol=1e-12)
    assert np.isnan(res["stderr"]).all() and res.seed is None
    assert res.columns["label"].tolist() == codes.tolist()


def test_cg_prime_row_blocks_do_not_change_scores(rng, monkeypatch):
    X, y = rng.normal(size=(23, 4)), rng.integers(0, 2, 23)
    whole = cg_prime_score(X, y)
    monkeypatch.setattr(cg_variants, "BLOCK_ENTRIES", 23 * 5)  # blocks of 5 rows, the last one short
    blocked = cg_prime_score(X, y)
    assert blocked.settings["block_rows"] == 5
    np.testing.assert_allclose(blocked.scores, whole.scores, rtol=1e-12)


def test_cg_prime_float32_and_memory_refusal(rng):
    X, y = rng.normal(size=(30, 4)), np.arange(30) % 2
    np.testing.assert_allclose(cg_prime_score(X, y, dtype="float32").scores, cg_prime_score(X, y).scores, atol=1e-4)
    with pytest.raises(TrainfreeError, match="needs about .*subsample"):
        cg_prime_score(X, y, max_memory_bytes=1)
    with pytest.raises(TrainfreeError, match="one row per example"):
        cg_prime_score(np.arange(5.0), y[:5])


def test_cg_prime_ranks_mislabels_low_on_digits():
    # CG′ grows with how fast an example is fit: flipped labels sit at the bottom, the reverse of CG.
    res = score_dataset(load("digits", n=300, random_state=0), score="cg-prime", noise_rate=0.2, random_state=0)
    assert res.metrics["auroc"] < 0.2
    assert "flag_mislabel" not in res.columns


def test_penultimate_features_are_the_last_linear_input(rng):
    net = make_model("mlp", (5,), 3, width=7, random_state=1)
    X = torch.as_tensor(rng.normal(size=(9, 5)), dtype=torch.float32)
    F = penultimate_features(net, X, batch_size=4)
    with torch.no_grad():
        np.testing.assert_allclose(F, net[:-1](X).double().numpy(), rtol=1e-5, atol=1e-6)  # batches of 4
    with pytest.raises(TrainfreeError, match="no nn.Linear"):
        penultimate_features(torch.nn.Sequential(torch.nn.Flatten()), X)


def test_cg_features_equals_cg_on_the_features_of_the_same_network(rng):
    X, y = rng.normal(size=(40, 6)).astype(np.float32), np.arange(40) % 2
    res = cg_features_score(X, y, model="mlp", epochs=0, random_state=3)
    net = make_model("mlp", (6,), 2, random_state=child(check_random_state(3), "seed/0"))
    ref = cg_score(penultimate_features(net, torch.as_tensor(X)), y)
    np.testing.assert_allclose(res.scores, ref.scores, rtol=1e-8)
    np.testing.assert_allclose(res["partial_label"], ref["partial_label"], rtol=1e-8)
    assert np.isnan(res["stderr"]).all() and res.settings["step"] == 0


def test_cg_features_seeds_stderr_and_reproducibility(rng):
    X, y = rng.normal(size=(40, 6)), np.arange(40) % 2
    a = cg_features_score(X, y, model="mlp", epochs=1, n_seeds=2, batch_size=16, random_state=0)
    b = cg_features_score(X, y, model="mlp", epochs=1, n_seeds=2, batch_size=16, random_state=0)
    # The same seeds train the same features; the CG solve's LAPACK may run on another number of threads
    # (trainfree.linalg.lapack_threads follows the machine's load), which moves the last bits only, relative
    # to the largest score (a CG-score is a difference of two such numbers).
    np.testing.assert_allclose(a.scores, b.scores, rtol=0, atol=1e-9 * np.abs(b.scores).max())
    assert np.isfinite(a["stderr"]).all() and (a["stderr"] > 0).any()
    assert a.settings["step"] == 3 and a.settings["n_seeds"] == 2 and a.settings["feature_dim"] == 256


def test_cg_features_finds_flipped_digits():
    res = score_dataset(load("digits", n=300, random_state=0), score="cg-features", model="mlp", epochs=1,
                        noise_rate=0.2, random_state=0)
    assert np.isfinite(res.scores).all()
    # Measured 0.97-0.98 over three seeds (1 and 2 epochs); chance is 0.5.
    assert res.metrics["auroc"] > 0.85
    assert res.metrics["auroc_partial_label"] > 0.85 and "precision" in res.metrics


def test_cg_features_cnn_needs_images(rng):
    with pytest.raises(TrainfreeError, match="cnn"):
        cg_features_score(rng.normal(size=(10, 4)), np.arange(10) % 2, model="cnn")


def test_cli_cg_prime(tmp_path):
    rc = main(["score", "cg-prime", "--data", "digits", "--n", "200", "--noise", "0.2", "--seed", "0",
               "--preprocess", "raw", "--out", str(tmp_path)])
    assert rc == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["settings"]["score"] == "cg-prime" and summary["settings"]["preprocess"] == "raw"
    assert len(pd.read_parquet(tmp_path / "scores.parquet")) == 200


def test_cli_cg_features(tmp_path):
    rc = main(["score", "cg-features", "--data", "digits", "--n", "200", "--noise", "0.2", "--model", "mlp",
               "--epochs", "1", "--seeds", "2", "--seed", "0", "--out", str(tmp_path)])
    assert rc == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["settings"]["n_seeds"] == 2 and summary["settings"]["epochs"] == 1
    df = pd.read_parquet(tmp_path / "scores.parquet")
    assert {"score", "stderr", "partial_label", "flag_mislabel", "flipped"} <= set(df)


def test_a_row_alone_in_its_class_is_named_and_never_flagged():
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(1, 1, (20, 5)), rng.normal(-1, 1, (20, 5)), rng.normal(size=(1, 5))]
    y = np.r_[["cat"] * 20, ["dog"] * 20, ["emu"]]
    with pytest.warns(UserWarning, match=r"1 class\(es\) have a single row \('emu'\)"):
        cg_prime_score(X, y)
    with pytest.warns(UserWarning, match="single row") as record:
        res = cg_features_score(X, y, model="mlp", epochs=1, n_seeds=2, random_state=0)
    assert sum("single row" in str(w.message) for w in record) == 1  # once, not once per seed
    assert res["partial_label"][-1] > 0 and not res["flag_mislabel"][-1]  # its label term alone would flag it
