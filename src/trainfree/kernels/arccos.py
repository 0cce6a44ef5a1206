"""The arc-cosine Gram matrix H∞ of the CG-score and the detector (first-layer ReLU NTK of unit-norm rows)."""

from __future__ import annotations

import math

import torch


def arccos_gram(Xa: torch.Tensor, Xb: torch.Tensor | None = None) -> torch.Tensor:
    """Arc-cosine (ReLU NTK, first layer) Gram matrix of unit-norm rows.

    H_ij = x_iᵀx_j (π − arccos x_iᵀx_j) / (2π)  (Arora et al., 2019; CG-score eq. 1).

    Parameters
    ----------
    Xa : Tensor of shape (n, d)
        L2-normalised rows.
    Xb : Tensor of shape (m, d), optional
        Second set of L2-normalised rows; defaults to ``Xa`` (then the diagonal is set to exactly 1/2).

    Returns
    -------
    Tensor of shape (n, m)

    Examples
    --------
    >>> X = torch.eye(2, dtype=torch.float64)
    >>> arccos_gram(X)
    tensor([[0.5000, 0.0000],
            [0.0000, 0.5000]], dtype=torch.float64)
    """
    G = Xa @ (Xa if Xb is None else Xb).T
    # Rounding can push cosines just outside [-1, 1], where arccos is NaN.
    G.clamp_(-1.0, 1.0)
    # In place: building H needs two n×n matrices, not four.
    H = torch.arccos(G).neg_().add_(math.pi).mul_(G).div_(2 * math.pi)
    del G
    if Xb is None:
        H.diagonal().fill_(0.5)
    return H


def arccos_lower_blocks(Xt: torch.Tensor, *, block_rows: int = 1024):
    """Row blocks of the lower triangle of ``arccos_gram(Xt)``: yields ``(start, stop, H[start:stop, :stop])``.

    Each block is computed from the rows alone, so a Gram matrix too large for two copies can be
    written into one buffer (or kept packed, or recomputed) block by block; only the lower triangle
    is computed (half the flops). The diagonal is exactly 1/2, as in :func:`arccos_gram`.

    Examples
    --------
    >>> X = torch.eye(3, dtype=torch.float64)
    >>> [(s, e, tuple(b.shape)) for s, e, b in arccos_lower_blocks(X, block_rows=2)]
    [(0, 2, (2, 2)), (2, 3, (1, 3))]
    """
    n = len(Xt)
    for start in range(0, n, block_rows):
        stop = min(start + block_rows, n)
        block = arccos_gram(Xt[start:stop], Xt[:stop])
        block[:, start:stop].diagonal().fill_(0.5)
        yield start, stop, block
