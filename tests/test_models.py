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
    model = make_model("mlp", (4,), 2, width=32, random_state=0)
    assert evaluate(model, X, y) < 0.9
    log = train(model, X, y, epochs=200, lr=1e-2, tol=0.05, random_state=0)
    assert log.converged and evaluate(model, X, y) > 0.97
    t = X[:, 0] * 2.0
    reg = make_model("mlp", (4,), 1, width=32, random_state=0)
    train(reg, X, t, task="regression", epochs=300, lr=1e-2, tol=1e-3, random_state=0)
    assert evaluate(reg, X, t, task="regression") < 0.05


def test_epoch_callbacks_see_every_epoch_and_can_stop_training():
    X = np.random.default_rng(0).normal(size=(32, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    losses = []
    net = make_model("mlp", (4,), 2, width=16, random_state=0)
    log = train(net, X, y, epochs=5, tol=0.0, callbacks=[lambda e, m, loss: losses.append((e, loss))], random_state=0)
    assert [e for e, _ in losses] == [1, 2, 3, 4, 5] and log.epochs == 5
    assert losses[-1][1] == log.train_loss and losses[-1][1] < losses[0][1]  # it trains
    net = make_model("mlp", (4,), 2, width=16, random_state=0)
    log = train(net, X, y, epochs=5, tol=0.0, callbacks=[lambda e, m, loss: e == 2], random_state=0)
    assert log.epochs == 2 and not log.converged


def test_resnet18_cifar_shapes_batchnorm_no_maxpool_and_exact_per_example_gradients():
    from trainfree.scores import grand_score
    from trainfree.scores._per_example_grad import grad_norms

    net = make_model("resnet18_cifar", (3, 32, 32), 10, random_state=0)
    assert sum(p.numel() for p in net.parameters()) == 11_173_962  # the CIFAR ResNet-18 of the papers' code
    kinds = {type(m) for m in net.modules()}
    assert torch.nn.BatchNorm2d in kinds and torch.nn.MaxPool2d not in kinds
    assert net[0].kernel_size == (3, 3) and net[0].stride == (1, 1)  # the CIFAR stem
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(2, 3, 32, 32, generator=g), torch.tensor([0, 7])
    net.train()
    with torch.no_grad():
        assert net(X).shape == (2, 10)  # train mode: moves the BatchNorm running statistics
    fast, used = grad_norms(net, X, y)  # eval mode: BatchNorm on running statistics, on the fast path
    loop, _ = grad_norms(net, X, y, method="loop")  # one backward per example over all 11M parameters
    assert used == "fast" and net.training and np.isfinite(loop).all() and (loop > 0).all()
    np.testing.assert_allclose(fast, loop, rtol=1e-4)
    res = grand_score(X.numpy(), y.numpy(), model="resnet18_cifar", n_seeds=1, random_state=0)
    assert res.settings["method"] == "fast" and np.isfinite(res.scores).all() and res.scores.shape == (2,)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_resnet18_cifar_grand_and_training_on_cuda_match_cpu():
    from trainfree.scores import grand_score

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(16, 3, 32, 32)).astype(np.float32), rng.integers(0, 10, 16)
    cpu = grand_score(X, y, model="resnet18_cifar", n_seeds=1, random_state=0)
    gpu = grand_score(X, y, model="resnet18_cifar", n_seeds=1, random_state=0, device="cuda")
    assert gpu.settings["method"] == "fast"
    # float32 over 20 layers, and CUDA convolutions may run in TF32 (10-bit mantissa): 2% is their rounding.
    np.testing.assert_allclose(gpu.scores, cpu.scores, rtol=2e-2)
    net = make_model("resnet18_cifar", (3, 32, 32), 10, random_state=0)
    log = train(net, X, y, epochs=3, tol=0.0, device="cuda", random_state=0)
    assert log.steps == 3 and np.isfinite(log.train_loss)
    assert next(net.parameters()).device.type == "cuda"


def test_auto_is_the_cnn_for_images_of_16_px_or_more_else_the_mlp():
    from trainfree.training import input_shape, resolve_model

    assert [resolve_model("auto", s) for s in [(1, 28, 28), (3, 16, 40), (1, 15, 28), (1, 8, 8), (64,), None]] == \
        ["cnn", "cnn", "mlp", "mlp", "mlp", "mlp"]
    # 16 px is the smallest side the cnn takes: one less and it is refused
    assert make_model("cnn", (1, 16, 16), 2)(torch.zeros(1, 1, 16, 16)).shape == (1, 2)
    with pytest.raises(TrainfreeError, match="sides >= 16"):
        make_model("cnn", (1, 15, 16), 2)
    assert resolve_model("davinz_cnn", None) == "davinz_cnn"  # a named network is never second-guessed
    # make_model("auto") builds exactly the network it resolves to, for the same seed
    for shape, kind in [((1, 28, 28), "cnn"), ((64,), "mlp")]:
        auto, named = make_model("auto", shape, 3, random_state=0), make_model(kind, shape, 3, random_state=0)
        assert [p.shape for p in auto.parameters()] == [p.shape for p in named.parameters()]
        assert all(torch.equal(a, b) for a, b in zip(auto.parameters(), named.parameters()))
    assert input_shape("auto", (1, 8, 8), 64) == (64,) and input_shape("auto", (1, 28, 28), 784) == (1, 28, 28)


def test_data_diet_scores_default_to_auto_and_record_the_network(tmp_path):
    from trainfree.scores import el2n_score

    rng = np.random.default_rng(0)
    y = np.arange(24) % 2
    small = el2n_score(rng.normal(size=(24, 1, 8, 8)), y, n_seeds=1, epochs=1, random_state=0)
    large = el2n_score(rng.normal(size=(24, 1, 16, 16)), y, n_seeds=1, epochs=1, random_state=0)
    assert small.settings["model"] == "mlp" and large.settings["model"] == "cnn"
