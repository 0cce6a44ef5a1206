"""Exact semivalues by enumerating all 2^K coalitions, and leave-one-out."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._errors import TrainfreeError
from .._validation import check_array
from ..result import PlayerResult
from ._common import Utility, check_players, player_column, player_result
from ._evaluator import Evaluator
from .weights import banzhaf_weights, shapley_weights

MAX_EXACT_PLAYERS = 20

def exact_semivalue(utility: Utility, n_players: int, *, weights: Sequence[float] | Callable[[int], float],
                    names: Sequence[Any] | None = None, n_jobs: int | None = None) -> PlayerResult:
    """Semivalue by enumerating all ``2^K`` coalitions.

    ``φ_i = Σ_{C ⊆ N∖{i}} w(|C|) [ν(C ∪ {i}) − ν(C)]``.

    Parameters
    ----------
    utility : callable
        ``utility(coalition) -> float`` on sorted tuples of player indices.
    n_players : int
        Number of players ``K`` (at most 20).
    weights : array of length K or callable
        ``w(k)`` for ``k = 0..K-1``, e.g. :func:`beta_shapley_weights`.
    names : sequence, optional
        Player names for the ``player`` column; defaults to ``0..K-1``.
    n_jobs : int, optional
        joblib workers for utility evaluations.

    Returns
    -------
    PlayerResult

    Examples
    --------
    >>> exact_semivalue(lambda c: float(0 in c), 2, weights=[0.5, 0.5]).values
    array([1., 0.])
    """
    K = check_players(n_players)
    _check_exact_size(K, "permutation_shapley or banzhaf_msr")
    w = np.array([weights(k) for k in range(K)], dtype=float) if callable(weights) else weights
    w = check_array(w, name="weights", ndim=1)
    if w.shape[0] != K:
        raise TrainfreeError(f"weights must have one entry per coalition size 0..{K - 1} ({K} entries), "
                             f"got {w.shape[0]}.")
    return _exact(utility, K, w, "exact_semivalue", {"weights": w.tolist()}, player_column(names, K), n_jobs)


def exact_shapley(utility: Utility, n_players: int, *, names: Sequence[Any] | None = None,
                  n_jobs: int | None = None) -> PlayerResult:
    """Shapley values by enumerating all ``2^K`` coalitions (``K <= 20``).

    See :func:`exact_semivalue` for the parameters; use :func:`permutation_shapley` for larger ``K``.

    Examples
    --------
    >>> exact_shapley(lambda c: float(len(c) >= 2), 3).values.round(4)
    array([0.3333, 0.3333, 0.3333])
    """
    K = check_players(n_players)
    _check_exact_size(K, "permutation_shapley")
    return _exact(utility, K, shapley_weights(K), "exact_shapley", {}, player_column(names, K), n_jobs)


def exact_banzhaf(utility: Utility, n_players: int, *, names: Sequence[Any] | None = None,
                  n_jobs: int | None = None) -> PlayerResult:
    """Banzhaf values by enumerating all ``2^K`` coalitions (``K <= 20``).

    See :func:`exact_semivalue` for the parameters; use :func:`banzhaf_msr` for larger ``K``.

    Examples
    --------
    >>> exact_banzhaf(lambda c: float(len(c) >= 2), 3).values
    array([0.5, 0.5, 0.5])
    """
    K = check_players(n_players)
    _check_exact_size(K, "banzhaf_msr")
    return _exact(utility, K, banzhaf_weights(K), "exact_banzhaf", {}, player_column(names, K), n_jobs)


def leave_one_out(utility: Utility, n_players: int, *, names: Sequence[Any] | None = None,
                  n_jobs: int | None = None) -> PlayerResult:
    """Leave-one-out values ``φ_i = ν(N) − ν(N∖{i})`` from ``K + 1`` evaluations.

    Examples
    --------
    >>> leave_one_out(lambda c: float(sum(c)), 3).values
    array([0., 1., 2.])
    """
    start = time.perf_counter()
    K = check_players(n_players)
    player = player_column(names, K)
    evaluator = Evaluator(utility, K, n_jobs)
    full = (1 << K) - 1
    v = evaluator.coalitions([full] + [full ^ (1 << i) for i in range(K)])
    return player_result("leave_one_out", v[0] - v[1:], None, player, {"n_jobs": n_jobs},
                   evaluator.n_evaluations, None, start)


def _exact(utility: Utility, K: int, w: np.ndarray, method: str, settings: dict[str, Any],
           player: np.ndarray, n_jobs: int | None) -> PlayerResult:
    start = time.perf_counter()
    evaluator = Evaluator(utility, K, n_jobs)
    masks = np.arange(1 << K)
    v = evaluator.coalitions(masks.tolist())
    size = sum((masks >> i) & 1 for i in range(K))
    phi = np.empty(K)
    for i in range(K):
        without = masks[((masks >> i) & 1) == 0]
        phi[i] = w[size[without]] @ (v[without | (1 << i)] - v[without])
    return player_result(method, phi, None, player, {**settings, "n_jobs": n_jobs}, evaluator.n_evaluations,
                   None, start)


def _check_exact_size(K: int, alternative: str) -> None:
    if K > MAX_EXACT_PLAYERS:
        raise TrainfreeError(f"Exact enumeration needs 2^K = 2^{K} utility evaluations; it is limited to "
                             f"K <= {MAX_EXACT_PLAYERS} players. Use {alternative} (Monte Carlo) instead.")
