"""Dense and iterative solvers shared by the scores.

A Cholesky factorisation done in place that recovers from near-singularity, diag(H⁻¹) from the
factor without a second n×n matrix, preconditioned conjugate gradients on several right-hand sides
at once, and a Nyström preconditioner from a few columns of H chosen by randomly pivoted Cholesky.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import contextmanager

import numpy as np
import torch
from scipy.linalg import get_lapack_funcs
from threadpoolctl import threadpool_limits

from ._errors import TrainfreeError

JITTERS = (0.0, 1e-10, 1e-8, 1e-6, 1e-4, 1e-2)  # diagonal jitter tried in turn, relative to the mean diagonal


def jittered_cholesky(H: torch.Tensor, *, what: str = "The Gram matrix H",
                      refill: Callable[[torch.Tensor], None] | None = None) -> tuple[torch.Tensor, float]:
    """Lower Cholesky factor of ``H``, computed in place, with the smallest jitter from :data:`JITTERS` that works.

    The factor overwrites ``H`` (its upper triangle is zeroed; only the lower triangle of ``H`` is
    read), so a factorisation needs no second n×n matrix when ``H`` is row-major (C-contiguous).
    A failed attempt destroys ``H``:
    ``refill(H)`` must then write the original matrix back into the buffer (e.g. by recomputing it
    from the data); without ``refill`` a copy of ``H`` is kept up front.

    A factorisation counts as failed when a pivot² falls below 10·sqrt(eps)·mean(diag): kernels
    built from arccos (whose slope is infinite at 1) make duplicate rows singular only up to
    ~sqrt(eps), so Cholesky can "succeed" with a tiny pivot and return meaningless solves.

    Returns
    -------
    L : Tensor
        The factor of ``H + jitter·I`` (the same storage as ``H``).
    jitter : float
        The absolute jitter added to the diagonal (0.0 when none was needed).

    Examples
    --------
    >>> L, jitter = jittered_cholesky(torch.tensor([[4.0, 2.0], [2.0, 3.0]], dtype=torch.float64))
    >>> L.diagonal().tolist(), jitter
    ([2.0, 1.4142135623730951], 0.0)
    """
    scale, tiny = float(H.diagonal().mean()), 10 * torch.finfo(H.dtype).eps ** 0.5
    backup = H.clone() if refill is None else None
    info = torch.empty((), dtype=torch.int32, device=H.device)
    for k, jitter in enumerate(JITTERS):
        if k:  # the previous attempt overwrote H
            refill(H) if refill is not None else H.copy_(backup)
        if jitter:
            H.diagonal().add_(jitter * scale)
        # Through the transpose: LAPACK works in column-major order, and torch factorises a row-major
        # matrix in a column-major copy; Hᵀ's upper triangle is H's lower one, and Uᵀ = L.
        torch.linalg.cholesky_ex(H.mT, upper=True, out=(H.mT, info))
        if int(info) == 0 and float(H.diagonal().min()) ** 2 > tiny * scale:
            return H, jitter * scale
    raise TrainfreeError(f"{what} is singular even with a diagonal jitter of {JITTERS[-1]:g}×mean(diag): the "
                         f"data have (near-)duplicate rows with conflicting labels. Remove duplicates, e.g. with "
                         f"np.unique(X, axis=0, return_index=True).")


def cholesky_solve_diag(L: torch.Tensor, Y: torch.Tensor, *,
                        block_rows: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
    """X = H⁻¹Y and diag(H⁻¹) from the lower Cholesky factor L of H (row-major), without a second n×n matrix.

    H⁻¹ = L⁻ᵀL⁻¹, so (H⁻¹)_jj is the squared norm of column j of L⁻¹. On the CPU, L's storage read
    in Fortran order is the upper triangular Lᵀ: LAPACK's ``potrs`` solves with it and ``trtri`` then
    inverts it in place (a third of the flops of a full inverse); the column norms are summed over
    row blocks. L is overwritten by L⁻¹. On a GPU, ``cholesky_solve`` and ``cholesky_inverse`` are
    used (two extra n×n matrices of GPU memory: 3.3 GiB peak for n = 12 000 in float64 on an H100) and L is left intact.

    Examples
    --------
    >>> L = torch.linalg.cholesky(torch.tensor([[4.0, 2.0], [2.0, 3.0]], dtype=torch.float64)).contiguous()
    >>> X, d = cholesky_solve_diag(L, torch.ones(2, 1, dtype=torch.float64))   # H⁻¹ = [[3, -2], [-2, 4]] / 8
    >>> X[:, 0].round(decimals=12).tolist(), d.round(decimals=12).tolist()
    ([0.125, 0.25], [0.375, 0.5])
    """
    if L.device.type != "cpu":
        return torch.cholesky_solve(Y, L), torch.cholesky_inverse(L).diagonal().clone()
    if not L.is_contiguous():
        raise ValueError("cholesky_solve_diag expects a row-major (C-contiguous) factor")
    U = L.numpy().T  # Fortran-ordered Lᵀ: LAPACK reads it without a copy
    potrs, trtri = get_lapack_funcs(("potrs", "trtri"), (U,))
    with lapack_threads():
        X, info = potrs(U, Y.numpy(), lower=0)
        if info == 0:
            _, info = trtri(U, lower=0, overwrite_c=1)
    if info != 0:
        raise TrainfreeError(f"The Cholesky factor is singular (LAPACK info={info}); this should not happen after "
                             f"jittered_cholesky. Report it with the data size.")
    inv = L.numpy()  # now L⁻¹ in C order
    d = np.zeros(len(inv), dtype=inv.dtype)
    for start in range(0, len(inv), block_rows):
        d += np.square(inv[start:start + block_rows]).sum(0)
    return torch.from_numpy(np.asarray(X)), torch.from_numpy(d)


@contextmanager
def lapack_threads():
    """Run the LAPACK calls inside on the cores no other process is using: all of them on an idle machine.

    Multi-threaded LAPACK whose threads spin-wait between many small steps collapses when other
    processes want the same cores: on 2 cores at load average 7-8, torch's ``eigh`` of 2 000 × 2 000
    took 84 s with two threads against 6.2 s with one (and 36 s in a λ search beside one other busy
    process), and SciPy's ``trtri`` was 5× slower (n = 3 000-6 000); on an idle machine two threads make
    ``trtri`` 2.3× faster (n = 10 000). So the calls inside get the cores no other process is running
    on at the moment (from /proc: runnable threads less this process's own), at least one. Cholesky
    and matrix products keep their speed under load, so only the calls inside this context are
    limited. Only speed depends on it, not the numbers beyond rounding.
    """
    limit = _lapack_threads()
    if limit is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(limit)
    try:
        with threadpool_limits(limits=limit, user_api="blas"):
            yield
    finally:
        torch.set_num_threads(before)


def _lapack_threads() -> int | None:
    """Threads for the limited LAPACK calls: None (all) when every core is idle, else the idle cores (≥ 1)."""
    cpus = os.cpu_count() or 1
    others = _other_runnable()
    if others is None:  # no /proc: fall back on the load average, which counts this process too
        try:
            others = os.getloadavg()[0] - cpus
        except OSError:
            return None
    free = cpus - round(others)
    return None if free >= cpus else max(1, free)


def _other_runnable() -> int | None:
    """Threads of other processes runnable right now (Linux /proc), or None where unknown."""
    try:
        with open("/proc/loadavg") as fh:
            runnable = int(fh.read().split()[3].split("/")[0])
        own = 0
        for task in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{task}/stat") as fh:
                own += fh.read().rsplit(")", 1)[1].split()[0] == "R"
    except (OSError, ValueError, IndexError):
        return None
    return max(0, runnable - own)


def conjugate_gradients(matvec: Callable[[torch.Tensor], torch.Tensor], B: torch.Tensor, *,
                        precond: Callable[[torch.Tensor], torch.Tensor] | None = None, tol: float = 1e-6,
                        max_iter: int = 500, X0: torch.Tensor | None = None) -> tuple[torch.Tensor, dict]:
    """Solve A X = B for symmetric positive definite A by preconditioned conjugate gradients, all columns at once.

    Every column runs its own PCG recurrence, but one ``matvec`` call per iteration serves them all,
    so a matrix that is expensive to apply (read from memory or recomputed) is read once per
    iteration whatever the number of columns. A column stops when its relative residual
    ‖b − Ax‖/‖b‖ (from the recurrence) is at most ``tol``.

    Returns
    -------
    X : Tensor shaped like B
    info : dict
        ``iterations``, ``residual`` (the largest relative residual over columns, recomputed as
        ‖B − AX‖/‖B‖ at the end), ``converged`` (bool).

    Examples
    --------
    >>> A = torch.tensor([[4.0, 1.0], [1.0, 3.0]], dtype=torch.float64)
    >>> X, info = conjugate_gradients(lambda V: A @ V, torch.eye(2, dtype=torch.float64), tol=1e-12)
    >>> torch.allclose(X, torch.linalg.inv(A)), info["iterations"] <= 2
    (True, True)
    """
    precond = precond or (lambda R: R)
    X = torch.zeros_like(B) if X0 is None else X0.clone()
    R = B - matvec(X) if X0 is not None else B.clone()
    bnorm = B.norm(dim=0).clamp_min(torch.finfo(B.dtype).tiny)
    Z = precond(R)
    P = Z.clone()
    rz = (R * Z).sum(0)
    active = R.norm(dim=0) / bnorm > tol
    it = 0
    while bool(active.any()) and it < max_iter:
        AP = matvec(P)
        step = torch.where(active, rz / (P * AP).sum(0), torch.zeros_like(rz))
        X += step * P
        R -= step * AP
        it += 1
        active &= R.norm(dim=0) / bnorm > tol
        Z = precond(R)
        rz_new = (R * Z).sum(0)
        P = Z + torch.where(active, rz_new / rz, torch.zeros_like(rz)) * P
        rz = rz_new
    residual = float(((B - matvec(X)).norm(dim=0) / bnorm).max())
    return X, {"iterations": it, "residual": residual, "converged": residual <= 10 * tol}


def rp_cholesky(columns: Callable[[np.ndarray], torch.Tensor], diag: torch.Tensor, rank: int, *,
                rng: np.random.Generator, block: int = 250) -> tuple[torch.Tensor, np.ndarray]:
    """Low-rank factor F (n×k, k ≤ rank) with F Fᵀ ≈ H, by block randomly pivoted Cholesky.

    Chen, Epperly, Tropp & Webber (2024): each round draws ``block`` pivots with probability
    proportional to the diagonal of the residual H − F Fᵀ, so examples the factor already explains
    are rarely picked again and clusters get landmarks in proportion to what they leave unexplained.
    F Fᵀ is the Nyström approximation of H on the chosen pivots; H itself is only read through
    ``columns(S)`` = H[:, S] (float64, n×|S|), r columns in all. The first round, drawn from the
    diagonal of H, is uniform when that diagonal is constant. Cost: n·r² flops for the updates, plus
    the columns.

    Returns
    -------
    F : Tensor (n, k), float64
    pivots : ndarray (k,)

    Examples
    --------
    >>> H = torch.tensor([[2.0, 1.0, 0.0], [1.0, 2.0, 0.0], [0.0, 0.0, 1e-9]], dtype=torch.float64)
    >>> F, piv = rp_cholesky(lambda S: H[:, S], H.diagonal().clone(), 2, rng=np.random.default_rng(0), block=1)
    >>> torch.allclose(F @ F.T, H, atol=1e-8), sorted(piv.tolist())
    (True, [0, 1])
    """
    n = len(diag)
    rank = min(rank, n)
    F = torch.zeros(n, rank, dtype=torch.float64)
    resid = diag.to(torch.float64).clone()
    pivots, k = np.empty(0, dtype=np.int64), 0
    floor = float(resid.max()) * n * torch.finfo(torch.float64).eps  # residual at rounding level: nothing left
    while k < rank:
        p = resid.clamp_min(0.0).numpy()
        if p.sum() <= floor:
            break
        S = np.setdiff1d(rng.choice(n, min(block, rank - k), p=p / p.sum()), pivots)  # sorted, distinct, new
        G = columns(S) - F[:, :k] @ F[S, :k].T  # residual columns
        L, _ = jittered_cholesky(G[S].clone(), what="A block of randomly pivoted Cholesky")
        G = torch.linalg.solve_triangular(L, G.T, upper=False).T  # new columns of F: G L⁻ᵀ
        F[:, k:k + len(S)] = G
        resid -= G.square().sum(1)
        pivots, k = np.concatenate([pivots, S]), k + len(S)
    return F[:, :k], pivots


def nystrom_preconditioner(F: torch.Tensor, *, ridge: float = 0.0) -> tuple[Callable[[torch.Tensor], torch.Tensor],
                                                                            dict]:
    """Inverse of the Nyström preconditioner (Frangella, Tropp & Udell, 2023) of H + ridge·I, from H ≈ F Fᵀ.

    With F Fᵀ = U Λ̂ Uᵀ (F of shape n×r, e.g. from :func:`rp_cholesky`), the returned function applies
    P⁻¹ = (λ̂_r + μ) U (Λ̂ + μI)⁻¹ Uᵀ + (I − UUᵀ), μ = ridge, which maps the r largest eigenvalues of
    H to about λ̂_r + μ. Written as I + F M Fᵀ with an r×r matrix M, so U is never formed: built
    in O(n r²) time (FᵀF), applied in O(n r) per column, n·r memory (F itself). Keep F in float64:
    M's entries reach 1/λ̂_r and F's singular values √λ̂_1, so float32 rounding of F M Fᵀ would swamp
    the λ̂_r/λ̂_1 ≈ 1e-5 that P⁻¹ has to resolve.

    Examples
    --------
    >>> H = torch.diag(torch.tensor([100.0, 10.0, 1.0], dtype=torch.float64))
    >>> apply, info = nystrom_preconditioner(H[:, :2].sqrt())   # F Fᵀ = diag(100, 10, 0)
    >>> (apply(H) @ torch.ones(3, dtype=torch.float64)).round(decimals=9).tolist()  # P⁻¹H: top two moved to 10
    [10.0, 10.0, 1.0]
    """
    evals, V = torch.linalg.eigh(F.T @ F)  # FᵀF = V Λ̂ Vᵀ: F = U Λ̂^½ Vᵀ, cheaper than an n×r SVD
    keep = evals > evals.max() * torch.finfo(F.dtype).eps * len(F)
    lam, V = evals[keep], V[:, keep]
    floor = float(lam.min()) + ridge
    # U D Uᵀ = F V Λ̂^-½ D Λ̂^-½ Vᵀ Fᵀ with D = floor / (Λ̂ + μ) − 1
    M = (V * ((floor / (lam + ridge) - 1.0) / lam)) @ V.T

    def apply(Rm: torch.Tensor) -> torch.Tensor:
        return Rm + F @ (M @ (F.T @ Rm))

    return apply, {"rank": int(keep.sum()), "lambda_r": float(lam.min()), "lambda_1": float(lam.max())}
