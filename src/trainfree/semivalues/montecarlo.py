"""Monte Carlo semivalues: permutation Shapley with a stopping rule, and maximum-sample-reuse Banzhaf."""

from __future__ import annotations

import numbers
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import TrainfreeError
from .._validation import check_param
from ..result import PlayerResult
from ._common import Utility, check_players, player_column, player_result
from ._evaluator import Evaluator
from ._run import Run


def permutation_shapley(utility: Utility, n_players: int, *, max_permutations: int = 1000,
                        tolerance: float | None = 0.01, min_permutations: int = 32, scale: float | None = None,
                        antithetic: bool = False, batch_size: int = 32,
                        random_state: int | np.random.Generator | None = None, n_jobs: int | None = None,
                        checkpoint: str | Path | None = None,
                        names: Sequence[Any] | None = None) -> PlayerResult:
    """Shapley values by permutation Monte Carlo with a standard-error stopping rule.

    Each permutation gives every player one marginal contribution ``ν(prefix ∪ {i}) − ν(prefix)``;
    values are their means and standard errors ``std / sqrt(n)``. After every batch the run stops
    once ``n >= min_permutations`` and every standard error is at most ``tolerance × scale``
    (``scale`` defaults to ``max |value|``), or at ``max_permutations``.

    Parameters
    ----------
    utility : callable
        ``utility(coalition) -> float``; if it has ``along_permutation`` that is used instead
        (see the module docstring).
    n_players : int
        Number of players ``K``.
    max_permutations, min_permutations : int
        Bounds on the number of permutations.
    tolerance : float or None
        Relative standard-error target; ``None`` always runs ``max_permutations``.
    scale : float, optional
        Absolute scale for the tolerance instead of ``max |value|``.
    antithetic : bool
        Pair every permutation with its reverse; standard errors are then computed over pairs
        (counts stay in permutations).
    batch_size : int
        Permutations per batch: the granularity of the stopping rule and of checkpoints.
    random_state : int, Generator or None
        Seed. With ``None`` and an existing checkpoint, the checkpoint's seed is reused.
    n_jobs : int, optional
        joblib workers for utility evaluations; results do not depend on it.
    checkpoint : str or Path, optional
        ``.npz`` file saved after every batch and resumed from when it exists. It records what
        changes the draws or the values (method, n_players, batch_size, antithetic, seed) and the
        problem: the utility on the empty and the grand coalition (two evaluations) and, when the
        utility defines ``fingerprint()``, its fingerprint. A checkpoint of another run is refused;
        the stopping settings (max/min_permutations, tolerance, scale) may change between runs.
    names : sequence, optional
        Player names for the ``player`` column.

    Returns
    -------
    PlayerResult

    Examples
    --------
    >>> r = permutation_shapley(lambda c: float(len(c)), 3, random_state=0)
    >>> r.values, r.stderr, r.settings["n_permutations"]
    (array([1., 1., 1.]), array([0., 0., 0.]), 32)
    """
    start = time.perf_counter()
    K = check_players(n_players)
    if not isinstance(antithetic, bool):
        raise TrainfreeError(f"The 'antithetic' parameter must be True or False. Got {antithetic!r} instead.")
    per = 2 if antithetic else 1
    check_param("max_permutations", max_permutations, numbers.Integral, low=2 * per)
    check_param("min_permutations", min_permutations, numbers.Integral, low=1)
    check_param("batch_size", batch_size, numbers.Integral, low=per)
    _check_optional_positive("tolerance", tolerance)
    _check_optional_positive("scale", scale)
    player = player_column(names, K)
    evaluator = Evaluator(utility, K, n_jobs)
    run = Run.start(checkpoint, random_state, ("marginal",), evaluator, method="permutation_shapley", n_players=K,
                     batch_size=int(batch_size), antithetic=antithetic)
    marginal = run.moments["marginal"]
    min_samples = max(2, -(-int(min_permutations) // per))

    def step(rng: np.random.Generator, n: int) -> None:
        perms = rng.permuted(np.tile(np.arange(K), (n, 1)), axis=1)
        if antithetic:
            perms = np.concatenate([perms, perms[:, ::-1]])
        gains = np.empty((len(perms), K))
        np.put_along_axis(gains, perms, np.diff(evaluator.prefixes(perms), axis=1), axis=1)
        marginal.add((gains[:n] + gains[n:]) / 2 if antithetic else gains)

    def converged() -> bool:
        if tolerance is None or marginal.count[0] < min_samples:
            return False
        ref = np.abs(marginal.mean).max() if scale is None else scale
        return bool(np.all(marginal.stderr() <= tolerance * ref))

    run.loop(step, converged, int(batch_size) // per, int(max_permutations) // per, evaluator)
    settings = {"max_permutations": int(max_permutations), "tolerance": tolerance,
                "min_permutations": int(min_permutations), "scale": scale, "antithetic": antithetic,
                "batch_size": int(batch_size), "n_jobs": n_jobs, "checkpoint": _str_or_none(checkpoint),
                "n_permutations": run.n_samples * per, "converged": converged()}
    return player_result("permutation_shapley", marginal.mean.copy(), marginal.stderr(), player, settings,
                   run.n_evaluations(evaluator), run.seed, start)


def banzhaf_msr(utility: Utility, n_players: int, *, n_samples: int = 1000, batch_size: int = 100,
                random_state: int | np.random.Generator | None = None, n_jobs: int | None = None,
                checkpoint: str | Path | None = None, names: Sequence[Any] | None = None) -> PlayerResult:
    """Banzhaf values by maximum sample reuse (Wang & Jia, 2023).

    Coalitions ``S`` are drawn uniformly (each player in with probability 1/2) and every draw is
    used for every player: ``φ_i = mean ν(S ∋ i) − mean ν(S ∌ i)``, with standard error
    ``sqrt(se_in² + se_out²)``.

    Parameters
    ----------
    utility : callable
        ``utility(coalition) -> float``.
    n_players : int
        Number of players ``K``.
    n_samples : int
        Number of sampled coalitions (repeats are evaluated once but count as samples).
    batch_size : int
        Samples per batch: the granularity of checkpoints.
    random_state, n_jobs, checkpoint, names
        As in :func:`permutation_shapley`.

    Returns
    -------
    PlayerResult

    Notes
    -----
    The standard error is the plug-in one: it assumes the drawn coalitions show the spread of ν.
    When one coalition's ν is far from all others, as DAVINZ's ν(∅) (NTK term 0), a run that never
    drew it under-states the error, and ±1.96·stderr under-covers: on 8 DAVINZ contributors
    (``bench/davinz_msr_coverage.py``) coverage of the exact values was 0.89 at 128 samples and 0.90
    at 512 (0.83 and 0.45 in the runs that missed ∅), and 0.955 at 2 048 = 8·2^K. Trust the interval
    once ``n_samples`` is several times 2^K (for K ≤ 12 :func:`exact_banzhaf` is then cheaper), or
    when ``2^(1−K)·|ν({i}) − ν(∅)|`` is far below the reported stderr, so that missing ∅ cannot matter.

    Examples
    --------
    >>> r = banzhaf_msr(lambda c: float(len(c)), 4, n_samples=2000, random_state=0)
    >>> bool(np.all(np.abs(r.values - 1.0) < 3 * r.stderr))  # exact Banzhaf values are all 1
    True
    """
    start = time.perf_counter()
    K = check_players(n_players)
    check_param("n_samples", n_samples, numbers.Integral, low=2)
    check_param("batch_size", batch_size, numbers.Integral, low=1)
    player = player_column(names, K)
    evaluator = Evaluator(utility, K, n_jobs)
    run = Run.start(checkpoint, random_state, ("inside", "outside"), evaluator, method="banzhaf_msr", n_players=K,
                     batch_size=int(batch_size))
    inside, outside = run.moments["inside"], run.moments["outside"]

    def step(rng: np.random.Generator, n: int) -> None:
        member = rng.random((n, K)) < 0.5
        rows = np.packbits(member, axis=1, bitorder="little")
        v = evaluator.coalitions([int.from_bytes(row.tobytes(), "little") for row in rows])
        values = np.broadcast_to(v[:, None], (n, K))
        inside.add(values, member)
        outside.add(values, ~member)

    run.loop(step, lambda: False, int(batch_size), int(n_samples), evaluator)
    if min(inside.count.min(), outside.count.min()) < 2:
        raise TrainfreeError(f"With n_samples={run.n_samples}, some player was in (or out of) fewer than two "
                             f"sampled coalitions, so its value has no standard error. Increase n_samples.")
    settings = {"n_samples": int(n_samples), "batch_size": int(batch_size), "n_jobs": n_jobs,
                "checkpoint": _str_or_none(checkpoint)}
    stderr = np.sqrt(inside.stderr() ** 2 + outside.stderr() ** 2)
    return player_result("banzhaf_msr", inside.mean - outside.mean, stderr, player, settings,
                   run.n_evaluations(evaluator), run.seed, start)


def _check_optional_positive(name: str, value: float | None) -> None:
    if value is not None:
        check_param(name, value, numbers.Real, low=0, low_open=True)


def _str_or_none(path: str | Path | None) -> str | None:
    return None if path is None else str(path)
