"""The RBF kernel and the maximum mean discrepancy (MMD), of two sets or of every coalition of contributors.

Every MMD here comes from a set's size m, the kernel sum over its pairs and the kernel sum against
the validation set T (:func:`mmd` for two sets). :class:`CoalitionMMD` keeps those sums as K × K
blocks of K contributors, so any coalition costs O(K²) and a permutation's prefixes O(K²) together.

Three estimators of MMD² (each reported as the square root of its positive part):

- ``biased``: the V-statistic, the paper's. Its mean is not 0 when S and T share a distribution: about
  (1 − k̄)(1/m + 1/m_T), so it also measures the set's size, with sampling noise of the same order.
- ``unbiased``: the U-statistic (diagonals dropped); mean 0 under no shift, same noise.
- ``thresholded``: the U-statistic less ``NULL_Z`` null standard deviations, σ₀(m) = √2·(1/m + 1/m_T)·
  sqrt(E k̃²) with k̃ the kernel centred on T (the variance of the degenerate two-sample U-statistic
  when S and T share a distribution). 0 unless the shift is significant: a set drawn from T's own
  distribution then adds no noise to ν, while a shifted one (other inputs, missing classes) keeps its MMD.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from .._errors import TrainfreeError
from .._random import SeedLike, check_random_state, torch_generator

ESTIMATORS = ("biased", "unbiased", "thresholded")
NULL_Z = 3.0  # null standard deviations a thresholded MMD² must exceed (the U-statistic's tail is heavy)


def rbf_kernel(A: torch.Tensor, B: torch.Tensor, bandwidth: float) -> torch.Tensor:
    """Gaussian kernel exp(−‖a − b‖² / (2σ²)) between the rows of ``A`` and ``B``."""
    d2 = (A.square().sum(1)[:, None] + B.square().sum(1)[None, :] - 2 * A @ B.T).clamp_(min=0)
    return torch.exp(-d2 / (2 * bandwidth**2))


def median_bandwidth(Z: torch.Tensor, *, max_points: int = 1000, random_state: SeedLike = None) -> float:
    """Median heuristic: the median pairwise distance between rows (on at most ``max_points`` of them)."""
    if len(Z) > max_points:
        g = torch_generator(check_random_state(random_state))
        Z = Z[torch.randperm(len(Z), generator=g)[:max_points].to(Z.device)]
    d = torch.cdist(Z, Z)
    iu = torch.triu_indices(len(Z), len(Z), offset=1, device=Z.device)
    med = float(d[iu[0], iu[1]].median()) if len(Z) > 1 else 1.0
    return med if med > 0 else 1.0


def check_estimator(estimator: str, m_T: int) -> None:
    """Refuse an unknown MMD estimator, or an unbiased one on fewer than 2 rows of T (its U-statistic needs pairs)."""
    if estimator not in ESTIMATORS:
        raise TrainfreeError(f"The 'estimator' of the MMD must be one of {', '.join(ESTIMATORS)}. "
                             f"Got {estimator!r} instead.")
    if estimator != "biased" and m_T < 2:
        raise TrainfreeError(f"The {estimator} MMD needs at least 2 validation examples.")


def mmd(T: torch.Tensor, S: torch.Tensor, *, bandwidth: float, estimator: str = "biased") -> float:
    """Maximum mean discrepancy between the rows of ``T`` and ``S`` under an RBF kernel.

    ``biased`` is the V-statistic (0 for identical sets); ``unbiased`` the U-statistic, which drops the
    diagonals and can be negative; ``thresholded`` the U-statistic less ``NULL_Z`` null standard
    deviations (see the module). MMD² is clamped at 0 before the square root. The same sums formula
    serves :class:`CoalitionMMD`.

    Examples
    --------
    >>> Z = torch.randn(5, 2, dtype=torch.float64)
    >>> mmd(Z, Z, bandwidth=1.0)
    0.0
    """
    check_estimator(estimator, len(T))
    kTT = rbf_kernel(T, T, bandwidth)
    null_scale = (_centred_kernel_rms(kTT.sum(1).cpu().numpy(), float(kTT.square().sum()))
                  if estimator == "thresholded" else 0.0)
    out = _mmd_from_sums(len(S), float(rbf_kernel(S, S, bandwidth).sum()), float(rbf_kernel(T, S, bandwidth).sum()),
                         m_T=len(T), s_TT=float(kTT.sum()), null_scale=null_scale, estimator=estimator)
    return float(out)


class CoalitionMMD:
    """Kernel sums of K contributors' features and of T, and the MMD of any coalition from them.

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> parts = [torch.randn(20, 3, generator=g, dtype=torch.float64) for _ in range(2)]
    >>> T = torch.randn(30, 3, generator=g, dtype=torch.float64)
    >>> c = CoalitionMMD(torch.cat(parts), [20, 20], T, bandwidth=1.0, estimator="thresholded")
    >>> c.of((0, 1)), c.of((0, 1), "biased") > 0
    (0.0, True)
    """

    def __init__(self, feats: torch.Tensor, sizes: Sequence[int], T: torch.Tensor, *, bandwidth: float,
                 estimator: str = "biased", block_rows: int = 2048) -> None:
        check_estimator(estimator, len(T))
        self.sizes, self.m_T, self.estimator = np.asarray(sizes), len(T), estimator
        K = len(self.sizes)
        group = torch.as_tensor(np.repeat(np.arange(K + 1), np.r_[self.sizes, len(T)]), device=feats.device)
        onehot = torch.nn.functional.one_hot(group, K + 1).to(feats.dtype)  # column sums per group by a product
        Z = torch.cat([feats, T])
        sums = torch.zeros(K + 1, K + 1, dtype=feats.dtype, device=feats.device)
        t_rows = torch.zeros(len(T), dtype=feats.dtype, device=feats.device)  # row sums of K_TT
        t_sq = 0.0  # ‖K_TT‖²_F
        for start in range(0, len(Z), block_rows):
            rows = slice(start, start + block_rows)
            block = rbf_kernel(Z[rows], Z, bandwidth)
            sums.index_add_(0, group[rows], block @ onehot)
            if start + block_rows > len(feats):  # the block holds rows of T
                first = max(start, len(feats))
                kt = block[first - start:, len(feats):]
                t_rows[first - len(feats): first - len(feats) + len(kt)] = kt.sum(1)
                t_sq += float(kt.square().sum())
        sums = sums.cpu().numpy()
        self.s_TT, self.s_TS, self.s_SS = float(sums[K, K]), sums[K, :K].copy(), sums[:K, :K].copy()
        self.null_scale = _centred_kernel_rms(t_rows.cpu().numpy(), t_sq)

    def of(self, coalition: Sequence[int], estimator: str | None = None) -> float:
        """MMD(T, S_C) of a checked coalition; MMD(T, ∅) is ‖mean embedding of T‖."""
        c = list(coalition)
        if not c:
            return float(self._from(np.zeros(1), np.zeros(1), np.zeros(1), estimator)[0])
        return float(self._from(self.sizes[c].sum(), self.s_SS[np.ix_(c, c)].sum(), self.s_TS[c].sum(), estimator))

    def along(self, perm: Sequence[int]) -> np.ndarray:
        """MMD(T, ·) of the K + 1 prefixes of ``perm`` (a checked permutation prefix), from running block sums."""
        p = list(perm)
        m = np.r_[0, np.cumsum(self.sizes[p])]
        ss = np.r_[0.0, np.diagonal(self.s_SS[np.ix_(p, p)].cumsum(0).cumsum(1))]
        ts = np.r_[0.0, np.cumsum(self.s_TS[p])]
        return self._from(m, ss, ts)

    def _from(self, m, ss, ts, estimator: str | None = None) -> np.ndarray:
        """MMD from a coalition's size m, its kernel sum ss and its kernel sum against T (m = 0: the empty set)."""
        return _mmd_from_sums(m, ss, ts, m_T=self.m_T, s_TT=self.s_TT, null_scale=self.null_scale,
                              estimator=estimator or self.estimator)


def _mmd_from_sums(m, ss, ts, *, m_T: int, s_TT: float, null_scale: float, estimator: str) -> np.ndarray:
    """MMD of sets of sizes m with kernel sums ss over their pairs and ts against T (m = 0: the empty set).

    The RBF diagonal is 1, so the unbiased statistics drop m (and m_T) from the pair sums.
    """
    mT, m = m_T, np.asarray(m, dtype=float)
    biased = estimator == "biased"
    tt = s_TT / mT**2 if biased else (s_TT - mT) / (mT * (mT - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        ss = ss / m**2 if biased else (ss - m) / (m * (m - 1))
        mmd2 = np.where(m > 0, tt + ss - 2 * np.asarray(ts) / (mT * m), tt)
        if estimator == "thresholded":
            mmd2 = mmd2 - np.where(m > 0, NULL_Z * np.sqrt(2.0) * (1 / m + 1 / mT) * null_scale, 0.0)
    return np.sqrt(np.maximum(mmd2, 0.0))


def _centred_kernel_rms(row_sums: np.ndarray, frob2: float) -> float:
    """sqrt(mean over i ≠ j of k̃_ij²), k̃ = HKH the kernel matrix centred on its rows' distribution.

    ‖HKH‖²_F = ‖K‖²_F − (2/n)‖K1‖² + (1/n²)(1ᵀK1)², and k̃_ii = 1 − 2r_i + g (RBF diagonal 1;
    r the row means, g the grand mean) removes the diagonal.
    """
    n = len(row_sums)
    if n < 2:
        return 0.0
    r, g = row_sums / n, row_sums.sum() / n**2
    total = frob2 - 2.0 / n * float(row_sums @ row_sums) + float(row_sums.sum()) ** 2 / n**2
    diag = float(np.square(1.0 - 2.0 * r + g).sum())
    return float(np.sqrt(max(total - diag, 0.0) / (n * (n - 1))))
