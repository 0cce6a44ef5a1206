"""train(): optimizer, learning-rate schedule and a fixed step budget; the defaults are unchanged."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from trainfree import TrainfreeError
from trainfree._random import check_random_state, torch_generator
from trainfree.training import TrainLog, make_model, train


@pytest.fixture
def data(rng):
    X = rng.normal(size=(50, 6)).astype(np.float32)
    return X, (X[:, 0] + X[:, 1] > 0).astype(int)


def _mlp():
    return make_model("mlp", (6,), 2, width=8, random_state=0)


def _params(net):
    return [p.detach().clone() for p in net.parameters()]


@pytest.mark.parametrize("max_steps, epochs", [(10, 2), (7, 1), (1, 1), (22, 4)])
def test_max_steps_is_honoured_exactly(data, max_steps, epochs):
    X, y = data  # 50 rows in batches of 8: 7 steps per epoch
    batches, ends = [], []
    log = train(_mlp(), X, y, batch_size=8, epochs=1, tol=0.0, max_steps=max_steps,
                batch_callbacks=[lambda e, idx, out: batches.append(e)],
                callbacks=[lambda e, m, loss: ends.append(e)], random_state=0)
    assert len(batches) == log.steps == max_steps
    assert log.epochs == epochs and ends == list(range(1, epochs + 1))  # `epochs=1` is overridden by the budget
    assert math.isfinite(log.train_loss)


def test_steps_recorded_without_budget(data):
    X, y = data
    log = train(_mlp(), X, y, batch_size=8, epochs=3, tol=0.0, random_state=0)
    assert log.steps == 21 and log.epochs == 3
    assert TrainLog(1, 0.5, False).steps == 0  # old constructions still work


def test_cosine_schedule_ends_near_zero_and_step_schedule_decays_twice(data):
    X, y = data
    lr = 0.01
    log = train(_mlp(), X, y, batch_size=8, lr=lr, tol=0.0, max_steps=40,
                schedule="cosine", random_state=0)
    # The last of T = 40 steps runs at lr·(1 + cos(39π/40))/2 ≈ 0.0015·lr; the next would be 0.
    assert log.last_lr == pytest.approx(lr * 0.5 * (1 + math.cos(math.pi * 39 / 40)))
    assert log.last_lr < 0.002 * lr
    log = train(_mlp(), X, y, batch_size=8, lr=lr, tol=0.0, epochs=4, schedule="step", random_state=0)
    assert log.last_lr == pytest.approx(lr * 0.01)
    log = train(_mlp(), X, y, batch_size=8, lr=lr, tol=0.0, epochs=2, random_state=0)
    assert log.last_lr == lr


def test_sgd_trains(data):
    X, y = data
    losses = []
    net = make_model("mlp", (6,), 2, width=16, random_state=0)
    train(net, X, y, optimizer="sgd", lr=0.05, batch_size=10, epochs=15, tol=0.0,
          callbacks=[lambda e, m, loss: losses.append(loss)], random_state=0)
    assert losses[-1] < 0.5 * losses[0]


def test_sgd_is_nesterov_with_weight_decay(data, monkeypatch):
    made = {}
    real = torch.optim.SGD

    def spy(params, **kw):
        made.update(kw)
        return real(params, **kw)

    monkeypatch.setattr(torch.optim, "SGD", spy)
    train(_mlp(), *data, optimizer="sgd", epochs=1, random_state=0)
    assert made == {"lr": 1e-3, "momentum": 0.9, "nesterov": True, "weight_decay": 5e-4}


def test_defaults_are_bitwise_unchanged(data):
    X, y = data
    a, b, ref = (make_model("mlp", (6,), 2, width=8, random_state=4) for _ in range(3))
    la = train(a, X, y, batch_size=8, epochs=3, tol=0.0, random_state=5)
    lb = train(b, X, y, batch_size=8, epochs=3, tol=0.0, random_state=5, optimizer="adam", schedule=None,
               max_steps=None)
    # The loop as it was before these options: Adam, seeded order, no scheduler.
    opt, gen = torch.optim.Adam(ref.parameters(), lr=1e-3), torch_generator(check_random_state(5))
    Xt, yt = torch.as_tensor(X), torch.as_tensor(y).long()
    for _ in range(3):
        for idx in torch.randperm(len(Xt), generator=gen).split(8):
            opt.zero_grad()
            nn.CrossEntropyLoss()(ref(Xt[idx]), yt[idx]).backward()
            opt.step()
    for pa, pb, pr in zip(_params(a), _params(b), _params(ref)):
        assert torch.equal(pa, pb) and torch.equal(pa, pr)
    assert la.train_loss == lb.train_loss


@pytest.mark.parametrize("kw, words", [({"optimizer": "rmsprop"}, "optimizer"), ({"schedule": "linear"}, "schedule"),
                                       ({"max_steps": 0}, "max_steps"), ({"plateau": 0.0}, "plateau")])
def test_bad_options_are_refused(data, kw, words):
    with pytest.raises(TrainfreeError, match=words):
        train(_mlp(), *data, epochs=1, **kw)


def test_plain_sgd_is_one_gradient_step(data):
    X, y = data
    net = _mlp()
    before = _params(net)
    loss = nn.CrossEntropyLoss()(net(torch.as_tensor(X)), torch.as_tensor(y))
    grads = torch.autograd.grad(loss, list(net.parameters()))
    train(net, X, y, optimizer="plain_sgd", lr=0.1, batch_size=len(X), max_steps=1, tol=0.0, random_state=0)
    for p, b, g in zip(net.parameters(), before, grads):
        torch.testing.assert_close(p.detach(), b - 0.1 * g, rtol=1e-5, atol=1e-6)


def test_plateau_stops_at_the_first_epoch_whose_loss_change_is_below_it(data):
    """The official DAVINZ retraining rule: stop once |epoch loss − previous epoch loss| < plateau."""
    X, y = data
    losses = []
    train(_mlp(), X, y, optimizer="plain_sgd", lr=0.05, epochs=40,
          tol=0.0, random_state=3, callbacks=[lambda e, m, loss: losses.append(loss)])
    deltas = np.abs(np.diff(losses))  # deltas[k]: the change at epoch k + 2
    first = int(np.argmax(deltas < np.median(deltas))) + 2
    # Between the change that stops and the largest change above it before: a threshold no rounding can move.
    plateau = float(np.sqrt(deltas[first - 2] * deltas[: first - 2].min())) if first > 2 else float(np.median(deltas))
    log = train(_mlp(), X, y, optimizer="plain_sgd", lr=0.05, epochs=40,
                tol=0.0, random_state=3, plateau=plateau)
    assert log.epochs == first < 40 and not log.converged
    assert log.train_loss == pytest.approx(losses[first - 1], rel=1e-6)


@pytest.mark.parametrize("n, batch_size, sizes", [(50, 16, [13, 13, 12, 12]), (50, 64, [50]), (48, 16, [16, 16, 16])])
def test_even_batches_split_each_epoch_into_equal_batches(rng, n, batch_size, sizes):
    X = rng.normal(size=(n, 6)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    seen = []
    log = train(_mlp(), X, y, epochs=2, tol=0.0, batch_size=batch_size,
                even_batches=True, batch_callbacks=[lambda e, idx, out: seen.append((e, idx.tolist()))], random_state=0)
    assert log.steps == 2 * len(sizes)  # as many steps as full batches + remainder would take
    for epoch in (1, 2):
        batches = [idx for e, idx in seen if e == epoch]
        assert [len(b) for b in batches] == sizes and sorted(sum(batches, [])) == list(range(n))


def test_a_fresh_seed_is_recorded_and_repeats_the_run(data):
    X, y = data
    a, b = _mlp(), _mlp()
    log = train(a, X, y, batch_size=8, epochs=2, tol=0.0)  # random_state=None: fresh entropy
    assert isinstance(log.seed, int) and log.seed >= 0
    again = train(b, X, y, batch_size=8, epochs=2, tol=0.0, random_state=log.seed)
    assert again.seed == log.seed
    assert all(torch.equal(p, q) for p, q in zip(_params(a), _params(b)))
    other = _mlp()
    train(other, X, y, batch_size=8, epochs=2, tol=0.0, random_state=log.seed + 1)
    assert not all(torch.equal(p, q) for p, q in zip(_params(a), _params(other)))
