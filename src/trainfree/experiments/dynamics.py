"""Training dynamics by score group: loss, accuracy and kernel velocity per group, and error barriers.

The CG-score paper's Fig. 4 and the Data Diet paper's Sec. 5 (Paul et al., NeurIPS 2021): sort the
training set by a score, split it into equal groups, train one network on all of it and watch how fast
each group is learned (:func:`group_dynamics`) and how fast the data-dependent NTK of each group moves
(its *kernel velocity*, Fort et al., 2020). :func:`error_barrier` measures the linear mode connectivity
of two children of one parent trained on a subset (Frankle et al., 2020).
"""

from __future__ import annotations

import copy
import numbers
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from .._device import resolve_device
from .._errors import TrainfreeError
from .._random import SeedLike, check_random_state, child, seed_record
from .._random import rng as make_rng
from .._validation import check_param
from ..data import Dataset
from ..kernels import empirical_ntk
from ..result import PlayerResult
from ..training import evaluate, input_shape, make_model, resolve_model, train
from .selection import as_scores


def score_groups(scores, n_groups: int = 10) -> list[np.ndarray]:
    """Row indices split into ``n_groups`` equal groups by score, group 0 holding the highest scores.

    Rows are sorted by score, descending (ties by row index); group sizes differ by at most one, the
    first ``n % n_groups`` groups taking the extra row.

    Examples
    --------
    >>> [g.tolist() for g in score_groups([0.1, 0.9, 0.5, 0.7, 0.3], n_groups=2)]
    [[1, 3, 2], [4, 0]]
    """
    s = as_scores(scores)
    check_param("n_groups", n_groups, numbers.Integral, low=1)
    if n_groups > len(s):
        raise TrainfreeError(f"Cannot split {len(s)} rows into {n_groups} groups; pass n_groups={len(s)} or fewer.")
    order = np.argsort(-s, kind="stable")
    return [np.asarray(g) for g in np.array_split(order, n_groups)]


def kernel_distance(K1, K2) -> float:
    """Kernel distance S(K1, K2) = 1 − ⟨K1, K2⟩_F / (‖K1‖_F ‖K2‖_F) (Fort et al., 2020).

    One minus the cosine similarity of the two matrices: 0 for proportional kernels, in [0, 1] for
    positive semi-definite ones (their Frobenius inner product is non-negative), 1 for orthogonal
    ones; invariant to scaling either kernel. Computed in float64.

    Examples
    --------
    >>> K = np.array([[2.0, 1.0], [1.0, 2.0]])
    >>> round(kernel_distance(K, 3 * K), 12), kernel_distance(np.eye(2), np.array([[0.0, 1.0], [1.0, 0.0]]))
    (0.0, 1.0)
    """
    A = np.asarray(K1.detach().cpu() if isinstance(K1, torch.Tensor) else K1, dtype=np.float64)
    B = np.asarray(K2.detach().cpu() if isinstance(K2, torch.Tensor) else K2, dtype=np.float64)
    if A.shape != B.shape:
        raise TrainfreeError(f"Kernels of shapes {A.shape} and {B.shape} cannot be compared; pass two Gram "
                             f"matrices of the same examples.")
    na, nb = np.linalg.norm(A), np.linalg.norm(B)
    if not (na > 0 and nb > 0) or not (np.isfinite(na) and np.isfinite(nb)):
        raise TrainfreeError("A kernel is all zeros or not finite, so its direction is undefined; pass "
                             "non-zero, finite Gram matrices.")
    # Rounding can put the cosine of a kernel with itself a hair above 1; clip to the distance's range.
    return float(np.clip(1.0 - float(np.sum(A * B)) / (na * nb), 0.0, 2.0))


def logit_gram(model: nn.Module, X: torch.Tensor, n_outputs: int) -> torch.Tensor:
    """The data-dependent NTK Gram matrix of all logits: shape (m·C, m·C), rows ordered (example, class).

    Entry ((i, c), (j, d)) = ∇θ f_c(x_i) · ∇θ f_d(x_j), the full logit Jacobian Gram of Fort et al.
    (2020) and the Data Diet paper, built with :func:`~trainfree.kernels.empirical_ntk` by differentiating
    each (example, class) pair as its own input.

    Examples
    --------
    >>> logit_gram(nn.Linear(3, 2), torch.eye(3), 2).shape
    torch.Size([6, 6])
    """
    Xr = X.repeat_interleave(n_outputs, dim=0)
    out = torch.arange(n_outputs, device=X.device).repeat(len(X))
    return empirical_ntk(model, Xr, out1=out)


def _net(model: Any, shape: tuple[int, ...], n_out: int, width: int, seed: np.random.SeedSequence) -> nn.Module:
    if isinstance(model, nn.Module):
        return model
    return make_model(model, shape, n_out, width=width, random_state=seed)


def _check_data(*sets: Dataset | None) -> None:
    for d in sets:
        if d is not None and d.task != "classification":
            raise TrainfreeError(f"{d.name} has real-valued labels, but training dynamics measure loss and "
                                 f"accuracy of classes; pass classification data (see trainfree.data.load).")


@torch.no_grad()
def _per_example(model: nn.Module, X: torch.Tensor, y: torch.Tensor, batch_size: int = 1024):
    """Cross-entropy and correctness of every row, in eval mode (no dropout, BatchNorm frozen)."""
    was_training = model.training
    model.eval()
    try:
        out = torch.cat([model(b) for b in X.split(batch_size)])
    finally:
        model.train(was_training)
    loss = nn.functional.cross_entropy(out, y, reduction="none")
    return loss.cpu().numpy().astype(float), (out.argmax(1) == y).cpu().numpy()


def group_dynamics(train_set: Dataset, scores, *, test_set: Dataset | None = None, n_groups: int = 10,
                   model: Any = "mlp", width: int = 256, epochs: int = 5, lr: float = 1e-3, batch_size: int = 128,
                   kernel_rows: int = 50, device: str | None = "cpu", random_state: SeedLike = None) -> PlayerResult:
    """Per-group loss, accuracy and kernel velocity while one network trains on the whole set.

    The rows are split by score into ``n_groups`` groups (:func:`score_groups`, group 0 = highest
    scores). One network trains on all rows with the shared loop (Adam, seeded batches); before
    training (epoch 0) and after every epoch each group's mean cross-entropy and accuracy on its own
    training rows are measured in eval mode (the CG-score paper's Fig. 4a–b). For the kernel velocity
    (Fig. 4c) each group keeps a fixed random subsample of ``kernel_rows`` rows; at every epoch t its
    full-logit NTK Gram K_t (:func:`logit_gram`, ``m·C × m·C``) is computed and the velocity is
    v(t) = S(K_t, K_{t+1}) (:func:`kernel_distance`, dt = one epoch), NaN at the last epoch.

    Parameters
    ----------
    train_set : Dataset
        Classification data; ``scores`` rank its rows.
    scores : array of shape (n,) or ExampleResult
    test_set : Dataset, optional
        When given, ``metrics["test_accuracy"]`` holds the test accuracy at every epoch.
    n_groups : int
    model : {"mlp", "cnn", "auto"} or nn.Module
        A name builds a seeded network (``width`` for the mlp); a module is trained in place as given.
    width, epochs, lr, batch_size : int, int, float, int
    kernel_rows : int
        Rows per group in the kernel (all of a smaller group); 0 skips the kernel (velocity NaN).
    device : str
    random_state : None, int, Generator or SeedSequence
        Children ``init``, ``batches`` and ``kernel`` seed the network, the batch order and the subsamples.

    Returns
    -------
    PlayerResult
        One row per (group, epoch), epochs 0..``epochs``: ``value`` = mean loss, ``stderr`` of that mean
        over the group's rows, ``player`` ``"group{g}/epoch{t}"``, ``group``, ``epoch``, ``accuracy``,
        ``n_rows``, ``score_mean``, ``velocity``. ``metrics``: ``train_loss`` (whole set, eval mode, per
        epoch) and ``test_accuracy``.

    Examples
    --------
    >>> from trainfree.data import load
    >>> d = load("digits", n=120, random_state=0)
    >>> res = group_dynamics(d, np.linalg.norm(d.X, axis=1), n_groups=3, width=16, epochs=2,
    ...                      kernel_rows=4, random_state=0)
    >>> len(res), res["epoch"][:3].tolist(), bool(np.isnan(res["velocity"][-1]))
    (9, [0, 1, 2], True)
    """
    t0 = time.perf_counter()
    _check_data(train_set, test_set)
    s = as_scores(scores)
    if len(s) != len(train_set):
        raise TrainfreeError(f"There are {len(s)} scores but the training set has {len(train_set)} rows; score "
                             f"the rows you train on.")
    for name, value, low in (("epochs", epochs, 1), ("batch_size", batch_size, 1), ("kernel_rows", kernel_rows, 0)):
        check_param(name, value, numbers.Integral, low=low)
    groups = score_groups(s, n_groups)
    seed = check_random_state(random_state)
    dev = resolve_device(device)
    name = resolve_model(model, train_set.image_shape) if isinstance(model, str) else "mlp"
    model = name if isinstance(model, str) else model
    shape = input_shape(name, train_set.image_shape, train_set.X.shape[1], name=train_set.name)
    n_out = len(train_set.classes)
    net = _net(model, shape, n_out, width, child(seed, "init")).to(dev)
    X = torch.as_tensor(train_set.X.reshape(len(train_set), *shape), dtype=torch.float32, device=dev)
    y = torch.as_tensor(train_set.y, device=dev).long()
    pick = make_rng(child(seed, "kernel"))
    subs = [np.sort(pick.choice(g, min(kernel_rows, len(g)), replace=False)) for g in groups]
    loss_hist, acc_hist, grams, test_acc = [], [], [], []
    t_kernel = 0.0

    def record(epoch: int, m: nn.Module, _loss: float = 0.0) -> None:
        nonlocal t_kernel
        loss, right = _per_example(m, X, y)
        loss_hist.append(loss)
        acc_hist.append(right)
        if test_set is not None:
            test_acc.append(evaluate(m, test_set.X.reshape(len(test_set), *shape), test_set.y, device=dev))
        if kernel_rows:
            t = time.perf_counter()
            grams.append([logit_gram(m, X[torch.as_tensor(sub, device=dev)], n_out).cpu() for sub in subs])
            t_kernel += time.perf_counter() - t

    record(0, net)
    t, k0 = time.perf_counter(), t_kernel
    train(net, X.cpu().numpy(), y.cpu().numpy(), epochs=epochs, lr=lr, batch_size=batch_size, tol=0.0,
          device=dev, random_state=child(seed, "batches"), callbacks=[record])
    t_train = time.perf_counter() - t - (t_kernel - k0)  # training and per-epoch evaluation
    rows: dict[str, list] = {k: [] for k in ("value", "stderr", "player", "group", "epoch", "accuracy", "n_rows",
                                             "score_mean", "velocity")}
    for g, idx in enumerate(groups):
        for e in range(len(loss_hist)):
            lg = loss_hist[e][idx]
            v = (kernel_distance(grams[e][g], grams[e + 1][g]) if kernel_rows and e + 1 < len(grams) else np.nan)
            for k, val in (("value", lg.mean()), ("stderr", lg.std(ddof=1) / np.sqrt(len(lg)) if len(lg) > 1
                                                  else np.nan),
                           ("player", f"group{g}/epoch{e}"), ("group", g), ("epoch", e),
                           ("accuracy", acc_hist[e][idx].mean()), ("n_rows", len(idx)),
                           ("score_mean", s[idx].mean()), ("velocity", v)):
                rows[k].append(val)
    cols = {k: np.asarray(v) for k, v in rows.items()}
    return PlayerResult("group_dynamics", cols,
                        settings={"data": train_set.name, "n": len(train_set), "n_groups": n_groups,
                                  "model": name if isinstance(model, str) else type(model).__name__,
                                  "width": width, "epochs": epochs, "lr": lr, "batch_size": batch_size,
                                  "kernel_rows": kernel_rows, "kernel": "full logit Jacobian Gram (m*C x m*C)",
                                  "groups": "descending score, group 0 highest", "device": str(dev)},
                        seed=seed_record(seed),
                        timings={"train_s": t_train, "kernel_s": t_kernel, "total_s": time.perf_counter() - t0},
                        metrics={"train_loss": [float(v.mean()) for v in loss_hist], "test_accuracy": test_acc})


def interpolate(net_a: nn.Module, net_b: nn.Module, alpha: float) -> nn.Module:
    """A copy of ``net_a`` with weights θ(α) = (1 − α) θ_a + α θ_b.

    Every floating-point parameter and buffer is interpolated; integer buffers (BatchNorm's batch
    counter) are taken from ``net_a``. Interpolated BatchNorm running statistics are only an
    approximation of the statistics the interpolated network would have (Frankle et al. recompute them);
    the default networks have no BatchNorm.

    Examples
    --------
    >>> a, b = nn.Linear(1, 1), nn.Linear(1, 1)
    >>> w = interpolate(a, b, 0.5).weight
    >>> bool(torch.allclose(w, (a.weight + b.weight) / 2))
    True
    """
    out = copy.deepcopy(net_a)
    sb = net_b.state_dict()
    state = {k: (1 - alpha) * v + alpha * sb[k] if v.is_floating_point() else v
             for k, v in net_a.state_dict().items()}
    out.load_state_dict(state)
    return out


def error_barrier(train_set: Dataset, test_set: Dataset, subset_indices=None, *, spawn_epoch: int = 1,
                  epochs: int = 5, n_points: int = 11, model: str = "mlp", width: int = 256, lr: float = 1e-3,
                  batch_size: int = 128, n_runs: int = 1, same_noise: bool = False, device: str | None = "cpu",
                  random_state: SeedLike = None) -> PlayerResult:
    """Test-error barrier on the line between two children of one parent trained on a subset.

    Linear mode connectivity (Frankle et al., 2020; the Data Diet paper's Sec. 5): a parent trains on
    ``train_set[subset_indices]`` for ``spawn_epoch`` epochs; two copies (children) train on for the
    remaining ``epochs − spawn_epoch`` epochs with different SGD noise (batch orders from the children
    ``child/a`` and ``child/b`` of the run's seed; each child starts a fresh Adam state, as the shared loop
    does). The test error err(α) of θ(α) = (1 − α) θ_a + α θ_b (:func:`interpolate`) is measured for α in
    ``linspace(0, 1, n_points)``, and the barrier is Frankle's instability

        barrier = max_α err(α) − (err(0) + err(1)) / 2.

    ``metrics["barrier_linear"]`` is the Data Diet variant, max_α [err(α) − ((1 − α) err(0) + α err(1))].
    ``same_noise=True`` gives both children the same batch order: identical children, barrier 0 (a check).

    Parameters
    ----------
    train_set, test_set : Dataset
    subset_indices : array of int, optional
        The training rows (default: all).
    spawn_epoch, epochs : int
        ``0 <= spawn_epoch <= epochs``; epochs of the subset.
    n_points : int
        Points on the line, both ends included.
    model : {"mlp", "cnn", "auto"}
    width, lr, batch_size : int, float, int
    n_runs : int
        Independent parents (init ``run/{k}``); ``value`` and ``barrier`` are means over runs.
    same_noise : bool
    device : str
    random_state : None, int, Generator or SeedSequence

    Returns
    -------
    PlayerResult
        One row per α: ``value`` = mean test error, ``stderr`` over runs (NaN for one), ``player``
        ``"alpha={α:g}"``, ``alpha``. ``metrics``: ``barrier``, ``barrier_stderr``, ``barriers`` (per run),
        ``barrier_linear``, ``error_a``, ``error_b``.

    Examples
    --------
    >>> from trainfree.data import load
    >>> d = load("digits", n=150, random_state=0)
    >>> tr, te = d.subset(np.arange(100)), d.subset(np.arange(100, 150))
    >>> res = error_barrier(tr, te, spawn_epoch=1, epochs=2, n_points=3, width=16, same_noise=True,
    ...                     random_state=0)
    >>> res["alpha"].tolist(), abs(res.metrics["barrier"]) < 1e-9
    ([0.0, 0.5, 1.0], True)
    """
    t0 = time.perf_counter()
    _check_data(train_set, test_set)
    idx = np.arange(len(train_set)) if subset_indices is None else np.asarray(subset_indices, dtype=int).reshape(-1)
    if not len(idx) or idx.min() < 0 or idx.max() >= len(train_set):
        raise TrainfreeError(f"subset_indices must be non-empty row indices in [0, {len(train_set)}); got "
                             f"{len(idx)} indices. Pass the rows of train_set to train on.")
    for name, value, low in (("epochs", epochs, 1), ("n_points", n_points, 2), ("n_runs", n_runs, 1),
                             ("batch_size", batch_size, 1)):
        check_param(name, value, numbers.Integral, low=low)
    check_param("spawn_epoch", spawn_epoch, numbers.Integral, low=0, high=epochs)
    seed = check_random_state(random_state)
    model = resolve_model(model, train_set.image_shape)
    shape = input_shape(model, train_set.image_shape, train_set.X.shape[1], name=train_set.name)
    X, y = train_set.X.reshape(len(train_set), *shape)[idx], train_set.y[idx]
    X_test = test_set.X.reshape(len(test_set), *shape)
    alphas = np.linspace(0.0, 1.0, n_points)
    fit = {"lr": lr, "batch_size": batch_size, "tol": 0.0, "device": device}
    curves = []
    for k in range(n_runs):
        run = child(seed, f"run/{k}")
        parent = make_model(model, shape, len(train_set.classes), width=width, random_state=child(run, "init"))
        if spawn_epoch:
            train(parent, X, y, epochs=spawn_epoch, random_state=child(run, "parent"), **fit)
        kids = []
        for name in ("a", "a" if same_noise else "b"):
            kid = copy.deepcopy(parent)
            if epochs > spawn_epoch:
                train(kid, X, y, epochs=epochs - spawn_epoch, random_state=child(run, f"child/{name}"), **fit)
            kids.append(kid)
        curves.append([1.0 - evaluate(interpolate(*kids, float(a)), X_test, test_set.y, device=device)
                       for a in alphas])
    err = np.asarray(curves)
    barriers = err.max(1) - (err[:, 0] + err[:, -1]) / 2
    linear = (err - ((1 - alphas) * err[:, :1] + alphas * err[:, -1:])).max(1)
    sem = (lambda a: a.std(0, ddof=1) / np.sqrt(n_runs)) if n_runs > 1 else (lambda a: np.full(a.shape[1:], np.nan))
    return PlayerResult("error_barrier",
                        {"value": err.mean(0), "stderr": sem(err), "player": [f"alpha={a:g}" for a in alphas],
                         "alpha": alphas},
                        settings={"data": train_set.name, "n_subset": len(idx), "spawn_epoch": spawn_epoch,
                                  "epochs": epochs, "n_points": n_points, "model": model, "width": width, "lr": lr,
                                  "batch_size": batch_size, "n_runs": n_runs, "same_noise": same_noise,
                                  "barrier": "max err(alpha) - (err(0) + err(1)) / 2 (Frankle et al., 2020)"},
                        seed=seed_record(seed), timings={"total_s": time.perf_counter() - t0},
                        metrics={"barrier": float(barriers.mean()), "barrier_stderr": float(sem(barriers[:, None])[0]),
                                 "barriers": barriers.tolist(), "barrier_linear": float(linear.mean()),
                                 "error_a": float(err[:, 0].mean()), "error_b": float(err[:, -1].mean())})
