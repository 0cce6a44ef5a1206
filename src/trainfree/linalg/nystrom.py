"""A Nyström preconditioner from a few columns of H chosen by randomly pivoted Cholesky."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from .cholesky import jittered_cholesky


def rp_cholesky(columns: Callable[[np.ndarray], torch.Tensor], diag: torch.Tensor, rank: int, *,
                rng: np.random.Generator, block: int = 250, tol: float = 0.0,
                stop: Callable[[torch.Tensor], bool] | None = None) -> tuple[torch.Tensor, np.ndarray]:
    """Low-rank factor F (n×k, k ≤ rank) with F Fᵀ ≈ H, by block randomly pivoted Cholesky.

    Chen, Epperly, Tropp & Webber (2024): each round draws ``block`` pivots with probability
    proportional to the diagonal of the residual H − F Fᵀ, so examples the factor already explains
    are rarely picked again and clusters get landmarks in proportion to what they leave unexplained.
    F Fᵀ is the Nyström approximation of H on the chosen pivots; H itself is only read through
    ``columns(S)`` = H[:, S] (float64, n×|S|), r columns in all. The first round, drawn from the
    diagonal of H, is uniform when that diagonal is constant. Cost: n·r² flops for the updates, plus
    the columns. With ``tol`` > 0 it stops early, after the first block that leaves a trace residual
    tr(H − F Fᵀ) of at most ``tol`` · tr(H); with ``stop``, after the first block at whose end
    ``stop(F)`` (the factor so far) is true (the low-rank detector's rank rule).

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
    F = torch.zeros(n, rank, dtype=torch.float64, device=diag.device)
    resid = diag.to(torch.float64).clone()
    pivots, k = np.empty(0, dtype=np.int64), 0
    floor = float(resid.max()) * n * torch.finfo(torch.float64).eps  # residual at rounding level: nothing left
    floor = max(floor, tol * float(resid.sum()))
    while k < rank:
        p = resid.clamp_min(0.0).cpu().numpy()
        if p.sum() <= floor:
            break
        S = np.setdiff1d(rng.choice(n, min(block, rank - k), p=p / p.sum()), pivots)  # sorted, distinct, new
        G = columns(S) - F[:, :k] @ F[S, :k].T  # residual columns
        L, _ = jittered_cholesky(G[S].clone(), what="A block of randomly pivoted Cholesky")
        G = torch.linalg.solve_triangular(L, G.T, upper=False).T  # new columns of F: G L⁻ᵀ
        F[:, k:k + len(S)] = G
        resid -= G.square().sum(1)
        pivots, k = np.concatenate([pivots, S]), k + len(S)
        if stop is not None and k < rank and stop(F[:, :k]):
            break
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
