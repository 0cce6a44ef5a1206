"""Workflows: the ground-truth study, noise detection and contributor valuation, on small real data."""

import numpy as np
import pytest
from scipy.stats import pearsonr, spearmanr

from trainfree import TrainfreeError, load_result
from trainfree.data import load
from trainfree.experiments import (GroundTruthTraining, compare_noise_detection, davinz_groundtruth, score_dataset,
                                   value_contributors)
from trainfree.metrics import auroc
from trainfree.valuation import NuOptions


def _digits_splits():
    data = load("digits", random_state=0)
    return data.subset(np.arange(0, 1000)), data.subset(np.arange(1000, 1200)), data.subset(np.arange(1200, 1797))


def test_groundtruth_small_run_is_consistent(tmp_path):
    train, val, test = _digits_splits()
    gt = davinz_groundtruth(train, val, test, n_datasets=5, sizes=(40, 200), noise=(0.0, 0.6), model="mlp",
                            nu="paper", training=GroundTruthTraining(epochs=30), random_state=0)
    nu, ntk, mmd, metric = gt.values, gt["ntk_term"], gt["mmd_term"], gt["test_metric"]
    assert len(gt) == 5 and list(gt["player"]) == ["d0", "d1", "d2", "d3", "d4"]
    # κ balances the two terms: κ·Σ ntk = Σ mmd, so the mean NTK part equals the mean MMD part.
    np.testing.assert_allclose(gt.settings["kappa"] * ntk.sum(), mmd.sum(), rtol=1e-12)
    np.testing.assert_allclose(nu, -gt.settings["kappa"] * ntk - mmd, rtol=1e-12)
    # The correlations reported are those of the columns, recomputed independently.
    np.testing.assert_allclose(gt.metrics["pearson"], pearsonr(nu, metric)[0], rtol=1e-12)
    np.testing.assert_allclose(gt.metrics["RV_spearman"], spearmanr(gt["RV"], metric)[0], rtol=1e-12)
    # Trained accuracy is a real number of a trained network: far above chance (0.1) on digits.
    assert metric.max() > 0.6 and {"VP", "IF", "RV"} <= set(gt.columns)
    # VP measures the same trained networks on another held-out split: it must track the ground truth.
    assert gt.metrics["VP_spearman"] > 0.5
    back = load_result(gt.save(tmp_path / "gt.parquet"))
    np.testing.assert_allclose(back["test_metric"], metric)
    assert back.metrics["pearson"] == pytest.approx(gt.metrics["pearson"])


def test_groundtruth_log_sizes_stay_in_range_and_bad_scale_is_refused():
    train, val, test = _digits_splits()
    gt = davinz_groundtruth(train, val, test, n_datasets=4, sizes=(20, 800), size_scale="log", noise=(0.0, 0.0),
                            model="mlp", nu="paper", training=GroundTruthTraining(epochs=2), random_state=1)
    assert gt["size"].min() >= 20 and gt["size"].max() <= 800
    np.testing.assert_array_equal(gt["noise_rate"], 0.0)
    with pytest.raises(TrainfreeError, match="size_scale"):
        davinz_groundtruth(train, val, test, size_scale="cubic")


def test_score_dataset_measures_what_it_reports():
    data = load("digits", n=400, random_state=3)
    res = score_dataset(data, noise_rate=0.25, random_state=5)
    flipped = res["flipped"]
    assert flipped.sum() == 100
    # The flips are real: the reported label differs from the original exactly where flipped.
    assert np.array_equal(res["label"] != res["original_label"], flipped)
    assert res.metrics["auroc"] == pytest.approx(auroc(res.scores, flipped))
    assert res.metrics["auroc"] > 0.9
    # Rows are the dataset's rows, identified by their row in the source.
    np.testing.assert_array_equal(res["row_id"], data.ids)
    assert res.seed == 5
    again = score_dataset(data, noise_rate=0.25, random_state=np.int64(5))
    np.testing.assert_array_equal(again["flipped"], flipped)


def test_value_contributors_noisy_one_is_lowest_and_checkpoint_is_refused_for_exact(tmp_path):
    data = load("digits", n=600, random_state=0)
    res = value_contributors(data, n_contributors=4, split="noisy", noise_rate=0.5, random_state=0)
    df = res.to_dataframe()
    assert list(df.columns[:3]) == ["value", "stderr", "player"]
    assert df.loc[df["value"].idxmin(), "noise_rate"] == 0.5
    assert np.isnan(res.stderr).all()  # exact Shapley
    with pytest.raises(TrainfreeError, match="checkpoint"):
        value_contributors(data, n_contributors=3, checkpoint=tmp_path / "c.npz", random_state=0)
    for bad in (0.0, -0.1, 1.0):
        with pytest.raises(TrainfreeError, match="val_fraction"):
            value_contributors(data, n_contributors=3, val_fraction=bad, random_state=0)


def test_compare_noise_detection_uses_the_same_flips_for_every_score():
    data = load("digits", n=300, random_state=1)
    res = compare_noise_detection(data, ["cg", "input_norm", "random"], noise_rate=0.2, random_state=4)
    assert res["player"].tolist() == ["cg", "input_norm", "random"]
    # The flips are score_dataset's for the same root seed, and the AUROC is recomputed from them.
    cg = score_dataset(data, noise_rate=0.2, random_state=4)
    assert res.values[0] == pytest.approx(auroc(cg.scores, cg["flipped"]), rel=1e-12)
    assert res.values[1] == pytest.approx(auroc(np.linalg.norm(data.X, axis=1), cg["flipped"]), rel=1e-12)
    assert res.values[0] > 0.9 and abs(res.values[2] - 0.5) < 0.15
    assert res["found_at_0.2"][0] == pytest.approx(cg.metrics["found_at"][0.2])
    with pytest.raises(TrainfreeError, match="Unknown score 'cgg'"):
        compare_noise_detection(data, ["cgg"])


def test_groundtruth_paper_protocol_bootstrap_draws_and_options():
    """replace=True draws with duplicates (the paper's bootstrap); the options reach ν and the training."""
    from trainfree._random import check_random_state
    from trainfree.experiments.groundtruth import _draw_datasets

    train, val, test = _digits_splits()
    draws = _draw_datasets(train, 3, (900, 1000), (0.0, 0.0), "linear", 10, check_random_state(0), replace=True)
    assert all(len(np.unique(idx)) < len(idx) for idx, _, _ in draws)  # 900+ of 1 000 with replacement
    gt = davinz_groundtruth(train, val, test, n_datasets=3, sizes=(30, 60), noise=(0.0, 0.0), model="mlp",
                            replace=True, bandwidth=5.0, convention="official", nu="paper", random_state=0,
                            training=GroundTruthTraining(optimizer="plain_sgd", lr=0.3, epochs=2, stopping="plateau"))
    assert gt.settings["bandwidth"] == 5.0 and gt.settings["replace"] and gt.settings["optimizer"] == "plain_sgd"
    assert gt.settings["stopping"] == "plateau" and np.isfinite(gt.values).all()


def test_groundtruth_repeats_average_runs_whose_first_is_the_single_run():
    train, val, test = _digits_splits()
    kw = dict(n_datasets=4, sizes=(150, 300), noise=(0.0, 0.5), model="mlp", random_state=2)
    one = davinz_groundtruth(train, val, test, nu="paper", training=GroundTruthTraining(epochs=3), **kw)
    two = davinz_groundtruth(train, val, test, nu="paper", training=GroundTruthTraining(epochs=3, repeats=2), **kw)
    np.testing.assert_allclose(two.values, one.values, rtol=1e-12)  # ν does not depend on the training
    first, mean = one["test_metric"], two["test_metric"]
    second = 2 * mean - first
    assert np.abs(second - first).max() > 0  # another batch order (sets above one batch) trains another network
    # sd of two runs = |a − b| / √2; the mean's correlations and the run-to-run ceiling, recomputed.
    np.testing.assert_allclose(two["test_metric_sd"], np.abs(second - first) / np.sqrt(2), atol=1e-12)
    np.testing.assert_allclose(two.metrics["pearson"], pearsonr(two.values, mean)[0], rtol=1e-9)
    np.testing.assert_allclose(two.metrics["repeat_pearson"], pearsonr(first, second)[0], rtol=1e-6)
    assert "repeat_pearson" not in one.metrics and "test_metric_sd" not in one.columns
    # A thresholded MMD keeps the NTK terms and the biased MMD's κ; ν uses the thresholded MMD.
    thr = davinz_groundtruth(train, val, test, nu=NuOptions("paper", mmd_estimator="thresholded"),
                             training=GroundTruthTraining(epochs=3), **kw)
    np.testing.assert_allclose(thr["ntk_term"], one["ntk_term"], rtol=1e-12)
    assert thr.settings["kappa"] == pytest.approx(one.settings["kappa"], rel=1e-12)
    assert (thr["mmd_term"] <= one["mmd_term"] + 1e-12).all()
    np.testing.assert_allclose(thr.values, -thr.settings["kappa"] * thr["ntk_term"] - thr["mmd_term"], rtol=1e-12)
    with pytest.raises(TrainfreeError, match="repeats"):
        GroundTruthTraining(repeats=0)


def test_score_dataset_names_classes_in_warnings_and_outputs():
    from trainfree import mislabel_score
    from trainfree.data import Dataset
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(1, 1, (20, 4)), rng.normal(-1, 1, (20, 4)), rng.normal(size=(1, 4))]
    codes = np.r_[np.zeros(20), np.ones(20), 2].astype(int)
    data = Dataset(X, codes, classes=("zebra", "dog", "ant"))  # not in sorted order
    with pytest.warns(UserWarning, match=r"single row") as record:
        res = score_dataset(data, score="mislabel", random_state=0)
    assert [str(w.message)[:38] for w in record] == ["1 class(es) have a single row ('ant'):"]
    assert set(res["predicted"].tolist()) <= {"zebra", "dog"} and res["label"][-1] == "ant"
    assert not res.flags[-1] and res.settings["unjudged_classes"] == ["ant"]
    assert res.settings["classes"] == ["zebra", "dog", "ant"]
    with pytest.warns(UserWarning, match=r"single row \(2\)"):
        direct = mislabel_score(X, codes)  # the same numbers: the score sees the codes, in the source's order
    np.testing.assert_allclose(res.scores[:-1], direct.scores[:-1], rtol=1e-4, atol=1e-5)  # float32
