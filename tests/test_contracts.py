"""The contracts every entry point shares: seeds and results (the top-level exports: test_exports.py)."""

import numpy as np
import pytest
import torch

from trainfree import ExampleResult, PlayerResult, TrainfreeError, cg_score, load_result, permutation_shapley
from trainfree._random import check_random_state, child, int_seed, seed_record
from trainfree.data import inject_label_noise, load, split_contributors
from trainfree.training import make_model, train
from trainfree.valuation import DavinzUtility, NtkOptions

SEED_FORMS = {
    "int": lambda: 7,
    "numpy int": lambda: np.int64(7),
    "Generator": lambda: np.random.default_rng(7),
    "SeedSequence": lambda: np.random.SeedSequence(7),
}


def _blobs():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(1.5 * k, 1.0, (15, 5)) for k in range(3)])
    return X, np.repeat(np.arange(3), 15)


def _consumers(seed):
    """One call of every public consumer of randomness, as numbers that must repeat for the same seed."""
    X, y = _blobs()
    out = [cg_score(X, y, method="stochastic", ratio=0.5, n_repeats=2, random_state=seed()).scores,
           inject_label_noise(y, 0.3, random_state=seed())[0],
           np.concatenate([c.indices for c in split_contributors(X, y, 3, random_state=seed())]),
           load("digits", n=50, random_state=seed()).ids,
           permutation_shapley(lambda c: float(sum(c) ** 2), 4, max_permutations=8, tolerance=None,
                               random_state=seed()).values,
           next(make_model("mlp", (5,), 3, random_state=seed()).parameters()).detach().numpy()]
    net = make_model("mlp", (5,), 3, random_state=0)
    train(net, X.astype(np.float32), y, epochs=1, batch_size=8, random_state=seed())
    return out + [next(net.parameters()).detach().numpy().copy()]


@pytest.mark.parametrize("form", list(SEED_FORMS))
def test_same_seed_same_numbers_in_every_form(form):
    first, second = _consumers(SEED_FORMS[form]), _consumers(SEED_FORMS[form])
    for a, b in zip(first, second):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_int_and_numpy_int_are_the_same_seed_and_none_is_fresh():
    ints, np_ints = _consumers(SEED_FORMS["int"]), _consumers(SEED_FORMS["numpy int"])
    for a, b in zip(ints, np_ints):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    X, y = _blobs()
    a = cg_score(X, y, method="stochastic", ratio=0.5, n_repeats=2, random_state=None)
    b = cg_score(X, y, method="stochastic", ratio=0.5, n_repeats=2, random_state=None)
    assert a.seed != b.seed  # fresh entropy, recorded ...
    again = cg_score(X, y, method="stochastic", ratio=0.5, n_repeats=2, random_state=a.seed)
    np.testing.assert_allclose(again.scores, a.scores, rtol=1e-12)  # ... and it reproduces the run


@pytest.mark.parametrize("bad, words", [(-1, "non-negative"), (True, "(bool)"), ("x", "Got 'x'"),
                                        (1.5, "Got 1.5"), (np.bool_(True), "(bool)")])
def test_bad_seeds_get_one_error_naming_the_parameter(bad, words):
    X, y = _blobs()
    calls = [lambda: cg_score(X, y, random_state=bad),  # the exact path checks its seed too
             lambda: inject_label_noise(y, 0.1, random_state=bad),
             lambda: make_model("mlp", (5,), 3, random_state=bad),
             lambda: load("digits", n=20, random_state=bad),
             lambda: permutation_shapley(lambda c: 0.0, 2, random_state=bad)]
    for call in calls:
        with pytest.raises(TrainfreeError, match=f"'random_state' parameter.*{words}"):
            call()


def test_children_are_independent_and_stable():
    s = check_random_state(3)
    a, b = np.random.default_rng(child(s, "noise")).random(5), np.random.default_rng(child(s, "model")).random(5)
    assert not np.allclose(a, b)
    np.testing.assert_array_equal(np.random.default_rng(child(s, "noise")).random(5), a)
    # An int seed is that seed for NumPy and for torch: default_rng(s), torch.manual_seed(s).
    np.testing.assert_array_equal(np.random.default_rng(s).random(3), np.random.default_rng(3).random(3))
    assert int_seed(s) == 3 and seed_record(s) == 3 and isinstance(seed_record(child(s, "x")), dict)


def test_generator_seed_works_for_davinz_with_more_than_1000_points():
    rng = np.random.default_rng(0)
    parts = [(rng.normal(size=(600, 3)), rng.integers(0, 2, 600)) for _ in range(2)]
    net = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    u1 = DavinzUtility(parts, rng.normal(size=(50, 3)), model=net, nu="paper", ntk=NtkOptions(blocks=4),
                       random_state=np.random.default_rng(5))
    u2 = DavinzUtility(parts, u1_val := rng.normal(size=(50, 3)), model=net, nu="paper", ntk=NtkOptions(blocks=4),
                       random_state=np.random.default_rng(5))
    u3 = DavinzUtility(parts, u1_val, model=net, nu="paper", ntk=NtkOptions(blocks=4),
                       random_state=np.random.default_rng(5))
    # The median bandwidth samples 1 000 of the 1 250 points with the given seed: same seed, same value.
    assert u2.bandwidth == pytest.approx(u3.bandwidth, rel=1e-12) and np.isfinite(u1((0, 1)))
    np.testing.assert_array_equal(u2.block_assignment, u3.block_assignment)


def test_results_are_immutable_and_share_one_contract(tmp_path):
    X, y = _blobs()
    res = cg_score(X, y, method="stochastic", ratio=0.5, n_repeats=2, random_state=1)
    assert isinstance(res, ExampleResult) and list(res.columns)[:2] == ["score", "stderr"]
    assert all(k.endswith("_s") for k in res.timings) and res.seed == 1
    with pytest.raises(ValueError):
        res.scores[0] = 0.0
    with pytest.raises(TypeError):
        res.settings["method"] = "other"
    with pytest.raises(AttributeError):
        res.seed = 2
    more = res.replace(columns={"row_id": np.arange(len(res))}, metrics={"auroc": 0.5})
    assert "row_id" in more.columns and "row_id" not in res.columns and more.metrics["auroc"] == 0.5
    back = load_result(more.save(tmp_path / "r.parquet"))
    assert type(back) is type(res) and back.seed == 1 and back.metrics == {"auroc": 0.5}
    np.testing.assert_allclose(back.stderr, res.stderr)
    with pytest.raises(TrainfreeError, match="player"):
        PlayerResult("x", {"value": np.zeros(2)})
    with pytest.raises(TrainfreeError, match="_s"):
        ExampleResult("x", {"score": np.zeros(2)}, timings={"total": 1.0})


def test_one_memory_budget_for_host_and_cuda(monkeypatch):
    from trainfree import _device

    monkeypatch.setattr(_device, "_available_memory", lambda: 10 * 2**30)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (2 * 2**30, 80 * 2**30))
    assert _device.memory_budget("cpu") == pytest.approx(8 * 2**30)
    assert _device.memory_budget(torch.device("cuda")) == pytest.approx(1.6 * 2**30)
    # Every method's check refuses by the budget of its own device, naming the need and the fix.
    _device.check_memory(1.5 * 2**30, what="X", alternative="Y.", device="cuda")
    with pytest.raises(TrainfreeError, match=r"X needs about 2\.0 GiB but only 1\.6 GiB is available\. Y\."):
        _device.check_memory(2 * 2**30, what="X", alternative="Y.", device="cuda")
    _device.check_memory(2 * 2**30, what="X", alternative="Y.", device="cpu")


def test_a_resumed_run_adopts_the_seed_its_folder_recorded(tmp_path):
    from trainfree._runs import UnitStore, run_seed

    assert run_seed(None, tmp_path / "none") is not None and run_seed(5, None).entropy == 5
    first = run_seed(None, tmp_path)  # fresh entropy, recorded by the run's store
    UnitStore(tmp_path, {"what": "t", "seed": seed_record(first)})
    assert run_seed(None, tmp_path).entropy == first.entropy
    assert run_seed(7, tmp_path).entropy == 7  # a given seed wins (and the store then refuses the folder)


def test_the_kernel_and_solver_packages_export_sorted_public_names():
    from trainfree import kernels, linalg

    for package in (kernels, linalg):
        assert package.__all__ == sorted(package.__all__)
        own = {n for n, obj in vars(package).items() if not n.startswith("_") and callable(obj)
               and getattr(obj, "__module__", "").startswith(package.__name__ + ".")}
        assert own == set(package.__all__) - {"ESTIMATORS", "JITTERS", "NULL_Z"}  # every function and class, once
