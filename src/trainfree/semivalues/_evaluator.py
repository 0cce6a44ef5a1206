"""Evaluates coalitions through joblib, each at most once, and checks what the utility returns.

A utility may offer ``many(coalitions) -> values`` (all at once, e.g. sharing work between a coalition
and its prefixes) and ``along_permutation(perm) -> values of every prefix``; both are used when present.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np
from joblib import Parallel, delayed

from .._device import concurrent_units, parallel_n_jobs
from .._errors import TrainfreeError
from .._validation import check_n_jobs
from ._common import Utility


class Evaluator:
    """Evaluates coalitions (bitmasks) at most once each, through joblib, and counts evaluations."""

    def __init__(self, utility: Utility, n_players: int, n_jobs: int | None) -> None:
        if not callable(utility):
            raise TrainfreeError(f"utility must be a callable taking a sorted tuple of player indices and "
                                 f"returning a float; got {type(utility).__name__}.")
        declared = getattr(utility, "n_players", None)
        if declared is not None and (not isinstance(declared, numbers.Integral) or int(declared) != n_players):
            raise TrainfreeError(f"The utility has {declared!r} players (its n_players attribute) but n_players="
                                 f"{n_players} was passed. Pass n_players={declared!r}, the utility's own count.")
        # Without a declared count, a utility indexing past its players is most likely given too many.
        self.hint = n_players if declared is None else None
        self.utility, self.n_players, self.n_jobs = utility, n_players, check_n_jobs(n_jobs)
        self.incremental = callable(getattr(utility, "along_permutation", None))
        self.batched = callable(getattr(utility, "many", None))
        self.cache: dict[int, float] = {}
        self.n_evaluations = 0

    def coalitions(self, masks: list[int]) -> np.ndarray:
        """Utility of each coalition given as a bitmask (bit i set = player i in)."""
        todo = [(_members(m, self.n_players), m) for m in dict.fromkeys(masks) if m not in self.cache]
        if todo:
            # Lexicographic order of the sorted members is a depth-first walk of the subsets: each
            # coalition comes soon after its prefix, which utilities that extend a prefix's work reuse.
            todo.sort()
            chunk = _many_chunk if self.batched else _evaluate_chunk
            values = _dispatch(chunk, self.utility, [c for c, _ in todo], self.n_jobs, self.hint)
            todo = [m for _, m in todo]
            self.cache.update(zip(todo, values))
            self.n_evaluations += len(todo)
        return np.array([self.cache[m] for m in masks], dtype=float)

    def prefixes(self, perms: np.ndarray) -> np.ndarray:
        """Utility of every prefix of every permutation, shape ``(n_perms, K + 1)``."""
        K = self.n_players
        if self.incremental:
            rows = _dispatch(_along_chunk, self.utility, [tuple(p) for p in perms.tolist()], self.n_jobs, self.hint)
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


def _dispatch(func: Callable, utility: Utility, items: list, n_jobs: int | None, hint: int | None) -> list:
    """Run ``func(utility, chunk, hint)`` over chunks of ``items`` with joblib; results in input order."""
    n_jobs = parallel_n_jobs(n_jobs, len(items))
    workers = concurrent_units(n_jobs, len(items))
    n_chunks = min(len(items), 4 * workers) if workers > 1 else 1
    bounds = np.linspace(0, len(items), n_chunks + 1).astype(int)
    parts = Parallel(n_jobs=n_jobs)(delayed(func)(utility, items[a:b], hint) for a, b in zip(bounds[:-1], bounds[1:]))
    return [value for part in parts for value in part]


def _evaluate_chunk(utility: Utility, coalitions: list[tuple[int, ...]], hint: int | None) -> list[float]:
    values = []
    for c in coalitions:
        try:
            out = utility(c)
        except (IndexError, KeyError) as exc:
            _too_many_players(exc, f"coalition {c}", hint)
        values.append(_as_value(out, c))
    return values


def _many_chunk(utility: Any, coalitions: list[tuple[int, ...]], hint: int | None) -> list[float]:
    """``utility.many(coalitions)``: one call for the chunk, each value checked as from a single call."""
    try:
        out = np.asarray(utility.many(coalitions), dtype=float)
    except (IndexError, KeyError) as exc:
        _too_many_players(exc, f"one of coalitions {coalitions[:3]}... (via many)", hint)
    if out.shape != (len(coalitions),):
        raise TrainfreeError(f"utility.many must return one float per coalition ({len(coalitions)}); it returned "
                             f"shape {out.shape}.")
    return [_as_value(v, c) for v, c in zip(out, coalitions)]


def _too_many_players(exc: Exception, what: str, n_players: int | None) -> None:
    """An IndexError/KeyError of a utility without ``n_players``: name the coalition and the likely cause.

    ``n_players`` is None when the utility declared its count (which matched): then the error is its own.
    """
    if n_players is None:
        raise exc
    raise TrainfreeError(f"The utility raised {type(exc).__name__}({exc}) for {what}: n_players may exceed the "
                         f"utility's players (n_players={n_players}: players 0..{n_players - 1}). Pass the utility's number "
                         f"of players as n_players, or give the utility an n_players attribute.") from exc


def _along_chunk(utility: Any, perms: list[tuple[int, ...]], hint: int | None) -> list[np.ndarray]:
    rows = []
    for perm in perms:
        try:
            row = np.asarray(utility.along_permutation(perm), dtype=float)
        except (IndexError, KeyError) as exc:
            _too_many_players(exc, f"permutation {perm} (via along_permutation)", hint)
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
