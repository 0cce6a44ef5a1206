"""Clean, then train: which rows are removed or relabelled, the oracle, the gap share, resuming, the CLI."""

import sys
import types

import numpy as np
import pandas as pd
import pytest

from trainfree import TrainfreeError
from trainfree._random import check_random_state, child
from trainfree.cli import main
from trainfree.data import Dataset, load
from trainfree.experiments import cleaning
from trainfree.experiments.cleaning import (
    cleaned_labels,
    cleaning_gain,
    gap_recovered,
    predicted_confidence,
    top_share,
)
from trainfree.experiments.noise import flip_labels, score_dataset
from trainfree.linalg.loo_predictions import example_columns
from trainfree.training import evaluate, make_model, train

ONE = [("symmetric", 0.2)]
FAST = dict(model="mlp", epochs=1, n_runs=1, random_state=0)


@pytest.fixture(scope="module")
def split():
    d = load("digits", n=300, random_state=0)
    return d.subset(np.arange(200)), d.subset(np.arange(200, 300))


@pytest.fixture(scope="module")
def detector_run(split):
    tr, te = split
    return cleaning_gain(tr, te, noise_settings=ONE, scores=["mislabel", "cg"], **FAST)


def detector_on(tr, setting=("symmetric", 0.2), seed=0):
    """The detector on the flips cleaning_gain makes for ``setting`` with root seed ``seed``."""
    s = child(check_random_state(seed), f"noise/{setting[0]}/{setting[1]:g}")
    return score_dataset(tr, score="mislabel", noise_rate=setting[1], noise_mode=setting[0], random_state=s), s


def codes(data, names):
    """Class codes of class names (the detector's ``predicted`` and ``label`` columns hold names)."""
    return np.array([data.classes.index(c) for c in names])


def row(res, player):
    hit = np.flatnonzero(res["player"] == player)
    assert len(hit) == 1, (player, res["player"].tolist())
    return {c: res[c][hit[0]] for c in res.columns}


def test_gap_recovered_on_constructed_cases():
    assert gap_recovered([0.80, 0.85, 0.90, 0.75], noisy=0.80, clean=0.90) == pytest.approx([0.0, 0.5, 1.0, -0.5])
    assert np.isnan(gap_recovered([0.8], noisy=0.9, clean=0.9)).all()  # no gap to recover
    assert np.isnan(gap_recovered([0.8], noisy=0.9, clean=0.85)).all()  # the clean labels train worse


def test_the_result_gap_column_follows_the_formula(detector_run):
    res = detector_run
    noisy, clean = row(res, "symmetric-0.2/none/noisy")["value"], row(res, "symmetric-0.2/none/clean")["value"]
    expected = (res.values - noisy) / (clean - noisy) if clean > noisy else np.full(len(res), np.nan)
    np.testing.assert_allclose(res["gap_recovered"], expected, rtol=1e-12)


def test_top_share_flags_the_highest_and_never_nan():
    assert np.flatnonzero(top_share([3.0, np.nan, 1.0, 5.0, 2.0], 0.4)).tolist() == [0, 3]
    assert not top_share([np.nan, np.nan, 1.0], 0.5)[:2].any()


def test_predicted_confidence_is_the_softmax_probability_of_the_argmax(rng):
    F = rng.normal(size=(40, 4))
    codes, tau = rng.integers(0, 4, 40), 0.7
    cols = example_columns(F, codes, tau)
    table = {"self_confidence": cols["self_confidence"], "margin": cols["margin"]}
    fake = type("R", (), {"settings": {"temperature": tau}, "__getitem__": lambda self, k: table[k]})()
    P = np.exp(F / tau) / np.exp(F / tau).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(predicted_confidence(fake), P.max(axis=1), rtol=1e-10)


def test_cleaned_labels_remove_or_relabel_exactly_the_flagged_confident_rows():
    y = np.array([0, 1, 2, 1, 0])
    flags = np.array([False, True, True, False, True])
    idx, y_kept = cleaned_labels(y, flags, variant="removed")
    assert idx.tolist() == [0, 3] and y_kept.tolist() == y.tolist()
    idx, y_new = cleaned_labels(y, flags, variant="relabelled", predicted=[9, 7, 8, 9, 6],
                                confidence=[1.0, 0.6, 0.49, 1.0, 0.5], min_confidence=0.5)
    assert idx.tolist() == list(range(5)) and y_new.tolist() == [0, 7, 2, 1, 6]


def test_the_oracle_trains_on_exactly_the_clean_labels(split, detector_run):
    tr, te = split
    run = child(check_random_state(0), "run/0")  # run 0 of root seed 0
    net = make_model("mlp", (tr.X.shape[1],), len(tr.classes), random_state=child(run, "init"))
    train(net, tr.X, tr.y, epochs=1, lr=1e-3, batch_size=128, tol=0.0, random_state=child(run, "batches"))
    assert row(detector_run, "symmetric-0.2/none/clean")["value"] == pytest.approx(evaluate(net, te.X, te.y), abs=1e-6)


def test_the_noisy_variant_trains_on_the_flipped_labels_of_the_setting(split, detector_run):
    tr, te = split
    s = child(check_random_state(0), "noise/symmetric/0.2")
    y_noisy, flipped = flip_labels(tr, 0.2, "symmetric", s)
    assert flipped.sum() == 40
    run = child(check_random_state(0), "run/0")
    net = make_model("mlp", (tr.X.shape[1],), len(tr.classes), random_state=child(run, "init"))
    train(net, tr.X, y_noisy, epochs=1, lr=1e-3, batch_size=128, tol=0.0, random_state=child(run, "batches"))
    assert row(detector_run, "symmetric-0.2/none/noisy")["value"] == pytest.approx(evaluate(net, te.X, te.y), abs=1e-6)


def test_removed_rows_are_the_detectors_flags_and_relabelled_rows_get_its_class(split, detector_run):
    tr, _ = split
    det, _ = detector_on(tr)
    flags, flipped = np.asarray(det.flags), np.asarray(det["flipped"])
    removed = row(detector_run, "symmetric-0.2/mislabel/removed")
    assert removed["n_removed"] == removed["n_flagged"] == flags.sum() > 0
    assert removed["precision"] == pytest.approx((flags & flipped).sum() / flags.sum())
    assert removed["recall"] == pytest.approx((flags & flipped).sum() / flipped.sum())
    confident = flags & (predicted_confidence(det) >= 0.5)
    relabelled = row(detector_run, "symmetric-0.2/mislabel/relabelled")
    assert relabelled["n_removed"] == 0 and relabelled["n_relabelled"] == confident.sum() > 0
    given_back = (codes(tr, det["predicted"]) == tr.y)[confident].mean()
    assert relabelled["relabel_precision"] == pytest.approx(given_back)
    # CG flags as many rows as the detector estimates are wrong: its highest scores.
    cg = row(detector_run, "symmetric-0.2/cg/removed")
    assert cg["n_removed"] == round(det.settings["noise_rate_estimate"] * len(tr))


def test_the_relabelled_set_trains_on_the_predicted_classes(split, monkeypatch):
    tr, te = split
    seen = []
    real = cleaning.fit_unit

    def spy(X, y, *args):
        seen.append((np.asarray(y).copy(), np.asarray(args[-3]).copy()))
        return real(X, y, *args)

    monkeypatch.setattr(cleaning, "fit_unit", spy)
    cleaning_gain(tr, te, noise_settings=ONE, scores=["mislabel"], **FAST)
    det, _ = detector_on(tr)
    y_noisy = codes(tr, det["label"])
    confident = np.asarray(det.flags) & (predicted_confidence(det) >= 0.5)
    expected = np.where(confident, codes(tr, det["predicted"]), y_noisy)
    labels = [y for y, idx in seen if len(idx) == len(tr)]  # noisy, relabelled, clean
    assert len(labels) == 3 and np.array_equal(labels[1], expected) and confident.any()
    assert np.array_equal(labels[0], y_noisy) and np.array_equal(labels[2], tr.y)
    removed = [idx for _, idx in seen if len(idx) < len(tr)]
    assert len(removed) == 1 and np.array_equal(removed[0], np.flatnonzero(~np.asarray(det.flags)))


def test_runs_are_paired_across_settings_and_the_clean_runs_are_shared(split):
    tr, te = split
    res = cleaning_gain(tr, te, noise_settings=[("symmetric", 0.2), ("pair", 0.3)], scores=["mislabel"], **FAST)
    clean = res.values[res["variant"] == "clean"]
    assert len(clean) == 2 and clean[0] == clean[1]
    assert res["player"].tolist()[4:] == ["pair-0.3/none/noisy", "pair-0.3/mislabel/removed",
                                          "pair-0.3/mislabel/relabelled", "pair-0.3/none/clean"]


def test_a_resumed_run_gives_the_uninterrupted_result(split, tmp_path):
    tr, te = split
    kw = dict(noise_settings=ONE, scores=["mislabel", "cg"], model="mlp", epochs=1, n_runs=2, random_state=0)
    first = cleaning_gain(tr, te, checkpoint=tmp_path / "ck", **kw)
    units = sorted((tmp_path / "ck").glob("unit-*.npz"))
    assert len(units) == 2 + 2 * 5  # two scores; five training sets (clean once) × two runs
    for u in units[::3]:  # as if interrupted: some units never finished
        u.unlink()
    again = cleaning_gain(tr, te, checkpoint=tmp_path / "ck", **{**kw, "random_state": None})  # adopts the seed
    np.testing.assert_allclose(again.values, first.values, atol=1e-12)
    assert again["player"].tolist() == first["player"].tolist() and again.seed == first.seed
    with pytest.raises(TrainfreeError, match="different run.*min_confidence"):
        cleaning_gain(tr, te, checkpoint=tmp_path / "ck", min_confidence=0.9, **kw)


def test_cleanlab_is_skipped_with_a_note_when_missing(split, monkeypatch):
    tr, te = split
    monkeypatch.setattr(cleaning, "cleanlab_available", lambda: False)
    res = cleaning_gain(tr, te, noise_settings=ONE, scores=["mislabel", "cleanlab"], **FAST)
    assert not any("cleanlab" in p for p in res["player"])
    assert res.metrics["notes"] == ["cleanlab skipped: it is not installed (pip install cleanlab)"]


def test_cleanlab_flags_and_relabels_through_its_find_label_issues(split, monkeypatch):
    tr, te = split
    calls = []

    def find_label_issues(labels, pred_probs):  # a stand-in: rows whose most probable class is not the label
        calls.append(pred_probs)
        return pred_probs.argmax(axis=1) != labels

    fake, sub = types.ModuleType("cleanlab"), types.ModuleType("cleanlab.filter")
    sub.find_label_issues, fake.filter = find_label_issues, sub
    monkeypatch.setitem(sys.modules, "cleanlab", fake)
    monkeypatch.setitem(sys.modules, "cleanlab.filter", sub)
    monkeypatch.setattr(cleaning, "cleanlab_available", lambda: True)
    res = cleaning_gain(tr, te, noise_settings=ONE, scores=["cleanlab"], **FAST)
    (P,) = calls
    assert P.shape == (len(tr), len(tr.classes)) and np.allclose(P.sum(axis=1), 1)
    y_noisy = flip_labels(tr, 0.2, "symmetric", child(check_random_state(0), "noise/symmetric/0.2"))[0]
    flags = P.argmax(axis=1) != y_noisy
    assert row(res, "symmetric-0.2/cleanlab/removed")["n_removed"] == flags.sum() > 0
    # Flagged rows are those whose argmax differs, so each confident one gets a new label.
    assert row(res, "symmetric-0.2/cleanlab/relabelled")["n_relabelled"] == (flags & (P.max(axis=1) >= 0.5)).sum()
    assert res.metrics["notes"] == []


def test_confident_learning_peer_flags_the_flips_without_cleanlab(split, monkeypatch):
    """The own confident-learning peer runs without cleanlab: its flags on cross-validated logistic regression
    find the flipped digits, and its relabelled rows get the most probable class."""
    monkeypatch.setattr(cleaning, "cleanlab_available", lambda: False)
    d = load("digits", n=900, random_state=0)
    y_noisy, flipped = flip_labels(d, 0.2, "symmetric", child(check_random_state(0), "noise"))
    out = cleaning.logreg_flags(d.X, y_noisy, rule="confident_learning", random_state=0)
    flags = out["flags"]
    precision, recall = flipped[flags].mean(), flags[flipped].mean()
    assert precision > 0.8 and recall > 0.8, (precision, recall)
    caught = flags & flipped  # relabelling them to the predicted class mostly restores the true label
    assert (out["predicted"][caught] == d.y[caught]).mean() > 0.8
    tr, te = split
    res = cleaning_gain(tr, te, noise_settings=ONE, scores=["confident_learning"], **FAST)
    assert {"symmetric-0.2/confident_learning/removed", "symmetric-0.2/confident_learning/relabelled"} <= set(
        res["player"])
    assert res.metrics["notes"] == []


def test_el2n_flags_the_detectors_estimated_share_or_the_given_one(split):
    tr, te = split
    res = cleaning_gain(tr, te, noise_settings=ONE, scores=["el2n"], n_seeds=1, el2n_epochs=1, flag_share=0.25,
                        **FAST)
    assert res["player"].tolist() == ["symmetric-0.2/none/noisy", "symmetric-0.2/el2n/removed",
                                      "symmetric-0.2/none/clean"]
    assert row(res, "symmetric-0.2/el2n/removed")["n_removed"] == 50


@pytest.mark.parametrize("kw, words", [
    (dict(scores=["cg", "forgetting"]), "Unknown score 'forgetting': choose from mislabel, cg, el2n, cleanlab"),
    (dict(scores=[]), "Unknown score '(none)'"),
    (dict(noise_settings=[("symmetric", 1.0)]), "noise_rate strictly between 0 and 1. Pass e.g."),
    (dict(noise_settings=[("uniform", 0.2)]), "noise_mode in ['symmetric', 'pair']"),
    (dict(noise_settings=[0.2]), "is a pair (noise_mode, noise_rate)"),
    (dict(noise_settings=[]), "Pass at least one noise setting"),
    (dict(flag_share=1.5), "'flag_share'"),
    (dict(min_confidence=-0.1), "'min_confidence'"),
    (dict(n_runs=0), "'n_runs'"),
])
def test_bad_input_names_the_fix(split, kw, words):
    tr, te = split
    with pytest.raises(TrainfreeError, match=None) as err:
        cleaning_gain(tr, te, **{**dict(noise_settings=ONE, scores=["cg"]), **kw})
    assert words in str(err.value)


def test_regression_data_are_refused(split):
    tr, te = split
    reg = Dataset(tr.X, tr.y.astype(float) + 0.5)
    assert reg.task == "regression"
    with pytest.raises(TrainfreeError, match="needs class labels"):
        cleaning_gain(reg, te, noise_settings=ONE, scores=["cg"])


def run(capsys, argv, out):
    capsys.readouterr()
    return main([*argv, "--quiet", "--no-report", "--out", str(out)])


def test_cli_clean_writes_one_row_per_setting_score_and_variant(tmp_path, capsys):
    argv = ["experiment", "clean", "--data", "digits", "--n", "300", "--model", "mlp", "--epochs", "1", "--runs", "1",
            "--scores", "mislabel,cg", "--noise-settings", "symmetric:0.2,pair:0.3"]
    assert run(capsys, argv, tmp_path / "o") == 0
    df = pd.read_parquet(tmp_path / "o" / "cleaning.parquet")
    assert len(df) == 2 * 5 and set(df["variant"]) == {"noisy", "removed", "relabelled", "clean"}
    assert df.loc[df["variant"] == "noisy", "gap_recovered"].eq(0).all()
    assert (tmp_path / "o" / "units" / "run.json").exists()


@pytest.mark.parametrize("extra, words", [
    (["--noise-settings", "symmetric:2"], "--noise-settings takes comma-separated MODE:RATE pairs"),
    (["--noise-settings", "uniform:0.2"], "(MODE symmetric or pair"),
    (["--scores", "cg,grand"], "--scores: unknown name 'grand'"),
    (["--flag-share", "0"], "--flag-share"),
])
def test_cli_clean_bad_values_are_one_line_and_exit_2(tmp_path, capsys, extra, words):
    assert run(capsys, ["experiment", "clean", "--data", "digits", "--n", "200", "--model", "mlp", *extra],
               tmp_path / "o") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("trainfree: error: ") and words in err[0], err


def test_the_report_draws_the_cleaning_bars(split, detector_run, tmp_path):
    from trainfree.report.html import write_report

    res = detector_run.replace(metrics={"notes": ["cleanlab skipped: it is not installed (pip install cleanlab)"]})
    res.save(tmp_path / "cleaning.parquet")
    page = write_report(tmp_path).read_text()
    assert "<h2>Clean, then train</h2>" in page and "symmetric 20%  mislabel  relabelled" in page
    assert page.count('src="data:image/png;base64,') == 1 and "note: cleanlab skipped" in page
