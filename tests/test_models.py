import numpy as np
import pytest
import torch

from trainfree import TrainfreeError
from trainfree.training import evaluate, make_model, train


def test_same_seed_same_initialisation_and_caller_stream_untouched():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = make_model("mlp", (5,), 3, random_state=7)
    after = torch.rand(1)
    b = make_model("mlp", (5,), 3, random_state=7)
    c = make_model("mlp", (5,), 3, random_state=8)
    assert torch.equal(before, after)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not all(torch.equal(p, q) for p, q in zip(a.parameters(), c.parameters()))


def test_cnn_shapes_and_error():
    assert make_model("cnn", (1, 28, 28), 10)(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    with pytest.raises(TrainfreeError, match="model='mlp'"):
        make_model("cnn", (64,), 10)


def test_training_fits_a_separable_problem_and_regression(rng):
    X = rng.normal(size=(200, 4)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    model = make_model("mlp", (4,), 2, width=32)
    assert evaluate(model, X, y) < 0.9
    log = train(model, X, y, epochs=200, lr=1e-2, tol=0.05)
    assert log.converged and evaluate(model, X, y) > 0.97
    t = X[:, 0] * 2.0
    reg = make_model("mlp", (4,), 1, width=32)
    train(reg, X, t, task="regression", epochs=300, lr=1e-2, tol=1e-3)
    assert evaluate(reg, X, t, task="regression") < 0.05


def test_epoch_callbacks_see_every_epoch_and_can_stop_training():
    X = np.random.default_rng(0).normal(size=(32, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    losses = []
    net = make_model("mlp", (4,), 2, width=16, random_state=0)
    log = train(net, X, y, epochs=5, tol=0.0, callbacks=[lambda e, m, loss: losses.append((e, loss))])
    assert [e for e, _ in losses] == [1, 2, 3, 4, 5] and log.epochs == 5
    assert losses[-1][1] == log.train_loss and losses[-1][1] < losses[0][1]  # it trains
    net = make_model("mlp", (4,), 2, width=16, random_state=0)
    log = train(net, X, y, epochs=5, tol=0.0, callbacks=[lambda e, m, loss: e == 2])
    assert log.epochs == 2 and not log.converged
