"""Coverage-centric selection (CCS): the hard cut, the strata, the budget spread over them, and the CLI."""

import numpy as np
import pandas as pd
import pytest

from trainfree import TrainfreeError
from trainfree.cli import main
from trainfree.data import load
from trainfree.experiments import prune_order, pruning_curve, stratum_budgets


def paper_budgets(sizes, budget):
    """Algorithm 1 of Zheng et al. (2023) as written: while strata remain, the smallest takes
    min(its size, floor(budget left / strata left)) and leaves the set."""
    left, out, remaining = budget, {}, {i: s for i, s in enumerate(sizes) if s > 0}
    while remaining:
        i = min(remaining, key=lambda j: (remaining[j], j))
        out[i] = min(remaining.pop(i), left // (len(remaining) + 1))
        left -= out[i]
    return np.array([out.get(i, 0) for i in range(len(sizes))])


def strata_of(values, k):
    """Equal-width strata over [min, max] of ``values``; the maximum falls in the last one."""
    lo, hi = values.min(), values.max()
    if hi == lo:
        return np.zeros(len(values), dtype=int)
    return np.minimum(np.floor((values - lo) / ((hi - lo) / k)).astype(int), k - 1)


def test_stratum_budgets_fill_the_smallest_strata_first_and_spread_the_rest():
    assert stratum_budgets([1, 10, 0, 4], 9).tolist() == [1, 4, 0, 4]
    assert stratum_budgets([5, 5, 5], 9).tolist() == [3, 3, 3]
    assert stratum_budgets([2, 100, 100], 50).tolist() == [2, 24, 24]
    assert stratum_budgets([3, 100, 100], 10).tolist() == [3, 3, 4]  # the remainder goes to the last visited
    assert stratum_budgets([7, 2], 9).tolist() == [7, 2]  # the whole data
    assert stratum_budgets([4, 4], 0).tolist() == [0, 0]


def test_stratum_budgets_match_the_papers_algorithm_on_random_strata(rng):
    for _ in range(300):
        sizes = rng.integers(0, 30, size=rng.integers(1, 12))
        budget = int(rng.integers(0, sizes.sum() + 1))
        got = stratum_budgets(sizes, budget)
        np.testing.assert_array_equal(got, paper_budgets(sizes.tolist(), budget))
        assert got.sum() == budget and np.all(got <= sizes) and np.all(got >= 0)
        partial = got[got < sizes]  # strata not kept whole share what is left within one row
        if len(partial):
            assert partial.max() - partial.min() <= 1 and sizes[got == sizes].max(initial=0) <= partial.max()


@pytest.mark.parametrize("fraction, hard_cut, n_strata", [(0.5, 0.1, 10), (0.9, 0.3, 50), (0.7, 0.0, 7),
                                                         (0.3, 0.3, 3), (0.8, 0.05, 1)])
def test_ccs_keeps_exact_counts_never_the_hard_cut_and_the_papers_budget_per_stratum(rng, fraction, hard_cut,
                                                                                   n_strata):
    n = 600
    s = rng.gamma(2.0, size=n)  # skewed: strata of very different sizes
    kept = prune_order(s, np.zeros(n), fraction=fraction, sampling="ccs", hard_cut=hard_cut, n_strata=n_strata,
                       random_state=3)
    assert len(kept) == n - round(fraction * n) and np.all(np.diff(kept) > 0)
    cut = np.argsort(-s)[:round(hard_cut * n)]
    assert not np.isin(cut, kept).any()
    rest = np.setdiff1d(np.arange(n), cut)
    strata = strata_of(s[rest], n_strata)
    sizes = np.bincount(strata, minlength=n_strata)
    kept_per_stratum = np.bincount(strata[np.isin(rest, kept)], minlength=n_strata)
    np.testing.assert_array_equal(kept_per_stratum, paper_budgets(sizes.tolist(), n - round(fraction * n)))


def test_ccs_is_deterministic_under_a_seed_and_draws_within_strata(rng):
    s = rng.normal(size=400)
    y = np.zeros(400)
    a = prune_order(s, y, fraction=0.7, sampling="ccs", hard_cut=0.1, n_strata=5, random_state=7)
    b = prune_order(s, y, fraction=0.7, sampling="ccs", hard_cut=0.1, n_strata=5, random_state=7)
    c = prune_order(s, y, fraction=0.7, sampling="ccs", hard_cut=0.1, n_strata=5, random_state=8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c) and len(a) == len(c) == 120
    # unlike the plain cut, the kept rows span the score range below the hard cut
    assert s[a].min() < np.quantile(s, 0.05) and s[a].max() > np.quantile(s, 0.8)


def test_ccs_without_cut_and_one_stratum_is_a_uniform_random_subset(rng):
    s = np.full(1000, 0.5)  # equal scores: one stratum whatever n_strata
    hits = np.zeros(1000)
    for seed in range(40):
        hits[prune_order(s, np.zeros(1000), fraction=0.5, sampling="ccs", hard_cut=0.0, random_state=seed)] += 1
    assert hits.sum() == 40 * 500
    # each row kept Binomial(40, 1/2) times: spread sqrt(10), no drift with the row's position
    assert 2.7 < hits.std() < 3.7 and abs(hits[:500].mean() - hits[500:].mean()) < 1.0


def test_class_balanced_ccs_keeps_each_classs_share_and_cuts_each_classs_hardest(rng):
    y = np.repeat([0, 1, 2], [300, 200, 100])
    s = rng.normal(size=600) + 3 * y  # class 2 scores far above the others
    kept = prune_order(s, y, fraction=0.6, sampling="ccs", hard_cut=0.2, n_strata=8, class_balanced=True,
                       random_state=0)
    np.testing.assert_array_equal(np.bincount(y[kept]), [120, 80, 40])
    for c, n_c in enumerate([300, 200, 100]):
        rows = np.flatnonzero(y == c)
        hardest = rows[np.argsort(-s[rows])[:round(0.2 * n_c)]]
        assert not np.isin(hardest, kept).any()
        rest = np.setdiff1d(rows, hardest)
        strata = strata_of(s[rest], 8)
        np.testing.assert_array_equal(np.bincount(strata[np.isin(rest, kept)], minlength=8),
                                      paper_budgets(np.bincount(strata, minlength=8).tolist(), n_c - round(0.6 * n_c)))
    # a class of one row loses it at 90%, as the plain cut's largest remainder decides
    tiny = np.r_[np.zeros(19), 1]
    for sampling in ("top", "ccs"):
        got = prune_order(np.arange(20.0), tiny, fraction=0.9, sampling=sampling, hard_cut=0.9, class_balanced=True,
                          random_state=0)
        assert len(got) == 2 and tiny[got].tolist() == [0, 0]
    # without class balance, the global cut takes class 2 (the highest scores) first
    plain = prune_order(s, y, fraction=0.6, sampling="ccs", hard_cut=0.2, n_strata=8, random_state=0)
    assert np.bincount(y[plain], minlength=3)[2] < 40


@pytest.mark.parametrize("kwargs, words", [
    ({"hard_cut": 1.0}, "hard_cut=0.1"), ({"hard_cut": -0.1}, "hard_cut"), ({"hard_cut": "0.1"}, "hard_cut"),
    ({"hard_cut": True}, "hard_cut"), ({"hard_cut": 0.6}, "hard_cut <= 0.5"), ({"n_strata": 0}, "n_strata=50"),
    ({"n_strata": 2.5}, "n_strata"), ({"direction": "keep_easy"}, "negate the scores"),
    ({"sampling": "bottom"}, "sampling")])
def test_bad_ccs_settings_are_one_trainfree_error_naming_the_fix(kwargs, words):
    options = {"fraction": 0.5, "sampling": "ccs", **kwargs}
    with pytest.raises(TrainfreeError, match=words.replace("(", r"\(")):
        prune_order(np.arange(20.0), np.zeros(20), **options)


@pytest.fixture(scope="module")
def split():
    d = load("digits", n=240, random_state=0)
    return d.subset(np.arange(160)), d.subset(np.arange(160, 240))


def test_pruning_curve_adds_one_ccs_row_per_score_and_share_and_records_its_settings(split, tmp_path):
    train_set, test_set = split
    s = np.linalg.norm(train_set.X, axis=1)
    options = dict(fractions=(0.25, 0.5), sampling=("top", "ccs"), hard_cut=0.2, n_strata=4, class_balanced=True,
                   model="mlp", epochs=1, n_runs=2, random_state=0)
    res = pruning_curve(train_set, test_set, {"norm": s}, checkpoint=tmp_path, **options)
    assert res["player"].tolist() == ["norm/keep_hard/0.25", "norm/keep_hard/0.5", "norm/keep_easy/0.25",
                                      "norm/keep_easy/0.5", "norm/ccs/0.25", "norm/ccs/0.5", "random/random/0.25",
                                      "random/random/0.5"]
    assert res["n_kept"].tolist() == [120, 80] * 4
    assert res.settings["sampling"] == ["top", "ccs"]
    assert (res.settings["hard_cut"], res.settings["n_strata"]) == (0.2, 4)
    for player, value in zip(res["player"], res.values):  # each row's runs, paired by run with every other row
        assert len(res.metrics["runs"][player]) == 2 and np.mean(res.metrics["runs"][player]) == pytest.approx(value)
    only = pruning_curve(train_set, test_set, {"norm": s}, **{**options, "sampling": "ccs"}, include_random=False)
    assert only["player"].tolist() == ["norm/ccs/0.25", "norm/ccs/0.5"]
    np.testing.assert_allclose(only.values, res.values[4:6], rtol=1e-12)  # the same paired runs
    with pytest.raises(TrainfreeError, match="hard_cut"):  # the checkpoint belongs to another β
        pruning_curve(train_set, test_set, {"norm": s}, checkpoint=tmp_path, **{**options, "hard_cut": 0.1})
    with pytest.raises(TrainfreeError, match="hard_cut <= 0.25"):
        pruning_curve(train_set, test_set, {"norm": s}, **{**options, "hard_cut": 0.3})


def test_cli_prune_with_ccs(tmp_path, capsys):
    argv = ["experiment", "prune", "--data", "digits", "--n", "300", "--model", "mlp", "--scores", "mislabel,random",
            "--fractions", "0.5", "--sampling", "top,ccs", "--hard-cut", "0.2", "--strata", "5", "--class-balanced",
            "--epochs", "1", "--runs", "1", "--out", str(tmp_path / "o")]
    assert main(argv) == 0
    assert "mislabel/ccs" in capsys.readouterr().out  # the detector prunes too
    df = pd.read_parquet(tmp_path / "o" / "pruning.parquet")
    assert df["direction"].tolist() == ["keep_hard", "keep_easy", "ccs", "random"]
    rc = main([*argv[:-1], str(tmp_path / "bad"), "--hard-cut", "0.7"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "hard_cut <= 0.5" in err[0]
