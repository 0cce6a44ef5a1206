"""DAVINZ's named ν presets and option objects: what each name resolves to, overrides, records and refusals."""

import json

import numpy as np
import pytest
import torch
from torch import nn

from trainfree import TrainfreeError
from trainfree.cli import main
from trainfree.experiments import GroundTruthTraining
from trainfree.valuation import DavinzUtility, NtkOptions, NuOptions, davinz_values


def net(d=4, out=3, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d, 16), nn.ReLU(), nn.Linear(16, out))


@pytest.fixture
def problem(rng):
    C = [(rng.normal(loc=0.3 * k, size=(10 + k, 4)), rng.integers(0, 3, 10 + k)) for k in range(3)]
    return C, rng.normal(size=(12, 4))


def test_each_preset_is_its_three_options_and_the_default_is_recommended(problem):
    C, X_val = problem
    coalitions = [(0,), (1, 2), (0, 1, 2)]
    default = DavinzUtility(C, X_val, model=net())
    # The same ν spelt out from the other preset: every option overridden.
    spelt = DavinzUtility(C, X_val, model=net(), nu=NuOptions("paper", outputs="mean", size_ridge=3e-4,
                                                               mmd_estimator="thresholded"))
    np.testing.assert_allclose([default(c) for c in coalitions], [spelt(c) for c in coalitions], rtol=1e-12)
    assert (default.settings["nu"], spelt.settings["nu"]) == ("recommended", "paper")  # the name given is recorded
    for u in (default, spelt):
        assert (u.settings["outputs"], u.settings["size_ridge"], u.settings["mmd_estimator"]) == (
            "mean", 3e-4, "thresholded")
    paper = DavinzUtility(C, X_val, model=net(), nu="paper")
    again = DavinzUtility(C, X_val, model=net(), nu=NuOptions("recommended", outputs="own", size_ridge=0.0,
                                                              mmd_estimator="biased"))
    np.testing.assert_allclose([paper(c) for c in coalitions], [again(c) for c in coalitions], rtol=1e-12)
    assert paper.theta.shape[0] == 1 and default.theta.shape[0] == 1  # own, mean: one kernel
    assert default.residual.shape == (1, len(default.residual[0]), 3)  # mean: every class's residual
    assert paper.settings["nu_description"].startswith("the paper's NTK term")
    # The two presets are different ν.
    assert not np.allclose([paper(c) for c in coalitions], [default(c) for c in coalitions], rtol=1e-3)


def test_one_override_keeps_the_rest_of_the_preset():
    assert NuOptions("paper", size_ridge=1e-4).resolved() == {
        "nu": "paper", "outputs": "own", "size_ridge": 1e-4, "mmd_estimator": "biased"}
    assert NuOptions(mmd_estimator="biased").resolved() == {
        "nu": "recommended", "outputs": "mean", "size_ridge": 3e-4, "mmd_estimator": "biased"}
    assert NuOptions().resolved()["size_ridge"] == 3e-4 and isinstance(NuOptions(size_ridge=0).resolved()[
        "size_ridge"], float)


@pytest.mark.parametrize("make, match", [
    (lambda C, X: DavinzUtility(C, X, model=net(), nu="papr"), r"'nu' parameter must be one of \['paper', "
                                                               r"'recommended'\]"),
    (lambda C, X: DavinzUtility(C, X, model=net(), nu=3), r"'nu' parameter must be a preset name"),
    (lambda C, X: DavinzUtility(C, X, model=net(), nu=NuOptions(mmd_estimator="median")), "mmd_estimator"),
    (lambda C, X: NuOptions(outputs="both"), r"'outputs' parameter must be one of \['own', 'all', 'mean'\]"),
    (lambda C, X: NuOptions(size_ridge=float("inf")), "size_ridge"),
    (lambda C, X: DavinzUtility(C, X, model=net(), ntk={"blocks": 2}), r"'ntk' parameter must be NtkOptions"),
    (lambda C, X: NtkOptions(blocks=0), "ntk_blocks"),
    (lambda C, X: NtkOptions(jitter=-1.0), "jitter"),
    (lambda C, X: NtkOptions(from_scratch=1), "from_scratch"),
    (lambda C, X: GroundTruthTraining(epochs=0), "epochs"),
    (lambda C, X: GroundTruthTraining(stopping="early"), "stopping"),
    (lambda C, X: GroundTruthTraining(optimizer="adamw"), "optimizer"),
])
def test_bad_presets_and_options_are_refused(problem, make, match):
    with pytest.raises(TrainfreeError, match=match):
        make(*problem)


def test_options_are_frozen_and_training_spells_out_its_stopping_rule():
    with pytest.raises(AttributeError):
        NuOptions().preset = "paper"
    assert GroundTruthTraining().options() == {"epochs": 30, "optimizer": "adam", "lr": 1e-3, "even_batches": True,
                                               "tol": 1e-3}
    plateau = GroundTruthTraining(stopping="plateau", epochs=1000).options()
    assert (plateau["tol"], plateau["plateau"], plateau["epochs"]) == (0.0, 1e-6, 1000)


def test_davinz_values_takes_the_preset(problem):
    C, X_val = problem
    res = davinz_values(C, X_val, model=net(), nu="paper", semivalue="loo", random_state=0)
    assert (res.settings["nu"], res.settings["outputs"], res.settings["mmd_estimator"]) == ("paper", "own", "biased")
    u = DavinzUtility(C, X_val, model=net(), nu="paper", random_state=0)  # one block, < 1 000 points: no draws
    full = u((0, 1, 2))
    np.testing.assert_allclose(res.values, [full - u((1, 2)), full - u((0, 2)), full - u((0, 1))], rtol=1e-10)


def test_cli_preset_and_override_reach_the_utility(tmp_path):
    base = ["value", "davinz", "--data", "digits", "--n", "200", "--contributors", "2", "--semivalue", "loo",
            "--quiet"]
    assert main([*base, "--nu", "paper", "--outputs", "all", "--out", str(tmp_path / "a")]) == 0
    s = json.loads((tmp_path / "a" / "summary.json").read_text())["settings"]
    assert (s["nu"], s["outputs"], s["size_ridge"], s["mmd_estimator"]) == ("paper", "all", 0.0, "biased")
    assert main([*base, "--nu", "bogus", "--out", str(tmp_path / "b")]) == 2
