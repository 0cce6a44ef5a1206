"""The detector's flags: confident learning on leave-one-out probabilities, and the rows that cannot be judged."""

import json
import warnings

import numpy as np
import pytest

from trainfree import TrainfreeError
from trainfree.data import inject_label_noise
from trainfree.result import load_result
from trainfree.scores import cg_score, mislabel_score
from trainfree.scores.mislabel_flags import (
    SCORE_TOL,
    check_distinct_rows,
    confident_learning_flags,
    estimate_noise,
    prune_by_noise_rate,
)


def confident_joint_by_loops(P, labels):
    """The confident joint and calibrated joint written out row by row from the paper's definitions."""
    n, k = P.shape
    t = [np.mean([P[i, j] for i in range(n) if labels[i] == j]) for j in range(k)]
    C = np.zeros((k, k), dtype=int)
    for i in range(n):
        confident = [j for j in range(k) if P[i, j] >= t[j]]
        if confident:
            C[labels[i], max(confident, key=lambda j: P[i, j])] += 1
    counts = np.bincount(labels, minlength=k)
    calibrated = np.array([C[c] / C[c].sum() * counts[c] if C[c].sum() else np.zeros(k) for c in range(k)])
    return C, calibrated / calibrated.sum()


def test_noise_estimate_equals_the_definition_written_out(rng):
    P = rng.dirichlet(np.ones(4) * 0.7, size=200)
    labels = rng.integers(0, 4, 200)
    C, Q = confident_joint_by_loops(P, labels)
    est = estimate_noise(P, labels)
    np.testing.assert_array_equal(est.confident_joint, C)
    np.testing.assert_allclose(est.joint, Q, rtol=1e-12)
    assert est.overall == pytest.approx(1 - np.trace(Q), rel=1e-12)
    np.testing.assert_allclose(est.per_class, 1 - np.diag(Q) / Q.sum(axis=1), rtol=1e-12)


def test_prune_by_noise_rate_takes_the_largest_margins_of_each_pair():
    # Given 0: rows 0-3; joint[0, 1] = 2/8 -> the 2 rows of largest P[1] - P[0] (rows 3 and 2), where the
    # argmax is not 0 (row 2's argmax is 0: dropped). joint[1, 0] = 1/8 -> row 5 of rows 4-7.
    P = np.array([[0.9, 0.1], [0.8, 0.2], [0.55, 0.45], [0.2, 0.8],
                  [0.1, 0.9], [0.7, 0.3], [0.2, 0.8], [0.4, 0.6]])
    codes = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    joint = np.array([[2, 2], [1, 3]]) / 8
    assert np.flatnonzero(prune_by_noise_rate(P, codes, joint)).tolist() == [3, 5]


def separable(rng, n_per=150, n_classes=4, d=8):
    centres = rng.normal(0, 6, (n_classes, d))
    X = np.concatenate([c + rng.normal(size=(n_per, d)) for c in centres])
    return X, np.repeat(np.arange(n_classes), n_per)


@pytest.mark.parametrize("rate", [0.1, 0.3])
def test_estimates_the_noise_rate_and_flags_the_flips_on_separable_classes(rng, rate):
    X, y = separable(rng)
    noisy, flipped = inject_label_noise(y, rate, n_classes=4, random_state=1)
    res = mislabel_score(X, noisy)
    assert res.settings["noise_rate_estimate"] == pytest.approx(rate, abs=0.03)
    assert len(res.settings["noise_rate_estimate_per_class"]) == 4
    precision, recall = flipped[res.flags].mean(), res.flags[flipped].mean()
    assert precision > 0.95 and recall > 0.9
    assert (res.flags <= res["flag_argmax"]).all()  # pruned flags also need the argmax to disagree
    assert f"estimated noise rate {res.settings['noise_rate_estimate']:.1%}" in res.summary()


def test_confident_learning_flags_any_probabilities(rng):
    # Cross-validated probabilities work as well as leave-one-out ones: the bench's peer uses this.
    labels = np.repeat([0, 1, 2], 50)
    P = np.full((150, 3), 0.05)
    P[np.arange(150), labels] = 0.9
    wrong = np.arange(0, 150, 10)
    P[wrong] = P[wrong][:, [1, 2, 0]]  # 15 rows whose probabilities point to another class
    flags, est = confident_learning_flags(P, labels)
    assert np.flatnonzero(flags).tolist() == wrong.tolist()
    assert est.overall == pytest.approx(0.1)


def test_a_row_alone_in_its_class_is_never_flagged_and_named(rng):
    X, y = separable(rng, n_per=30, n_classes=3)
    X, y = np.r_[X, rng.normal(size=(2, 8))], np.r_[y, 7, 8]  # two classes of one row each
    with pytest.warns(UserWarning, match=r"2 class\(es\) have a single row \(7, 8\)"):
        res = mislabel_score(X, y)
    assert np.isnan(res.scores[-2:]).all() and not res.flags[-2:].any() and not res["flag_argmax"][-2:].any()
    assert np.isfinite(res.scores[:-2]).all()
    assert res.settings["unjudged_classes"] == [7, 8]
    assert res.settings["noise_rate_estimate_per_class"][-2:] == [None, None]
    assert "2 single-row class(es) not judged" in res.summary()


@pytest.mark.parametrize("n", [2, 60])
def test_data_of_single_row_classes_flags_nothing(rng, n):
    with pytest.warns(UserWarning, match="single row"):
        res = mislabel_score(rng.normal(size=(n, 5)), np.arange(n))
    assert not res.flags.any() and not res["flag_argmax"].any() and np.isnan(res.scores).all()


def test_identical_rows_are_refused_in_one_line(rng):
    X = np.tile(rng.normal(size=(1, 5)), (300, 1))
    with pytest.raises(TrainfreeError, match="All 300 rows of X are identical") as err:
        mislabel_score(X, rng.integers(0, 3, 300))
    assert "\n" not in str(err.value)
    with pytest.raises(TrainfreeError, match="kernel matrix are identical"):
        mislabel_score(np.ones((20, 20)), np.r_[np.zeros(10), np.ones(10)], kernel="precomputed")


def test_rows_equal_within_rounding_are_never_flagged(rng):
    # Rows that differ only in the last digits: scores are rounding noise (float32 solve), below SCORE_TOL.
    X = np.tile(rng.normal(size=(1, 5)), (300, 1)) * (1 + 1e-6 * rng.normal(size=(300, 5)))
    res = mislabel_score(X, rng.integers(0, 3, 300))
    assert np.abs(res.scores).max() < SCORE_TOL
    assert not res.flags.any() and not res["flag_argmax"].any()


def test_check_distinct_rows_accepts_one_differing_row():
    X = np.ones((3_000_000, 3))
    X[-1, 2] = 2.0  # in the last block of rows
    check_distinct_rows(X)
    X[-1, 2] = 1.0 + 1e-9  # within rounding
    with pytest.raises(TrainfreeError, match="identical"):
        check_distinct_rows(X)


def test_flags_and_estimate_survive_a_save(tmp_path, rng):
    X, y = separable(rng, n_per=40, n_classes=3)
    noisy, _ = inject_label_noise(y, 0.2, n_classes=3, random_state=0)
    res = mislabel_score(X, noisy)
    res.save(tmp_path / "r.parquet")
    back = load_result(tmp_path / "r.parquet")
    np.testing.assert_array_equal(back.flags, res.flags)
    np.testing.assert_array_equal(back["flag_argmax"], res["flag_argmax"])
    assert json.loads(json.dumps(dict(back.settings)))["noise_rate_estimate"] == pytest.approx(
        res.settings["noise_rate_estimate"])


def test_cg_sign_rule_never_flags_a_row_alone_in_its_class(rng):
    X, y = separable(rng, n_per=20, n_classes=2)
    X, y = np.r_[X, rng.normal(size=(1, 8))], np.r_[y, 5]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = cg_score(X, y)
    assert not res.flags[-1]


def test_cg_refuses_identical_rows(rng):
    X = np.tile(rng.normal(size=(1, 5)), (300, 1))
    with pytest.raises(TrainfreeError, match="All 300 rows of X are identical"):
        cg_score(X, rng.integers(0, 3, 300), preprocess="raw")


def test_report_histograms_draw_with_unjudged_rows():
    import base64

    from trainfree.report.plots import score_histograms

    png = score_histograms(np.array([0.1, 0.5, 2.0, 0.3, np.nan]), np.array(list("aabbc")), ["a", "b", "c"])
    assert base64.b64decode(png)[:4] == b"\x89PNG"
