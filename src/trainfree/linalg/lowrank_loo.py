"""Closed-form kernel leave-one-out predictions from a low-rank factor K ≈ ΦΦᵀ (Φ of shape n × r).

With A = ΦᵀΦ = V diag(s) Vᵀ (r × r) and λ > 0, the Woodbury identity gives
(ΦΦᵀ + λI)⁻¹ = (I − Φ(A + λI)⁻¹Φᵀ)/λ, so with U = ΦV and w = 1/(s + λ)::

    α = (Y − U (w ⊙ VᵀΦᵀY)) / λ,    d = (1 − (U ⊙ U) w) / λ,    F = Y − α/d

(λ cancels in F). Everything but the rows' own U comes from the sums ΦᵀΦ and ΦᵀY, which add over
row blocks (or partitions of a Dask array); one eigendecomposition of ΦᵀΦ serves every λ of a ridge
grid. Cost: O(n r²) time, O(r² + r·C) memory beyond the rows being predicted.

Φ comes from a Nyström approximation on landmarks chosen by randomly pivoted Cholesky
(:func:`trainfree.linalg.nystrom.rp_cholesky`): Φ = K(·, S) L⁻ᵀ with L Lᵀ = K(S, S), which
:class:`NystromMap` applies to any block of rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .._errors import TrainfreeError
from .cholesky import jittered_cholesky
from .loo_predictions import fit_temperature, log_loss, one_vs_rest
from .threads import lapack_threads


@dataclass(frozen=True)
class LowRankSpectrum:
    """The eigendecomposition ΦᵀΦ = V diag(s) Vᵀ and VᵀΦᵀY: all a low-rank leave-one-out needs of the rows.

    Build it with :meth:`from_sums` from ΦᵀΦ (r × r) and ΦᵀY (r × C), both sums over rows.
    """

    s: torch.Tensor  # (r,), float64, clipped at 0
    V: torch.Tensor  # (r, r), float64
    VtPtY: torch.Tensor  # (r, C), float64

    @classmethod
    def from_sums(cls, gram: torch.Tensor, PtY: torch.Tensor) -> LowRankSpectrum:
        """From ΦᵀΦ and ΦᵀY (any dtype; the decomposition runs in float64).

        Examples
        --------
        >>> Phi = torch.tensor([[1.0], [2.0]], dtype=torch.float64)
        >>> spec = LowRankSpectrum.from_sums(Phi.T @ Phi, Phi.T @ torch.ones(2, 1, dtype=torch.float64))
        >>> spec.s.tolist()
        [5.0]
        """
        gram = gram.to(torch.float64)
        with lapack_threads():
            s, V = torch.linalg.eigh((gram + gram.T) / 2)
        return cls(s.clamp_min(0.0), V, V.T @ PtY.to(torch.float64))

    @property
    def rank(self) -> int:
        return len(self.s)


def lowrank_loo(Phi: torch.Tensor, Y: torch.Tensor, spectrum: LowRankSpectrum, ridge: float) -> torch.Tensor:
    """Leave-one-out predictions F = Y − α/d of the rows ``Phi`` (a block of Φ) for K = ΦΦᵀ and ridge λ > 0.

    ``spectrum`` holds the sums over *all* rows, so a block's F is what the whole data set predicts
    for each of its rows with that row left out.

    Parameters
    ----------
    Phi : Tensor of shape (m, r)
        The rows to predict (any subset of Φ's rows, e.g. one partition).
    Y : Tensor of shape (m, C)
        Their label rows.
    spectrum : LowRankSpectrum
        From ΦᵀΦ and ΦᵀY summed over all n rows.
    ridge : float
        Absolute λ > 0 (the low-rank kernel is singular past r rows).

    Returns
    -------
    Tensor of shape (m, C), float64

    Examples
    --------
    >>> Phi = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=torch.float64)
    >>> Y = torch.tensor([[1.0], [-1.0], [1.0]], dtype=torch.float64)
    >>> spec = LowRankSpectrum.from_sums(Phi.T @ Phi, Phi.T @ Y)
    >>> exact = Y - torch.linalg.solve(Phi @ Phi.T + 0.5 * torch.eye(3, dtype=torch.float64), Y) / torch.linalg.inv(
    ...     Phi @ Phi.T + 0.5 * torch.eye(3, dtype=torch.float64)).diagonal()[:, None]
    >>> torch.allclose(lowrank_loo(Phi, Y, spec, 0.5), exact)
    True
    """
    if not ridge > 0:
        raise TrainfreeError(f"The low-rank leave-one-out needs a ridge > 0 (ΦΦᵀ is singular past its rank); got "
                             f"{ridge}. Use a positive ridge, or method='exact' for ridge 0.")
    U = Phi.to(torch.float64) @ spectrum.V
    return _loo_rotated(U, U.square(), Y.to(torch.float64), spectrum, ridge)


def _loo_rotated(U: torch.Tensor, U2: torch.Tensor, Y: torch.Tensor, spectrum: LowRankSpectrum,
                 ridge: float) -> torch.Tensor:
    """F from the rotated rows U = ΦV and their squares (computed once for a whole ridge grid)."""
    w = 1.0 / (spectrum.s + ridge)
    resid = Y - U @ (w[:, None] * spectrum.VtPtY)  # λα
    leave = 1.0 - U2 @ w  # λd = 1 − leverage
    return Y - resid / leave.clamp_min(torch.finfo(torch.float64).tiny)[:, None]


def lowrank_loss_path(Phi: torch.Tensor, codes: np.ndarray, spectrum: LowRankSpectrum, ridges,
                      *, n_classes: int) -> tuple[np.ndarray, list[float]]:
    """Leave-one-out log loss of the given labels of the rows ``Phi``, for each absolute ridge (all > 0).

    Each λ's F at its own fitted temperature, as :func:`trainfree.linalg.loo_predictions.loo_loss_path`
    does for the exact kernel; the rows can be a subset of Φ (the loss is then estimated on them).

    Returns
    -------
    losses : ndarray (len(ridges),)
    temperatures : list of float

    Examples
    --------
    >>> Phi = torch.tensor([[1.0, 0.1], [0.9, 0.0], [0.0, 1.0], [0.1, 0.8]], dtype=torch.float64)
    >>> codes = np.array([0, 0, 1, 1])
    >>> Y = torch.tensor([[1.0, -1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, 1.0]], dtype=torch.float64)
    >>> losses, taus = lowrank_loss_path(Phi, codes, LowRankSpectrum.from_sums(Phi.T @ Phi, Phi.T @ Y),
    ...                                  [0.1, 10.0], n_classes=2)
    >>> losses.shape, bool(np.isfinite(losses).all()), len(taus)
    ((2,), True, 2)
    """
    U = Phi.to(torch.float64) @ spectrum.V
    Y = torch.as_tensor(one_vs_rest(codes, n_classes), device=U.device)
    U2 = U.square()
    losses, taus = [], []
    for r in ridges:
        if not r > 0:
            raise TrainfreeError(f"The low-rank ridge search needs ridges > 0; got {r}.")
        F = _loo_rotated(U, U2, Y, spectrum, float(r)).cpu().numpy()
        taus.append(fit_temperature(F, codes))
        losses.append(log_loss(F, codes, taus[-1]))
    return np.array(losses), taus


@dataclass(frozen=True)
class NystromMap:
    """Φ = K(·, S) L⁻ᵀ for landmarks S (L Lᵀ = K(S, S)): the Nyström factor of any block of rows.

    ``columns(rows)`` must return K(rows, S) for the same landmarks, as a float64 tensor; it is given
    whatever a block is (row indices, or a block of features).
    """

    L: torch.Tensor  # (r, r) lower, float64
    jitter: float

    @classmethod
    def from_landmarks(cls, K_SS: torch.Tensor) -> NystromMap:
        """Factor the landmarks' own kernel K(S, S) (jittered when the landmarks nearly repeat)."""
        L, jitter = jittered_cholesky(K_SS.to(torch.float64).clone(), what="The landmarks' kernel K(S, S)")
        return cls(L, jitter)

    def __call__(self, K_bS: torch.Tensor) -> torch.Tensor:
        """Φ rows of a block from its kernel columns K(block, S): K_bS L⁻ᵀ (float64)."""
        with lapack_threads():
            return torch.linalg.solve_triangular(self.L, K_bS.to(torch.float64).T, upper=False).T
