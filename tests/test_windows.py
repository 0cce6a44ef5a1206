"""Offset windows with label noise: the rows each window trains on, its flipped share, the budget, errors."""

import numpy as np
import pytest

from trainfree import TrainfreeError
from trainfree._random import check_random_state, child
from trainfree.data import load
from trainfree.experiments import score_dataset, window, window_curve
from trainfree.experiments.pruning import budget_epochs


@pytest.fixture(scope="module")
def split():
    d = load("digits", n=300, random_state=0)
    return d.subset(np.arange(200)), d.subset(np.arange(200, 300))


def test_windows_train_on_the_ranked_band_of_the_noisy_scores(split, tmp_path):
    train_set, test_set = split
    kw = dict(window_width=0.5, offsets=(0.0, 0.2, 0.5), noise_rate=0.2, model="mlp", epochs=1, batch_size=32, n_runs=1,
              random_state=4)
    res = window_curve(train_set, test_set, ["cg", "input_norm"], checkpoint=tmp_path, **kw)
    assert res["player"].tolist() == ["cg/0", "cg/0.2", "cg/0.5", "input_norm/0", "input_norm/0.2",
                                      "input_norm/0.5", "random"]
    # By hand: the same flips and CG-scores as score_dataset with the same root seed, then window().
    ref = score_dataset(train_set, score="cg", noise_rate=0.2, random_state=4)
    flipped = np.asarray(ref["flipped"])
    tie_seed = child(check_random_state(4), "ties")
    for o, share in zip((0.0, 0.2, 0.5), res["flipped_share"][:3]):
        idx = window(ref.scores, offset=o, window_width=0.5, random_state=tie_seed)
        assert len(idx) == 100 and share == pytest.approx(flipped[idx].mean())
    assert res.metrics["n_flipped"] == 40 == int(flipped.sum())
    # CG puts the flipped labels on top: the first window holds most of them, the last almost none.
    assert res["flipped_share"][0] > 0.3 > 0.05 > res["flipped_share"][2]
    assert set(res["n_kept"]) == {100} and set(res["epochs"]) == {budget_epochs(1, 200, 100, 32)}
    assert np.isnan(res["offset"][-1]) and 0.1 < res["flipped_share"][-1] < 0.3
    again = window_curve(train_set, test_set, ["cg", "input_norm"], checkpoint=tmp_path, **kw)  # all resumed
    np.testing.assert_array_equal(again.values, res.values)
    assert len(list(tmp_path.glob("unit-*.npz"))) == 1 + 7


@pytest.mark.parametrize("kw, words", [(dict(offsets=(0.6,)), "offsets <= 0.5"), (dict(names=["bogus"]), "bogus"),
                                       (dict(noise_rate=1.0), "noise"), (dict(window_width=0.0), "window_width")])
def test_bad_window_input_is_one_trainfree_error(split, kw, words):
    with pytest.raises(TrainfreeError, match=words):
        window_curve(*split, **{"names": ["input_norm"], "model": "mlp", **kw})
