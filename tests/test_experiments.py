import numpy as np
import pytest

from trainfree._validation import TrainfreeError
from trainfree.data import load
from trainfree.experiments import davinz_groundtruth


def test_groundtruth_small_run_is_consistent():
    data = load("digits", random_state=0)
    train, val, test = data.subset(np.arange(0, 1000)), data.subset(np.arange(1000, 1200)), data.subset(
        np.arange(1200, 1797))
    gt = davinz_groundtruth(train, val, test, n_datasets=5, sizes=(40, 200), noise=(0.0, 0.6), model="mlp",
                            epochs=30, random_state=0)
    assert gt.nu.shape == gt.test_metric.shape == (5,)
    assert gt.kappa == np.sum(gt.mmd_term) / np.sum(gt.ntk_term)
    np.testing.assert_allclose(gt.nu, -gt.kappa * gt.ntk_term - gt.mmd_term)
    assert -1 <= gt.spearman <= 1 and gt.training_s > 0
    # Trained accuracy is a real number of a trained network: far above chance (0.1) on digits.
    assert gt.test_metric.max() > 0.6
    assert set(gt.baselines) == {"VP", "IF", "RV"}
    # VP measures the same trained networks on another held-out split: it must track the ground truth.
    assert gt.baselines["VP"]["spearman"] > 0.5


def test_groundtruth_log_sizes_stay_in_range_and_bad_scale_is_refused():
    data = load("digits", random_state=0)
    train, val, test = data.subset(np.arange(0, 1000)), data.subset(np.arange(1000, 1200)), data.subset(
        np.arange(1200, 1797))
    gt = davinz_groundtruth(train, val, test, n_datasets=4, sizes=(20, 800), size_scale="log", noise=(0.0, 0.0),
                            model="mlp", epochs=2, random_state=1)
    assert gt.sizes.min() >= 20 and gt.sizes.max() <= 800
    np.testing.assert_array_equal(gt.noise, 0.0)
    with pytest.raises(TrainfreeError, match="size_scale"):
        davinz_groundtruth(train, val, test, size_scale="cubic")
