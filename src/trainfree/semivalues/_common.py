"""What every semivalue shares: the utility type, player checks and the result it returns."""

from __future__ import annotations

import numbers
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._errors import TrainfreeError
from .._validation import check_param
from ..result import PlayerResult

Utility = Callable[[tuple[int, ...]], float]


def check_players(n_players: int) -> int:
    return int(check_param("n_players", n_players, numbers.Integral, low=1))


def player_column(names: Sequence[Any] | None, K: int) -> np.ndarray:
    if names is None:
        return np.arange(K)
    player = np.asarray(list(names))
    if player.shape != (K,):
        raise TrainfreeError(f"names must hold one name per player ({K}), got {len(player)}.")
    return player


def player_result(method: str, values: np.ndarray, stderr: np.ndarray | None, player: np.ndarray,
                  settings: dict[str, Any], n_evaluations: int, seed: Any, start: float) -> PlayerResult:
    """The result of a semivalue; ``stderr=None`` (exact methods) becomes NaN: there is no sampling error."""
    stderr = np.full(len(values), np.nan) if stderr is None else stderr
    return PlayerResult(method, {"value": values, "stderr": stderr, "player": player},
                        {**settings, "n_evaluations": int(n_evaluations)}, seed,
                        {"total_s": time.perf_counter() - start})
