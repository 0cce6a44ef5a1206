"""Data Diet scores: GraNd fast path vs a per-example loop, epoch-0 weights, EL2N, forgetting events."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from trainfree._errors import TrainfreeError
from trainfree._random import check_random_state, child
from trainfree.scores import el2n_score, forgetting_events, forgetting_score, grand_score
from trainfree.scores._per_example_grad import _conv_sq, conv_strategy, grad_norms
from trainfree.training import load_checkpoint, make_model, train
from trainfree.training.checkpoints import checkpoint_path


def _loop_norms(net, X, y):
    """The plainest reference: zero the grads, backward one example's loss, norm of every .grad."""
    net.eval()
    out = []
    for i in range(len(X)):
        net.zero_grad()
        nn.functional.cross_entropy(net(X[i:i + 1]), y[i:i + 1]).backward()
        out.append(math.sqrt(sum(float((p.grad.double() ** 2).sum()) for p in net.parameters())))
    return np.array(out)


def _tiny_cnn():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 5, 3, stride=2),
                         nn.ReLU(), nn.Flatten(), nn.Linear(5 * 2 * 2, 3)).double()


def _images(n=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 2, 10, 10, generator=g, dtype=torch.float64), torch.arange(n) % 3


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_fast_path_equals_per_example_backward_loop(kind):
    if kind == "mlp":
        torch.manual_seed(0)
        net = nn.Sequential(nn.Flatten(), nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 3))
        net = net.double()
        X, y = torch.randn(15, 6, dtype=torch.float64), torch.arange(15) % 3
    else:
        net, (X, y) = _tiny_cnn(), _images()
    fast, used = grad_norms(net, X, y, batch_size=5, method="fast")
    assert used == "fast"
    np.testing.assert_allclose(fast, _loop_norms(net, X, y), rtol=1e-6)
    assert fast.min() > 0


def test_both_conv_strategies_and_vmap_agree_with_the_loop():
    net, (X, y) = _tiny_cnn(), _images(6)
    ref = _loop_norms(net, X, y)
    np.testing.assert_allclose(grad_norms(net, X, y, method="vmap")[0], ref, rtol=1e-6)
    conv = net[0]
    a = X.detach()
    out = conv(a)
    d = torch.randn_like(out)
    np.testing.assert_allclose(_conv_sq(conv, a, d, "gram").numpy(), _conv_sq(conv, a, d, "matrix").numpy(),
                               rtol=1e-10)
    assert conv_strategy(16, 25, 576) == "matrix"  # the reference CNN's first layer: few channels, many positions


@pytest.mark.parametrize("bn", ["2d", "1d"])
def test_batchnorm_in_eval_mode_takes_the_fast_path_and_is_exact(bn):
    torch.manual_seed(1)
    if bn == "2d":
        net = nn.Sequential(nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 3))
    else:
        net = nn.Sequential(nn.Flatten(), nn.Linear(200, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 3))
    net = net.double()
    X, y = _images(8)
    net.train()
    net(X)  # move the running statistics away from (0, 1)
    ref = _loop_norms(net, X, y)  # in eval mode
    net.train()
    norms, used = grad_norms(net, X, y)
    assert used == "fast" and net.training  # training mode restored
    np.testing.assert_allclose(norms, ref, rtol=1e-10)
    np.testing.assert_allclose(grad_norms(net, X, y, method="vmap")[0], ref, rtol=1e-10)
    net[1 if bn == "2d" else 2].running_mean = None  # batch statistics even in eval mode: examples interact
    with pytest.raises(TrainfreeError, match="BatchNorm"):
        grad_norms(net, X, y, method="fast")


def test_inplace_relu_and_shared_layers_stay_exact():
    torch.manual_seed(2)
    net = nn.Sequential(nn.Conv2d(2, 4, 3), nn.ReLU(inplace=True), nn.Flatten(), nn.Linear(4 * 8 * 8, 3)).double()
    X, y = _images(5)
    np.testing.assert_allclose(grad_norms(net, X, y)[0], _loop_norms(net, X, y), rtol=1e-6)
    lin = nn.Linear(4, 4)
    shared = nn.Sequential(lin, nn.Tanh(), lin, nn.Linear(4, 3)).double()
    Xs = torch.randn(5, 4, dtype=torch.float64)
    norms, used = grad_norms(shared, Xs, y)
    assert used == "loop"
    np.testing.assert_allclose(norms, _loop_norms(shared, Xs, y), rtol=1e-6)


def test_grand_does_not_depend_on_batch_size_or_position():
    net, (X, y) = _tiny_cnn(), _images(12)
    ref, _ = grad_norms(net, X, y, batch_size=12)
    for bs in (1, 5, 7):
        np.testing.assert_allclose(grad_norms(net, X, y, batch_size=bs)[0], ref, rtol=1e-10)
    perm = torch.randperm(12, generator=torch.Generator().manual_seed(3))
    np.testing.assert_allclose(grad_norms(net, X[perm], y[perm], batch_size=4)[0], ref[perm.numpy()], rtol=1e-10)


def _data(n=24, d=5, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    return rng.normal(size=(n, d)) + 1.5 * y[:, None], y


def _mlp(shape, k, random_state):
    return make_model("mlp", shape, k, width=16, random_state=random_state)


def test_grand_epoch0_uses_the_initial_weights_of_each_seed():
    X, y = _data()
    res = grand_score(X, y, model=_mlp, n_seeds=2, epochs=0, dtype="float64", random_state=5)
    assert res.settings["epochs"] == 0 and res.settings["step"] == 0
    root = check_random_state(5)
    Xt, yt = torch.as_tensor(X.astype(np.float32)).double(), torch.as_tensor(y)
    hand = [_loop_norms(_mlp((5,), 2, child(root, f"seed/{k}")).double(), Xt, yt) for k in range(2)]
    np.testing.assert_allclose(res.scores, np.mean(hand, axis=0), rtol=1e-6)
    np.testing.assert_allclose(res.stderr, np.std(hand, axis=0, ddof=1) / math.sqrt(2), rtol=1e-5, atol=1e-12)

    trained = grand_score(X, y, model=_mlp, n_seeds=2, epochs=2, batch_size=8, dtype="float64", random_state=5)
    assert trained.settings["epochs"] == 2 and trained.settings["step"] == 2 * 3
    assert np.max(np.abs(trained.scores - res.scores)) > 1e-3
    # by hand: the same network trained with the recorded batch-order seed
    net = _mlp((5,), 2, child(root, "seed/0"))
    train(net, X, y, epochs=2, batch_size=8, tol=0.0, random_state=child(child(root, "seed/0"), "batches"))
    one = grand_score(X, y, model=_mlp, n_seeds=1, epochs=2, batch_size=8, dtype="float64", random_state=5)
    np.testing.assert_allclose(one.scores, _loop_norms(net.double(), Xt, yt), rtol=1e-6)
    assert np.isnan(one.stderr).all()


def test_checkpoints_are_saved_at_the_asked_epochs_and_loaded_only_for_their_step(tmp_path):
    X, y = _data()  # 24 rows, batches of 8: 3 optimiser steps per epoch
    root = check_random_state(5)
    net = _mlp((5,), 2, child(root, "seed/0"))
    initial = {k: v.clone() for k, v in net.state_dict().items()}
    log = train(net, X, y, epochs=3, batch_size=8, tol=0.0, random_state=child(child(root, "seed/0"), "batches"),
                checkpoint_epochs=(0, 2, 3), checkpoint_dir=tmp_path)
    assert log.steps == 9 and sorted(p.name for p in tmp_path.iterdir()) == ["epoch-0.pt", "epoch-2.pt", "epoch-3.pt"]
    for epoch, step, want in ((0, 0, initial), (3, 9, net.state_dict())):
        loaded = load_checkpoint(_mlp((5,), 2, 99), tmp_path, epoch=epoch, step=step).state_dict()
        assert all(torch.equal(loaded[k], want[k]) for k in want)

    # GraNd at init, by step: the step-0 checkpoint's norms are grand_score(epochs=0)'s, the step-6 ones epoch 2's.
    Xt, yt = torch.as_tensor(X, dtype=torch.float64), torch.as_tensor(y)
    for epoch, step in ((0, 0), (2, 6)):
        ref = grand_score(X, y, model=_mlp, n_seeds=1, epochs=epoch, batch_size=8, dtype="float64", random_state=5)
        assert ref.settings["step"] == step
        net_e = load_checkpoint(_mlp((5,), 2, 99), tmp_path, epoch=epoch, step=step).double()
        np.testing.assert_allclose(grad_norms(net_e, Xt, yt)[0], ref.scores, rtol=1e-6)
    init = grand_score(X, y, model=_mlp, n_seeds=1, epochs=0, dtype="float64", random_state=5).scores
    assert np.max(np.abs(ref.scores - init)) > 1e-3  # trained weights give another answer

    # The official bug: "step 0" quietly holding the last weights. Here the stored step is checked.
    with pytest.raises(TrainfreeError, match="epoch 3, step 9, not of epoch 3, step 0"):
        load_checkpoint(net, tmp_path, epoch=3, step=0)
    checkpoint_path(tmp_path, 0).write_bytes(checkpoint_path(tmp_path, 3).read_bytes())
    with pytest.raises(TrainfreeError, match="epoch 3, step 9, not of epoch 0, step 0"):
        load_checkpoint(net, tmp_path, epoch=0, step=0)
    with pytest.raises(TrainfreeError, match=r"No checkpoint of epoch 1 .*epoch-0.pt, epoch-2.pt, epoch-3.pt"):
        load_checkpoint(net, tmp_path, epoch=1, step=3)
    with pytest.raises(TrainfreeError, match="checkpoint_dir"):
        train(net, X, y, epochs=1, checkpoint_epochs=(1,), random_state=0)


def test_grand_on_the_reference_cnn_and_seeds_reproduce():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(10, 1, 16, 16)), np.arange(10) % 3
    a = grand_score(X, y, model="cnn", n_seeds=2, random_state=1)
    b = grand_score(X, y, model="cnn", n_seeds=2, random_state=1)
    c = grand_score(X, y, model="cnn", n_seeds=2, random_state=2)
    np.testing.assert_array_equal(a.scores, b.scores)
    assert not np.allclose(a.scores, c.scores)
    assert list(a.columns)[:2] == ["score", "stderr"] and a.seed == 1
    assert a.settings["method"] == "fast" and a.settings["n_seeds"] == 2 and a.timings["total_s"] > 0


def test_el2n_of_a_perfect_predictor_is_zero_and_values_are_bounded():
    X = np.eye(3)[np.arange(9) % 3]
    y = np.arange(9) % 3

    def perfect(shape, k, random_state):
        net = nn.Linear(3, 3, bias=False)
        with torch.no_grad():
            net.weight.copy_(1000 * torch.eye(3))
        return net

    res = el2n_score(X, y, model=perfect, n_seeds=2, epochs=0, random_state=0)
    np.testing.assert_array_equal(res.scores, 0.0)
    wrong = el2n_score(X, (y + 1) % 3, model=perfect, n_seeds=1, epochs=0, random_state=0)
    np.testing.assert_allclose(wrong.scores, math.sqrt(2))
    Xd, yd = _data()
    trained = el2n_score(Xd, yd, model=_mlp, n_seeds=2, epochs=2, batch_size=8, random_state=0)
    assert ((trained.scores >= 0) & (trained.scores <= math.sqrt(2))).all()
    assert trained.settings["epochs"] == 2 and trained.settings["step"] == 6
    assert el2n_score.__kwdefaults__["epochs"] == 5


def test_forgetting_counts_on_a_hand_made_sequence():
    seq = np.array([[0, 1, 1, 0],
                    [1, 1, 0, 0],
                    [0, 1, 1, 0],
                    [1, 0, 0, 0],
                    [0, 1, 1, 0]])
    events, learned = forgetting_events(seq)
    assert events.tolist() == [2, 1, 2, 0]
    assert learned.tolist() == [True, True, True, False]


def test_forgetting_score_matches_the_recorded_training_predictions():
    X, y = _data(n=20)
    res = forgetting_score(X, y, model=_mlp, epochs=4, n_seeds=1, batch_size=8, lr=0.05, random_state=3)
    # replay the same run, recording correctness at every presentation
    root = check_random_state(3)
    net = _mlp((5,), 2, child(root, "seed/0"))
    acc = np.zeros((4, 20), bool)

    def record(epoch, idx, out):
        acc[epoch - 1, idx.numpy()] = (out.argmax(1) == torch.as_tensor(y)[idx]).numpy()

    train(net, X, y, epochs=4, batch_size=8, lr=0.05, tol=0.0, random_state=child(child(root, "seed/0"), "batches"),
          batch_callbacks=[record])
    events, learned = forgetting_events(acc)
    np.testing.assert_array_equal(res.scores, np.where(learned, events, 4))
    np.testing.assert_array_equal(res["never_learned"], ~learned)
    assert res.settings["never_learned_value"] == 4 and res.scores.max() <= 4


def test_batch_callbacks_do_not_change_training():
    X, y = _data()
    a, b = _mlp((5,), 2, 0), _mlp((5,), 2, 0)
    calls = []
    train(a, X, y, epochs=2, batch_size=8, random_state=1)
    train(b, X, y, epochs=2, batch_size=8, random_state=1, batch_callbacks=[lambda e, i, o: calls.append(len(i))])
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    assert calls == [8, 8, 8] * 2


@pytest.mark.parametrize("fn", [grand_score, el2n_score, forgetting_score])
def test_bad_input_is_refused(fn):
    X, y = _data()
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(TrainfreeError, match="NaN"):
        fn(bad, y, model="mlp", n_seeds=1)
    with pytest.raises(TrainfreeError, match="class"):
        fn(X, np.zeros(len(y)), model="mlp", n_seeds=1)
    with pytest.raises(TrainfreeError, match="n_seeds"):
        fn(X, y, model="mlp", n_seeds=0)
    with pytest.raises(TrainfreeError, match="cnn"):
        fn(X, y, model="cnn", n_seeds=1)
    with pytest.raises(TrainfreeError, match="model"):
        fn(X, y, model="resnet", n_seeds=1)


@pytest.mark.parametrize("fn, kw", [(grand_score, {"epochs": 1}), (el2n_score, {"epochs": 1}),
                                    (forgetting_score, {"epochs": 2})])
def test_seeds_resume_from_the_checkpoint_and_another_configuration_is_refused(tmp_path, fn, kw):
    X, y = _data()
    common = dict(model=_mlp, batch_size=8, random_state=3, **kw)
    ref = fn(X, y, n_seeds=3, **common)
    fn(X, y, n_seeds=2, checkpoint=tmp_path, **common)  # a run that stopped after two seeds
    assert sorted(p.name for p in tmp_path.glob("unit-*.npz")) == ["unit-seed-0.npz", "unit-seed-1.npz"]
    (tmp_path / "unit-seed-1.npz").unlink()
    resumed = fn(X, y, n_seeds=3, checkpoint=tmp_path, **common)
    assert len(list(tmp_path.glob("unit-*.npz"))) == 3
    np.testing.assert_allclose(resumed.scores, ref.scores, rtol=1e-10)
    np.testing.assert_allclose(resumed.stderr, ref.stderr, rtol=1e-10)
    assert resumed.settings["step"] == ref.settings["step"] and resumed.seed == ref.seed
    if fn is forgetting_score:
        np.testing.assert_array_equal(resumed["never_learned"], ref["never_learned"])
    again = fn(X, y, n_seeds=3, checkpoint=tmp_path, **{**common, "random_state": None})  # adopts the saved seed
    np.testing.assert_allclose(again.scores, ref.scores, rtol=1e-10)
    with pytest.raises(TrainfreeError, match=r"different run \(batch_size: saved 8, now 4\)"):
        fn(X, y, n_seeds=3, checkpoint=tmp_path, **{**common, "batch_size": 4})
    with pytest.raises(TrainfreeError, match=r"different run \(data"):
        fn(X[::-1], y, n_seeds=3, checkpoint=tmp_path, **common)


@pytest.mark.slow  # 10 s: starting loky workers
def test_seeds_in_parallel_equal_sequential():
    X, y = _data()
    one = el2n_score(X, y, model="mlp", n_seeds=2, epochs=1, batch_size=8, random_state=0)
    two = el2n_score(X, y, model="mlp", n_seeds=2, epochs=1, batch_size=8, random_state=0, n_jobs=2)
    np.testing.assert_allclose(two.scores, one.scores, rtol=1e-6)
