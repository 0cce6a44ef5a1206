"""Label-noise detection: flip a known share of labels, score every example, measure what the score finds."""

from __future__ import annotations

import numbers
import time
from typing import Any

import numpy as np

from .._errors import TrainfreeError
from .._random import SeedLike, check_random_state, child, seed_record
from .._validation import check_param
from ..data import Dataset, inject_label_noise
from ..metrics import auroc, noise_found_at, sign_rule_report
from ..result import ExampleResult
from ..scores import cg_score

FRACTIONS = (0.05, 0.1, 0.2, 0.3, 0.5)


def score_dataset(data: Dataset, *, noise: float = 0.0, random_state: SeedLike = None,
                  **cg_options: Any) -> ExampleResult:
    """CG-score every row of ``data``, after flipping a share ``noise`` of its labels when asked.

    The result's rows are ``data``'s rows in order and carry their identity (``row_id``), the label
    as the source wrote it (``label``: the class name, noisy where flipped) and, with noise, the
    original label and the ``flipped`` mask. With noise, ``metrics`` holds how well the score finds
    the flipped labels: AUROC of the score and of its label term, the share of flipped labels among
    the top ``f`` by score (``found_at``), and the sign rule's rates (the CG-score paper's Table 2).

    Parameters
    ----------
    data : Dataset
        Classification data (see :func:`trainfree.data.load`).
    noise : float in [0, 1]
        Share of labels flipped symmetrically before scoring.
    random_state : None, int, Generator or SeedSequence
        Root seed: the label noise and the score's own draws come from separate children of it.
    **cg_options
        Passed to :func:`trainfree.scores.cg_score` (``method``, ``ratio``, ``device``, ...).

    Returns
    -------
    CGResult

    Examples
    --------
    >>> from trainfree.data import load
    >>> res = score_dataset(load("digits", n=300, random_state=0), noise=0.2, random_state=0)
    >>> res.metrics["auroc"] > 0.9, int(res["flipped"].sum())
    (True, 60)
    """
    t0 = time.perf_counter()
    check_param("noise", noise, numbers.Real, low=0, high=1)
    if data.task != "classification":
        example = data.y[data.y != np.round(data.y)][:1].tolist() or data.y[:1].tolist() or [np.nan]
        raise TrainfreeError(f"The labels of {data.name} are real numbers (e.g. {example[0]:g}), but the CG-score "
                             f"needs class labels: bin them into classes (e.g. with pandas.cut) or encode them as "
                             f"integers or names.")
    seed = check_random_state(random_state)
    y, flipped = data.y, None
    if noise > 0:
        y, flipped = inject_label_noise(data.y, noise, n_classes=len(data.classes), random_state=child(seed, "noise"))
    res = cg_score(data.X, y, random_state=child(seed, "score"), **cg_options)
    names = np.asarray(data.classes, dtype=object)
    # The score encodes labels itself; report the class names the user knows, in the source's row order.
    columns: dict[str, Any] = {"label": names[y], "row_id": data.ids}
    metrics: dict[str, Any] = {}
    if flipped is not None:
        columns.update(original_label=data.labels, flipped=flipped)
        fractions = sorted({*FRACTIONS, float(noise)})
        metrics = {"noise": float(noise), "auroc": auroc(res.scores, flipped),
                   "auroc_partial_label": auroc(res["partial_label"], flipped),
                   "found_at": noise_found_at(res.scores, flipped, fractions=fractions),
                   **sign_rule_report(res.flags, flipped)}
    return res.replace(columns=columns, metrics=metrics,
                       settings={"data": data.name, "noise": float(noise), "data_classes": list(data.classes)},
                       timings={"workflow_s": time.perf_counter() - t0}, seed=seed_record(seed))

