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
