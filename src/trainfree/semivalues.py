"""Semivalues over K players (data contributors) for any utility: Shapley, Banzhaf, Beta-Shapley, LOO.

Utility protocol
----------------
A utility is a callable ``utility(coalition) -> float``, where ``coalition`` is a sorted tuple of
player indices in ``0..K-1``; the empty tuple is a coalition like any other. Within one call every
coalition is evaluated at most once (values are cached by coalition) and ``n_evaluations`` counts the
distinct evaluations. The utility must be deterministic given the coalition, and picklable when a
process-based joblib backend is used.

A utility that can update its value cheaply as players join (e.g. one contributor's kernel block at
a time) may also define::

    def along_permutation(self, perm: Sequence[int]) -> np.ndarray: ...

returning the ``K + 1`` values of the prefixes ``perm[:0], perm[:1], ..., perm[:K]`` (``perm`` is a
tuple of ints, a permutation of ``0..K-1``). Permutation Monte Carlo then makes one such call per
permutation instead of ``K + 1`` calls; each call counts as ``K + 1`` evaluations. Both methods must
give the same values.

Reproducibility
---------------
Monte Carlo draws are made in the calling process from per-batch seeds derived from ``random_state``;
only utility evaluations are dispatched through joblib, so values do not depend on ``n_jobs`` or on
the backend (``joblib.parallel_config(backend="dask")`` runs unchanged). With ``checkpoint=`` the
running moments are saved after every batch and an interrupted run resumes where it stopped, giving
the values an uninterrupted run would have given.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import tempfile
import time
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs
from scipy.special import betaln, gammaln

from ._validation import TrainfreeError, as_seed, check_array, check_param
from .result import Result

Utility = Callable[[tuple[int, ...]], float]

MAX_EXACT_PLAYERS = 20


class SemivalueResult(Result):
    """One row per player: columns ``value``, ``stderr`` (0 for exact methods) and ``player``.

    ``settings`` holds the method's parameters and what the run did (``n_evaluations``, and for Monte
    Carlo methods the number of draws and whether the stopping rule was met).

    Examples
    --------
    >>> r = exact_shapley(lambda c: float(len(c)), 3)
    >>> r.values, r.n_evaluations
    (array([1., 1., 1.]), 8)
    """

    @property
    def values(self) -> np.ndarray:
        """Estimated semivalue of each player."""
        return self.columns["value"]

    @property
    def stderr(self) -> np.ndarray:
        """Standard error of each value (zeros for exact methods)."""
        return self.columns["stderr"]

    @property
    def n_evaluations(self) -> int:
        """Number of utility values computed (distinct coalitions for plain callables)."""
        return int(self.settings["n_evaluations"])


# ----------------------------------------------------------------------------------------- weights

def shapley_weights(n_players: int) -> np.ndarray:
    """Shapley weight ``k! (K-k-1)! / K!`` of a coalition of size ``k = 0..K-1`` not containing ``i``.

    Examples
    --------
    >>> shapley_weights(3) * 6
    array([2., 1., 2.])
    """
    K = _check_players(n_players)
    k = np.arange(K)
    return np.exp(gammaln(k + 1) + gammaln(K - k) - gammaln(K + 1))


def banzhaf_weights(n_players: int) -> np.ndarray:
    """Banzhaf weight ``1 / 2^(K-1)`` for every coalition size ``k = 0..K-1``.

    Examples
    --------
    >>> banzhaf_weights(3)
    array([0.25, 0.25, 0.25])
    """
    K = _check_players(n_players)
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
    K = _check_players(n_players)
    check_param("alpha", alpha, numbers.Real, low=0, low_open=True)
    check_param("beta", beta, numbers.Real, low=0, low_open=True)
    k = np.arange(K)
    return np.exp(betaln(k + beta, K - k - 1 + alpha) - betaln(alpha, beta))


# ------------------------------------------------------------------------------------ exact methods

def exact_semivalue(utility: Utility, n_players: int, *, weights: Sequence[float] | Callable[[int], float],
                    names: Sequence[Any] | None = None, n_jobs: int | None = None) -> SemivalueResult:
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
    SemivalueResult

    Examples
    --------
    >>> exact_semivalue(lambda c: float(0 in c), 2, weights=[0.5, 0.5]).values
    array([1., 0.])
    """
    K = _check_players(n_players)
    _check_exact_size(K, "permutation_shapley or banzhaf_msr")
    w = np.array([weights(k) for k in range(K)], dtype=float) if callable(weights) else weights
    w = check_array(w, name="weights", ndim=1)
    if w.shape[0] != K:
        raise TrainfreeError(f"weights must have one entry per coalition size 0..{K - 1} ({K} entries), "
                             f"got {w.shape[0]}.")
    return _exact(utility, K, w, "exact_semivalue", {"weights": w.tolist()}, _player_column(names, K), n_jobs)


def exact_shapley(utility: Utility, n_players: int, *, names: Sequence[Any] | None = None,
                  n_jobs: int | None = None) -> SemivalueResult:
    """Shapley values by enumerating all ``2^K`` coalitions (``K <= 20``).

    See :func:`exact_semivalue` for the parameters; use :func:`permutation_shapley` for larger ``K``.

    Examples
    --------
    >>> exact_shapley(lambda c: float(len(c) >= 2), 3).values.round(4)
    array([0.3333, 0.3333, 0.3333])
    """
    K = _check_players(n_players)
    _check_exact_size(K, "permutation_shapley")
    return _exact(utility, K, shapley_weights(K), "exact_shapley", {}, _player_column(names, K), n_jobs)


def exact_banzhaf(utility: Utility, n_players: int, *, names: Sequence[Any] | None = None,
                  n_jobs: int | None = None) -> SemivalueResult:
    """Banzhaf values by enumerating all ``2^K`` coalitions (``K <= 20``).

    See :func:`exact_semivalue` for the parameters; use :func:`banzhaf_msr` for larger ``K``.

    Examples
    --------
    >>> exact_banzhaf(lambda c: float(len(c) >= 2), 3).values
    array([0.5, 0.5, 0.5])
    """
    K = _check_players(n_players)
    _check_exact_size(K, "banzhaf_msr")
    return _exact(utility, K, banzhaf_weights(K), "exact_banzhaf", {}, _player_column(names, K), n_jobs)


def leave_one_out(utility: Utility, n_players: int, *, names: Sequence[Any] | None = None,
                  n_jobs: int | None = None) -> SemivalueResult:
    """Leave-one-out values ``φ_i = ν(N) − ν(N∖{i})`` from ``K + 1`` evaluations.

    Examples
    --------
    >>> leave_one_out(lambda c: float(sum(c)), 3).values
    array([0., 1., 2.])
    """
    start = time.perf_counter()
    K = _check_players(n_players)
    player = _player_column(names, K)
    evaluator = _Evaluator(utility, K, n_jobs)
    full = (1 << K) - 1
    v = evaluator.coalitions([full] + [full ^ (1 << i) for i in range(K)])
    return _result("leave_one_out", v[0] - v[1:], np.zeros(K), player, {"n_jobs": n_jobs},
                   evaluator.n_evaluations, None, start)


def _exact(utility: Utility, K: int, w: np.ndarray, method: str, settings: dict[str, Any],
           player: np.ndarray, n_jobs: int | None) -> SemivalueResult:
    start = time.perf_counter()
    evaluator = _Evaluator(utility, K, n_jobs)
    masks = np.arange(1 << K)
    v = evaluator.coalitions(masks.tolist())
    size = sum((masks >> i) & 1 for i in range(K))
    phi = np.empty(K)
    for i in range(K):
        without = masks[((masks >> i) & 1) == 0]
        phi[i] = w[size[without]] @ (v[without | (1 << i)] - v[without])
    return _result(method, phi, np.zeros(K), player, {**settings, "n_jobs": n_jobs}, evaluator.n_evaluations,
                   None, start)


def _check_exact_size(K: int, alternative: str) -> None:
    if K > MAX_EXACT_PLAYERS:
        raise TrainfreeError(f"Exact enumeration needs 2^K = 2^{K} utility evaluations; it is limited to "
                             f"K <= {MAX_EXACT_PLAYERS} players. Use {alternative} (Monte Carlo) instead.")


# ------------------------------------------------------------------------------ Monte Carlo methods

def permutation_shapley(utility: Utility, n_players: int, *, max_permutations: int = 1000,
                        tolerance: float | None = 0.01, min_permutations: int = 32, scale: float | None = None,
                        antithetic: bool = False, batch_size: int = 32,
                        random_state: int | np.random.Generator | None = None, n_jobs: int | None = None,
                        checkpoint: str | Path | None = None,
                        names: Sequence[Any] | None = None) -> SemivalueResult:
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
        ``.npz`` file saved after every batch and resumed from when it exists.
    names : sequence, optional
        Player names for the ``player`` column.

    Returns
    -------
    SemivalueResult

    Examples
    --------
    >>> r = permutation_shapley(lambda c: float(len(c)), 3, random_state=0)
    >>> r.values, r.stderr, r.settings["n_permutations"]
    (array([1., 1., 1.]), array([0., 0., 0.]), 32)
    """
    start = time.perf_counter()
    K = _check_players(n_players)
    if not isinstance(antithetic, bool):
        raise TrainfreeError(f"The 'antithetic' parameter must be True or False. Got {antithetic!r} instead.")
    per = 2 if antithetic else 1
    check_param("max_permutations", max_permutations, numbers.Integral, low=2 * per)
    check_param("min_permutations", min_permutations, numbers.Integral, low=1)
    check_param("batch_size", batch_size, numbers.Integral, low=per)
    _check_optional_positive("tolerance", tolerance)
    _check_optional_positive("scale", scale)
    player = _player_column(names, K)
    evaluator = _Evaluator(utility, K, n_jobs)
    run = _Run.start(checkpoint, random_state, ("marginal",), method="permutation_shapley", n_players=K,
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
    return _result("permutation_shapley", marginal.mean.copy(), marginal.stderr(), player, settings,
                   run.n_evaluations(evaluator), run.seed, start)


def banzhaf_msr(utility: Utility, n_players: int, *, n_samples: int = 1000, batch_size: int = 100,
                random_state: int | np.random.Generator | None = None, n_jobs: int | None = None,
                checkpoint: str | Path | None = None, names: Sequence[Any] | None = None) -> SemivalueResult:
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
    SemivalueResult

    Examples
    --------
    >>> r = banzhaf_msr(lambda c: float(len(c)), 4, n_samples=2000, random_state=0)
    >>> bool(np.all(np.abs(r.values - 1.0) < 3 * r.stderr))  # exact Banzhaf values are all 1
    True
    """
    start = time.perf_counter()
    K = _check_players(n_players)
    check_param("n_samples", n_samples, numbers.Integral, low=2)
    check_param("batch_size", batch_size, numbers.Integral, low=1)
    player = _player_column(names, K)
    evaluator = _Evaluator(utility, K, n_jobs)
    run = _Run.start(checkpoint, random_state, ("inside", "outside"), method="banzhaf_msr", n_players=K,
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
    return _result("banzhaf_msr", inside.mean - outside.mean, stderr, player, settings,
                   run.n_evaluations(evaluator), run.seed, start)


# --------------------------------------------------------------------------------------- internals

class _Evaluator:
    """Evaluates coalitions (bitmasks) at most once each, through joblib, and counts evaluations."""

    def __init__(self, utility: Utility, n_players: int, n_jobs: int | None) -> None:
        if not callable(utility):
            raise TrainfreeError(f"utility must be a callable taking a sorted tuple of player indices and "
                                 f"returning a float; got {type(utility).__name__}.")
        if n_jobs is not None:
            check_param("n_jobs", n_jobs, numbers.Integral)
            if n_jobs == 0:
                raise TrainfreeError("The 'n_jobs' parameter must not be 0. Use 1, a positive count or -1 for all.")
        self.utility, self.n_players, self.n_jobs = utility, n_players, n_jobs
        self.incremental = callable(getattr(utility, "along_permutation", None))
        self.cache: dict[int, float] = {}
        self.n_evaluations = 0

    def coalitions(self, masks: list[int]) -> np.ndarray:
        """Utility of each coalition given as a bitmask (bit i set = player i in)."""
        todo = [m for m in dict.fromkeys(masks) if m not in self.cache]
        if todo:
            values = _dispatch(_evaluate_chunk, self.utility, [_members(m, self.n_players) for m in todo],
                               self.n_jobs)
            self.cache.update(zip(todo, values))
            self.n_evaluations += len(todo)
        return np.array([self.cache[m] for m in masks], dtype=float)

    def prefixes(self, perms: np.ndarray) -> np.ndarray:
        """Utility of every prefix of every permutation, shape ``(n_perms, K + 1)``."""
        K = self.n_players
        if self.incremental:
            rows = _dispatch(_along_chunk, self.utility, [tuple(p) for p in perms.tolist()], self.n_jobs)
            self.n_evaluations += len(rows) * (K + 1)
            return np.array(rows)
        masks = []
        for perm in perms.tolist():
            mask = 0
            masks.append(mask)
            for i in perm:
                mask |= 1 << i
                masks.append(mask)
        return self.coalitions(masks).reshape(len(perms), K + 1)


def _dispatch(func: Callable, utility: Utility, items: list, n_jobs: int | None) -> list:
    """Run ``func(utility, chunk)`` over chunks of ``items`` with joblib; results in input order."""
    workers = effective_n_jobs(n_jobs)
    n_chunks = min(len(items), 4 * workers) if workers > 1 else 1
    bounds = np.linspace(0, len(items), n_chunks + 1).astype(int)
    parts = Parallel(n_jobs=n_jobs)(delayed(func)(utility, items[a:b]) for a, b in zip(bounds[:-1], bounds[1:]))
    return [value for part in parts for value in part]


def _evaluate_chunk(utility: Utility, coalitions: list[tuple[int, ...]]) -> list[float]:
    return [_as_value(utility(c), c) for c in coalitions]


def _along_chunk(utility: Any, perms: list[tuple[int, ...]]) -> list[np.ndarray]:
    rows = []
    for perm in perms:
        try:
            row = np.asarray(utility.along_permutation(perm), dtype=float)
        except (TypeError, ValueError):
            row = None
        if row is None or row.shape != (len(perm) + 1,):
            raise TrainfreeError(f"utility.along_permutation must return {len(perm) + 1} floats (the utility of "
                                 f"perm[:0], ..., perm[:K]) for perm={perm}.")
        bad = np.flatnonzero(~np.isfinite(row))
        if bad.size:
            coalition = tuple(sorted(perm[:bad[0]]))
            raise TrainfreeError(f"The utility returned {row[bad[0]]} for coalition {coalition} (via "
                                 f"along_permutation); utility values must be finite.")
        rows.append(row)
    return rows


def _as_value(out: Any, coalition: tuple[int, ...]) -> float:
    try:
        value = float(out) if np.ndim(out) == 0 else None
    except (TypeError, ValueError):
        value = None
    if value is None:
        raise TrainfreeError(f"The utility must return one float; it returned {type(out).__name__} {out!r:.80} "
                             f"for coalition {coalition}.")
    if not math.isfinite(value):
        raise TrainfreeError(f"The utility returned {value} for coalition {coalition}; utility values must be "
                             f"finite. Fix the utility for that coalition (e.g. define the empty coalition).")
    return value


def _members(mask: int, n_players: int) -> tuple[int, ...]:
    """Sorted player indices of a bitmask."""
    bits = np.unpackbits(np.frombuffer(mask.to_bytes((n_players + 7) // 8, "little"), np.uint8),
                         bitorder="little")
    return tuple(np.flatnonzero(bits).tolist())


class _Moments:
    """Per-player count, mean and sum of squared deviations, merged batch by batch (Chan et al.).

    Kept instead of sums and sums of squares, whose difference cancels when |mean| >> std.
    """

    def __init__(self, count: np.ndarray, mean: np.ndarray, m2: np.ndarray) -> None:
        self.count, self.mean, self.m2 = count, mean, m2

    def add(self, x: np.ndarray, member: np.ndarray | None = None) -> None:
        """Add the rows of ``x`` (n, K), only where ``member`` is true when given."""
        w = np.ones(x.shape) if member is None else member.astype(float)
        n_b = w.sum(axis=0)
        mean_b = np.divide((w * x).sum(axis=0), n_b, out=np.zeros_like(n_b), where=n_b > 0)
        m2_b = (w * (x - mean_b) ** 2).sum(axis=0)
        n = self.count + n_b
        delta = mean_b - self.mean
        frac = np.divide(n_b, n, out=np.zeros_like(n), where=n > 0)
        self.mean = self.mean + delta * frac
        self.m2 = self.m2 + m2_b + delta ** 2 * self.count * frac
        self.count = n

    def stderr(self) -> np.ndarray:
        var = np.divide(self.m2, self.count - 1, out=np.full_like(self.m2, np.inf), where=self.count > 1)
        return np.sqrt(var / np.maximum(self.count, 1))


class _Run:
    """A resumable Monte Carlo run: its identity, its moments, how far it got, and its checkpoint."""

    def __init__(self, path: Path | None, identity: dict[str, Any], moments: dict[str, _Moments]) -> None:
        self.path, self.identity, self.moments = path, identity, moments
        self.n_batches = self.n_samples = self.prior_evaluations = 0

    @property
    def seed(self) -> int:
        return self.identity["seed"]

    @classmethod
    def start(cls, checkpoint: str | Path | None, random_state: Any, names: tuple[str, ...],
              **identity: Any) -> "_Run":
        """Fresh run, or resume from ``checkpoint`` when it exists and was written by the same settings."""
        path = None if checkpoint is None else Path(checkpoint)
        saved = _read_checkpoint(path) if path is not None and path.exists() else None
        if random_state is None and saved is not None:
            seed = int(json.loads(str(saved["identity"]))["seed"])
        else:
            seed = _resolve_seed(random_state)
        K = identity["n_players"]
        run = cls(path, {**identity, "seed": seed},
                  {name: _Moments(np.zeros(K), np.zeros(K), np.zeros(K)) for name in names})
        if saved is not None:
            run._restore(saved)
        return run

    def loop(self, step: Callable[[np.random.Generator, int], None], converged: Callable[[], bool],
             batch_size: int, max_samples: int, evaluator: _Evaluator) -> None:
        """Run batches until ``converged()`` or ``max_samples``, checkpointing after each one."""
        while self.n_samples < max_samples and not converged():
            n = min(batch_size, max_samples - self.n_samples)
            # One seed per batch index: a resumed run draws exactly what the interrupted one would have.
            step(np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(self.n_batches,))), n)
            self.n_batches += 1
            self.n_samples += n
            if self.path is not None:
                self._save(self.n_evaluations(evaluator))

    def n_evaluations(self, evaluator: _Evaluator) -> int:
        return self.prior_evaluations + evaluator.n_evaluations

    def _save(self, n_evaluations: int) -> None:
        arrays: dict[str, Any] = {"identity": np.array(json.dumps(self.identity, sort_keys=True)),
                                  "progress": np.array([self.n_batches, self.n_samples, n_evaluations])}
        for name, m in self.moments.items():
            arrays.update({f"{name}.count": m.count, f"{name}.mean": m.mean, f"{name}.m2": m.m2})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Temp file + os.replace: an interruption mid-write never leaves a truncated checkpoint.
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name + ".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, **arrays)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _restore(self, saved: dict[str, np.ndarray]) -> None:
        stored = json.loads(str(saved["identity"]))
        for key, now in self.identity.items():
            if stored.get(key) != now:
                raise TrainfreeError(
                    f"Checkpoint {self.path} was written by a different run ({key}: saved {stored.get(key)!r}, "
                    f"now {now!r}). Pass the same settings to resume, or use a new checkpoint path to start afresh.")
        try:
            for name, m in self.moments.items():
                m.count, m.mean, m.m2 = (saved[f"{name}.{field}"] for field in ("count", "mean", "m2"))
        except KeyError:
            raise TrainfreeError(f"Checkpoint {self.path} lacks saved moments; it is not a checkpoint of this "
                                 f"method. Use a new checkpoint path.") from None
        self.n_batches, self.n_samples, self.prior_evaluations = (int(x) for x in saved["progress"])


def _read_checkpoint(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            saved = {key: data[key] for key in data.files}
        json.loads(str(saved["identity"]))
        if saved["progress"].shape != (3,):
            raise ValueError("bad progress record")
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise TrainfreeError(f"Could not read checkpoint {path} ({exc}). It is not a trainfree semivalue "
                             f"checkpoint: delete it or pass another path.") from None
    return saved


def _resolve_seed(random_state: int | np.random.Generator | None) -> int:
    """An int seed that reproduces the run: the int itself, else one drawn from the generator."""
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise TrainfreeError(f"The 'random_state' parameter must be a non-negative int. Got {random_state}.")
        return int(random_state)
    return int(as_seed(random_state).integers(2**63))


def _check_players(n_players: int) -> int:
    return int(check_param("n_players", n_players, numbers.Integral, low=1))


def _check_optional_positive(name: str, value: float | None) -> None:
    if value is not None:
        check_param(name, value, numbers.Real, low=0, low_open=True)


def _str_or_none(path: str | Path | None) -> str | None:
    return None if path is None else str(path)


def _player_column(names: Sequence[Any] | None, K: int) -> np.ndarray:
    if names is None:
        return np.arange(K)
    player = np.asarray(list(names))
    if player.shape != (K,):
        raise TrainfreeError(f"names must hold one name per player ({K}), got {len(player)}.")
    return player


def _result(method: str, values: np.ndarray, stderr: np.ndarray, player: np.ndarray,
            settings: dict[str, Any], n_evaluations: int, seed: int | None, start: float) -> SemivalueResult:
    return SemivalueResult(method, {"value": values, "stderr": stderr, "player": player},
                           {**settings, "n_evaluations": int(n_evaluations)}, seed,
                           {"total": time.perf_counter() - start})
