"""Training dynamics by score group: partition, kernel distance, group loss/velocity, error barrier."""

import itertools

import numpy as np
import pytest
import torch

from trainfree import TrainfreeError
from trainfree.data import load
from trainfree.experiments import (
    error_barrier,
    group_dynamics,
    kernel_distance,
    score_groups,
)
from trainfree.experiments.dynamics import interpolate, logit_gram
from trainfree.training import make_model


@pytest.fixture(scope="module")
def digits():
    d = load("digits", n=160, random_state=0)
    return d.subset(np.arange(120)), d.subset(np.arange(120, 160))


@pytest.mark.parametrize("n,k", [(10, 3), (101, 10), (7, 7), (5, 1)])
def test_score_groups_partition(rng, n, k):
    s = rng.normal(size=n)
    groups = score_groups(s, k)
    assert len(groups) == k
    allrows = np.concatenate(groups)
    assert sorted(allrows.tolist()) == list(range(n))
    sizes = [len(g) for g in groups]
    assert max(sizes) - min(sizes) <= 1
    assert set(groups[0].tolist()) >= {int(np.argmax(s))}
    # every score in an earlier group is at least every score in a later one
    for a, b in itertools.pairwise(groups):
        assert s[a].min() >= s[b].max()


def test_score_groups_errors():
    with pytest.raises(TrainfreeError, match="groups"):
        score_groups([1.0, 2.0], 3)
    with pytest.raises(TrainfreeError):
        score_groups([1.0, np.nan], 2)


def test_kernel_distance_properties(rng):
    A = rng.normal(size=(6, 4))
    B = rng.normal(size=(6, 4))
    K1, K2 = A @ A.T, B @ B.T
    assert kernel_distance(K1, K1) == pytest.approx(0.0, abs=1e-12)
    d = kernel_distance(K1, K2)
    assert d == pytest.approx(1 - np.sum(K1 * K2) / (np.linalg.norm(K1) * np.linalg.norm(K2)), rel=1e-12)
    assert 0.0 < d < 1.0  # positive semi-definite, neither proportional nor orthogonal
    assert kernel_distance(5.0 * K1, K2) == pytest.approx(d)
    assert kernel_distance(K1, 0.01 * K2) == pytest.approx(d)
    assert kernel_distance(K1, K2) == pytest.approx(kernel_distance(K2, K1))
    E1, E2 = np.diag([1.0, 0.0]), np.diag([0.0, 2.0])
    assert kernel_distance(E1, E2) == pytest.approx(1.0)
    assert kernel_distance(torch.as_tensor(K1), torch.as_tensor(K2)) == pytest.approx(d)
    with pytest.raises(TrainfreeError, match="shapes"):
        kernel_distance(K1, np.eye(3))
    with pytest.raises(TrainfreeError, match="zeros"):
        kernel_distance(np.zeros((2, 2)), np.eye(2))


def test_logit_gram_matches_jacobian():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    X = torch.randn(3, 3)
    K = logit_gram(net, X, 2)
    J = torch.autograd.functional.jacobian(lambda *p: torch.func.functional_call(
        net, dict(zip([n for n, _ in net.named_parameters()], p)), (X,)), tuple(net.parameters()))
    J = torch.cat([j.reshape(6, -1) for j in J], dim=1)  # rows (example, class)
    assert torch.allclose(K, J @ J.T, atol=1e-5)


def test_group_dynamics_shape_and_final_loss(digits):
    tr, te = digits
    scores = np.linalg.norm(tr.X, axis=1)
    net = make_model("mlp", (tr.X.shape[1],), len(tr.classes), width=16, random_state=0)
    res = group_dynamics(tr, scores, test_set=te, n_groups=4, model=net, epochs=3, kernel_rows=5, random_state=0)
    assert len(res) == 4 * 4
    assert list(res.columns)[:3] == ["value", "stderr", "player"]
    for c in ("group", "epoch", "accuracy", "n_rows", "score_mean", "velocity"):
        assert c in res.columns
    assert res["n_rows"].tolist() == [30] * 16
    v = res["velocity"].reshape(4, 4)
    assert np.isnan(v[:, -1]).all() and np.isfinite(v[:, :-1]).all() and (v[:, :-1] >= 0).all()
    assert np.all(np.diff(res["score_mean"].reshape(4, 4)[:, 0]) < 0)  # group 0 holds the highest scores
    assert len(res.metrics["test_accuracy"]) == 4 and len(res.metrics["train_loss"]) == 4
    # the whole set's loss at the last epoch, weighted by group sizes, is the final model's loss
    last = res["epoch"] == 3
    pooled = np.sum(res.values[last] * res["n_rows"][last]) / len(tr)
    net.eval()
    with torch.no_grad():
        out = net(torch.as_tensor(tr.X))
        direct = float(torch.nn.functional.cross_entropy(out, torch.as_tensor(tr.y).long()))
        acc = float((out.argmax(1).numpy() == tr.y).mean())
    assert pooled == pytest.approx(direct, rel=1e-5)
    assert res.metrics["train_loss"][-1] == pytest.approx(direct, rel=1e-5)
    assert np.sum(res["accuracy"][last] * res["n_rows"][last]) / len(tr) == pytest.approx(acc)


def test_group_dynamics_seeds_reproduce(digits):
    tr, _ = digits
    s = np.arange(len(tr), dtype=float)
    kw = {"n_groups": 3, "width": 8, "epochs": 2, "kernel_rows": 3}
    a = group_dynamics(tr, s, random_state=1, **kw)
    b = group_dynamics(tr, s, random_state=1, **kw)
    c = group_dynamics(tr, s, random_state=2, **kw)
    assert np.array_equal(a.values, b.values) and np.array_equal(a["velocity"], b["velocity"], equal_nan=True)
    assert not np.array_equal(a.values, c.values)
    assert a.seed == 1
    none = group_dynamics(tr, s, **{**kw, "kernel_rows": 0}, random_state=1)
    assert np.isnan(none["velocity"]).all() and np.array_equal(none.values, a.values)


def test_group_dynamics_errors(digits):
    tr, _ = digits
    with pytest.raises(TrainfreeError, match="scores"):
        group_dynamics(tr, np.ones(5), epochs=1)


def test_interpolate_ends():
    a, b = make_model("mlp", (4,), 2, width=8, random_state=0), make_model("mlp", (4,), 2, width=8, random_state=1)
    x = torch.randn(3, 4)
    with torch.no_grad():
        assert torch.allclose(interpolate(a, b, 0.0)(x), a(x)) and torch.allclose(interpolate(a, b, 1.0)(x), b(x))


def test_error_barrier_identical_children_is_zero(digits):
    tr, te = digits
    res = error_barrier(tr, te, np.arange(60), spawn_epoch=1, epochs=3, n_points=5, width=16, same_noise=True,
                        random_state=0)
    assert res.metrics["barrier"] == pytest.approx(0.0, abs=1e-12)
    assert res.metrics["barrier_linear"] == pytest.approx(0.0, abs=1e-12)
    assert np.allclose(res.values, res.values[0])
    assert res["alpha"].tolist() == pytest.approx(np.linspace(0, 1, 5).tolist())


def test_error_barrier_runs_and_seeds(digits):
    tr, te = digits
    kw = {"spawn_epoch": 0, "epochs": 2, "n_points": 3, "width": 16, "n_runs": 2}
    a = error_barrier(tr, te, random_state=3, **kw)
    b = error_barrier(tr, te, random_state=3, **kw)
    assert np.array_equal(a.values, b.values) and a.metrics == b.metrics
    assert len(a.metrics["barriers"]) == 2 and np.isfinite(a.stderr).all()
    m = a.metrics
    assert m["barrier"] == pytest.approx(np.mean(m["barriers"]))
    assert m["barrier"] >= -1e-12 and m["barrier_linear"] >= -1e-12  # alpha = 0 is on the line
    with pytest.raises(TrainfreeError):
        error_barrier(tr, te, spawn_epoch=3, epochs=2)
    with pytest.raises(TrainfreeError, match="subset_indices"):
        error_barrier(tr, te, [len(tr)], epochs=1)


def test_cli_dynamics_end_to_end_on_digits(tmp_path, capsys):
    import json

    import pandas as pd

    from trainfree.cli import main

    rc = main(["experiment", "dynamics", "--data", "digits", "--n", "300", "--groups", "4", "--epochs", "2",
               "--width", "16", "--kernel-rows", "4", "--noise", "0.2", "--out", str(tmp_path)])
    assert rc == 0
    out = capsys.readouterr().out
    assert "loss at epoch 0..2" in out and "v(0)" in out
    df = pd.read_parquet(tmp_path / "dynamics.parquet")
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert len(df) == 4 * 3 and list(df.columns[:3]) == ["value", "stderr", "player"]
    assert sum(summary["metrics"]["flipped_per_group"]) == 40  # 20% of the 200 training rows
    assert summary["settings"]["score"] == "cg"


@pytest.mark.parametrize("argv, words", [(["--noise", "1.5"], "--noise"), (["--groups", "0"], "--groups"),
                                         (["--score", "bogus"], "--score")])
def test_cli_dynamics_bad_input_is_one_line_exit_2(tmp_path, capsys, argv, words):
    from trainfree.cli import main

    rc = main(["experiment", "dynamics", "--data", "digits", *argv, "--out", str(tmp_path / "o")])
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert words in err and "\n" not in err
