"""Two variants of the CG-score from the CG-score paper (Ki, Choi, Chung, ICLR 2023).

CG′ (its section "Inversion of H∞ is an effective step") uses H instead of H⁻¹::

    CG′(i) = yᵀHy − y₋ᵢᵀH₋ᵢy₋ᵢ

Splitting off row and column i (g_i the i-th column of H without its diagonal entry c_i = H_ii),
yᵀHy = y₋ᵢᵀH₋ᵢy₋ᵢ + 2 y_i g_iᵀy₋ᵢ + y_i² c_i, and g_iᵀy₋ᵢ = (Hy)_i − c_i y_i, so::

    CG′(i) = 2 y_i (Hy)_i − y_i² H_ii

one matrix product, no factorisation. For unit rows H_ii = 1/2 and y_i = ±1, so CG′(i) =
2 y_i (Hy)_i − 1/2: it grows with how fast x_i is fit at the first gradient step (u(1) ≈ ηHy), the
opposite of a hard or mislabelled example; the paper keeps CG for that reason (its Table 1).

Feature-space CG (its appendix H) is the exact CG-score of the penultimate-layer features of a
network trained for a few epochs instead of the raw inputs.
"""

from __future__ import annotations

import numbers
import time
import warnings
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from .._device import check_memory, resolve_device, resolve_dtype
from .._errors import TrainfreeError
from .._random import SeedLike, check_random_state
from .._validation import check_examples, check_param
from ..kernels import arccos_gram
from ..linalg.loo_predictions import one_vs_rest
from ..result import ExampleResult
from .cg import Preprocess, cg_score, unit_rows
from .datadiet import ScoreSetup
from .mislabel_flags import LONE_CLASSES_MESSAGE, lone_classes, warn_lone_classes

BLOCK_ENTRIES = 2**24  # H is built in row blocks of about this many entries: memory O(n·d), not O(n²)


def cg_prime_score(X, y, *, preprocess: str = "center", device: str | None = "cpu", dtype: str = "float64",
                   max_memory_bytes: float | None = None, random_state: SeedLike = None) -> ExampleResult:
    """CG′: the complexity gap measured with H instead of H⁻¹, 2·y_i·(Hy)_i − y_i²·H_ii.

    Multi-class labels are scored one-vs-rest as in :func:`~trainfree.scores.cg_score` (+1 for the
    example's own class, −1 for the others; the own class's column is reported). H is never held
    whole: Hy is accumulated over row blocks of H, O(n²d) time and O(n·d) memory.

    Parameters
    ----------
    X : array-like of shape (n_samples, ...)
        Inputs; every row is flattened.
    y : array-like of shape (n_samples,)
        Class labels (at least two classes).
    preprocess : {"center", "raw"}, default="center"
        See :class:`~trainfree.scores.Preprocess`.
    device : {"cpu", "cuda", "auto"}, default="cpu"
    dtype : {"float64", "float32"}, default="float64"
    max_memory_bytes : float, optional
        Memory budget for the check made before allocating; default 80% of what is available.
    random_state : None, int, Generator or SeedSequence
        Validated and unused: CG′ is deterministic (the result's ``seed`` is None), as the exact
        CG-score; accepted so that every score takes the same arguments.

    Returns
    -------
    ExampleResult
        ``score``, ``stderr`` (NaN: the score is deterministic), ``label``. A high CG′ marks an
        example that the first gradient step already fits: an easy one. A class with a single row is
        named in a warning, as by :func:`~trainfree.scores.cg_score`: no other row can vouch for its label.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(1, 1, (20, 5)), rng.normal(-1, 1, (20, 5))]
    >>> res = cg_prime_score(X, np.r_[np.zeros(20), np.ones(20)])
    >>> res.scores.shape, bool(np.isnan(res["stderr"]).all())
    ((40,), True)
    """
    t0 = time.perf_counter()
    X, codes, classes = check_examples(X, y)
    preprocess = Preprocess(check_param("preprocess", preprocess, str, choices=tuple(p.value for p in Preprocess)))
    check_random_state(random_state)
    dev, tdtype = resolve_device(device), resolve_dtype(dtype)
    n, d = X.shape
    block = max(1, min(n, BLOCK_ENTRIES // n))
    item = torch.finfo(tdtype).bits // 8
    # The rows, two block×n matrices while a block of H is built, and Hy.
    check_memory((n * d + 2 * block * n + 2 * n * classes.size) * item,
                 what=f"CG′ of {n} examples with {d} features", budget=max_memory_bytes, device=dev,
                 alternative="Score a subsample, use dtype='float32', or reduce the features (e.g. PCA).")
    Xt = torch.as_tensor(unit_rows(X, preprocess), dtype=tdtype, device=dev)
    Y = torch.as_tensor(one_vs_rest(codes, classes.size), dtype=tdtype, device=dev)
    HY = torch.empty_like(Y)
    for s in range(0, n, block):
        Hb = arccos_gram(Xt[s:s + block], Xt)
        Hb.diagonal(offset=s).fill_(0.5)  # H_ii of unit rows is exactly 1/2; rounding of x_iᵀx_i would move it
        HY[s:s + block] = Hb @ Y
        del Hb
    warn_lone_classes(classes, lone_classes(codes, classes.size), stacklevel=3)  # as cg_score, by name
    own = torch.as_tensor(codes, device=dev)
    hy = HY[torch.arange(n, device=dev), own].cpu().numpy()  # (Hy)_i for the own class, where y_i = +1
    score = 2.0 * hy - 0.5  # 2 y_i (Hy)_i − y_i² H_ii with y_i = 1, H_ii = 1/2
    settings = dict(preprocess=preprocess.value, dtype=str(tdtype).removeprefix("torch."), device=str(dev),
                    n_samples=n, n_features=d, classes=classes.tolist(), block_rows=block)
    return ExampleResult("cg_prime_score", {"score": score, "label": classes[codes]}, settings, None,
                         {"total_s": time.perf_counter() - t0})


def cg_features_score(X, y, *, model: str | Callable[..., nn.Module] = "auto", epochs: int = 3, n_seeds: int = 1,
                      lr: float = 1e-3, batch_size: int = 128, preprocess: str = "center", dtype: str = "float64",
                      device: str | None = "cpu", max_memory_bytes: float | None = None,
                      random_state: SeedLike = None) -> ExampleResult:
    """Feature-space CG: the exact CG-score of penultimate-layer features after a few epochs of training.

    Network k is built and trained as the Data Diet scores do (:mod:`trainfree.scores.datadiet`:
    seed ``child(seed, f"seed/{k}")``, the shared Adam loop for exactly ``epochs``); its features
    are the input of its last ``nn.Linear``, read in eval mode, and scored with
    :func:`~trainfree.scores.cg_score` (exact). Scores and label terms are averaged over seeds.

    Parameters
    ----------
    X, y, model, lr, batch_size, device, random_state
        As in :func:`~trainfree.scores.grand_score`; a model factory's network must end in an
        ``nn.Linear``.
    epochs : int, default=3
        Epochs of training before the features are read (the paper: 10 epochs of a ResNet18).
    n_seeds : int, default=1
        Networks averaged.
    preprocess, dtype, max_memory_bytes
        As in :func:`~trainfree.scores.cg_score`, applied to the features.

    Returns
    -------
    ExampleResult
        ``score``, ``stderr`` (over seeds, NaN for one), ``partial_label`` (the CG label term, mean
        over seeds), ``flag_mislabel`` (mean label term > 0; never the only row of a class, as in
        :func:`~trainfree.scores.cg_score`), ``label``; settings include
        ``feature_dim``, ``epochs`` and ``step``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(40, 6)), np.arange(40) % 2
    >>> res = cg_features_score(X, y, model="mlp", epochs=1, random_state=0)
    >>> res.scores.shape, res.settings["feature_dim"]
    ((40,), 256)
    """
    check_param("epochs", epochs, numbers.Integral, low=0)
    preprocess = Preprocess(check_param("preprocess", preprocess, str, choices=tuple(p.value for p in Preprocess)))
    ctx = ScoreSetup("cg_features_score", X, y, model, n_seeds, epochs, lr, batch_size, device, random_state, None)
    options = {"preprocess": preprocess.value, "dtype": dtype, "max_memory_bytes": max_memory_bytes}
    lone = lone_classes(ctx.codes, ctx.classes.size)  # leave-one-out cannot judge the only row of a class
    warn_lone_classes(ctx.classes, lone, stacklevel=3)
    outs = ctx.run(_features_unit, options, n_jobs=None, progress=False)
    label_term = np.mean([o["partial_label"] for o in outs], axis=0)
    return ctx.result(outs, {"preprocess": preprocess.value, "dtype": dtype,
                             "feature_dim": int(max(int(o["feature_dim"]) for o in outs)),
                             "jitter_used": max(float(o["jitter"]) for o in outs)},
                      {"score_s": sum(float(o["score_s"]) for o in outs)},
                      {"partial_label": label_term, "flag_mislabel": (label_term > 0) & ~lone[ctx.codes]})


def _features_unit(ctx, k: int, options: dict) -> dict:
    """Seed ``k``: train, read the penultimate features, CG-score them."""
    net, step, train_s = ctx.trained(k, ctx.epochs)
    t = time.perf_counter()
    feats = penultimate_features(net, ctx.tensor(torch.float32))
    with warnings.catch_warnings():  # the caller warned once, by class name, about single-row classes
        warnings.filterwarnings("ignore", message=LONE_CLASSES_MESSAGE)
        res = cg_score(feats, ctx.codes, preprocess=options["preprocess"], device=str(ctx.dev),
                       dtype=options["dtype"], max_memory_bytes=options["max_memory_bytes"])
    return {"scores": res.scores, "partial_label": res["partial_label"], "feature_dim": feats.shape[1],
            "jitter": res.jitter, "step": step, "train_s": train_s, "score_s": time.perf_counter() - t}


@torch.no_grad()
def penultimate_features(net: nn.Module, X: torch.Tensor, batch_size: int = 1024) -> np.ndarray:
    """The input of ``net``'s last ``nn.Linear`` for every row of ``X``, in eval mode, as float64.

    Examples
    --------
    >>> from trainfree.training import make_model
    >>> penultimate_features(make_model("mlp", (4,), 3, width=8), torch.zeros(5, 4)).shape
    (5, 8)
    """
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise TrainfreeError(f"{type(net).__name__} has no nn.Linear layer, so it has no penultimate features. "
                             f"Use a network whose last layer is an nn.Linear (e.g. model='mlp' or 'cnn').")
    seen: list[torch.Tensor] = []
    hook = linears[-1].register_forward_hook(lambda mod, inp, out: seen.append(inp[0].detach().flatten(1)))
    try:
        net.eval()
        for xb in X.split(batch_size):
            net(xb)
    finally:
        hook.remove()
    return torch.cat(seen).double().cpu().numpy()
