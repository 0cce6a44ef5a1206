"""Data Diet scores (Paul, Ganguli, Dziugaite, NeurIPS 2021): GraNd, EL2N and forgetting events.

Each score is averaged over ``n_seeds`` independently initialised networks. Network k is built
from ``child(seed, f"seed/{k}")`` of the root seed (``make_model(..., random_state=...)`` or the
factory you pass) and, when it is trained, its mini-batch order comes from
``child(child(seed, f"seed/{k}"), "batches")``. Training is the shared loop
(:func:`trainfree.training.train`, Adam) run for exactly the requested epochs (no early stop);
scores are computed with the network in eval mode (BatchNorm on running statistics).

GraNd at epoch 0 really uses the initial weights: the official code's step-0 path silently loaded
the final checkpoint (flax ≤ 0.3.3 treated ``step=0`` as "latest", see Kirsch 2023), so every
result records the epochs trained and the optimiser step it was computed at (``settings["epochs"]``,
``settings["step"]``). A correct GraNd at initialisation is known to track the input norm, not
example difficulty.
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .._device import resolve_device, resolve_dtype
from .._errors import TrainfreeError
from .._random import SeedLike, child, seed_record
from .._runs import UnitStore, data_fingerprint, run_seed, run_units
from .._validation import check_examples, check_n_jobs, check_param
from ..result import ExampleResult
from ..training import make_model, train
from ..training.models import IMAGE_KINDS, resolve_model
from ._per_example_grad import grad_norms

MODELS = ("auto", "cnn", "mlp", "resnet18_cifar")  # the reference networks a score may name; or pass a factory


def grand_score(X, y, *, model: str | Callable[..., nn.Module] = "auto", n_seeds: int = 10, epochs: int = 0,
                lr: float = 1e-3, batch_size: int = 128, score_batch_size: int = 256, method: str = "auto",
                dtype: str = "float32", device: str | None = "cpu", random_state: SeedLike = None,
                n_jobs: int | None = None, checkpoint: str | Path | None = None, progress: bool = False) -> ExampleResult:
    """GraNd: mean over seeds of ‖∇_θ ℓ(f(x_i; θ), y_i)‖₂ over all trainable parameters θ.

    ℓ is the cross-entropy of the example alone (not a batch mean). Per-example norms come from
    one batched backward pass and per-layer identities (see :mod:`._per_example_grad`), never
    from materialised per-example gradients.

    Parameters
    ----------
    X : array-like of shape (n_samples, ...)
        Inputs; ``model="cnn"`` needs images, shape (n, channels, height, width); flat rows get the MLP.
    y : array-like of shape (n_samples,)
        Class labels (at least two classes); the network has one logit per class.
    model : {"auto", "cnn", "mlp", "resnet18_cifar"} or callable, default="auto"
        A reference network of :func:`trainfree.training.make_model` (``resnet18_cifar``, with
        BatchNorm, for 32×32 colour images on a GPU), or a factory called as
        ``model(input_shape, n_classes, random_state=seed)`` returning a fresh ``nn.Module``.
        ``auto``: ``cnn`` for images (``X`` of shape (n, channels, height, width)) whose sides are at
        least 16 pixels, else ``mlp``; the network used is recorded in ``settings["model"]``.
    n_seeds : int, default=10
        Independent initialisations averaged (the paper uses 10).
    epochs : int, default=0
        Epochs of training before scoring; 0 scores the initial weights (every score that trains
        reads its score at the end of its ``epochs``).
    lr, batch_size : float, int
        Adam learning rate and mini-batch size of the training (when ``epochs > 0``).
    score_batch_size : int, default=256
        Examples per backward pass when scoring (the scores do not depend on it).
    method : {"auto", "fast", "vmap", "loop"}, default="auto"
        How per-example norms are computed (see :func:`._per_example_grad.grad_norms`).
    dtype : {"float32", "float64"}, default="float32"
        Precision of the scoring pass (training is float32).
    device : {"cpu", "cuda", "auto"}, default="cpu"
    random_state : None, int, Generator or SeedSequence
        Root seed (None: fresh entropy, recorded; a resumed checkpoint keeps the seed it was written with).
    n_jobs : int, optional
        Seeds computed in parallel (joblib work units; -1: all cores).
    checkpoint : str or Path, optional
        A folder where each seed's scores are saved as soon as they are computed (atomically). The
        same call again loads the finished seeds and computes only the rest, with the result of an
        uninterrupted run; another configuration (settings, seed, data) in the folder is refused,
        naming what differs. ``n_seeds`` may grow between calls: the seeds already saved are reused.
    progress : bool, default=False
        A progress bar over the seeds.

    Returns
    -------
    ExampleResult
        ``score`` (mean over seeds), ``stderr`` (std over seeds / √n_seeds, NaN for one seed),
        ``label``; settings include ``epochs`` and ``step`` (optimiser steps) at which it was computed.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(30, 4)), np.arange(30) % 2
    >>> res = grand_score(X, y, model="mlp", n_seeds=2, random_state=0)
    >>> res.scores.shape, res.settings["step"]
    ((30,), 0)
    """
    check_param("method", method, str, choices=("auto", "fast", "vmap", "loop"))
    check_param("score_batch_size", score_batch_size, numbers.Integral, low=1)
    tdtype = resolve_dtype(dtype)
    ctx = ScoreSetup("grand_score", X, y, model, n_seeds, epochs, lr, batch_size, device, random_state, checkpoint)
    options = {"method": method, "dtype": str(tdtype).removeprefix("torch."), "score_batch_size": int(score_batch_size)}
    outs = ctx.run(_grand_unit, options, n_jobs=n_jobs, progress=progress)
    used = sorted({str(o["method"]) for o in outs})
    return ctx.result(outs, {**options, "method": "/".join(used)},
                      {"score_s": sum(float(o["score_s"]) for o in outs)})


def _grand_unit(ctx: ScoreSetup, k: int, options: dict[str, Any]) -> dict[str, Any]:
    net, step, train_s = ctx.trained(k, ctx.epochs)
    t = time.perf_counter()
    tdtype = resolve_dtype(options["dtype"])
    norms, how = grad_norms(net.to(tdtype), ctx.tensor(tdtype), ctx.labels(), batch_size=options["score_batch_size"],
                            method=options["method"])
    return {"scores": norms, "step": step, "train_s": train_s, "score_s": time.perf_counter() - t, "method": how}


def el2n_score(X, y, *, model: str | Callable[..., nn.Module] = "auto", n_seeds: int = 10, epochs: int = 5,
               lr: float = 1e-3, batch_size: int = 128, device: str | None = "cpu", random_state: SeedLike = None,
               n_jobs: int | None = None, checkpoint: str | Path | None = None, progress: bool = False) -> ExampleResult:
    """EL2N: mean over seeds of ‖softmax(f(x_i)) − onehot(y_i)‖₂ after ``epochs`` epochs of training.

    The value lies in [0, √2]: 0 for a confident correct prediction, √2 for a confident wrong one.

    The default ``epochs=5`` plays the role of the paper's epoch 20 of a 200-epoch CIFAR-10 run
    (10% of training): at initialisation the softmax is near uniform, so EL2N is nearly the same
    for every example and carries no information, while with the shared loop (Adam, lr 1e-3) on
    (F)MNIST-sized CPU data a network fits the easy examples within a few epochs and the hard or
    mislabelled ones stay unfit for much longer. Raise it for harder data or slower training.

    Parameters
    ----------
    X, y, model, n_seeds, lr, batch_size, device, random_state, n_jobs, checkpoint, progress
        As in :func:`grand_score`.
    epochs : int, default=5
        Epochs of training before scoring (0: the initial weights).

    Returns
    -------
    ExampleResult
        ``score``, ``stderr``, ``label``; settings include ``epochs`` and ``step``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(30, 4)), np.arange(30) % 2
    >>> res = el2n_score(X, y, model="mlp", n_seeds=2, epochs=1, random_state=0)
    >>> bool(((res.scores >= 0) & (res.scores <= 2 ** 0.5)).all()), res.settings["epochs"]
    (True, 1)
    """
    ctx = ScoreSetup("el2n_score", X, y, model, n_seeds, epochs, lr, batch_size, device, random_state, checkpoint)
    outs = ctx.run(_el2n_unit, {}, n_jobs=n_jobs, progress=progress)
    return ctx.result(outs, {}, {"score_s": sum(float(o["score_s"]) for o in outs)})


def _el2n_unit(ctx: ScoreSetup, k: int, options: dict[str, Any]) -> dict[str, Any]:
    net, step, train_s = ctx.trained(k, ctx.epochs)
    t = time.perf_counter()
    norms = _el2n(net, ctx.tensor(torch.float32), ctx.labels())
    return {"scores": norms, "step": step, "train_s": train_s, "score_s": time.perf_counter() - t}


def forgetting_score(X, y, *, model: str | Callable[..., nn.Module] = "auto", epochs: int = 20, n_seeds: int = 5,
                     lr: float = 1e-3, batch_size: int = 128, device: str | None = "cpu",
                     random_state: SeedLike = None, n_jobs: int | None = None, checkpoint: str | Path | None = None,
                     progress: bool = False) -> ExampleResult:
    """Forgetting events (Toneva et al. 2019): correct → incorrect transitions during training.

    Correctness is read from the logits of each training step's own forward pass (train mode,
    before the update), as in the official code, so tracking costs no extra forward pass. Before
    its first presentation an example counts as incorrect, so first being right is no event.

    An example never classified correctly in a run gets ``epochs`` for that run, where the
    official code gives +∞. An example is presented once per epoch, so at most ⌊epochs/2⌋ events
    can happen: ``epochs`` still ranks never-learned examples above every learned one, and means
    over seeds stay finite. The ``never_learned`` column is the fraction of seeds in which it
    happened.

    Parameters
    ----------
    X, y, model, lr, batch_size, device, random_state, n_jobs, checkpoint, progress
        As in :func:`grand_score`.
    epochs : int, default=20
        Full training epochs per seed; events are counted up to the end.
    n_seeds : int, default=5
        Independent training runs averaged.

    Returns
    -------
    ExampleResult
        ``score``, ``stderr``, ``never_learned``, ``label``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(30, 4)), np.arange(30) % 2
    >>> res = forgetting_score(X, y, model="mlp", epochs=2, n_seeds=2, random_state=0)
    >>> bool((res.scores <= 2).all()), res.settings["epochs"]
    (True, 2)
    """
    check_param("epochs", epochs, numbers.Integral, low=1)
    ctx = ScoreSetup("forgetting_score", X, y, model, n_seeds, epochs, lr, batch_size, device, random_state, checkpoint)
    outs = ctx.run(_forgetting_unit, {}, n_jobs=n_jobs, progress=progress)
    return ctx.result(outs, {"never_learned_value": int(epochs)}, {},
                      {"never_learned": np.mean([o["never_learned"] for o in outs], axis=0)})


def _forgetting_unit(ctx: ScoreSetup, k: int, options: dict[str, Any]) -> dict[str, Any]:
    tracker = ForgettingTracker(ctx.labels())
    _, step, train_s = ctx.trained(k, ctx.epochs, batch_callbacks=[tracker])
    return {"scores": tracker.scores(never_learned=float(ctx.epochs)), "never_learned": ~tracker.learned,
            "step": step, "train_s": train_s}


def forgetting_events(correct) -> tuple[np.ndarray, np.ndarray]:
    """Count forgetting events in a sequence of correctness per presentation.

    ``correct`` has shape (n_presentations, n_examples); row t says whether each example was
    classified correctly at its t-th presentation. Before the first one an example counts as
    incorrect. Returns the number of 1 → 0 transitions and whether it was ever correct.

    Examples
    --------
    >>> events, learned = forgetting_events([[0, 1, 0], [1, 1, 0], [0, 1, 0], [1, 0, 0]])
    >>> events.tolist(), learned.tolist()
    ([1, 1, 0], [True, True, False])
    """
    acc = np.asarray(correct, dtype=bool)
    if acc.ndim != 2:
        raise TrainfreeError(f"correct must be 2-D (presentations, examples), got shape {acc.shape}. "
                             f"Pass one row per presentation.")
    prev = np.vstack([np.zeros((1, acc.shape[1]), bool), acc[:-1]])
    return (prev & ~acc).sum(0), acc.any(0)


class ForgettingTracker:
    """A ``batch_callbacks`` entry of :func:`trainfree.training.train` that counts forgetting events.

    Examples
    --------
    >>> t = ForgettingTracker(torch.tensor([0, 1]))
    >>> for out in ([[1., 0.], [1., 0.]], [[0., 1.], [0., 1.]]):
    ...     t(1, torch.tensor([0, 1]), torch.tensor(out))
    >>> t.events.tolist(), t.learned.tolist()
    ([1, 0], [True, True])
    """

    def __init__(self, y: torch.Tensor):
        self.y = y
        self.prev = torch.zeros(len(y), dtype=torch.bool)
        self.count = torch.zeros(len(y), dtype=torch.long)
        self.ever = torch.zeros(len(y), dtype=torch.bool)

    def __call__(self, epoch: int, idx: torch.Tensor, outputs: torch.Tensor) -> None:
        idx = idx.cpu()
        acc = outputs.argmax(1).cpu() == self.y[idx]
        self.count[idx] += (self.prev[idx] & ~acc).long()
        self.prev[idx] = acc
        self.ever[idx] |= acc

    @property
    def events(self) -> np.ndarray:
        return self.count.numpy().copy()

    @property
    def learned(self) -> np.ndarray:
        return self.ever.numpy().copy()

    def scores(self, *, never_learned: float) -> np.ndarray:
        """Event counts, with ``never_learned`` for examples never classified correctly."""
        return np.where(self.learned, self.events, never_learned).astype(np.float64)


@torch.no_grad()
def _el2n(net: nn.Module, X: torch.Tensor, y: torch.Tensor, batch_size: int = 1024) -> np.ndarray:
    net.eval()
    out = []
    for xb, yb in zip(X.split(batch_size), y.split(batch_size)):
        p = net(xb).double().softmax(1)  # float64: a confident correct prediction gives exactly 0
        p[torch.arange(len(yb)), yb] -= 1.0
        out.append(p.norm(dim=1))
    return torch.cat(out).cpu().numpy()


class ScoreSetup:
    """Validated inputs, seeds and the shared build / train / run / result steps of the three scores."""

    def __init__(self, name, X, y, model, n_seeds, epochs, lr, batch_size, device, random_state, checkpoint):
        self.t0 = time.perf_counter()
        self.name = name
        self.X, self.codes, self.classes = check_examples(X, y, flatten=False, dtype=np.float32)
        check_param("n_seeds", n_seeds, numbers.Integral, low=1)
        check_param("epochs", epochs, numbers.Integral, low=0)
        check_param("lr", lr, numbers.Real, low=0, low_open=True)
        check_param("batch_size", batch_size, numbers.Integral, low=1)
        if isinstance(model, str):
            check_param("model", model, str, choices=MODELS)
            model = resolve_model(model, self.X.shape[1:] if self.X.ndim == 4 else None)
            if model in IMAGE_KINDS and self.X.ndim != 4:
                raise TrainfreeError(f"model={model!r} needs X of shape (n, channels, height, width); got "
                                     f"{self.X.shape}. Reshape it (e.g. X.reshape(-1, 1, 28, 28)) or use model='mlp'.")
        elif not callable(model):
            raise TrainfreeError(f"The 'model' parameter must be one of {list(MODELS)} or a callable returning an "
                                 f"nn.Module. Got {model!r} instead.")
        self.model, self.n_seeds, self.epochs = model, int(n_seeds), int(epochs)
        self.lr, self.batch_size = float(lr), int(batch_size)
        self.dev = resolve_device(device)
        self.checkpoint = checkpoint
        self.seed = run_seed(random_state, checkpoint)

    @property
    def model_name(self) -> str:
        return self.model if isinstance(self.model, str) else getattr(self.model, "__name__", repr(self.model))

    def tensor(self, dtype: torch.dtype) -> torch.Tensor:
        return torch.as_tensor(self.X, dtype=dtype, device=self.dev)

    def labels(self) -> torch.Tensor:
        return torch.as_tensor(self.codes, device=self.dev)

    def network(self, k: int) -> nn.Module:
        seed_k = child(self.seed, f"seed/{k}")
        shape, n_out = tuple(self.X.shape[1:]), int(self.classes.size)
        if isinstance(self.model, str):
            net = make_model(self.model, shape, n_out, random_state=seed_k)
        else:
            net = self.model(shape, n_out, random_state=seed_k)
            if not isinstance(net, nn.Module):
                raise TrainfreeError(f"The model factory returned {type(net).__name__}, not an nn.Module. Make it "
                                     f"return a freshly initialised torch.nn.Module.")
        return net.to(self.dev)

    def trained(self, k: int, epochs: int, batch_callbacks=()) -> tuple[nn.Module, int, float]:
        """Network ``k`` trained for exactly ``epochs`` (tol=0 disables the early stop), its step and seconds."""
        net = self.network(k)
        if epochs == 0:
            return net, 0, 0.0
        t = time.perf_counter()
        log = train(net, self.X, self.codes, epochs=epochs, lr=self.lr, batch_size=self.batch_size, tol=0.0,
                    device=self.dev, random_state=child(child(self.seed, f"seed/{k}"), "batches"),
                    batch_callbacks=batch_callbacks)
        expected = epochs * math.ceil(len(self.X) / self.batch_size)
        if (log.epochs, log.steps) != (epochs, expected):  # the step the scores belong to must be the one asked for
            raise RuntimeError(f"training stopped after {log.epochs} of {epochs} epochs ({log.steps} steps)")
        return net, log.steps, time.perf_counter() - t

    def run(self, unit: Callable[..., dict[str, Any]], options: dict[str, Any], *, n_jobs: int | None,
            progress: bool) -> list[dict[str, Any]]:
        """One work unit per seed (saved to ``checkpoint`` as it finishes), in seed order."""
        store = None
        if self.checkpoint is not None:  # everything a seed's scores depend on; not n_seeds
            store = UnitStore(self.checkpoint, {
                "what": self.name, "model": self.model_name, "epochs": self.epochs, "lr": self.lr,
                "batch_size": self.batch_size, "device": str(self.dev), **options, "seed": seed_record(self.seed),
                "data": data_fingerprint(self.X, self.codes)})
        outs = run_units(unit, [(f"seed-{k}", (self, k, options)) for k in range(self.n_seeds)], store=store,
                         n_jobs=check_n_jobs(n_jobs), progress=progress, desc="seeds")
        return [outs[f"seed-{k}"] for k in range(self.n_seeds)]

    def result(self, outs: list[dict[str, Any]], settings: dict[str, Any], timings: dict[str, float],
               columns: dict[str, np.ndarray] | None = None) -> ExampleResult:
        S = np.asarray([o["scores"] for o in outs], dtype=np.float64)
        stderr = S.std(axis=0, ddof=1) / math.sqrt(self.n_seeds) if self.n_seeds > 1 else np.full(S.shape[1], np.nan)
        settings = {"model": self.model_name, "epochs": self.epochs, "step": int(outs[0]["step"]),
                    "n_seeds": self.n_seeds, "lr": self.lr, "batch_size": self.batch_size, "device": str(self.dev),
                    "n_samples": int(S.shape[1]), "classes": self.classes.tolist(), **settings}
        cols = {"score": S.mean(axis=0), "stderr": stderr, **(columns or {}), "label": self.classes[self.codes]}
        # Seconds summed over the seeds, those computed by an earlier (resumed) run included.
        timings = {"train_s": sum(float(o["train_s"]) for o in outs), **timings,
                   "total_s": time.perf_counter() - self.t0}
        return ExampleResult(self.name, cols, settings, seed_record(self.seed), timings)
