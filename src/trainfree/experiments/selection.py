"""Which rows a pruning keeps: the plain cut of the score-ranked rows, coverage-centric selection, and
the sliding window of the ranked rows.

Coverage-centric selection (CCS; Zheng et al., ICLR 2023) keeps the whole range of scores instead of
one end: it drops only the hardest (highest-scored) share ``hard_cut`` (β, likely mislabelled or
ambiguous rows), splits the rest into ``n_strata`` strata of equal score width and spends the budget
of kept rows evenly across them, filling the smallest strata first, drawing uniformly within each.

Shared by :func:`~trainfree.experiments.pruning_curve` and :func:`~trainfree.experiments.window_curve`.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .._defaults import HARD_CUT, N_STRATA
from .._errors import TrainfreeError
from .._random import SeedLike, check_random_state, child
from .._random import rng as make_rng
from .._validation import check_param

DIRECTIONS = ("keep_hard", "keep_easy")
SAMPLINGS = ("top", "ccs")


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


def prune_order(scores, y, *, fraction: float, direction: str = "keep_hard", sampling: str = "top",
                hard_cut: float = HARD_CUT, n_strata: int = N_STRATA, class_balanced: bool = False,
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
        ``sampling="ccs"`` takes ``keep_hard`` only: higher scores are the harder rows.
    sampling : {"top", "ccs"}, default="top"
        ``top``: the plain cut by ``direction``. ``ccs``: coverage-centric selection (Zheng et al.,
        ICLR 2023): remove the ``round(hard_cut * n)`` highest-scored rows, split the others into
        ``n_strata`` equal-width score strata, and keep ``n - round(fraction * n)`` rows spread across
        them by :func:`~trainfree.experiments.stratum_budgets`, drawn uniformly at random within each stratum.
    hard_cut : float in [0, 1), default=0.1
        CCS's β: share of the hardest rows always removed; at most ``fraction``. The paper tunes it per
        pruning rate (0 at low rates; its CIFAR-10 example at 90% pruning uses 0.3).
    n_strata : int, default=50
        CCS's number of strata (the official code's 50).
    class_balanced : bool
        Remove the same share within each class, so the class proportions stay as they were (the
        per-class counts are rounded by largest remainder to the same total). With ``ccs``, each
        class is cut and stratified on its own, with its own share of the budget.
    random_state : None, int, Generator or SeedSequence
        Breaks ties between equal scores; with ``ccs`` also draws the rows within each stratum.

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

    CCS drops the hardest row (1.0), splits the rest into the strata [0, 0.45) and [0.45, 0.9], and keeps
    one row of the smaller stratum and two of the larger:

    >>> prune_order([0.0, 0.1, 0.9, 0.5, 1.0, 0.6], [0] * 6, fraction=0.5, sampling="ccs", hard_cut=0.2,
    ...             n_strata=2, random_state=0).tolist()
    [1, 2, 5]
    """
    s = as_scores(scores)
    y = np.asarray(y)
    if y.shape != s.shape:
        raise TrainfreeError(f"There are {len(s)} scores but {y.size} labels; pass one label per scored row.")
    fraction = check_fraction(fraction)
    check_param("direction", direction, str, choices=DIRECTIONS)
    check_param("sampling", sampling, str, choices=SAMPLINGS)
    seed = check_random_state(random_state)
    if sampling == "ccs":
        check_ccs(fraction, hard_cut, n_strata, direction)
        return _ccs(s, y, fraction, float(hard_cut), int(n_strata), class_balanced, seed)
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


def check_ccs(fraction: float, hard_cut: Any, n_strata: Any, direction: str = "keep_hard") -> None:
    """Refuse CCS settings that cannot work, naming the fix (``fraction`` already checked)."""
    if isinstance(hard_cut, (bool, np.bool_)) or not isinstance(hard_cut, numbers.Real) \
            or not 0 <= float(hard_cut) < 1:
        raise TrainfreeError(f"The 'hard_cut' (β) must be a share in [0, 1) of the hardest rows removed; got "
                             f"{hard_cut!r}. Pass e.g. hard_cut=0.1, or 0 for no cut.")
    if float(hard_cut) > fraction + 1e-12:
        raise TrainfreeError(f"hard_cut={float(hard_cut):g} removes more rows than fraction={fraction:g} prunes; "
                             f"pass hard_cut <= {fraction:g} (CCS only ever removes the hardest rows first).")
    if isinstance(n_strata, (bool, np.bool_)) or not isinstance(n_strata, numbers.Integral) or n_strata < 1:
        raise TrainfreeError(f"The 'n_strata' must be a whole number of strata >= 1; got {n_strata!r}. Pass e.g. "
                             f"n_strata={N_STRATA} (the paper's).")
    if direction != "keep_hard":
        raise TrainfreeError("sampling='ccs' keeps rows across the whole score range and cuts only the highest "
                             "scores (the hardest rows); pass direction='keep_hard' and negate the scores if "
                             "lower means harder.")


def stratum_budgets(sizes, budget: int) -> np.ndarray:
    """CCS's allocation of ``budget`` kept rows over strata of the given ``sizes``.

    The strata are visited from the smallest; each gets ``min(size, left // strata_left)``, so a small
    stratum is kept whole and what it leaves over is spread over the larger ones. The result sums to
    ``budget`` whenever ``budget <= sum(sizes)``.

    Examples
    --------
    >>> stratum_budgets([1, 10, 0, 4], 9).tolist()
    [1, 4, 0, 4]
    """
    sizes = np.asarray(sizes, dtype=int)
    out = np.zeros(len(sizes), dtype=int)
    left = int(budget)
    for i, j in enumerate(np.argsort(sizes, kind="stable")):
        out[j] = min(int(sizes[j]), left // (len(sizes) - i))
        left -= out[j]
    return out


def _ccs(s: np.ndarray, y: np.ndarray, fraction: float, hard_cut: float, n_strata: int, class_balanced: bool,
         seed: np.random.SeedSequence) -> np.ndarray:
    """The rows CCS keeps: per class with ``class_balanced``, else over all rows."""
    if class_balanced:
        classes, codes = np.unique(y, return_inverse=True)
        groups = [np.flatnonzero(codes == c) for c in range(len(classes))]
    else:
        groups = [np.arange(len(s))]
    sizes = np.array([len(g) for g in groups])
    remove = _balanced_counts(sizes, fraction)
    cut = np.minimum(_balanced_counts(sizes, hard_cut), remove)  # rounding may not lift the cut past the prune
    draw = make_rng(child(seed, "ccs"))
    kept = []
    for g, rows in enumerate(groups):
        order = rows[_ranked(s[rows], True, child(seed, f"ties/{g}"))][cut[g]:]  # the hardest rows removed
        if len(rows) == remove[g]:  # a class this small loses every row, as in the plain cut
            continue
        r = s[order]
        lo, hi = r.min(), r.max()
        width = (hi - lo) / n_strata
        strata = np.zeros(len(r), dtype=int) if width <= 0 else np.minimum(((r - lo) / width).astype(int), n_strata - 1)
        budget = stratum_budgets(np.bincount(strata, minlength=n_strata), len(rows) - remove[g])
        for k in np.flatnonzero(budget):
            kept.append(draw.choice(order[strata == k], size=budget[k], replace=False))
    return np.sort(np.concatenate(kept)) if kept else np.array([], dtype=int)


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
