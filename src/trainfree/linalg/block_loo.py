"""Leave-one-out predictions for a Nyström factor with the exact residual kept on blocks of rows.

K ≈ ΦΦᵀ + blockdiag(E_b), E_b = K_bb − Φ_bΦ_bᵀ on a partition of the rows into blocks (the "partially
independent conditional" approximation of sparse Gaussian processes, Snelson & Ghahramani 2007). With
B = blockdiag(E_b) + λI the Woodbury identity gives::

    (ΦΦᵀ + B)⁻¹ = B⁻¹ − B⁻¹Φ (I + ΦᵀB⁻¹Φ)⁻¹ ΦᵀB⁻¹

so ΦᵀB⁻¹Φ (r × r) and ΦᵀB⁻¹Y (r × C) are sums over blocks, and each row needs only its block's
B_b⁻¹Φ_b, B_b⁻¹Y_b and diag(B_b⁻¹): α = B⁻¹Y − B⁻¹Φ M⁻¹ ΦᵀB⁻¹Y and d = diag(B⁻¹) − rowwise
(B⁻¹Φ M⁻¹ ΦᵀB⁻¹) with M = I + ΦᵀB⁻¹Φ, then F = Y − α/d. Cost O(Σ_b b³ + n r²) time, n·r floats.
Blocks of *similar* rows are what make it better than ΦΦᵀ alone (docs/methods/mislabel.md, "Low-rank mode").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from .._errors import TrainfreeError
from .cholesky import jittered_cholesky
from .threads import lapack_threads


def block_loo(Phi: torch.Tensor, Y: torch.Tensor, blocks: Sequence[np.ndarray],
              kernel_block: Callable[[np.ndarray], torch.Tensor], ridge: float) -> tuple[torch.Tensor, float]:
    """Leave-one-out predictions F (n × C) for K ≈ ΦΦᵀ + blockdiag(K_bb − Φ_bΦ_bᵀ) and ridge λ > 0.

    Parameters
    ----------
    Phi : Tensor of shape (n, r)
        The Nyström factor of all rows.
    Y : Tensor of shape (n, C)
        Their label rows.
    blocks : sequence of int arrays
        A partition of ``range(n)``; each block's residual is kept exactly.
    kernel_block : callable
        ``kernel_block(idx)`` returns the exact kernel K(idx, idx) (any float dtype).
    ridge : float
        Absolute λ > 0.

    Returns
    -------
    F : Tensor of shape (n, C), float64
    jitter : float
        The largest diagonal jitter a block's factorisation needed (0.0 when none).

    Examples
    --------
    >>> K = torch.tensor([[1.0, 0.5, 0.2], [0.5, 1.0, 0.3], [0.2, 0.3, 1.0]], dtype=torch.float64)
    >>> Phi = torch.linalg.cholesky(K)[:, :1]       # rank 1
    >>> Y = torch.tensor([[1.0], [1.0], [-1.0]], dtype=torch.float64)
    >>> F, _ = block_loo(Phi, Y, [np.arange(3)], lambda i: K[np.ix_(i, i)], 0.1)  # one block: exact K
    >>> inv = torch.linalg.inv(K + 0.1 * torch.eye(3, dtype=torch.float64))
    >>> torch.allclose(F, Y - (inv @ Y) / inv.diagonal()[:, None])
    True
    """
    Fs, jitter = block_loo_path(Phi, Y, blocks, kernel_block, [ridge])
    return Fs[0], jitter


def block_loo_path(Phi: torch.Tensor, Y: torch.Tensor, blocks: Sequence[np.ndarray],
                   kernel_block: Callable[[np.ndarray], torch.Tensor], ridges: Sequence[float], *,
                   dtype: torch.dtype = torch.float64) -> tuple[list[torch.Tensor], float]:
    """:func:`block_loo` at each of several ridges: each block's residual K_bb − Φ_bΦ_bᵀ is formed once and
    kept (Σ_b b² floats more when there is more than one ridge); per ridge the cost is the factorisations.

    ``dtype`` is that of the blocks' factorisations and products (float32: half the time; a block
    B_b = E_b + λI has condition number at most 1 + ‖E_b‖/λ); the sums over blocks, the r × r solve and
    F are float64.

    Examples
    --------
    >>> K = torch.tensor([[1.0, 0.5], [0.5, 1.0]], dtype=torch.float64)
    >>> Fs, _ = block_loo_path(K[:, :1], torch.tensor([[1.0], [-1.0]], dtype=torch.float64), [np.arange(2)],
    ...                        lambda i: K[np.ix_(i, i)], [0.1, 1.0])
    >>> len(Fs), Fs[0].shape
    (2, torch.Size([2, 1]))
    """
    if not all(r > 0 for r in ridges):
        raise TrainfreeError(f"The block-corrected leave-one-out needs a ridge > 0; got {list(ridges)}.")
    Phi, Y = Phi.to(torch.float64), Y.to(torch.float64)
    n = Phi.shape[0]
    if sum(len(b) for b in blocks) != n:
        raise TrainfreeError(f"The blocks must partition the {n} rows; they hold {sum(len(b) for b in blocks)}.")
    blocks = [np.asarray(idx) for idx in blocks]
    cache: dict[int, torch.Tensor] = {}

    def residual(j: int) -> torch.Tensor:
        if j in cache:
            return cache[j]
        P = Phi[blocks[j]].to(dtype)
        E = kernel_block(blocks[j]).to(dtype) - P @ P.T
        E = (E + E.T) / 2
        if len(ridges) > 1:
            cache[j] = E
        return E

    Fs, jitter = [], 0.0
    for ridge in ridges:
        F, jit = _one_ridge(Phi, Y, blocks, residual, float(ridge), dtype)
        Fs.append(F)
        jitter = max(jitter, jit)
    return Fs, jitter


def _one_ridge(Phi, Y, blocks, residual, ridge, dtype) -> tuple[torch.Tensor, float]:
    parts, jitter = [], 0.0
    r = Phi.shape[1]
    G = torch.eye(r, dtype=torch.float64, device=Phi.device)
    H = torch.zeros(r, Y.shape[1], dtype=torch.float64, device=Phi.device)
    for j, idx in enumerate(blocks):  # matrix products on every core; the LAPACK solves by the thread rule
        P = Phi[idx].to(dtype)
        B = residual(j).clone()
        B.diagonal().add_(ridge)
        L, jit = jittered_cholesky(B, what="A block of the low-rank mode's exact correction")
        jitter = max(jitter, jit)
        with lapack_threads():
            BiP, BiY = torch.cholesky_solve(P, L), torch.cholesky_solve(Y[idx].to(dtype), L)
            # diag(B⁻¹) = column norms² of L⁻¹ (B⁻¹ = L⁻ᵀL⁻¹): a triangular solve, 100× faster than cholesky_inverse
            dB = torch.linalg.solve_triangular(L, torch.eye(len(idx), dtype=dtype, device=L.device),
                                            upper=False).square().sum(0)
        G += (P.T @ BiP).to(torch.float64)
        H += (P.T @ BiY).to(torch.float64)
        parts.append((idx, BiP.to(torch.float64), BiY.to(torch.float64), dB.to(torch.float64)))
    M = torch.linalg.cholesky((G + G.T) / 2)  # I + ΦᵀB⁻¹Φ = MMᵀ: eigenvalues ≥ 1
    MH = torch.cholesky_solve(H, M)
    F = torch.empty_like(Y)
    for idx, BiP, BiY, dB in parts:
        with lapack_threads():  # row i of B⁻¹Φ (I + ΦᵀB⁻¹Φ)⁻¹ ΦᵀB⁻¹ at column i: ‖M⁻¹(B⁻¹Φ)ᵢᵀ‖²
            W = torch.linalg.solve_triangular(M, BiP.T, upper=False)
        alpha = BiY - BiP @ MH
        d = dB - W.square().sum(0)
        F[idx] = Y[idx] - alpha / d.clamp_min(torch.finfo(torch.float64).tiny)[:, None]
    return F, jitter


def split_large(labels: np.ndarray, rows: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Blocks from cluster labels, each cluster larger than 2·``rows`` split at random into pieces of about ``rows``.

    The cap bounds a block's b³ factorisation and b² memory whatever the clustering did.

    Examples
    --------
    >>> [len(b) for b in split_large(np.array([0] * 7 + [1] * 2), 3, np.random.default_rng(0))]
    [3, 2, 2, 2]
    """
    out = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        if len(idx) > 2 * rows:
            out += [np.sort(p) for p in np.array_split(rng.permutation(idx), -(-len(idx) // rows))]
        else:
            out.append(idx)
    return out
