"""Semivalue weights w(k) of a coalition of size k not containing the player: Shapley, Banzhaf, Beta."""

from __future__ import annotations

import numbers

import numpy as np
from scipy.special import betaln, gammaln

from .._validation import check_param
from ._common import check_players


def shapley_weights(n_players: int) -> np.ndarray:
    """Shapley weight ``k! (K-k-1)! / K!`` of a coalition of size ``k = 0..K-1`` not containing ``i``.

    Examples
    --------
    >>> shapley_weights(3) * 6
    array([2., 1., 2.])
    """
    K = check_players(n_players)
    k = np.arange(K)
    return np.exp(gammaln(k + 1) + gammaln(K - k) - gammaln(K + 1))


def banzhaf_weights(n_players: int) -> np.ndarray:
    """Banzhaf weight ``1 / 2^(K-1)`` for every coalition size ``k = 0..K-1``.

    Examples
    --------
    >>> banzhaf_weights(3)
    array([0.25, 0.25, 0.25])
    """
    K = check_players(n_players)
    return np.full(K, 0.5 ** (K - 1))


def beta_shapley_weights(n_players: int, alpha: float, beta: float) -> np.ndarray:
    """Beta-Shapley(α, β) weight of a coalition of size ``k = 0..K-1`` (Kwon & Zou, 2022).

    ``w(k) = B(k + β, K - k - 1 + α) / B(α, β)``: the per-coalition form of their weight
    ``w(j) = K B(j + β - 1, K - j + α) / B(α, β)`` for cardinality ``j = k + 1`` divided by ``K``.
    ``α > β`` favours small coalitions; Beta(1, 1) is the Shapley value.

    Examples
    --------
    >>> np.allclose(beta_shapley_weights(4, 1, 1), shapley_weights(4))
    True
    """
    K = check_players(n_players)
    check_param("alpha", alpha, numbers.Real, low=0, low_open=True)
    check_param("beta", beta, numbers.Real, low=0, low_open=True)
    k = np.arange(K)
    return np.exp(betaln(k + beta, K - k - 1 + alpha) - betaln(alpha, beta))
