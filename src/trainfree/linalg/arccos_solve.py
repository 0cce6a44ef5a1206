"""Solves with the arc-cosine Gram matrix H = H∞(X): α = (H + λI)⁻¹Y and d = diag((H + λI)⁻¹).

Everything the CG-score (and a leave-one-out detector built on the same algebra) needs from H:
with both, the leave-one-out quantities of every example and every label column follow in O(n·c).

``exact_solve``
    H written block by block into one n×n buffer, factorised in place, d from the inverted factor
    in the same buffer: n² floats in all, so about 50 000 examples in float64 on 24 GiB.
``large_solve``
    For n past that. α by preconditioned conjugate gradients on the full H (all columns of Y at
    once), H kept as its packed lower triangle (float32 by default: n²/2 × 4 bytes) and a rank-r
    Nyström preconditioner; d from class-stratified random chunks of the data, each chunk's
    H + λI factorised exactly and its diag of the inverse averaged over repeated partitions. The chunk
    factorisations are independent work units (joblib, so a Dask cluster can run them) that can be
    saved to a folder as they finish and reused by a resumed run.
"""

from __future__ import annotations

import numbers
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._defaults import CHUNK_SIZE, N_CHUNK_REPEATS
from .._device import check_memory, concurrent_units, resolve_dtype
from .._random import SeedLike, child, seed_record, unit_child
from .._random import rng as make_rng
from .._runs import UnitStore, data_fingerprint, run_seed, run_units
from .._validation import check_n_jobs, check_param
from ..kernels.arccos import arccos_gram, arccos_lower_blocks
from .cholesky import cholesky_solve_diag, jittered_cholesky
from .nystrom import nystrom_preconditioner, rp_cholesky
from .pcg import conjugate_gradients

BLOCK_ROWS = 1024  # rows of H computed at a time: 2 × BLOCK_ROWS × n floats of temporaries


def exact_need(n: int, n_features: int, item: int = 8) -> int:
    """Bytes :func:`exact_solve` allocates for n examples: the n×n buffer, the block temporaries and X."""
    return (n * n + 2 * min(BLOCK_ROWS, n) * n + n * n_features) * item


def exact_solve(Xn, Y, *, ridge: float = 0.0, dtype: Any = torch.float64,
                device: str | torch.device = "cpu") -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """α = (H + ridge·I)⁻¹Y and d = diag((H + ridge·I)⁻¹) for H = H∞(Xn), exactly, in one n×n buffer.

    Parameters
    ----------
    Xn : array of shape (n, n_features)
        Rows of unit L2 norm (see :func:`trainfree.scores.cg.unit_rows`).
    Y : array of shape (n, c)
        Right-hand sides (e.g. one-vs-rest label columns); all are solved with the one factor.
    ridge : float, default=0.0
        Absolute ridge λ ≥ 0 added to the diagonal.

    Returns
    -------
    alpha : ndarray (n, c)
    d : ndarray (n,)
    info : dict
        ``jitter``: the diagonal jitter that the factorisation needed on top of ``ridge`` (0.0 when none).

    Examples
    --------
    >>> Xn = np.eye(3)
    >>> alpha, d, info = exact_solve(Xn, np.ones((3, 1)))   # H = I/2
    >>> alpha[:, 0].round(12).tolist(), d.round(12).tolist()
    ([2.0, 2.0, 2.0], [2.0, 2.0, 2.0])
    """
    dtype = resolve_dtype(dtype)
    Xt = torch.as_tensor(np.asarray(Xn), dtype=dtype, device=device)
    Yt = torch.as_tensor(np.asarray(Y), dtype=dtype, device=device)
    H = torch.empty(len(Xt), len(Xt), dtype=dtype, device=device)

    def fill(buf: torch.Tensor) -> None:  # the lower triangle of H + ridge·I; the factorisation reads no more
        for start, stop, block in arccos_lower_blocks(Xt, block_rows=BLOCK_ROWS):
            buf[start:stop, :stop] = block
        if ridge:
            buf.diagonal().add_(ridge)

    fill(H)
    L, jitter = jittered_cholesky(H, refill=fill)
    alpha, d = cholesky_solve_diag(L, Yt)  # overwrites L on the CPU: the buffer's last use
    return alpha.cpu().numpy(), d.cpu().numpy(), {"jitter": jitter}


def large_need(n: int, n_features: int, *, rank: int, chunk_size: int, gram_dtype: torch.dtype,
               concurrent: int = 1) -> int:
    """Bytes :func:`large_solve` needs: packed triangle, preconditioner, CG vectors and concurrent chunk units."""
    item = torch.finfo(gram_dtype).bits // 8
    packed = (n * (n + BLOCK_ROWS)) // 2 * item
    factor = n * rank + 2 * rank * rank + 3 * n * 250  # F, FᵀF and its eigenvectors, a block of columns
    return packed + 8 * (factor + n * n_features + 2 * BLOCK_ROWS * n) + concurrent * exact_need(
        chunk_size, n_features)


def large_solve(Xn, Y, *, ridge: float = 0.0, strata=None, chunk_size: int = CHUNK_SIZE,
                n_chunk_repeats: int = N_CHUNK_REPEATS, rank: int | None = None, tol: float = 1e-3, max_iter: int = 500, gram_dtype: str = "float32",
                random_state: SeedLike = None, n_jobs: int | None = None, checkpoint: str | Path | None = None,
                max_memory_bytes: float | None = None,
                progress: bool = False) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """α = (H + ridge·I)⁻¹Y by preconditioned CG and d ≈ diag((H + ridge·I)⁻¹) from exact chunks, at large n.

    Parameters
    ----------
    Xn : array of shape (n, n_features)
        Rows of unit L2 norm.
    Y : array of shape (n, c)
        Right-hand sides, all solved together (one pass over H per iteration serves every column).
    ridge : float, default=0.0
        Absolute ridge λ ≥ 0.
    strata : array of shape (n,), optional
        Class codes: every chunk gets the same class proportions as the whole set.
    chunk_size : int, default=5000
        Examples per chunk; d_i is diag((H_S + λI)⁻¹) over the chunk S that holds i, which ranks
        examples almost as the full-data value does (Spearman 0.998 at n = 10 000) but is smaller; one
        common factor, (n / chunk size)^β with β measured on half-chunks, corrects its scale.
    n_chunk_repeats : int, default=3
        Independent random partitions averaged.
    rank : int, optional
        Nyström landmarks of the preconditioner, chosen by randomly pivoted Cholesky; default
        max(1000, n // 20). The iterations grow with n at a fixed rank (Fashion-MNIST, 20% flipped
        labels, tol 1e-3: 39 at 20 000 and 127 at 60 000 with rank 1 000) and fall by about 0.7× per
        doubling of the rank (27 at 20 000 with rank 2 000, 40 at 30 000 with rank 3 000).
    tol : float, default=1e-3
        Relative residual ‖y − (H + λI)α‖/‖y‖ at which a column stops. At n = 20 000 (Fashion-MNIST,
        rank 1 000), 1e-2 / 1e-3 / 1e-4 take 17 / 26 / 45 iterations and leave α off by 4e-2 / 2e-2 /
        7e-3 of its largest entry; CG then ranks like exact α to Spearman 0.9995 / 0.99999 / 1.000000.
    max_iter : int, default=500
    gram_dtype : {"float32", "float64"}, default="float32"
        Storage of the packed lower triangle of H (n²/2 entries); products accumulate in that dtype.
    random_state : None, int, Generator or SeedSequence
        Seeds the chunk partitions and the landmarks (each from its own child, drawn before dispatch).
    n_jobs : int or None
        Chunk factorisations run at once (joblib; a Dask backend works).
    checkpoint : str or Path, optional
        Folder where each finished chunk unit and the solution are saved; a rerun resumes from it.

    Returns
    -------
    alpha : ndarray (n, c)
    d : ndarray (n,)
    info : dict
        ``iterations``, ``residual``, ``converged``, ``chunk_size``, ``n_chunks``, ``n_chunk_repeats``,
        ``rank``, ``tol``, ``gram_dtype``, ``jitter`` (largest over chunks), ``d_scale`` and ``d_exponent``
        (the chunk-size correction of d, see the code), ``seed`` and ``timings``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> Xn = rng.normal(size=(300, 20)); Xn /= np.linalg.norm(Xn, axis=1, keepdims=True)
    >>> alpha, d, info = large_solve(Xn, np.ones((300, 1)), chunk_size=150, rank=50, random_state=0)
    >>> info["converged"], info["n_chunks"]
    (True, 2)
    """
    t0 = time.perf_counter()
    Xn = np.ascontiguousarray(Xn, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    Y = Y[:, None] if Y.ndim == 1 else Y
    n = len(Xn)
    check_param("ridge", ridge, numbers.Real, low=0)
    check_param("chunk_size", chunk_size, numbers.Integral, low=2)
    check_param("n_chunk_repeats", n_chunk_repeats, numbers.Integral, low=1)
    rank = max(1000, n // 20) if rank is None else rank
    check_param("rank", rank, numbers.Integral, low=1)
    check_param("tol", tol, numbers.Real, low=0, low_open=True)
    check_param("max_iter", max_iter, numbers.Integral, low=1)
    n_jobs = check_n_jobs(n_jobs)
    gdtype = resolve_dtype(gram_dtype)
    chunk_size, rank = min(int(chunk_size), n), min(int(rank), n)
    check_memory(large_need(n, Xn.shape[1], rank=rank, chunk_size=chunk_size, gram_dtype=gdtype,
                            concurrent=concurrent_units(n_jobs)),
                 what=f"The large-n solve of {n} examples (packed {gram_dtype} Gram triangle, rank-{rank} "
                      f"preconditioner, chunks of {chunk_size})",
                 alternative="Use gram_dtype='float32', a smaller rank or chunk_size, or fewer n_jobs.",
                 budget=max_memory_bytes)
    strata = np.zeros(n, dtype=np.int64) if strata is None else np.unique(np.asarray(strata), return_inverse=True)[1]
    seed = run_seed(random_state, checkpoint)
    settings = {"chunk_size": chunk_size, "n_chunk_repeats": int(n_chunk_repeats), "rank": rank, "tol": float(tol),
                "max_iter": int(max_iter), "gram_dtype": str(gdtype).removeprefix("torch."), "ridge": float(ridge)}
    store = None
    if checkpoint is not None:
        store = UnitStore(checkpoint, {"what": "large_solve", **settings, "seed": seed_record(seed),
                                       "data": data_fingerprint(Xn, Y, strata)})
    timings = {}

    # 1. d from chunks: the partitions are drawn here, so a unit's result depends only on its rows.
    chunks = chunk_partition(strata, chunk_size, n_chunk_repeats, child(seed, "chunks"))
    units = [(f"chunk-{k:05d}", (Xn, idx, float(ridge))) for k, idx in enumerate(chunks)]
    t = time.perf_counter()
    outs = run_units(_chunk_unit, units, store=store, n_jobs=n_jobs, progress=progress, desc="chunk factorisations")
    d = np.zeros(n)
    for (key, _), idx in zip(units, chunks):
        d[idx] += outs[key]["d"]
    d /= n_chunk_repeats
    # A chunk's d is the inverse of a Schur complement against fewer examples, so it is too small, by a factor
    # that grows like a power of n / chunk size (a learning curve). The exponent is read off the same chunks
    # factorised in halves, and one common factor rescales d: the ranking is unchanged, the sign rule's
    # cross term α − d·y much less biased (docs/benchmarks.md, "Fidelity of the large and stochastic methods").
    ratios = np.concatenate([outs[key]["d"] / outs[key]["d_half"] for key, _ in units])
    exponent = max(float(np.median(np.log2(ratios))), 0.0)
    d_scale = (n / np.mean([idx.size for idx in chunks])) ** exponent
    d *= d_scale
    jitter = max(float(o["jitter"]) for o in outs.values())
    timings["chunks_s"] = time.perf_counter() - t

    # 2. α by PCG on the full H, unless a saved run already solved it.
    saved = store.load("solution") if store is not None else None
    if saved is not None:
        alpha, cg_info = saved["alpha"], {k: saved[k].item() for k in ("iterations", "residual", "converged")}
        cg_info["lambda_r"] = saved["lambda_r"].item()
    else:
        try:
            alpha, cg_info = _pcg_solve(Xn, Y, ridge, rank, tol, max_iter, gdtype, child(seed, "landmarks"), timings)
        except KeyboardInterrupt:
            if store is None:
                raise
            raise KeyboardInterrupt(f"all {len(units)} chunk factorisations are saved in {store.folder}; the "
                                    f"conjugate-gradient solve restarts when the same call is run again") from None
        if store is not None:
            store.save("solution", {"alpha": alpha, **cg_info})
    if not cg_info["converged"]:
        warnings.warn(f"Conjugate gradients stopped after {cg_info['iterations']} iterations at relative residual "
                      f"{cg_info['residual']:.2e} (tol {tol:g}). Raise max_iter or rank, or use gram_dtype='float64' "
                      f"when float32 rounding sets the floor.", stacklevel=2)
    timings["total_s"] = time.perf_counter() - t0
    info = {**cg_info, **settings, "n_chunks": len(chunks) // n_chunk_repeats, "jitter": jitter,
            "d_scale": float(d_scale), "d_exponent": exponent,
            "seed": seed_record(seed), "timings": timings}
    return alpha, d, info


def chunk_partition(strata: np.ndarray, chunk_size: int, n_chunk_repeats: int,
                    seed: np.random.SeedSequence) -> list[np.ndarray]:
    """``n_chunk_repeats`` random partitions of range(n) into ⌈n / chunk_size⌉ chunks with equal class proportions.

    Each repeat shuffles every stratum and deals the concatenated strata round-robin, so each chunk
    receives every class in proportion. Repeat r draws from its own child seed.
    """
    n = len(strata)
    m = max(1, -(-n // chunk_size))
    parts = []
    for r in range(n_chunk_repeats):
        rng = make_rng(unit_child(seed, r))
        order = np.concatenate([rng.permutation(np.flatnonzero(strata == s)) for s in np.unique(strata)])
        parts.extend(order[k::m] for k in range(m))  # in dealing order: every other member is again stratified
    return parts


def _chunk_unit(Xn: np.ndarray, idx: np.ndarray, ridge: float) -> dict[str, np.ndarray]:
    """One work unit: diag((H_S + λI)⁻¹) of a chunk S, and of its two halves, by exact in-place factorisations.

    The halves (a quarter of the chunk's cost) measure how fast d grows with the number of examples.
    """
    _, d, info = exact_solve(Xn[idx], np.zeros((idx.size, 0)), ridge=ridge)
    d_half = np.empty_like(d)
    jitter = info["jitter"]
    for half in (slice(0, None, 2), slice(1, None, 2)):
        _, d_half[half], info = exact_solve(Xn[idx[half]], np.zeros((idx[half].size, 0)), ridge=ridge)
        jitter = max(jitter, info["jitter"])
    return {"d": d, "d_half": d_half, "jitter": np.array(jitter)}


class PackedGram:
    """The lower triangle of H∞(X) in row blocks (n²/2 entries), applied as a symmetric matrix.

    ``matvec(V)`` reads every block once and uses it twice (``B @ V`` for its rows, ``Bᵀ @ V`` for
    the columns left of its diagonal block), so one product costs one pass over n²/2 stored entries.
    """

    def __init__(self, Xt: torch.Tensor, dtype: torch.dtype, ridge: float = 0.0) -> None:
        self.dtype, self.ridge = dtype, ridge
        self.blocks = [(s, e, b.to(dtype)) for s, e, b in arccos_lower_blocks(Xt, block_rows=BLOCK_ROWS)]

    def matvec(self, V: torch.Tensor) -> torch.Tensor:
        Vs = V.to(self.dtype)
        VT = Vs.T.contiguous()
        out, outT = torch.zeros(Vs.shape, dtype=self.dtype), torch.zeros(VT.shape, dtype=self.dtype)
        for s, e, B in self.blocks:
            out[s:e].addmm_(B, Vs[:e])
            if s:  # (Bᵀ V)ᵀ = Vᵀ B: B stays the row-major right operand (B[:, :s].T @ V was 25% slower)
                outT[:, :s].addmm_(VT[:, s:e], B[:, :s])
        out = out.add_(outT.T).to(V.dtype)
        return out + self.ridge * V if self.ridge else out


def _pcg_solve(Xn, Y, ridge, rank, tol, max_iter, gdtype, seed, timings):
    t = time.perf_counter()
    Xt = torch.from_numpy(Xn)
    gram = PackedGram(Xt, gdtype, ridge)
    timings["gram_s"] = time.perf_counter() - t
    t = time.perf_counter()

    def columns(S: np.ndarray) -> torch.Tensor:  # H[:, S], with the exact diagonal of arccos_gram
        C = arccos_gram(Xt, Xt[S])
        C[S, torch.arange(len(S))] = 0.5
        return C

    F, _ = rp_cholesky(columns, torch.full((len(Xt),), 0.5, dtype=torch.float64), rank, rng=make_rng(seed))
    precond, pinfo = nystrom_preconditioner(F, ridge=ridge)
    timings["preconditioner_s"] = time.perf_counter() - t
    t = time.perf_counter()
    alpha, info = conjugate_gradients(gram.matvec, torch.from_numpy(Y), precond=precond, tol=tol, max_iter=max_iter)
    timings["cg_s"] = time.perf_counter() - t
    return alpha.numpy(), {**info, "lambda_r": pinfo["lambda_r"]}
