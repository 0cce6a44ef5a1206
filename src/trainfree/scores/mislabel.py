"""Kernel leave-one-out mislabel detector: every class at once, no training.

Kernel ridge regression with Gram matrix K, ridge λ and one-vs-rest targets Y (n × classes, ±1)
predicts example i from all the *other* examples, for every label column at once, as::

    F₋ᵢ = Y_i − α_i / d_i,    α = (K + λI)⁻¹Y,    d = diag((K + λI)⁻¹)

(the Schur-complement identity the CG-score rests on; with λ = 0 and K = H∞ this is the CG-score's
interpolation, and CG(i) = α_i²/d_i for the own-class column). One factorisation gives every
example's leave-one-out prediction for every class. From them:

* ``P_i = softmax(F₋ᵢ / τ)``, a leave-one-out class probability; τ maximises the mean log-probability
  of the given labels (one scalar fitted on all examples, as a temperature calibrates a classifier);
* ``score = log t_c − log P_i[c]`` for the given label c, with t_c the mean of P_j[c] over the examples
  given label c (confident learning's per-class threshold, Northcutt et al., JAIR 2021): how far the
  rest of the data's belief in the label falls below what is typical for that label, so classes the
  kernel finds hard (shirts against T-shirts) do not crowd the top; higher = more likely mislabelled;
* ``flag_mislabel``: confident learning on P (:mod:`trainfree.scores.mislabel_flags`): the noise rate
  estimated from the confident joint, then that many labels flagged, pruned by noise rate (needs no
  noise rate); ``flag_argmax``: the leave-one-out argmax is not the given label;
* λ is chosen by minimising the leave-one-out log loss of the given labels (at each λ's own τ),
  which one eigendecomposition K = QΛQᵀ gives in closed form for every λ (d and α are sums over
  eigenpairs).
"""

from __future__ import annotations

import enum
import numbers
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._defaults import CHUNK_SIZE, N_CHUNK_REPEATS
from .._device import check_memory, concurrent_units, resolve_device, resolve_dtype
from .._errors import TrainfreeError
from .._random import SeedLike, child, seed_record
from .._runs import UnitStore, data_fingerprint, run_seed, run_units
from .._validation import check_examples, check_n_jobs, check_param
from ..kernels import arccos_gram
from ..linalg.arccos_solve import chunk_partition, exact_need, exact_solve, large_solve
from ..linalg.cholesky import warn_jitter
from ..linalg.loo_predictions import loo_loss_path, loo_predictions, one_vs_rest
from ..result import ExampleResult
from .cg import Preprocess
from .mislabel_flags import check_distinct_rows, detector_columns
from .mislabel_inputs import dask_examples, is_dask_array, kernel_inputs, resolve_kernel
from .mislabel_lowrank import check_lowrank_options, lowrank_factor

#: Ridge values searched by ``ridge="auto"``, as multiples of the mean diagonal of K (scale-free).
RIDGE_GRID = (0.0, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
#: Smallest ridge (× mean diag) solved in float32 by default; below it float64 (docs/benchmarks.md, "Cost").
FLOAT32_MIN_RIDGE = 0.01


#: Relative residual at which the large method's conjugate gradients stop: the ridge keeps K + λI well
#: conditioned, and 1e-4 moves no leave-one-out prediction visibly, above float32 storage's rounding floor.
LARGE_TOL = 1e-4
#: Largest n that ``method="auto"`` solves exactly (docs/methods/mislabel.md, "Low-rank mode").
AUTO_EXACT_MAX = 20000


class DetectorMethod(str, enum.Enum):
    """How the leave-one-out predictions are computed.

    EXACT
        One n×n kernel matrix factorised in place (:func:`trainfree.linalg.arccos_solve.exact_solve`):
        n² floats, about 50 000 examples in float64 on 24 GiB.
    STOCHASTIC
        Each repeat splits the examples into class-stratified random chunks of ``chunk_size`` and
        predicts every example from the others *in its chunk*; predictions are averaged over
        ``n_chunk_repeats`` partitions. Memory is set by ``chunk_size``; every chunk factorisation serves
        all classes.
    LARGE
        α from all n examples by preconditioned conjugate gradients and d from exact chunks
        (:func:`trainfree.linalg.arccos_solve.large_solve`): for n past the exact method, on the CPU.
    LOWRANK
        K ≈ ΦΦᵀ, a Nyström factor on ``rank`` landmarks (:func:`trainfree.linalg.lowrank_loo`): O(n·r²)
        time, O(n·r) memory, a ridge > 0; X may be a Dask array (scored partition by partition).
    AUTO
        Exact up to :data:`AUTO_EXACT_MAX` examples, low-rank past it; the choice is recorded.
    """

    EXACT = "exact"
    STOCHASTIC = "stochastic"
    LARGE = "large"
    LOWRANK = "lowrank"
    AUTO = "auto"


class MislabelResult(ExampleResult):
    """Mislabel scores from multi-class leave-one-out kernel predictions.

    Columns: ``score`` (log t_c − log P[c] for the given label c: the leave-one-out probability of the
    label against the mean for examples given that label; higher = more likely mislabelled; about 0
    for a typical example; NaN for the only row of its class, which leave-one-out cannot judge),
    ``stderr`` (over repeats; NaN for the exact method), ``margin`` (best other class's leave-one-out
    prediction minus the given class's), ``self_confidence``, ``predicted`` (the leave-one-out argmax
    class), ``flag_mislabel`` (confident learning on the leave-one-out probabilities: the estimated
    number of wrong labels, see :mod:`trainfree.scores.mislabel_flags`), ``flag_argmax`` (predicted ≠
    given) and ``label``. ``settings`` records the ridge chosen, the leave-one-out error of each ridge
    searched, the fitted temperature, and the estimated noise rate (``noise_rate_estimate``, overall,
    and ``noise_rate_estimate_per_class``, in the order of ``classes``).
    """

    @property
    def flags(self) -> np.ndarray:
        return self.columns["flag_mislabel"]

    def summary(self) -> str:
        """One line: method, ridge, temperature, the estimated noise rate and how many examples are flagged."""
        s = self.settings
        rates = [r for r in s.get("noise_rate_estimate_per_class", []) if r is not None]
        spread = f", per class {min(rates):.1%}–{max(rates):.1%}" if rates else ""
        unjudged = (f"; {len(s['unjudged_classes'])} single-row class(es) not judged"
                    if s.get("unjudged_classes") else "")
        estimate = s.get("noise_rate_estimate")  # absent from results saved before the estimate existed
        rate = f"estimated noise rate {estimate:.1%}{spread}; " if estimate is not None else ""
        return (f"Kernel leave-one-out mislabel detector ({s['method']}, n={len(self.scores)}, ridge "
                f"{s['ridge']:g}×mean diag, temperature {s['temperature']:.3g}): {rate}{int(self.flags.sum())} "
                f"example(s) flagged as likely mislabelled{unjudged}")


def mislabel_score(X, y, *, method: str = "exact", kernel: str = "auto", preprocess: str = "raw",
                   ridge: float | str = "auto", temperature: float | str = "auto", chunk_size: int = CHUNK_SIZE,
                   n_chunk_repeats: int = N_CHUNK_REPEATS, selection_size: int = 2000, device: str | None = "cpu",
                   dtype: str | None = None, rank: int | None = None, block_rows: int | str | None = "auto",
                   random_state: SeedLike = None, n_jobs: int | None = None, checkpoint: str | Path | None = None,
                   max_memory_bytes: float | None = None, progress: bool = False) -> MislabelResult:
    """Score how likely each label is wrong, from leave-one-out kernel predictions of all classes.

    Parameters
    ----------
    X : array-like of shape (n_samples, ...)
        Inputs: rows (flattened), images of shape (n, H, W) or (n, C, H, W), features from a model
        of your choice, or with ``kernel="precomputed"`` an (n_samples, n_samples) positive
        semi-definite kernel matrix (e.g. an NTK from :func:`trainfree.kernels.empirical_ntk`). With
        ``method="lowrank"``, rows may be a 2-D Dask array (arccos kernel; a client in effect runs it).
    y : array-like of shape (n_samples,)
        Given class labels (at least two classes).
    method : {"exact", "stochastic", "large", "lowrank", "auto"}, default="exact"
        See :class:`DetectorMethod`.
    kernel : {"auto", "arccos", "conv", "precomputed"}, default="auto"
        ``"arccos"``: H∞ of unit-norm rows, the CG-score's kernel. ``"conv"``: H∞ of the centred
        features of a random two-layer CNN (:func:`trainfree.kernels.random_conv_features`), for
        images. ``"auto"``: ``"conv"`` when ``X`` holds images of at least 4×4 pixels, else ``"arccos"``.
    preprocess : {"raw", "center", "mnist-shift"}, default="raw"
        Row normalisation of the inputs for ``kernel="arccos"`` (see
        :class:`~trainfree.scores.Preprocess`); raw rows detect flipped Fashion-MNIST labels slightly
        better than centred ones.
    ridge : float or "auto", default="auto"
        λ as a multiple of the mean diagonal of K. ``"auto"`` picks from :data:`RIDGE_GRID` the
        value with the least leave-one-out log loss, computed on all examples when
        n ≤ ``selection_size`` and otherwise on a class-stratified random subset of that size.
    temperature : float or "auto", default="auto"
        τ of the softmax over leave-one-out predictions; ``"auto"`` maximises the mean
        log-probability of the given labels.
    chunk_size : int, default=5000
        Stochastic and large: examples per chunk (the default is shared with
        :func:`~trainfree.scores.cg_score`).
    n_chunk_repeats : int, default=3
        Stochastic and large: independent random chunk partitions averaged.
    selection_size : int, default=2000
        Most examples used to choose the ridge (one eigendecomposition of that size). On Fashion-MNIST
        10 000, 2 000 picks the same ridge as 3 000 at 20–80% symmetric and 20–40% pair noise; the
        whole set picks a larger one at 80% (docs/benchmarks.md, "Choosing the ridge").
    device : {"cpu", "cuda", "auto"}, default="cpu"
        The large method runs on the CPU; the low-rank one does for a Dask array (``solve_device``).
    dtype : {"float64", "float32"}, optional
        Default: float32 when the ridge is at least :data:`FLOAT32_MIN_RIDGE` (the ridge bounds the
        condition number of K + λI: at λ = 0.01, float32 ranks Fashion-MNIST 10 000 like float64 to
        Spearman 0.9999999, in half the time), else float64 (λ = 0 is the CG-score's interpolation).
        The large method stores its Gram triangle in float32; the low-rank one computes kernel columns
        in float32 and everything after them in float64 (``dtype`` is not used).
    rank : int, optional
        Low-rank: Nyström landmarks (the rank of Φ). Default: from 100, doubled while a doubling lowers
        the leave-one-out log loss by ≥ 1%, at most 1 000; recorded with the rule's path.
    block_rows : int, "auto" or None, default="auto"
        Low-rank: rows per k-means block of Φ keeping the exact K − ΦΦᵀ; None or 0: plain Nyström. "auto": 1 000
        for rows in memory when ``rank`` is given or the automatic one reached 1 000, else plain Nyström; plain
        Nyström (warned) for a Dask array, which refuses an int. Recorded.
    random_state : None, int, Generator or SeedSequence
        Seeds the random CNN, the ridge-selection subset and the chunks; recorded in the result.
    n_jobs : int or None
        Stochastic and large: parallel chunk work units through joblib.
    checkpoint : str or Path, optional
        Stochastic and large: a folder where each finished work unit is saved; a rerun resumes (its seed too).
    max_memory_bytes : float, optional
        Memory budget checked before allocating; default 80% of what is available.
    progress : bool, default=False
        Progress bar over the work units.

    Returns
    -------
    MislabelResult

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(3, 1, (30, 4)), rng.normal(-3, 1, (30, 4))]
    >>> y = np.r_[np.zeros(30), np.ones(30)]
    >>> y[5] = 1  # a wrong label
    >>> res = mislabel_score(X, y)
    >>> int(np.argmax(res.scores)), np.flatnonzero(res.flags).tolist()
    (5, [5])
    """
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    kernel, image = resolve_kernel(X, kernel)
    method = DetectorMethod(check_param("method", method, str, choices=tuple(m.value for m in DetectorMethod)))
    preprocess = Preprocess(check_param("preprocess", preprocess, str, choices=tuple(p.value for p in Preprocess)))
    on_dask = is_dask_array(X)
    if on_dask and method not in (DetectorMethod.LOWRANK, DetectorMethod.AUTO):
        raise TrainfreeError(f"A Dask array X is scored by method='lowrank' (or 'auto'); got method={method.value!r}.")
    X, codes, classes = dask_examples(X, y, kernel, preprocess) if on_dask else check_examples(X, y)
    requested, n = method.value, X.shape[0]
    if method is DetectorMethod.AUTO:
        method = DetectorMethod.EXACT if n <= AUTO_EXACT_MAX and not on_dask else DetectorMethod.LOWRANK
    if ridge != "auto":
        check_param("ridge", ridge, numbers.Real, low=0)
    block_rows, block_settings = check_lowrank_options(ridge, rank, block_rows, on_dask=on_dask,
                                                       lowrank=method is DetectorMethod.LOWRANK)
    if temperature != "auto":
        check_param("temperature", temperature, numbers.Real, low=0, low_open=True)
    for name, value, low in (("chunk_size", chunk_size, 2), ("n_chunk_repeats", n_chunk_repeats, 1),
                             ("selection_size", selection_size, 2)):
        check_param(name, value, numbers.Integral, low=low)
    stochastic_folder = checkpoint if method is DetectorMethod.STOCHASTIC else None  # large: large_solve's
    n_jobs, seed = check_n_jobs(n_jobs), run_seed(random_state, stochastic_folder)  # a resume keeps its seed
    dev = resolve_device(device)
    if dtype is not None:
        resolve_dtype(dtype)  # a bad value is refused before any work
    if method is DetectorMethod.LARGE and (dev.type != "cpu" or kernel == "precomputed"):
        raise TrainfreeError("method='large' builds the arc-cosine kernel from rows on the CPU: use device='cpu' "
                             "and kernel 'arccos' or 'conv', or method='exact'/'stochastic'.")
    settings: dict[str, Any] = dict(method=method.value, kernel=kernel, preprocess=preprocess.value,
                                    device=str(dev), n_samples=n, classes=classes.tolist())
    if requested == "auto":
        settings["method_auto"] = (f"{method.value} (n = {n}; exact up to {AUTO_EXACT_MAX}"
                                   f"{', never for a Dask array' if on_dask else ''})")

    # 1. The kernel's inputs: unit rows of X or of random-CNN features, or the precomputed K itself.
    t = time.perf_counter()
    features, scale = (X, 0.5) if on_dask else kernel_inputs(X, kernel, image, preprocess, dev, seed)
    if not on_dask:  # a Dask array's rows are never all in one place
        check_distinct_rows(features, what="the kernel matrix" if kernel == "precomputed" else "X")
    if kernel == "conv":
        timings["features_s"] = time.perf_counter() - t

    # 2. The ridge (searched on a subset when "auto"), then the precision it allows.
    t = time.perf_counter()
    factor = None
    if method is DetectorMethod.LOWRANK:  # one factor serves the ridge search and the predictions
        grid = RIDGE_GRID[1:] if ridge == "auto" else (ridge,)  # the rank rule judges the ridges to be searched
        factor = lowrank_factor(features, kernel, codes, classes.size, rank=rank, ridges=[g * scale for g in grid],
                                seed=seed, budget=max_memory_bytes, device=dev)
        settings.update(factor.info, **block_settings)
    if factor is not None and ridge == "auto":  # λ = 0 leaves the rank-r kernel singular: not searched
        ridge, search = factor.search_ridge(RIDGE_GRID[1:], scale)
        settings.update(search)
    elif ridge == "auto":
        ridge, search = _search_ridge(features, kernel, codes, classes.size, selection_size, seed, dev,
                                      max_memory_bytes)
        settings.update(search)
    settings["ridge"] = float(ridge)
    timings["ridge_s"] = time.perf_counter() - t
    single = ridge >= FLOAT32_MIN_RIDGE or method is DetectorMethod.LARGE
    low = method is DetectorMethod.LOWRANK  # its sums and predictions in float64, kernel columns in float32
    tdtype = resolve_dtype("float64" if low else dtype or ("float32" if single else "float64"))
    settings["dtype"] = str(tdtype).removeprefix("torch.")

    # 3. Leave-one-out predictions F (one per repeat) by the chosen method.
    t = time.perf_counter()
    solve = _Solve(features=features, kernel=kernel, codes=codes, Y=one_vs_rest(codes, classes.size),
                   ridge=float(ridge) * scale, dtype=tdtype, device=dev, max_memory_bytes=max_memory_bytes)
    if method is DetectorMethod.EXACT:
        runs, jitter = solve.exact()
    elif method is DetectorMethod.LOWRANK:
        F, jitter, info, times = factor.leave_one_out(solve.ridge, block_rows, seed, max_memory_bytes, single=single)
        runs = F[None]  # the factor the ridge search used
        settings.update(info)
        timings.update(times)
    elif method is DetectorMethod.STOCHASTIC:
        settings.update(chunk_size=int(chunk_size), n_chunk_repeats=int(n_chunk_repeats))
        store = None
        if checkpoint is not None:  # the data are the inputs: CNN features vary in their last bits
            store = UnitStore(checkpoint, {"what": "mislabel_score", **settings, "seed": seed_record(seed),
                                           "data": data_fingerprint(X, codes)})
        runs, jitter = solve.stochastic(chunk_size, n_chunk_repeats, child(seed, "chunks"), n_jobs=n_jobs,
                                        store=store, progress=progress)
    else:  # large_solve keeps its own work units in ``checkpoint``
        runs, jitter, info = solve.large(chunk_size, n_chunk_repeats, child(seed, "large"), n_jobs=n_jobs,
                                         checkpoint=checkpoint, progress=progress)
        settings.update(info)
    settings["jitter_used"] = warn_jitter(float(jitter))  # with λ = 0 and duplicate rows; never silent
    timings["loo_s"] = time.perf_counter() - t

    # 4. Temperature and the per-example columns.
    cols, flag_settings = detector_columns(runs, codes, classes, temperature)
    settings.update(flag_settings)
    timings["total_s"] = time.perf_counter() - t0
    drew = method is not DetectorMethod.EXACT or kernel == "conv" or settings.get("ridge_selected_on", n) < n
    return MislabelResult("mislabel_score", cols, settings, seed_record(seed) if drew else None, timings)


def _search_ridge(features, kernel, codes, n_classes, selection_size, seed, device, budget) -> tuple[float, dict]:
    """:data:`RIDGE_GRID`'s value of least leave-one-out log loss, on a class-stratified subset of at
    most ``selection_size`` examples (float64, one eigendecomposition), and what the search saw."""
    n = len(codes)
    sub = np.arange(n) if n <= selection_size else chunk_partition(codes, selection_size, 1,
                                                                   child(seed, "ridge"))[0]
    _check_fits(sub.size, torch.float64, device, budget, units=1)
    K = _gram(features, kernel, sub, torch.float64, device)
    losses = loo_loss_path(K, codes[sub], RIDGE_GRID, n_classes=n_classes)
    del K
    return RIDGE_GRID[int(np.argmin(losses))], dict(ridge_grid=list(RIDGE_GRID), ridge_loo_log_loss=losses.tolist(),
                                                    ridge_selected_on=int(sub.size))


@dataclass(frozen=True)
class _Solve:
    """Leave-one-out predictions F = Y − α/d of kernel ridge regression (absolute ``ridge``), by method.

    Each method returns ``runs`` of shape (repeats, n, classes), one F per repeat, and the largest
    diagonal jitter any factorisation needed.
    """

    features: np.ndarray
    kernel: str
    codes: np.ndarray
    Y: np.ndarray
    ridge: float
    dtype: torch.dtype
    device: torch.device
    max_memory_bytes: float | None

    def exact(self) -> tuple[np.ndarray, float]:
        """One factorisation of all n examples."""
        n = len(self.codes)
        _check_fits(n, self.dtype, self.device, self.max_memory_bytes, units=1,
                    precomputed=self.kernel == "precomputed")
        out = _loo_unit(self.features, self.kernel, np.arange(n), self.Y, self.ridge, self.dtype, self.device)
        return out["F"][None], float(out["jitter"])

    def stochastic(self, chunk_size, n_chunk_repeats, seed, *, n_jobs, store, progress) -> tuple[np.ndarray, float]:
        """Every example predicted from the others in its chunk, for each of ``n_chunk_repeats`` partitions."""
        n, n_classes = self.Y.shape
        _check_fits(min(chunk_size, n), self.dtype, self.device, self.max_memory_bytes,
                    units=concurrent_units(n_jobs), precomputed=self.kernel == "precomputed")
        chunks = chunk_partition(self.codes, chunk_size, n_chunk_repeats, seed)
        units = [(f"chunk-{k:05d}", (self.features, self.kernel, idx, self.Y, self.ridge, self.dtype,
                                     str(self.device)))
                 for k, idx in enumerate(chunks)]
        outs = run_units(_loo_unit, units, store=store, n_jobs=n_jobs, progress=progress,
                         desc="leave-one-out chunks")
        runs, per_repeat = np.zeros((n_chunk_repeats, n, n_classes)), len(chunks) // n_chunk_repeats
        for k, ((key, _), idx) in enumerate(zip(units, chunks)):
            runs[k // per_repeat, idx] = outs[key]["F"]
        return runs, max(float(o["jitter"]) for o in outs.values())

    def large(self, chunk_size, n_chunk_repeats, seed, *, n_jobs, checkpoint,
              progress) -> tuple[np.ndarray, float, dict]:
        """α from all n examples by conjugate gradients, d from exact chunks; and the solver's record."""
        alpha, d, info = large_solve(self.features, self.Y, ridge=self.ridge, strata=self.codes, chunk_size=chunk_size,
                                     n_chunk_repeats=n_chunk_repeats, gram_dtype=self.dtype, tol=LARGE_TOL,
                                     random_state=seed, n_jobs=n_jobs, checkpoint=checkpoint,
                                     max_memory_bytes=self.max_memory_bytes, progress=progress)
        record = {k: info[k] for k in ("chunk_size", "n_chunks", "n_chunk_repeats", "rank", "tol", "iterations",
                                       "residual", "converged")}
        return (self.Y - alpha / d[:, None])[None], info["jitter"], record


def _gram(features: np.ndarray, kernel: str, idx: np.ndarray, dtype: torch.dtype, device: torch.device):
    if kernel == "precomputed":
        return torch.as_tensor(features[np.ix_(idx, idx)], dtype=dtype, device=device).clone()
    return arccos_gram(torch.as_tensor(features[idx], dtype=dtype, device=device))


def _loo_unit(features, kernel, idx, Y, ridge, dtype, device) -> dict[str, Any]:
    """One work unit: leave-one-out predictions among the rows ``idx`` (absolute ``ridge``)."""
    if kernel == "precomputed":
        K = _gram(features, kernel, idx, dtype, torch.device(device))
        F, jitter = loo_predictions(K, torch.as_tensor(Y[idx], dtype=dtype, device=K.device), ridge)
        return {"F": F.cpu().numpy().astype(np.float64), "jitter": np.array(jitter)}
    alpha, d, info = exact_solve(features[idx], Y[idx], ridge=ridge, dtype=dtype, device=device)
    return {"F": Y[idx] - alpha / d[:, None], "jitter": np.array(info["jitter"])}


def _check_fits(n: int, dtype: torch.dtype, device: torch.device, budget: float | None, units: int,
                precomputed: bool = False) -> None:
    item = torch.finfo(dtype).bits // 8
    # In-place arccos solve: one n×n buffer; a precomputed K, its factor and cholesky_inverse's output: three.
    need = (3 * n * n * item if precomputed else exact_need(n, 0, item)) * units
    check_memory(need, what=f"{units} kernel matri{'ces' if units > 1 else 'x'} of {n}×{n}",
                 alternative="Use method='large', or method='stochastic' with a smaller chunk_size, lower n_jobs, "
                 "or dtype='float32'.", budget=budget, device=device)
