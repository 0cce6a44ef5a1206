"""Complexity-gap score (CG-score; Nohyun Ki, Hoyong Choi, Hye Won Chung, ICLR 2023).

The whole formula, for a Gram matrix H = H∞ of unit-norm inputs and labels y ∈ {±1}ⁿ::

    CG(i) = yᵀH⁻¹y − y₋ᵢᵀ(H₋ᵢ)⁻¹y₋ᵢ           (definition: leave-one-out data complexity)
          = α_i² / d_i,   α = H⁻¹y,  d = diag(H⁻¹)   (Schur complement, paper eq. 6)

and with h_i the i-th column of H⁻¹ without its diagonal entry d_i, so that y₋ᵢᵀh_i = α_i − d_i y_i,
it splits into three partial terms that sum to CG(i)::

    (y₋ᵢᵀh_i)² / d_i  +  2 y_i (y₋ᵢᵀh_i)  +  y_i² d_i

The middle term is the only one that uses y_i; a positive value means x_i looks more like the
other classes than its own, the paper's rule for flagging a likely mislabel (its Table 2).
Multi-class labels are scored one-vs-rest: +1 for the example's own class, −1 for the rest.
H does not depend on the labels, so one Cholesky factorisation serves every class.
"""

from __future__ import annotations

import enum
import math
import numbers
import time
from pathlib import Path

import numpy as np
import torch

from .._defaults import CHUNK_SIZE, N_CHUNK_REPEATS
from .._device import check_memory, concurrent_units, resolve_device, resolve_dtype
from .._errors import TrainfreeError
from .._random import SeedLike, seed_record, unit_child
from .._random import rng as make_rng
from .._runs import UnitStore, data_fingerprint, run_seed, run_units
from .._validation import check_examples, check_n_jobs, check_param
from ..linalg.arccos_solve import exact_need, exact_solve, large_solve
from ..linalg.cholesky import warn_jitter
from ..linalg.loo_predictions import one_vs_rest
from ..result import ExampleResult
from .mislabel_flags import check_distinct_rows, lone_classes, warn_lone_classes


class CGMethod(str, enum.Enum):
    """How the CG-score is computed.

    EXACT
        One n×n Gram matrix of all examples, factorised in place, all classes solved at once.
        O(n²d + n³) time and n² floats of memory (about 50 000 examples in float64 on 24 GiB).
        The default: it is the score as defined.
    STOCHASTIC
        The paper's Appendix A.2: for each class, its examples plus ``ratio`` × as many sampled
        from the other classes, scored ``n_repeats`` times and averaged. Memory is about
        3·((1 + ratio)·n_c)² floats for the largest class n_c, so it scales to datasets whose
        full Gram matrix does not fit. The result carries the per-example standard error over
        repeats. It approximates the exact score (the paper reports Spearman 0.95 at ratio 3).
    LARGE
        The exact formula with both of its ingredients approximated, for n past the exact method's
        memory: α = H⁻¹Y by preconditioned conjugate gradients on the full H (kept as its packed lower
        triangle, float32 by default), d = diag(H⁻¹) from exact factorisations of class-stratified
        random chunks averaged over repeats (:func:`trainfree.linalg.arccos_solve.large_solve`). Spearman
        with the exact score ≥ 0.99 (docs/benchmarks.md); iterations and residual are in ``settings``.
    """

    EXACT = "exact"
    STOCHASTIC = "stochastic"
    LARGE = "large"


class Preprocess(str, enum.Enum):
    """Input normalisation before the rows are scaled to unit L2 norm.

    RAW
        Flatten and L2-normalise, as the theory assumes. All pixel vectors of natural images then
        have large positive cosines, so H is dominated by a near-constant block.
    CENTER
        Subtract the per-feature mean over the scored set first. It spreads the cosines and improves
        label-noise detection on image data (docs/benchmarks.md, "Preprocessing"); it is the default.
    MNIST_SHIFT
        The official CG code's transform, ``Normalize((0.1307,), (0.3081,))``: one scalar shift and scale
        of every value, (x − 0.1307) / 0.3081, with MNIST's pixel mean and std, for pixels in [0, 1]
        (the scale cancels in the L2 normalisation; the shift does not).
    """

    RAW = "raw"
    CENTER = "center"
    MNIST_SHIFT = "mnist-shift"


MNIST_MEAN, MNIST_STD = 0.1307, 0.3081  # the official CG code's Normalize constants, also used for Fashion-MNIST


ZERO_NORM_RTOL = 1e-8  # a centred row this small relative to its inputs is rounding noise, not a direction


class CGResult(ExampleResult):
    """CG-scores with their partial terms, mislabel flags, settings, seed and timings.

    Columns: ``score``, ``partial_sq`` = (y₋ᵢᵀh_i)²/d_i, ``partial_label`` = 2y_i(y₋ᵢᵀh_i),
    ``partial_diag`` = y_i²d_i, ``flag_mislabel`` (partial_label > 0; never for the only row of a class),
    ``label``; stochastic runs fill ``stderr`` (standard error over repeats; NaN for the exact score and
    with one repeat) and add ``n_scored`` (repeats that scored the example).
    """

    @property
    def flags(self) -> np.ndarray:
        return self.columns["flag_mislabel"]

    @property
    def jitter(self) -> float:
        """Largest diagonal jitter that any factorisation needed (0 when none did)."""
        return float(self.settings.get("jitter_used", 0.0))

    def summary(self) -> str:
        """One line: the method, the spread of the scores and how many examples the sign rule flags."""
        s = self.scores
        return (f"CG-score ({self.settings['method']}, n={len(s)}): mean {s.mean():.4g}, "
                f"median {np.median(s):.4g}, max {s.max():.4g}; "
                f"{int(self.flags.sum())} example(s) flagged as likely mislabelled (positive label term)")


def cg_score(X, y, *, method: str = "exact", preprocess: str = "center", ratio: float = 3.0,
             n_repeats: int = 10, chunk_size: int = CHUNK_SIZE, n_chunk_repeats: int = N_CHUNK_REPEATS, rank: int | None = None,
             tol: float = 1e-3, device: str | None = "cpu", dtype: str | None = None,
             random_state: SeedLike = None, n_jobs: int | None = None, checkpoint: str | Path | None = None,
             max_memory_bytes: float | None = None, progress: bool = False) -> CGResult:
    """Complexity-gap score of every example, with partial terms and the mislabel sign rule.

    Parameters
    ----------
    X : array-like of shape (n_samples, ...)
        Un-augmented inputs; every row is flattened.
    y : array-like of shape (n_samples,)
        Class labels (at least two classes).
    method : {"exact", "stochastic", "large"}, default="exact"
        See :class:`CGMethod`.
    preprocess : {"center", "raw", "mnist-shift"}, default="center"
        See :class:`Preprocess`.
    ratio : float, default=3.0
        Stochastic only: other-class examples sampled per own-class example (paper: 3 for
        (F)MNIST, 4 for CIFAR).
    n_repeats : int, default=10
        Stochastic only: independent subsamples averaged per class.
    chunk_size, n_chunk_repeats : int, default=5000, 3
        Large only: d = diag(H⁻¹) from random class-stratified chunks of this size, averaged over
        this many partitions (defaults shared with :func:`~trainfree.scores.mislabel_score`).
    rank : int, optional
        Large only: Nyström landmarks of the conjugate-gradient preconditioner (default
        max(1000, n // 20); see :func:`trainfree.linalg.arccos_solve.large_solve`).
    tol : float, default=1e-3
        Large only: relative residual at which conjugate gradients stop (float32 storage of H
        floors it near 3e-5; see :func:`trainfree.linalg.arccos_solve.large_solve`).
    device : {"cpu", "cuda", "auto"}, default="cpu"
        The large method runs on the CPU.
    dtype : {"float64", "float32"}, optional
        Exact and stochastic: the precision of H and its factor (default float64; float32 halves
        memory and is faster on GPUs but H is ill-conditioned). Large: the storage of the packed
        Gram triangle (default float32; the solves are float64).
    random_state : None, int, Generator or SeedSequence
        Seeds the stochastic subsamples and is recorded in the result; the exact method is
        deterministic (its result's ``seed`` is None).
    n_jobs : int or None
        Stochastic and large: parallel work units ((class, repeat) subsamples, or chunk
        factorisations) through joblib; a Dask backend runs them on a cluster.
    checkpoint : str or Path, optional
        Stochastic and large: a folder where every finished work unit is saved as it completes; a
        rerun with the same settings and data resumes from it and gives the same result, another
        configuration is refused naming what differs.
    max_memory_bytes : float, optional
        Memory budget for the check made before allocating; default 80% of what is available.
    progress : bool, default=False
        Show a progress bar over the (class, repeat) work units of the stochastic method.

    Returns
    -------
    CGResult

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(1, 1, (20, 5)), rng.normal(-1, 1, (20, 5))]
    >>> y = np.r_[np.zeros(20), np.ones(20)]
    >>> res = cg_score(X, y)
    >>> res.scores.shape
    (40,)
    """
    t0 = time.perf_counter()
    X, codes, classes = check_examples(X, y)
    method = CGMethod(check_param("method", method, str, choices=tuple(m.value for m in CGMethod)))
    preprocess = Preprocess(check_param("preprocess", preprocess, str,
                                        choices=tuple(p.value for p in Preprocess)))
    check_param("ratio", ratio, numbers.Real, low=0, low_open=True)
    check_param("n_repeats", n_repeats, numbers.Integral, low=1)
    n_jobs = check_n_jobs(n_jobs)
    seed = run_seed(random_state, checkpoint if method is not CGMethod.EXACT else None)
    dev = resolve_device(device)
    tdtype = resolve_dtype(dtype or ("float32" if method is CGMethod.LARGE else "float64"))
    if method is CGMethod.LARGE and dev.type != "cpu":
        raise TrainfreeError("method='large' runs on the CPU (its Gram triangle lives in host memory). Use "
                             "device='cpu', or method='exact' on the GPU when n² floats fit in its memory.")
    Xn = unit_rows(X, preprocess)
    check_distinct_rows(Xn)  # all rows the same: no label can be judged
    timings: dict[str, float] = {}
    settings = dict(method=method.value, preprocess=preprocess.value, dtype=str(tdtype).removeprefix("torch."),
                    device=str(dev), n_samples=X.shape[0], n_features=X.shape[1], classes=classes.tolist())

    if method is CGMethod.EXACT:
        _check_fits(X.shape[0], X.shape[1], tdtype, dev, max_memory_bytes)
        alpha, d, info = exact_solve(Xn, one_vs_rest(codes, classes.size), dtype=tdtype, device=dev)
        jitter = warn_jitter(info["jitter"])
        cols = _columns(alpha[np.arange(len(codes)), codes], d, np.ones(len(codes)))
        record = None
    elif method is CGMethod.LARGE:
        alpha, d, info = large_solve(Xn, one_vs_rest(codes, classes.size), strata=codes, chunk_size=chunk_size,
                                     n_chunk_repeats=n_chunk_repeats, rank=rank, tol=tol, gram_dtype=tdtype,
                                     random_state=seed, n_jobs=n_jobs, checkpoint=checkpoint,
                                     max_memory_bytes=max_memory_bytes, progress=progress)
        jitter = warn_jitter(info["jitter"])
        cols = _columns(alpha[np.arange(len(codes)), codes], d, np.ones(len(codes)))
        record = info["seed"]
        settings.update({k: info[k] for k in ("chunk_size", "n_chunks", "n_chunk_repeats", "rank", "tol",
                                              "iterations", "residual", "converged")})
        timings.update({k: v for k, v in info["timings"].items() if k != "total_s"})
    else:
        record = seed_record(seed)
        settings.update(ratio=float(ratio), n_repeats=int(n_repeats))
        store = None
        if checkpoint is not None:
            store = UnitStore(checkpoint, {"what": "cg_score", **settings, "seed": record,
                                           "data": data_fingerprint(Xn, codes)})
        cols, jitter = _stochastic(Xn, codes, classes.size, ratio, n_repeats, seed, tdtype, dev, n_jobs,
                                   max_memory_bytes, progress, store)
    settings["jitter_used"] = jitter
    lone = lone_classes(codes, classes.size)  # leave-one-out cannot judge the only row of a class
    warn_lone_classes(classes, lone, stacklevel=3)
    cols["flag_mislabel"] = cols["flag_mislabel"] & ~lone[codes]
    cols["label"] = classes[codes]
    return CGResult("cg_score", cols, settings, record, {**timings, "total_s": time.perf_counter() - t0})


def unit_rows(X: np.ndarray, preprocess: str | Preprocess = "center", *, copy: bool = True) -> np.ndarray:
    """Flatten, optionally shift (see :class:`Preprocess`), and scale every row to unit L2 norm.

    Rows are divided by their largest absolute entry before the norm is taken, so values near the
    float64 limit (≥ 1e155, whose squares overflow) keep their direction. Centring subtracts two
    close numbers when a row is near the column mean; a centred row whose norm is below
    ``ZERO_NORM_RTOL`` times the norms it was computed from is rounding noise, not a direction, and
    is refused with its row numbers (as is any all-zero row). ``copy=False`` scales ``X`` itself
    (when it is float32 or float64 already): no second n × d array, for features made only for this.

    Examples
    --------
    >>> unit_rows(np.array([[3e200, 4e200], [1.0, 0.0]]), "raw")
    array([[0.6, 0.8],
           [1. , 0. ]])
    """
    dtype = np.float32 if X.dtype == np.float32 else np.float64  # float32 in, float32 out: half the memory traffic
    # From here X is this call's own array (copy=False: the caller's, when it has the dtype already), and
    # each step changes it in place: one pass a step, no n × d temporary.
    X = X.reshape(X.shape[0], -1).astype(dtype, copy=copy)
    if Preprocess(preprocess) is Preprocess.MNIST_SHIFT:
        X = (X - MNIST_MEAN) / MNIST_STD
    centre = Preprocess(preprocess) is Preprocess.CENTER
    if centre:
        X /= max(float(X.max()), -float(X.min()), np.finfo(dtype).tiny)  # a common scale: no overflow in the mean
        mean = X.mean(axis=0)
        scale_before = _row_norms(X) + np.linalg.norm(mean)  # what the subtraction's error scales with
        X -= mean
    peak = np.maximum(X.max(axis=1), -X.min(axis=1))[:, None]
    X /= np.where(peak > 0, peak, 1.0)
    norms = _row_norms(X)
    bad = peak[:, 0] == 0
    if centre:
        bad |= norms * peak[:, 0] <= max(ZERO_NORM_RTOL, 100 * np.finfo(dtype).eps) * scale_before
    if bad.any():
        rows = np.flatnonzero(bad)
        listed = ", ".join(str(i) for i in rows[:5]) + (", ..." if rows.size > 5 else "")
        hint = (" (centring subtracts the column mean, so a row equal to it vanishes); drop them, or use "
                "preprocess='raw'." if centre else "; drop them.")
        raise TrainfreeError(f"{rows.size} row(s) of X have (near-)zero norm after preprocessing: row(s) {listed}. "
                             f"They have no direction to compare{hint}")
    X /= norms[:, None]
    return X


def _row_norms(X: np.ndarray) -> np.ndarray:
    """L2 norm of every row, without an n × d temporary (rows are scaled to a peak of 1 first: no overflow)."""
    return np.sqrt(np.einsum("ij,ij->i", X, X))


def _columns(alpha: np.ndarray, d: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """Score and partial terms from α_i, d_i and y_i (the formula in the module docstring)."""
    cross = alpha - d * y  # y₋ᵢᵀh_i
    partial_label = 2 * y * cross
    return {"score": alpha**2 / d, "partial_sq": cross**2 / d, "partial_label": partial_label,
            "partial_diag": y**2 * d, "flag_mislabel": partial_label > 0}


def _check_fits(n: int, d: int, dtype: torch.dtype, device: torch.device, budget: float | None,
                alternative: str | None = None, units: int = 1) -> None:
    item = torch.finfo(dtype).bits // 8
    need = exact_need(n, d, item) * units  # one n×n buffer (H, then its factor) and block temporaries, per unit
    if device.type == "cuda":
        need += 2 * n * n * item * units  # cholesky_solve's copy of the factor and cholesky_inverse on the GPU
    what = f"An exact CG-score of {n} examples (one {n}×{n} Gram matrix, factorised in place)"
    if units > 1:
        what = f"{units} concurrent work units of {n} examples each ({n}×{n} Gram matrices, factorised in place)"
    check_memory(need, what=what,
                 alternative=alternative or "Use method='large' (memory about n²/2 float32) or method='stochastic' "
                 "(memory set by the largest class and `ratio`), or score a subsample.", budget=budget,
                 device=device)


def _stochastic(Xn, codes, n_classes, ratio, n_repeats, seed, dtype, device, n_jobs, budget, progress, store):
    """Paper Appendix A.2: per class, own examples vs ``ratio``× as many sampled others, averaged."""
    counts = np.bincount(codes, minlength=n_classes)
    sizes = [min(counts[c] + int(math.ceil(ratio * counts[c])), len(codes)) for c in range(n_classes)]
    _check_fits(max(sizes), Xn.shape[1], dtype, device, budget, units=concurrent_units(n_jobs),
                alternative="Lower `ratio`, lower `n_jobs` or score a subsample of each class.")
    # One subsample per (class, repeat), drawn here before dispatch: results do not depend on scheduling.
    units = []
    for c in range(n_classes):
        own, others = np.flatnonzero(codes == c), np.flatnonzero(codes != c)
        k = min(int(math.ceil(ratio * own.size)), others.size)
        for r in range(n_repeats):
            drawn = make_rng(unit_child(seed, c * n_repeats + r)).choice(others, k, replace=False)
            units.append((f"class{c:04d}-repeat{r:05d}", (Xn, own, drawn, dtype, str(device))))
    done = run_units(_stochastic_unit, units, store=store, n_jobs=n_jobs, progress=progress, desc="CG (class, repeat)")
    outs = [done[key] for key, _ in units]  # a fixed order: the sums do not depend on completion order
    n = len(codes)
    total = {k: np.zeros(n) for k in ("score", "partial_sq", "partial_label", "partial_diag")}
    count = np.zeros(n)
    for out in outs:
        for k in total:
            total[k][out["idx"]] += out[k]
        count[out["idx"]] += 1
    mean = {k: v / count for k, v in total.items()}
    sq_dev = np.zeros(n)  # second pass: no cancellation in the variance
    for out in outs:
        sq_dev[out["idx"]] += (out["score"] - mean["score"][out["idx"]]) ** 2
    # One repeat has no spread to measure: its standard error is undefined (NaN), not 0.
    var = np.divide(sq_dev, count - 1, out=np.full(n, np.nan), where=count > 1)
    jitter = max(float(out["jitter"]) for out in outs)
    mean["flag_mislabel"] = mean["partial_label"] > 0
    mean["stderr"] = np.sqrt(var / count)
    mean["n_scored"] = count.astype(np.int64)
    return mean, warn_jitter(jitter)


def _stochastic_unit(Xn, own, drawn, dtype, device):
    """One (class, repeat) work unit: the class against its drawn others, scored exactly."""
    y = np.r_[np.ones(own.size), -np.ones(drawn.size)]
    alpha, d, info = exact_solve(Xn[np.concatenate([own, drawn])], y[:, None], dtype=dtype, device=device)
    cols = _columns(alpha[: own.size, 0], d[: own.size], np.ones(own.size))
    return {"idx": own, **cols, "jitter": np.array(info["jitter"])}
