"""The mislabel detector's low-rank mode: landmarks, sums over row blocks (or Dask partitions), the ridge search.

K ≈ ΦΦᵀ with Φ = K(·, S) L⁻ᵀ, the Nyström factor on landmarks S chosen by randomly pivoted Cholesky
on a class-stratified pool of rows (:func:`trainfree.linalg.nystrom.rp_cholesky`). The rank is ``rank``
or, by default, grown in doublings from :data:`RANK_START` until a doubling lowers the pool's best
leave-one-out log loss by less than :data:`RANK_LOSS_TOL` (at most :data:`MAX_RANK`). Then one pass
over the rows sums ΦᵀΦ (r × r) and ΦᵀY (r × C); one eigendecomposition of ΦᵀΦ gives the leave-one-out
log loss of the pool's labels at every ridge of the grid, and a second pass gives every row's
leave-one-out prediction F (:mod:`trainfree.linalg.lowrank_loo`). Each pass works on one block of
rows at a time, so a Dask array is scored partition by partition: the workers return r × r and r × C
pieces, then their rows' F.

Where the rank was given or that rule stopped at the cap (the kernel still had something to give) and the
rows are in memory, the predictions keep, by default, the exact residual K − ΦΦᵀ on k-means clusters of
Φ's rows of about :data:`BLOCK_CORRECTION_ROWS` rows (:mod:`trainfree.linalg.block_loo`), at the best of
the uncorrected search's pick and its grid neighbours by the corrected leave-one-out log loss; a Dask
array gets plain Nyström (its rows are never all in one place).
"""

from __future__ import annotations

import numbers
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .._device import check_memory
from .._errors import TrainfreeError
from .._random import child
from .._random import rng as make_rng
from .._validation import check_param
from ..kernels import arccos_gram
from ..linalg.arccos_solve import chunk_partition
from ..linalg.block_loo import block_loo_path, split_large
from ..linalg.lowrank_loo import LowRankSpectrum, NystromMap, lowrank_loo, lowrank_loss_path
from ..linalg.loo_predictions import fit_temperature, log_loss, one_vs_rest
from ..linalg.nystrom import rp_cholesky

#: Landmarks the automatic rank starts from; it doubles them while that pays (the rule below).
RANK_START = 100
#: A doubling of the landmarks that lowers the pool's best leave-one-out log loss by less than this share
#: ends the automatic rank: on 128-d embeddings a doubling past 100-200 buys < 1%, on images' conv features
#: 1.4-3.5% up to 1 000 (docs/methods/mislabel.md, "Low-rank mode").
RANK_LOSS_TOL = 0.01
#: Most landmarks the automatic rank takes (cost n·r²); a rank that reaches it gets the block correction
#: by default: the kernel still had something to give.
MAX_RANK = 1000
#: Rows the landmarks are chosen from and the ridge is chosen on (class-stratified when n is larger).
POOL_SIZE = 20000
#: Rows per block of a local pass.
BLOCK_ROWS = 8192
#: Why ``block_rows="auto"`` leaves the correction out, by how the rank stopped (``settings["rank_stopped"]``);
#: it applies it when the rank was given or reached the cap: the kernel still had something to give.
SKIP_REASONS = {
    "rule": f"the automatic rank stopped at {{rank}} < {MAX_RANK}: a doubling of the landmarks lowered the "
            f"leave-one-out log loss by less than {RANK_LOSS_TOL:.0%}",
    "all rows": "every one of the {rank} rows is a landmark: the Nyström kernel is the exact one",
    "residual": "the {rank} landmarks leave none of the kernel's trace unexplained (to rounding)"}
#: Rows per k-means block of the exact local correction that ``block_rows="auto"`` keeps (rows in memory).
BLOCK_CORRECTION_ROWS = 1000
#: Leading principal directions of Φ the k-means of the block correction clusters on (its cost: n × this).
CLUSTER_DIMS = 128
#: Lloyd iterations of that k-means at most: blocks of similar rows need no converged clustering.
CLUSTER_ITERATIONS = 30


def check_lowrank_options(ridge, rank, block_rows, *, lowrank: bool, on_dask: bool) -> tuple[int | str | None, dict]:
    """Refuse what the low-rank mode cannot do; the rows per block of its correction (None: plain Nyström;
    "auto": decided by the rank, :meth:`LowRankFactor.leave_one_out`) and what ``settings`` records of it
    until it runs.

    ``block_rows``: "auto" (for rows in memory: :data:`BLOCK_CORRECTION_ROWS` when the rank was given
    or reached :data:`MAX_RANK`, else off; plain Nyström for a Dask array, with a warning), an int ≥ 1, or
    None/0 (off). An explicit int for a Dask array is refused.
    """
    if rank is not None:
        check_param("rank", rank, numbers.Integral, low=1)
    if block_rows is not None and block_rows != "auto":
        check_param("block_rows", block_rows, numbers.Integral, low=0)
    if lowrank and ridge != "auto" and not ridge > 0:
        raise TrainfreeError(f"method='lowrank' needs ridge > 0 (the low-rank kernel is singular); got ridge={ridge}. "
                             f"Use ridge='auto' or a positive multiple of the mean diagonal, e.g. 0.01.")
    off = dict(block_correction=False, block_rows=None, blocks=0)
    if not lowrank or block_rows is None or block_rows == 0:
        return None, off
    if on_dask and block_rows != "auto":
        raise TrainfreeError(f"block_rows={block_rows} needs the rows in memory, and a Dask array's are not: pass "
                             f"block_rows=0 (plain Nyström, what block_rows='auto' does for a Dask array).")
    if on_dask:
        note = "not available on a Dask array (its rows are never all in one place): plain Nyström"
        warnings.warn(f"The low-rank mode's block correction is {note}.", stacklevel=3)
        return None, dict(off, block_correction_skipped=note)
    return "auto" if block_rows == "auto" else int(block_rows), off


@dataclass
class LowRankFactor:
    """The low-rank detector's state after one pass over the rows: landmarks, their Nyström map and the sums.

    Build it with :func:`lowrank_factor`; :meth:`search_ridge` and :meth:`predict` reuse it.
    """

    features: Any
    kernel: str
    codes: np.ndarray
    Y: np.ndarray
    landmarks: Any
    nmap: NystromMap
    spectrum: LowRankSpectrum
    pool: np.ndarray
    Phi_pool: torch.Tensor
    info: dict
    Phi: torch.Tensor | None = None  # all n rows of Φ, kept when the rows are local (not a Dask array)
    device: torch.device = torch.device("cpu")  # of Φ, the landmarks' factor and the sums (a Dask array's: CPU)
    #: After :meth:`search_ridge`: its pick and the grid's neighbours, (multiple, absolute) pairs, that the
    #: block correction chooses from again (its kernel is not the searched one).
    ridge_candidates: list | None = None

    def search_ridge(self, grid, scale: float) -> tuple[float, dict]:
        """The grid's ridge (multiples of ``scale``, all > 0) of least leave-one-out log loss on the pool's rows."""
        losses, _ = lowrank_loss_path(self.Phi_pool, self.codes[self.pool], self.spectrum, [g * scale for g in grid],
                                      n_classes=self.Y.shape[1])
        best = int(np.argmin(losses))
        self.ridge_candidates = [(g, g * scale) for g in grid[max(best - 1, 0):best + 2]]
        return grid[best], dict(ridge_grid=list(grid), ridge_loo_log_loss=losses.tolist(),
                                ridge_selected_on=int(len(self.pool)))

    def predict(self, ridge: float) -> np.ndarray:
        """Every row's leave-one-out prediction F (n × C) at the absolute ``ridge`` > 0, block by block."""
        if self.Phi is not None:
            Y = torch.as_tensor(self.Y, device=self.device)
            return np.concatenate([lowrank_loo(self.Phi[a:a + BLOCK_ROWS], Y[a:a + BLOCK_ROWS], self.spectrum,
                                               ridge).cpu().numpy() for a in range(0, len(Y), BLOCK_ROWS)])
        return np.concatenate(_map(_block_predict, self.features, lambda sl: (
            self.kernel, self.landmarks, self.nmap, self.Y[sl], self.spectrum, ridge)))

    def leave_one_out(self, ridge: float, block_rows: int | str | None, seed: np.random.SeedSequence,
                      budget: float | None = None, *, single: bool = False) -> tuple[np.ndarray, float, dict, dict]:
        """F at the absolute ``ridge``, with the block correction of ``block_rows`` rows unless None ("auto":
        :data:`BLOCK_CORRECTION_ROWS` unless :data:`SKIP_REASONS` has one), its blocks solved in float32 when
        ``single``; the largest jitter (landmarks, blocks); what ``settings`` and ``timings`` record."""
        skipped = {}
        if block_rows == "auto":
            why = SKIP_REASONS.get(self.info["rank_stopped"])
            block_rows, skipped = (BLOCK_CORRECTION_ROWS, {}) if why is None else (
                None, dict(block_correction_skipped=why.format(rank=self.info["rank"])))
        if block_rows is None:
            return self.predict(ridge), float(self.info["landmark_jitter"]), skipped, {}
        t = time.perf_counter()
        F, info = self.predict_blocks(ridge, block_rows, seed, budget,
                                      dtype=torch.float32 if single else torch.float64)
        return F, max(float(self.info["landmark_jitter"]), info["block_jitter"]), info, {
            "block_correction_s": time.perf_counter() - t}

    def predict_blocks(self, ridge: float, rows: int, seed: np.random.SeedSequence, budget: float | None = None, *,
                       dtype: torch.dtype = torch.float64) -> tuple[np.ndarray, dict]:
        """F (n × C) for K ≈ ΦΦᵀ + blockdiag(K_bb − Φ_bΦ_bᵀ) on k-means clusters of Φ's rows of about ``rows``.

        The k-means (scikit-learn, seeded from ``seed``'s child ``"blocks"``) runs on Φ's :data:`CLUSTER_DIMS`
        leading principal directions; a cluster above 2·``rows`` is split at random. Rows in memory only.
        After :meth:`search_ridge`, the ridge is chosen again among its pick and the pick's grid neighbours,
        by the corrected leave-one-out log loss of all rows (``ridge`` is then not used).
        Returns F and what ``settings`` records (blocks, their sizes, the largest jitter, the ridge).
        """
        from sklearn.cluster import KMeans

        n = len(self.codes)
        k = max(1, -(-n // rows))
        rng = make_rng(child(seed, "blocks"))
        if k == 1:
            blocks = [np.arange(n)]
        else:
            top = self.Phi @ self.spectrum.V[:, -min(CLUSTER_DIMS, self.spectrum.rank):]  # eigh: ascending
            labels = KMeans(k, n_init=1, max_iter=CLUSTER_ITERATIONS,
                            random_state=int(rng.integers(2**31))).fit_predict(top.cpu().numpy())
            blocks = split_large(labels, rows, rng)
        largest = max(len(b) for b in blocks)
        candidates = self.ridge_candidates or [(None, ridge)]
        cached = sum(len(b) ** 2 for b in blocks) if len(candidates) > 1 else 0  # the residual blocks, kept
        size = torch.finfo(dtype).bits // 8
        check_memory(size * (3 * largest * largest + cached) + 8 * 2 * n * self.spectrum.rank, budget=budget,
                     device=self.device,
                     what=f"the block correction ({len(blocks)} blocks, the largest of {largest} rows)",
                     alternative="Pass a smaller block_rows, or block_rows=0 (plain Nyström).")
        Fs, jitter = block_loo_path(self.Phi, torch.as_tensor(self.Y, device=self.device), blocks, self._kernel_block,
                                    [r for _, r in candidates], dtype=dtype)
        info = dict(block_correction=True, block_rows=int(rows), blocks=len(blocks), block_largest=int(largest),
                    block_jitter=float(jitter), block_dtype=str(dtype).removeprefix("torch."))
        if len(candidates) > 1:
            Fs = [F.cpu() for F in Fs]
            losses = [log_loss(F.numpy(), self.codes, fit_temperature(F.numpy(), self.codes)) for F in Fs]
            best = int(np.argmin(losses))
            Fs = [Fs[best]]
            info.update(ridge=float(candidates[best][0]), block_ridge_grid=[float(g) for g, _ in candidates],
                        block_ridge_loo_log_loss=[float(v) for v in losses])
        return Fs[0].cpu().numpy(), info

    def _kernel_block(self, idx: np.ndarray) -> torch.Tensor:
        """The exact K(idx, idx), computed as the factor's kernel columns are (:func:`_columns`)."""
        if self.kernel == "precomputed":
            return torch.as_tensor(np.asarray(self.features)[np.ix_(idx, idx)], dtype=torch.float64, device=self.device)
        rows = torch.as_tensor(np.asarray(self.features[idx]), dtype=torch.float32, device=self.device)
        return arccos_gram(rows).to(torch.float64)


def lowrank_factor(features, kernel: str, codes: np.ndarray, n_classes: int, *, rank: int | None, ridges,
                   seed: np.random.SeedSequence, budget: float | None, device=None) -> LowRankFactor:
    """Landmarks by randomly pivoted Cholesky on the pool, then ΦᵀΦ and ΦᵀY summed over the row blocks.

    ``features`` are unit rows (arccos), the n × n kernel (precomputed), or a Dask array of unit
    rows. ``rank``: landmarks to take (None: :func:`rank_rule` on the absolute ``ridges``, those the
    ridge search will try). ``info`` records the rank, its rule (and the rule's path of rank and pool
    log loss), the pool's unexplained trace share and the landmarks' jitter. ``device``: where the kernel
    columns, Φ and the sums are computed (default CPU; a Dask array's always are on its workers' CPUs).
    """
    n = len(codes)
    pool = np.arange(n) if n <= POOL_SIZE else np.sort(chunk_partition(codes, POOL_SIZE, 1, child(seed, "pool"))[0])
    pool_rows = _gather(features, pool)
    cap = min(MAX_RANK if rank is None else int(rank), len(pool))
    local = not _is_dask(features)  # then Φ is kept (n × r), not computed twice
    dev = torch.device(device or "cpu") if local else torch.device("cpu")
    check_memory(8 * (3 * (len(pool) + BLOCK_ROWS) * cap + 4 * cap * cap + 2 * local * n * cap),
                 what=f"a rank-{cap} low-rank factor of {len(pool)} rows", alternative="Pass a smaller rank.",
                 budget=budget, device=dev)

    def pool_columns(S: np.ndarray) -> torch.Tensor:
        return _columns(pool_rows, kernel, pool[S] if kernel == "precomputed" else pool_rows[S], device=dev)

    diag = _diag(pool_rows, kernel, pool, dev)
    stop, path = rank_rule(codes[pool], n_classes, ridges, cap) if rank is None else (None, [])
    _, piv = rp_cholesky(pool_columns, diag, cap, rng=make_rng(child(seed, "landmarks")),
                         block=RANK_START if rank is None else 250, stop=stop)
    landmarks = pool[piv] if kernel == "precomputed" else pool_rows[piv]
    nmap = NystromMap.from_landmarks(_columns(pool_rows[piv], kernel, landmarks, torch.float64, dev))  # factorised
    Y = one_vs_rest(codes, n_classes)
    parts = _map(_block_sums, features, lambda sl: (kernel, landmarks, nmap, Y[sl], local))
    spectrum = LowRankSpectrum.from_sums(torch.as_tensor(sum(p[0] for p in parts), device=dev),
                                         torch.as_tensor(sum(p[1] for p in parts), device=dev))
    Phi = torch.cat([p[2] for p in parts]) if local else None
    del parts
    if Phi is None:
        Phi_pool = nmap(_columns(pool_rows, kernel, landmarks, device=dev))
    else:
        Phi_pool = Phi if len(pool) == n else Phi[pool]
    resid = float(diag.sum() - Phi_pool.square().sum()) / float(diag.sum())  # (Phi_pool and diag: on dev)
    k = len(piv)
    if rank is not None:
        stopped = "given"
    elif len(path) > 1 and path[-1][0] == k and path[-1][1] > (1 - RANK_LOSS_TOL) * path[-2][1]:
        stopped = "rule"
    elif k >= cap:
        stopped = "cap" if cap == MAX_RANK else "all rows"
    else:
        stopped = "residual"
    info = dict(rank=spectrum.rank, rank_stopped=stopped, rank_rule="given" if rank is not None else
                f"doublings from {RANK_START} while one lowers the leave-one-out log loss by ≥ {RANK_LOSS_TOL:.0%} "
                f"(at most {MAX_RANK})", rank_trace_residual=resid, landmarks_from=int(len(pool)),
                landmark_jitter=nmap.jitter, solve_device=str(dev),
                **({"rank_path": path} if rank is None else {}))
    return LowRankFactor(features, kernel, codes, Y, landmarks, nmap, spectrum, pool, Phi_pool, info, Phi, dev)


def rank_rule(codes: np.ndarray, n_classes: int, ridges, cap: int) -> tuple[Callable[[torch.Tensor], bool], list]:
    """The automatic rank's stopping rule for :func:`~trainfree.linalg.nystrom.rp_cholesky`, and its path.

    At :data:`RANK_START` landmarks and each doubling of the last check's (below ``cap``), the rule computes
    the pool's leave-one-out log loss of its labels ``codes`` at the best of ``ridges`` (absolute, all > 0;
    after the first check, the last best and its neighbours) from the factor so far, and stops once a
    doubling lowered it by less than :data:`RANK_LOSS_TOL` of the loss before. The path, a list of
    [rank, loss], fills as it runs (what ``settings["rank_path"]`` records).

    Examples
    --------
    >>> stop, path = rank_rule(np.array([0, 0, 1, 1]), 2, [0.1], cap=1000)
    >>> stop(torch.ones(4, 3, dtype=torch.float64)), path  # below RANK_START landmarks: nothing checked
    (False, [])
    """
    Y = one_vs_rest(codes, n_classes)
    path: list = []
    best = [0]  # index of the last check's best ridge

    def stop(F: torch.Tensor) -> bool:
        k = F.shape[1]
        # a round drops the pivots it drew twice, so "a doubling" is 1.8× the last check's rank or more
        if k < (1.8 * path[-1][0] if path else 0.9 * RANK_START) or k >= cap:
            return False
        spectrum = LowRankSpectrum.from_sums(F.T @ F, F.T @ torch.as_tensor(Y, device=F.device))
        near = slice(max(best[0] - 1, 0), best[0] + 2) if path else slice(None)  # later: the last best and its two
        losses, _ = lowrank_loss_path(F, codes, spectrum, list(ridges)[near], n_classes=n_classes)
        best[0] = (near.start or 0) + int(np.argmin(losses))
        path.append([int(k), float(losses.min())])
        return len(path) > 1 and path[-1][1] > (1 - RANK_LOSS_TOL) * path[-2][1]

    return stop, path


def _is_dask(features) -> bool:
    return type(features).__module__.startswith("dask.")


def _gather(features, idx: np.ndarray) -> np.ndarray:
    """Rows ``idx`` (unit rows, or rows of a precomputed kernel), gathered to this process."""
    out = features[idx]
    return np.asarray(out.compute() if _is_dask(features) else out)


def _columns(rows, kernel: str, landmarks, dtype: torch.dtype = torch.float32, device=None) -> torch.Tensor:
    """K(rows, landmarks), returned in float64: arc-cosine of unit rows (computed in ``dtype``: float32 halves
    the cost of the n × r × features product), or columns of a precomputed kernel's rows."""
    if kernel == "precomputed":  # rows are rows of K; landmarks are column indices
        return torch.as_tensor(np.asarray(rows)[:, landmarks], dtype=torch.float64, device=device)
    Xa = torch.as_tensor(np.asarray(rows), dtype=dtype, device=device)
    return arccos_gram(Xa, torch.as_tensor(np.asarray(landmarks), dtype=dtype, device=device)).to(torch.float64)


def _diag(rows, kernel: str, idx: np.ndarray, device) -> torch.Tensor:
    if kernel == "precomputed":
        return torch.as_tensor(np.asarray(rows)[np.arange(len(idx)), idx], dtype=torch.float64, device=device)
    return torch.full((len(rows),), 0.5, dtype=torch.float64, device=device)  # H∞ of unit rows


def _block_sums(block, kernel, landmarks, nmap, Yb, keep: bool = False) -> tuple:
    """One block's ΦᵀΦ and ΦᵀY (what a worker sends back), and its Φ when ``keep``."""
    Phi = nmap(_columns(block, kernel, landmarks, device=nmap.L.device))  # where the factor is
    Yb = torch.as_tensor(Yb, dtype=torch.float64, device=Phi.device)
    return (Phi.T @ Phi).cpu().numpy(), (Phi.T @ Yb).cpu().numpy(), Phi if keep else None


def _block_predict(block, kernel, landmarks, nmap, Yb, spectrum, ridge) -> np.ndarray:
    """One block's leave-one-out predictions F from the sums over all rows."""
    Phi = nmap(_columns(block, kernel, landmarks))
    return lowrank_loo(Phi, torch.as_tensor(Yb, dtype=torch.float64), spectrum, ridge).numpy()


def _blocks(features):
    """(block of rows, slice) pairs: Dask partitions (delayed), or BLOCK_ROWS slices of an array."""
    if _is_dask(features):
        if features.ndim != 2:
            raise TrainfreeError("A Dask array for mislabel_score must be 2-D (rows × features).")
        starts = np.cumsum((0, *features.chunks[0]))
        blocks = features.rechunk({1: -1}).to_delayed().ravel()
        return [(b, slice(int(a), int(z))) for b, a, z in zip(blocks, starts[:-1], starts[1:])]
    n = len(features)
    return [(features[a:a + BLOCK_ROWS], slice(a, min(a + BLOCK_ROWS, n))) for a in range(0, n, BLOCK_ROWS)]


def _map(fn, features, args_of) -> list:
    """``fn(block, *args_of(slice))`` for every block; a Dask array's on the Dask scheduler in effect."""
    blocks = _blocks(features)
    if not _is_dask(features):
        return [fn(b, *args_of(sl)) for b, sl in blocks]
    import dask as dask_mod

    # Landmarks, factor and spectrum are small (r × d, r × r): sent with every task.
    return list(dask_mod.compute(*[dask_mod.delayed(fn)(b, *args_of(sl)) for b, sl in blocks]))
