"""How well a score finds what it should: label-noise detection metrics."""

from __future__ import annotations

import numpy as np

from ._validation import TrainfreeError, check_array


def _pair(scores, flipped) -> tuple[np.ndarray, np.ndarray]:
    scores = check_array(scores, name="scores", ndim=1)
    flipped = np.asarray(flipped).astype(bool)
    if flipped.shape != scores.shape:
        raise TrainfreeError(f"scores has shape {scores.shape} but the flipped mask has shape {flipped.shape}; "
                             f"pass one mask entry per scored example.")
    return scores, flipped


def noise_found_at(scores, flipped, fractions=(0.05, 0.1, 0.2, 0.3, 0.4, 0.5)) -> dict[float, float]:
    """Fraction of all flipped labels among the top ``f`` fraction of examples, highest score first.

    This is the paper's label-noise curve (CG-score Fig. 3b): an oracle reaches 1 at f = noise rate.

    Examples
    --------
    >>> noise_found_at([0.9, 0.1, 0.8, 0.2], [True, False, True, False], fractions=(0.5,))
    {0.5: 1.0}
    """
    scores, flipped = _pair(scores, flipped)
    if not flipped.any():
        raise TrainfreeError("The flipped mask has no True entry: there is no noise to find.")
    order = np.argsort(-scores, kind="stable")
    found = np.cumsum(flipped[order]) / flipped.sum()
    return {float(f): float(found[max(int(round(f * len(scores))), 1) - 1]) for f in fractions}


def auroc(scores, flipped) -> float:
    """Area under the ROC curve of ``scores`` as a detector of flipped labels (0.5 = chance).

    Ties count one half (Mann–Whitney U), so it is exact for any score.

    Examples
    --------
    >>> auroc([3, 1, 2, 0], [True, False, True, False])
    1.0
    """
    scores, flipped = _pair(scores, flipped)
    n_pos, n_neg = int(flipped.sum()), int((~flipped).sum())
    if n_pos == 0 or n_neg == 0:
        raise TrainfreeError("AUROC needs both flipped and clean examples; the mask has only one kind.")
    from scipy.stats import rankdata

    ranks = rankdata(scores)
    return float((ranks[flipped].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def sign_rule_report(flags, flipped) -> dict[str, float]:
    """Precision and recall of a boolean mislabel flag (e.g. the CG-score sign rule).

    Returns ``noisy_positive_frac`` (recall: flipped examples flagged) and ``clean_positive_frac``
    (clean examples flagged), the two numbers of the CG-score paper's Table 2, plus precision.
    """
    flags, flipped = _pair(np.asarray(flags, dtype=float), flipped)
    flags = flags.astype(bool)
    return {"noisy_positive_frac": float(flags[flipped].mean()) if flipped.any() else float("nan"),
            "clean_positive_frac": float(flags[~flipped].mean()) if (~flipped).any() else float("nan"),
            "precision": float(flipped[flags].mean()) if flags.any() else float("nan"),
            "recall": float(flags[flipped].mean()) if flipped.any() else float("nan")}
