"""Cholesky factorisations the scores and DAVINZ share.

A factorisation done in place that recovers from near-singularity (the CG-score, the detector, the
Nyström blocks), diag(H⁻¹) from the factor without a second n×n matrix, and the plain batched factor
and triangular solve of many small blocks (DAVINZ's coalitions), on one thread.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import torch
from scipy.linalg import get_lapack_funcs

from .._errors import TrainfreeError
from .threads import lapack_threads, one_thread

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


def warn_jitter(jitter: float) -> float:
    """Warn at the caller's caller that a jitter was needed (duplicate rows: not leave-one-out exact); return it."""
    if jitter:
        warnings.warn(f"H was not positive definite (duplicate or near-duplicate rows); added a diagonal jitter "
                      f"of {jitter:.3g}. Scores of duplicated examples are then not leave-one-out exact.",
                      stacklevel=3)
    return jitter


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


def cholesky(A: torch.Tensor, *, error: str) -> torch.Tensor:
    """Lower Cholesky factor of (a batch of) small matrices ``A``, on one CPU thread; ``error`` when not definite.

    Examples
    --------
    >>> cholesky(torch.tensor([[4.0, 2.0], [2.0, 3.0]], dtype=torch.float64), error="?").diagonal().tolist()
    [2.0, 1.4142135623730951]
    """
    try:
        with one_thread(A.device):
            return torch.linalg.cholesky(A)
    except torch.linalg.LinAlgError:
        raise TrainfreeError(error) from None


def solve_lower(L: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """L⁻¹B for (a batch of) lower triangular ``L``, on one CPU thread."""
    with one_thread(L.device):
        return torch.linalg.solve_triangular(L, B, upper=False)
