"""Dense and iterative solvers shared by the scores.

A Cholesky factorisation done in place that recovers from near-singularity, diag(H⁻¹) from the
factor without a second n×n matrix, preconditioned conjugate gradients on several right-hand sides
at once, and a Nyström preconditioner built from a few columns of H.
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
    """Run LAPACK calls with all threads on an idle machine and one on an oversubscribed one.

    Multi-threaded LAPACK whose threads spin-wait between many small steps collapses when the machine
    is already busier than its cores: on 2 cores at load average 7-8, torch's ``eigh`` of 2 000 × 2 000
    took 84 s with two threads against 6.2 s with one, and SciPy's ``trtri`` was 5× slower (n = 3 000-6 000);
    on an idle machine two threads make ``trtri`` 2.3× faster (n = 10 000). Cholesky and matrix products
    keep their speed under load, so only the calls inside this context are limited. Only speed depends
    on it, not the numbers beyond rounding.
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
    try:
        # Twice the cores: this process's own threads alone keep the load near the core count.
        busy = os.getloadavg()[0] > 2 * (os.cpu_count() or 1)
    except OSError:  # no load average on this platform
        busy = False
    return 1 if busy else None


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


def nystrom_preconditioner(C: torch.Tensor, landmarks: torch.Tensor, *,
                           ridge: float = 0.0) -> tuple[Callable[[torch.Tensor], torch.Tensor], dict]:
    """Inverse of the Nyström preconditioner (Frangella, Tropp & Udell, 2023) of H + ridge·I.

    ``C = H[:, landmarks]`` (n×r). With H ≈ U Λ̂ Uᵀ from the Nyström approximation C W⁻¹ Cᵀ
    (W = C[landmarks]), the returned function applies
    P⁻¹ = (λ̂_r + μ) U (Λ̂ + μI)⁻¹ Uᵀ + (I − UUᵀ), μ = ridge, which maps the r largest eigenvalues
    of H to about λ̂_r + μ. Built in O(n r²) time and n·r memory.

    Examples
    --------
    >>> H = torch.diag(torch.tensor([100.0, 10.0, 1.0], dtype=torch.float64))
    >>> apply, info = nystrom_preconditioner(H[:, :2], torch.tensor([0, 1]))
    >>> (apply(H) @ torch.ones(3, dtype=torch.float64)).tolist()  # P⁻¹H: the top two eigenvalues moved to 10
    [10.0, 10.0, 1.0]
    """
    W = C[landmarks].clone()
    W = (W + W.T) / 2
    R, shift = jittered_cholesky(W, what="The Nyström landmark block H[S, S]")
    B = torch.linalg.solve_triangular(R, C.T, upper=False).T  # C R⁻ᵀ: Ĥ = B Bᵀ
    evals, V = torch.linalg.eigh(B.T @ B)  # BᵀB = V Σ² Vᵀ, cheaper than an n×r SVD
    keep = evals > evals.max() * torch.finfo(B.dtype).eps * len(B)
    evals, V = evals[keep], V[:, keep]
    U = (B @ V) / evals.sqrt()
    lam = (evals - shift).clamp_min(0.0)
    floor = float(lam.min()) + ridge
    scale = floor / (lam + ridge).clamp_min(torch.finfo(B.dtype).tiny)

    def apply(Rm: torch.Tensor) -> torch.Tensor:
        UtR = U.T @ Rm
        return Rm + U @ ((scale - 1.0)[:, None] * UtR)

    return apply, {"rank": int(keep.sum()), "lambda_r": float(lam.min()), "lambda_1": float(lam.max())}

