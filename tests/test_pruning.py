"""Data pruning: which rows are kept, the step budget, paired runs, score correlations and the CLI."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from trainfree import TrainfreeError, load_result
from trainfree.cli import main
from trainfree.data import load
from trainfree.experiments import prune_order, pruning_curve, score_correlations, window
from trainfree.experiments import pruning as pruning_module
from trainfree.experiments.pruning import budget_epochs


@pytest.fixture(scope="module")
def split():
    d = load("digits", n=240, random_state=0)
    return d.subset(np.arange(160)), d.subset(np.arange(160, 240))


@pytest.mark.parametrize("direction", ["keep_hard", "keep_easy"])
@pytest.mark.parametrize("fraction", [0.1, 0.37, 0.5, 0.9])
def test_unbalanced_pruning_removes_exactly_the_extreme_scores(rng, direction, fraction):
    s = rng.permutation(200).astype(float)  # distinct scores: no ties
    kept = prune_order(s, np.zeros(200), fraction=fraction, direction=direction, random_state=0)
    n_removed = round(fraction * 200)
    assert len(kept) == 200 - n_removed and np.all(np.diff(kept) > 0)
    removed = np.setdiff1d(np.arange(200), kept)
    if direction == "keep_hard":  # the lowest scores go
        assert s[removed].max() < s[kept].min()
        assert set(removed) == set(np.argsort(s)[:n_removed])
    else:  # the highest scores go
        assert s[removed].min() > s[kept].max()
        assert set(removed) == set(np.argsort(s)[::-1][:n_removed])


@pytest.mark.parametrize("fraction", [0.1, 0.25, 0.3, 0.5, 0.7])
def test_class_balanced_pruning_keeps_class_proportions_exactly(rng, fraction):
    y = np.repeat([0, 1, 2, 3], [50, 30, 13, 7])
    s = rng.normal(size=len(y))
    kept = prune_order(s, y, fraction=fraction, direction="keep_hard", class_balanced=True, random_state=1)
    counts = np.bincount(y)
    quota = fraction * counts
    removed = counts - np.bincount(y[kept], minlength=4)
    # Largest remainder: every class loses floor or ceil of its share, and the total is the rounded total.
    assert np.all((removed == np.floor(quota)) | (removed == np.ceil(quota)))
    assert removed.sum() == round(fraction * len(y))
    rem = quota - np.floor(quota)
    rounded_up = removed > np.floor(quota)
    if rounded_up.any() and (~rounded_up).any():
        assert rem[rounded_up].min() >= rem[~rounded_up].max()
    for c in range(4):  # within each class the lowest scores go
        members = np.flatnonzero(y == c)
        gone = np.setdiff1d(members, kept)
        if len(gone) and len(gone) < len(members):
            assert s[gone].max() < s[np.intersect1d(members, kept)].min()


def test_class_balanced_with_divisible_counts_keeps_proportions_exactly():
    y = np.repeat([0, 1], [60, 40])
    kept = prune_order(np.arange(100.0), y, fraction=0.5, class_balanced=True, random_state=0)
    assert np.bincount(y[kept]).tolist() == [30, 20]


def test_ties_are_broken_by_the_seed():
    s, y = np.zeros(100), np.zeros(100)
    a = prune_order(s, y, fraction=0.5, random_state=0)
    assert np.array_equal(a, prune_order(s, y, fraction=0.5, random_state=0))
    assert not np.array_equal(a, prune_order(s, y, fraction=0.5, random_state=1))


@pytest.mark.parametrize("offset, width", [(0.0, 0.1), (0.2, 0.3), (0.5, 0.5), (0.9, 0.1), (0.33, 0.17)])
def test_window_selects_exactly_the_requested_ranks(rng, offset, width):
    s = rng.permutation(300).astype(float)
    idx = window(s, offset=offset, window_width=width)
    ranks = np.empty(300, dtype=int)
    ranks[np.argsort(-s)] = np.arange(300)  # 0 = highest score
    start, stop = round(offset * 300), round((offset + width) * 300)
    assert sorted(ranks[idx].tolist()) == list(range(start, stop))


@pytest.mark.parametrize("kwargs", [dict(fraction=0.0), dict(fraction=1.0), dict(fraction=-0.2),
                                    dict(fraction=0.5, direction="up")])
def test_bad_pruning_input_is_one_trainfree_error(kwargs):
    with pytest.raises(TrainfreeError):
        prune_order(np.arange(10.0), np.zeros(10), **kwargs)


def test_nan_scores_and_bad_windows_are_refused():
    with pytest.raises(TrainfreeError, match="NaN"):
        prune_order([0.1, np.nan], [0, 1], fraction=0.5)
    with pytest.raises(TrainfreeError, match="offset"):
        window(np.arange(10.0), offset=0.8, window_width=0.5)


def test_budget_epochs_gives_at_least_the_full_steps_and_no_extra_epoch():
    for n_kept in (1, 37, 128, 129, 900, 1500, 2999, 3000):
        e = budget_epochs(5, 3000, n_kept, 128)
        steps, full = e * math.ceil(n_kept / 128), 5 * math.ceil(3000 / 128)
        assert steps >= full and (e - 1) * math.ceil(n_kept / 128) < full


def test_pruning_curve_honours_the_step_budget_and_pairs_the_initialisation(split, monkeypatch):
    train_set, test_set = split
    made, steps = [], []
    real_make, real_train = pruning_module.make_model, pruning_module.train

    def make_model(*a, **k):
        net = real_make(*a, **k)
        made.append(np.concatenate([p.detach().numpy().ravel() for p in net.parameters()]))
        return net

    def train(net, X, y, **k):
        count = [0]
        log = real_train(net, X, y, batch_callbacks=[lambda e, i, o: count.__setitem__(0, count[0] + 1)], **k)
        steps.append((len(X), count[0]))
        return log

    monkeypatch.setattr(pruning_module, "make_model", make_model)
    monkeypatch.setattr(pruning_module, "train", train)
    s = np.linalg.norm(train_set.X, axis=1)
    res = pruning_curve(train_set, test_set, {"norm": s, "neg": -s}, fractions=(0.3, 0.6), model="mlp", epochs=2,
                        batch_size=32, n_runs=2, random_state=0)
    n_full, full_steps = len(train_set), 2 * math.ceil(len(train_set) / 32)
    assert steps[0] == (n_full, full_steps) and steps[1] == (n_full, full_steps)
    for n_kept, count in steps:
        assert count >= full_steps and count - full_steps < math.ceil(n_kept / 32)
        assert count == budget_epochs(2, n_full, n_kept, 32) * math.ceil(n_kept / 32)
    # networks alternate run 0, run 1: the same run starts from the same weights for every score
    assert len(made) == 2 * (1 + len(res))
    for k, w in enumerate(made):
        np.testing.assert_array_equal(w, made[k % 2])
    assert not np.array_equal(made[0], made[1])


def test_pruning_curve_result_shape_and_columns(split):
    train_set, test_set = split
    s = np.linalg.norm(train_set.X, axis=1)
    res = pruning_curve(train_set, test_set, {"norm": s}, fractions=(0.25, 0.5), model="mlp", epochs=1, n_runs=2,
                        random_state=0)
    assert len(res) == 2 * 2 + 2  # (1 score × 2 directions + random) × 2 fractions
    assert list(res.columns)[:3] == ["value", "stderr", "player"]
    assert {"score", "direction", "fraction_pruned", "n_kept", "epochs"} <= set(res.columns)
    assert res["player"].tolist()[0] == "norm/keep_hard/0.25"
    assert set(res["direction"]) == {"keep_hard", "keep_easy", "random"}
    assert res["n_kept"].tolist() == [120, 80, 120, 80, 120, 80]
    # Accuracies on 80 test rows, averaged over 2 runs: each a count of correct predictions over 160.
    correct = np.array([*res.values, res.metrics["full_accuracy"]]) * 2 * len(test_set)
    np.testing.assert_allclose(correct, np.round(correct), rtol=0, atol=1e-9)
    assert np.all((correct >= 0) & (correct <= 160)) and np.isfinite(res.stderr).all()
    assert res.metrics["full_accuracy"] == pytest.approx(np.mean(res.metrics["full_runs"]), rel=1e-15)
    assert len(res.metrics["full_runs"]) == 2
    one = pruning_curve(train_set, test_set, {"norm": s}, fractions=(0.5,), directions=("keep_easy",),
                        include_random=False, model="mlp", epochs=1, n_runs=1, random_state=0)
    assert one["player"].tolist() == ["norm/keep_easy/0.5"] and np.isnan(one.stderr).all()
    with pytest.raises(TrainfreeError, match="rows"):
        pruning_curve(train_set, test_set, {"short": s[:10]}, model="mlp", random_state=0)


def test_score_correlations_self_one_negation_minus_one_and_input_norm(rng):
    X = rng.normal(size=(50, 4))
    s = rng.normal(size=50)
    norm = np.linalg.norm(X, axis=1)
    res = score_correlations({"s": s, "same": s.copy(), "neg": -s, "norm": norm * 2}, X)
    rho = dict(zip(res["player"], res.values))
    assert len(res) == 10  # 5 scores with the input norm: 5·4/2 pairs
    assert rho["s ~ same"] == pytest.approx(1.0) and rho["s ~ neg"] == pytest.approx(-1.0)
    assert rho["norm ~ input_norm"] == pytest.approx(1.0)
    assert set(res["score_a"]) | set(res["score_b"]) == {"s", "same", "neg", "norm", "input_norm"}
    with pytest.raises(TrainfreeError):
        score_correlations({"s": s})


def test_cli_prune_end_to_end_on_digits(tmp_path, capsys):
    argv = ["experiment", "prune", "--data", "digits", "--n", "300", "--model", "mlp", "--scores",
            "cg,input_norm,random", "--fractions", "0.3,0.5", "--epochs", "1", "--runs", "1", "--out", str(tmp_path)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "cg/keep_hard" in out and "random/random" in out and "pruned 50%" in out
    df = pd.read_parquet(tmp_path / "pruning.parquet")
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert len(df) == (2 * 2 + 1) * 2 and summary["result_type"] == "PlayerResult"
    assert df["n_kept"].max() == 140  # 2/3 of 300 for training, 30% pruned
    assert "full_accuracy" in summary["metrics"]
    units = sorted((tmp_path / "units" / "pruning").glob("unit-*.npz"))
    assert len(units) == 1 + 10  # every training run saved as it finished
    units[-1].unlink()
    assert main(argv) == 0  # the same command again resumes: one run retrained, the same table
    np.testing.assert_array_equal(pd.read_parquet(tmp_path / "pruning.parquet")["value"], df["value"])


@pytest.mark.parametrize("argv, words", [(["--scores", "cg,bogus"], "--scores"),
                                         (["--fractions", "0.3,1.5"], "--fractions"),
                                         (["--fractions", "0"], "--fractions"),
                                         (["--fractions", "a"], "--fractions")])
def test_cli_prune_bad_input_is_one_line_exit_2(tmp_path, capsys, argv, words):
    rc = main(["experiment", "prune", "--data", "digits", "--model", "mlp", *argv, "--out", str(tmp_path / "o")])
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert words in err and "\n" not in err


def test_cli_correlate_prints_every_pair_and_the_input_norm(tmp_path, capsys):
    rc = main(["experiment", "correlate", "--data", "digits", "--n", "200", "--model", "mlp", "--scores",
               "cg,grand", "--seeds", "2", "--out", str(tmp_path)])
    assert rc == 0
    out = capsys.readouterr().out
    assert "Spearman rank correlation between the scores of 200 rows" in out and "input_norm" in out
    res = load_result(tmp_path / "correlations.parquet")
    assert res["player"].tolist() == ["cg ~ grand", "cg ~ input_norm", "grand ~ input_norm"]
    # The same numbers as the library on the same scores (scipy's Spearman, by hand).
    d = load("digits", n=200, random_state=0)
    scores = pruning_module.pruning_scores(d, ["cg", "grand"], model="mlp", n_seeds=2, random_state=0)
    norm = np.linalg.norm(d.X, axis=1)
    from scipy.stats import spearmanr
    expected = [spearmanr(scores["cg"], scores["grand"])[0], spearmanr(scores["cg"], norm)[0],
                spearmanr(scores["grand"], norm)[0]]
    np.testing.assert_allclose(res.values, expected, rtol=1e-10)
    assert f"{expected[2]:.3f}" in out
    assert (tmp_path / "units" / "score-grand" / "unit-seed-1.npz").exists()  # resumable seeds


@pytest.mark.parametrize("argv, words", [(["--scores", "cg,random"], "--scores"), (["--scores", ","], "--scores")])
def test_cli_correlate_bad_input_is_one_line_exit_2(tmp_path, capsys, argv, words):
    rc = main(["experiment", "correlate", "--data", "digits", "--model", "mlp", *argv, "--out", str(tmp_path / "o")])
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert words in err and "\n" not in err


def test_pruning_curve_resumes_from_its_checkpoint_and_refuses_another_configuration(split, tmp_path):
    train_set, test_set = split
    s = np.linalg.norm(train_set.X, axis=1)
    kw = dict(fractions=(0.3, 0.6), directions=("keep_hard",), model="mlp", epochs=1, batch_size=32, random_state=2)
    ref = pruning_curve(train_set, test_set, {"norm": s}, n_runs=2, **kw)
    pruning_curve(train_set, test_set, {"norm": s}, n_runs=1, checkpoint=tmp_path, **kw)  # one run, then more
    assert len(list(tmp_path.glob("unit-*.npz"))) == 1 + 4
    (tmp_path / "unit-set1-run0.npz").unlink()  # as if killed before it finished
    again = pruning_curve(train_set, test_set, {"norm": s}, n_runs=2, checkpoint=tmp_path, **kw)
    assert len(list(tmp_path.glob("unit-*.npz"))) == 2 * (1 + 4)
    np.testing.assert_array_equal(again.values, ref.values)
    np.testing.assert_array_equal(again.metrics["full_runs"], ref.metrics["full_runs"])
    with pytest.raises(TrainfreeError, match=r"different run \(epochs: saved 1, now 2\)"):
        pruning_curve(train_set, test_set, {"norm": s}, n_runs=2, checkpoint=tmp_path, **{**kw, "epochs": 2})
    with pytest.raises(TrainfreeError, match=r"different run \(scores.norm"):
        pruning_curve(train_set, test_set, {"norm": -s}, n_runs=2, checkpoint=tmp_path, **kw)


KILLED_SWEEP = """
import sys, numpy as np
from trainfree.data import load
from trainfree.experiments import pruning_curve

d = load("digits", n=240, random_state=0)
tr, te = d.subset(np.arange(160)), d.subset(np.arange(160, 240))
kw = dict(fractions=(0.3, 0.5, 0.7), model="mlp", epochs=1, batch_size=32, n_runs=2, random_state=1)
res = pruning_curve(tr, te, {"norm": np.linalg.norm(tr.X, axis=1)}, checkpoint=sys.argv[1], **kw)
fresh = pruning_curve(tr, te, {"norm": np.linalg.norm(tr.X, axis=1)}, **kw)  # uninterrupted, saving no units
np.save(sys.argv[2], np.stack([res.values, fresh.values]))
"""
SWEEP_UNITS = 2 * (1 + 3 * 3)  # 2 runs of: the full set, and 3 fractions × 3 directions


def test_sigkilled_pruning_sweep_resumes_to_the_uninterrupted_result(tmp_path, script_runner):
    script, folder, k = tmp_path / "sweep.py", tmp_path / "units", 3
    script.write_text(KILLED_SWEEP)
    assert script_runner.run(script, folder, tmp_path / "killed.npy", kill_after=k) == k
    assert len(list(folder.glob("unit-*.npz"))) == k
    assert script_runner.run(script, folder, tmp_path / "resumed.npy") == SWEEP_UNITS - k
    assert len(list(folder.glob("unit-*.npz"))) == SWEEP_UNITS
    resumed, fresh = np.load(tmp_path / "resumed.npy")
    np.testing.assert_allclose(resumed, fresh, rtol=1e-12)
