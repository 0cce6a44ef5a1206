"""Which rows a pruning keeps: the plain cut of the score-ranked rows and the sliding window of them.

Shared by :func:`~trainfree.experiments.pruning_curve` and :func:`~trainfree.experiments.window_curve`.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .._errors import TrainfreeError
from .._random import SeedLike, check_random_state
from .._random import rng as make_rng
from .._validation import check_param

DIRECTIONS = ("keep_hard", "keep_easy")


def as_scores(scores: Any, name: str = "scores") -> np.ndarray:
    """One finite float per example from an array or a result's ``scores``; ``name`` is what an error calls them."""
    s = np.asarray(getattr(scores, "scores", scores), dtype=float)
    if s.ndim != 1 or not len(s):
        raise TrainfreeError(f"The {name} must be one number per example (a non-empty 1-D array); got shape "
                             f"{s.shape}. Pass one score per training row.")
    if not np.isfinite(s).all():
        raise TrainfreeError(f"The {name} hold {int((~np.isfinite(s)).sum())} NaN or infinite values; score "
                             f"every row with a finite number (e.g. replace NaN with the median).")
    return s


def check_fraction(fraction: Any, name: str = "fraction") -> float:
    """``fraction`` as a float strictly between 0 and 1, else a TrainfreeError naming ``name``."""
    if isinstance(fraction, (bool, np.bool_)) or not isinstance(fraction, numbers.Real) \
            or not 0 < float(fraction) < 1:
        raise TrainfreeError(f"The {name!r} parameter must be a share strictly between 0 and 1; got {fraction!r}. "
                             f"Pass e.g. 0.3 to prune 30% of the data.")
    return float(fraction)


def _ranked(scores: np.ndarray, descending: bool, seed: np.random.SeedSequence) -> np.ndarray:
    """Row indices by score (ascending or descending), ties in random order."""
    tie = make_rng(seed).random(len(scores))
    return np.lexsort((tie, -scores if descending else scores))


def _balanced_counts(counts: np.ndarray, fraction: float) -> np.ndarray:
    """Rows to remove from each class: ``fraction`` of each, rounded by largest remainder to the total."""
    quota = fraction * counts
    take = np.floor(quota).astype(int)
    left = int(round(fraction * counts.sum())) - int(take.sum())
    order = np.argsort(-(quota - take), kind="stable")
    take[order[:left]] += 1
    return take


def prune_order(scores, y, *, fraction: float, direction: str = "keep_hard", class_balanced: bool = False,
                random_state: SeedLike = None) -> np.ndarray:
    """The row indices kept after removing a share ``fraction`` of the data by score.

    Parameters
    ----------
    scores : array of shape (n,) or ExampleResult
        One score per row.
    y : array of shape (n,)
        Class labels (used only with ``class_balanced``).
    fraction : float in (0, 1)
        Share removed: ``round(fraction * n)`` rows.
    direction : {"keep_hard", "keep_easy"}
        ``keep_hard`` removes the lowest scores (Data Diet); ``keep_easy`` the highest (CG-score Fig. 2b).
    class_balanced : bool
        Remove the same share within each class, so the class proportions stay as they were (the
        per-class counts are rounded by largest remainder to the same total).
    random_state : None, int, Generator or SeedSequence
        Breaks ties between equal scores.

    Returns
    -------
    ndarray of int
        The kept row indices, ascending.

    Examples
    --------
    >>> prune_order([0.3, 0.1, 0.9, 0.5], [0, 0, 1, 1], fraction=0.5).tolist()
    [2, 3]
    >>> prune_order([0.3, 0.1, 0.9, 0.5], [0, 0, 1, 1], fraction=0.5, class_balanced=True).tolist()
    [0, 2]
    """
    s = as_scores(scores)
    y = np.asarray(y)
    if y.shape != s.shape:
        raise TrainfreeError(f"There are {len(s)} scores but {y.size} labels; pass one label per scored row.")
    fraction = check_fraction(fraction)
    check_param("direction", direction, str, choices=DIRECTIONS)
    seed = check_random_state(random_state)
    order = _ranked(s, direction == "keep_easy", seed)  # the rows to remove come first
    if not class_balanced:
        return np.sort(order[int(round(fraction * len(s))):])
    classes, codes = np.unique(y, return_inverse=True)
    remove = _balanced_counts(np.bincount(codes, minlength=len(classes)), fraction)
    ranked_codes = codes[order]
    pos_in_class = np.empty(len(s), dtype=int)
    for c in range(len(classes)):
        members = ranked_codes == c
        pos_in_class[members] = np.arange(members.sum())
    return np.sort(order[pos_in_class >= remove[ranked_codes]])


def window(scores, *, offset: float, window_width: float, random_state: SeedLike = None) -> np.ndarray:
    """The rows whose rank, by score descending, lies in ``[offset, offset + window_width)`` (fractions of n).

    Rank ``r`` (0 = highest score) is selected when ``round(offset*n) <= r < round((offset+window_width)*n)``;
    ties between equal scores are broken by ``random_state``. The Data Diet paper's sliding window.

    Examples
    --------
    >>> window([0.1, 0.9, 0.5, 0.7], offset=0.25, window_width=0.5).tolist()
    [2, 3]
    """
    s = as_scores(scores)
    check_param("offset", offset, numbers.Real, low=0, high=1)
    check_param("window_width", window_width, numbers.Real, low=0, high=1, low_open=True)
    if offset + window_width > 1 + 1e-12:
        raise TrainfreeError(f"The window [{offset:g}, {offset + window_width:g}) runs past the last rank; keep "
                             f"offset + window_width <= 1.")
    start, stop = int(round(offset * len(s))), int(round(min(offset + window_width, 1.0) * len(s)))
    return np.sort(_ranked(s, True, check_random_state(random_state))[start:stop])
