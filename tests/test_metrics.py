import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainfree import TrainfreeError
from trainfree.metrics import auroc, noise_found_at, sign_rule_report


def test_noise_found_at_oracle_random_and_worst():
    flipped = np.r_[np.ones(20, bool), np.zeros(80, bool)]
    oracle = flipped.astype(float)
    assert noise_found_at(oracle, flipped, fractions=(0.1, 0.2, 0.5)) == {0.1: 0.5, 0.2: 1.0, 0.5: 1.0}
    assert noise_found_at(-oracle, flipped, fractions=(0.8, 0.9)) == {0.8: 0.0, 0.9: 0.5}


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(-5, 5), st.booleans()), min_size=2, max_size=40))
def test_auroc_matches_pairwise_definition(pairs):
    scores = np.array([p[0] for p in pairs])
    flipped = np.array([p[1] for p in pairs])
    if flipped.all() or not flipped.any():
        with pytest.raises(TrainfreeError):
            auroc(scores, flipped)
        return
    pos, neg = scores[flipped], scores[~flipped]
    ref = ((pos[:, None] > neg[None]).sum() + 0.5 * (pos[:, None] == neg[None]).sum()) / (pos.size * neg.size)
    assert auroc(scores, flipped) == pytest.approx(ref)


def test_sign_rule_report_counts():
    flags = np.array([1, 1, 0, 0, 1, 0], bool)
    flipped = np.array([1, 0, 1, 0, 0, 0], bool)
    rep = sign_rule_report(flags, flipped)
    assert rep["noisy_positive_frac"] == 0.5 and rep["clean_positive_frac"] == 0.5
    assert rep["precision"] == pytest.approx(1 / 3)


def test_shape_mismatch_is_clear():
    with pytest.raises(TrainfreeError, match="one mask entry per scored example"):
        auroc([1, 2, 3], [True, False])
