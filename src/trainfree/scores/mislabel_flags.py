"""Which labels to flag, without knowing the noise rate: confident learning on leave-one-out probabilities.

Confident learning (Northcutt, Jiang and Chuang, JAIR 2021) estimates how many labels are wrong from
out-of-sample class probabilities ``P`` (n × classes) and the given labels, then flags that many:

1. the per-class threshold ``t_j``: the mean of ``P[i, j]`` over the rows given label j;
2. the *confident joint* ``C[given, true]``: row i given label c is counted in (c, j) for the class j
   of largest ``P[i, j]`` among those with ``P[i, j] ≥ t_j`` (rows above no threshold are not counted);
3. calibrated to the class counts (each row of C rescaled to the number of rows given that label) and
   normalised, C becomes ``Q``, an estimate of the joint distribution of given and true labels; the
   noise rate of class c is ``1 − Q[c, c] / Σ_j Q[c, j]`` and the overall rate ``1 − trace(Q)``;
4. *prune by noise rate*: for each pair c ≠ j, the ``round(n·Q[c, j])`` rows given c with the largest
   margin ``P[i, j] − P[i, c]`` are flagged, and a flag is kept only where the most probable class is
   not the given one.

For the mislabel detector ``P`` is the softmax of the leave-one-out predictions
(:func:`trainfree.scores.mislabel_score`), so no model is trained and no folds are drawn. Two kinds of
rows are never flagged: a row whose class has no other member (leave-one-out cannot predict a label no
other row carries: :func:`lone_classes`), and a row whose score is within :data:`SCORE_TOL` of typical
(rounding cannot tell it from its class). Data whose rows are all identical are refused
(:func:`check_distinct_rows`). :func:`detector_columns` turns the detector's leave-one-out
predictions into the result's columns (scores, flags, predicted class) with these rules.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._errors import TrainfreeError
from ..linalg.loo_predictions import example_columns, fit_temperature, log_probabilities

#: Least score (log t_c − log P[c]) a flag needs: a label whose leave-one-out probability is within
#: 0.1% of its class's typical one is never flagged. Rounding in a float32 solve moves scores by ~1e-6.
SCORE_TOL = 1e-3


@dataclass(frozen=True)
class NoiseEstimate:
    """Confident learning's estimate of the label noise, from the confident joint.

    Attributes
    ----------
    confident_joint : ndarray of shape (classes, classes)
        Counts ``C[given, true]`` of the rows confidently in each pair.
    joint : ndarray of shape (classes, classes)
        ``Q``: the confident joint calibrated to the class counts, summing to 1 (0 in the rows and
        columns of classes that cannot be judged).
    per_class : ndarray of shape (classes,)
        Estimated share of wrong labels among the rows given each class; NaN for a class that cannot be
        judged.
    overall : float
        Estimated share of wrong labels among the rows that can be judged.
    """

    confident_joint: np.ndarray
    joint: np.ndarray
    per_class: np.ndarray
    overall: float


def lone_classes(codes: np.ndarray, n_classes: int) -> np.ndarray:
    """Boolean mask of the classes with fewer than two rows: leave-one-out cannot judge their rows.

    Examples
    --------
    >>> lone_classes(np.array([0, 0, 1, 2, 2]), 3).tolist()
    [False, True, False]
    """
    return np.bincount(codes, minlength=n_classes) < 2


#: The start of the warning :func:`warn_lone_classes` gives (a regular expression, for warning filters).
LONE_CLASSES_MESSAGE = r"\d+ class\(es\) have a single row"


def warn_lone_classes(classes: np.ndarray, lone: np.ndarray, *, stacklevel: int = 4) -> None:
    """One warning line naming the classes whose only row is left unjudged (never flagged), at the
    user's call (``stacklevel`` counted from here)."""
    if lone.any():
        names = ", ".join(repr(c.item() if hasattr(c, "item") else c) for c in classes[lone][:10])
        more = f" and {int(lone.sum()) - 10} more" if lone.sum() > 10 else ""
        warnings.warn(f"{int(lone.sum())} class(es) have a single row ({names}{more}): leave-one-out cannot predict "
                      f"a label no other row carries, so those rows are not judged and never flagged.",
                      stacklevel=stacklevel)


def check_distinct_rows(features: np.ndarray, *, what: str = "X") -> None:
    """Refuse data whose rows (or, for a square kernel matrix, entries) are all the same within rounding.

    Examples
    --------
    >>> check_distinct_rows(np.ones((3, 2)))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    trainfree._errors.TrainfreeError: All 3 rows of X are identical: no example can be told apart ...
    """
    first, scale, spread = features[:1], float(np.abs(features[:1]).max(initial=0.0)), 0.0
    rows = max(1, 2**22 // max(features[:1].size, 1))  # blocks of about 4 million entries: no copy of a large input
    for start in range(0, features.shape[0], rows):
        block = features[start:start + rows]
        scale = max(scale, float(np.abs(block).max(initial=0.0)))
        spread = max(spread, float(np.abs(block - first).max(initial=0.0)))
    if spread <= 1e-7 * max(scale, 1e-300):
        raise TrainfreeError(f"All {features.shape[0]} rows of {what} are identical: no example can be told apart "
                             f"from another, so no label can be judged. Pass data whose rows differ.")


def estimate_noise(P: np.ndarray, codes: np.ndarray, *, judged: np.ndarray | None = None) -> NoiseEstimate:
    """Confident learning's noise estimate from out-of-sample probabilities ``P`` and the given labels.

    Parameters
    ----------
    P : ndarray of shape (n_samples, n_classes)
        Class probabilities of each row, predicted without that row (leave-one-out or cross-validated).
    codes : ndarray of shape (n_samples,)
        Given labels as integer codes.
    judged : ndarray of bool, shape (n_classes,), optional
        Classes that can be judged (default: those with at least two rows); the others are neither a
        given nor a candidate true class.

    Examples
    --------
    >>> P = np.array([[0.9, 0.1], [0.7, 0.3], [0.2, 0.8], [0.1, 0.9], [0.3, 0.7], [0.9, 0.1]])
    >>> est = estimate_noise(P, np.array([0, 0, 1, 1, 1, 1]))
    >>> est.confident_joint.tolist(), round(est.overall, 3)
    ([[1, 0], [1, 3]], 0.167)
    """
    n_classes = P.shape[1]
    judged = ~lone_classes(codes, n_classes) if judged is None else judged
    rows = judged[codes]
    counts = np.bincount(codes[rows], minlength=n_classes)
    thresholds = np.bincount(codes[rows], weights=P[rows, codes[rows]], minlength=n_classes) / np.maximum(counts, 1)
    above = (P >= thresholds) & judged
    candidate = np.where(above, P, -np.inf)
    counted = rows & above.any(axis=1)
    joint_counts = np.zeros((n_classes, n_classes), dtype=int)
    np.add.at(joint_counts, (codes[counted], candidate[counted].argmax(axis=1)), 1)
    per_row = joint_counts.sum(axis=1, keepdims=True)
    calibrated = np.where(per_row > 0, joint_counts / np.maximum(per_row, 1), 0.0) * counts[:, None]
    Q = calibrated / max(calibrated.sum(), 1)
    given = Q.sum(axis=1)
    per_class = np.where(judged & (given > 0), 1 - np.diagonal(Q) / np.where(given > 0, given, 1), np.nan)
    return NoiseEstimate(joint_counts, Q, per_class, float(1 - np.trace(Q)) if Q.sum() else 0.0)


def prune_by_noise_rate(P: np.ndarray, codes: np.ndarray, joint: np.ndarray) -> np.ndarray:
    """Flag, for each pair given c ≠ true j, the ``round(n·joint[c, j])`` rows given c of largest
    P[j] − P[c], where the most probable class is not c (confident learning's prune by noise rate).

    Examples
    --------
    >>> P = np.array([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.45, 0.55]])
    >>> prune_by_noise_rate(P, np.array([0, 0, 1, 0]), np.array([[0.5, 0.25], [0.0, 0.25]])).tolist()
    [False, False, False, True]
    """
    n = len(codes)
    flags = np.zeros(n, dtype=bool)
    for c, j in zip(*np.nonzero(joint)):
        k = int(round(n * joint[c, j]))
        if c == j or k == 0:
            continue
        rows = np.flatnonzero(codes == c)
        flags[rows[np.argsort(P[rows, c] - P[rows, j], kind="stable")[:k]]] = True
    return flags & (P.argmax(axis=1) != codes)


def confident_learning_flags(P: np.ndarray, codes: np.ndarray, *,
                             judged: np.ndarray | None = None) -> tuple[np.ndarray, NoiseEstimate]:
    """Flags needing no noise rate: the estimate of :func:`estimate_noise`, pruned by :func:`prune_by_noise_rate`.

    Examples
    --------
    >>> P = np.array([[0.9, 0.1], [0.7, 0.3], [0.2, 0.8], [0.1, 0.9], [0.3, 0.7], [0.9, 0.1]])
    >>> flags, est = confident_learning_flags(P, np.array([0, 0, 1, 1, 1, 1]))
    >>> np.flatnonzero(flags).tolist()
    [5]
    """
    estimate = estimate_noise(P, codes, judged=judged)
    return prune_by_noise_rate(P, codes, estimate.joint), estimate


def flag_columns(P: np.ndarray, codes: np.ndarray, score: np.ndarray, classes: np.ndarray,
                 judged: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The detector's flag columns and the noise estimate for its settings.

    ``flag_mislabel``: confident learning's flags (:func:`confident_learning_flags`) on the leave-one-out
    probabilities; ``flag_argmax``: the leave-one-out argmax is not the given label. Both need a score
    above :data:`SCORE_TOL` and a class that can be judged.
    """
    flags, estimate = confident_learning_flags(P, codes, judged=judged)
    can = judged[codes] & (np.nan_to_num(score, nan=-np.inf) > SCORE_TOL)
    cols = {"flag_mislabel": flags & can, "flag_argmax": (P.argmax(axis=1) != codes) & can}
    settings = {"flag_rule": "confident learning, prune by noise rate, on the leave-one-out probabilities",
                "noise_rate_estimate": estimate.overall,
                "noise_rate_estimate_per_class": [None if np.isnan(r) else float(r) for r in estimate.per_class],
                "unjudged_classes": [c.item() if hasattr(c, "item") else c for c in classes[~judged]]}
    return cols, settings


def detector_columns(runs: np.ndarray, codes: np.ndarray, classes: np.ndarray,
                     temperature: float | str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The result's columns from the repeats' mean F, at the fitted (or given) temperature τ, and the
    settings they add: τ and the flags' noise estimate. Rows of a class with no other member are not
    judged (score NaN, never flagged; one warning names the classes).

    ``runs`` holds the leave-one-out predictions F of each repeat, shape (repeats, n, classes); the
    columns are those :func:`~trainfree.scores.mislabel_score` returns.

    Examples
    --------
    >>> F = np.array([[0.9, 0.1], [0.8, 0.2], [0.2, 0.8], [0.1, 0.9], [0.7, 0.3]])
    >>> cols, settings = detector_columns(F[None], np.array([0, 0, 1, 1, 1]), np.array(["a", "b"]), 1.0)
    >>> cols["predicted"].tolist(), int(np.argmax(cols["score"])), settings["temperature"]
    (['a', 'a', 'b', 'b', 'a'], 4, 1.0)
    """
    F = runs.mean(axis=0)
    judged = ~lone_classes(codes, classes.size)
    rows = judged[codes]
    warn_lone_classes(classes, ~judged)
    tau = fit_temperature(F[rows], codes[rows]) if temperature == "auto" and rows.any() else (
        1.0 if temperature == "auto" else float(temperature))
    cols = example_columns(F, codes, tau, judged=judged)
    flags, settings = flag_columns(np.exp(log_probabilities(F, tau)), codes, cols["score"], classes, judged)
    cols.update(flags)
    cols["stderr"] = np.full(len(codes), np.nan)  # one run (exact, large) has no spread to measure
    if len(runs) > 1:
        per_run = np.stack([example_columns(r, codes, tau, judged=judged)["score"] for r in runs])
        cols["stderr"] = per_run.std(axis=0, ddof=1) / math.sqrt(len(runs))
    cols["predicted"], cols["label"] = classes[cols["predicted"]], classes[codes]
    return cols, {"temperature": tau, **settings}
