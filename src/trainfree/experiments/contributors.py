"""Contributor valuation on a real data set: split it among contributors, corrupt some, value them with DAVINZ."""

from __future__ import annotations

import numbers
import time
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import TrainfreeError
from .._random import SeedLike, check_random_state, child, seed_record
from .._random import rng as make_rng
from .._validation import check_param
from ..data import Dataset, split_contributors
from ..result import PlayerResult
from ..training import input_shape, make_model
from ..training.models import KINDS
from ..valuation import davinz_values


def value_contributors(data: Dataset, *, n_contributors: int = 10, split: str = "random", noise_rate: float = 0.4,
                       val_fraction: float = 0.2, model: str = "mlp", semivalue: str = "shapley",
                       max_exact: int = 12, n_samples: int = 500, checkpoint: str | Path | None = None,
                       random_state: SeedLike = None, n_jobs: int | None = None,
                       **davinz_options: Any) -> PlayerResult:
    """Hold out a validation set, split the rest among contributors and value each with DAVINZ.

    Parameters
    ----------
    data : Dataset
        Classification data.
    n_contributors : int
    split : {"random", "class", "sizes", "noisy"}
        How the rows are shared (see :func:`trainfree.data.split_contributors`); ``"noisy"`` flips a
        share ``noise_rate`` of the labels of the first :func:`trainfree.data.n_affected` contributors.
    noise_rate : float
    val_fraction : float in (0, 1)
        Share of the rows held out as the validation set T (at least 2 rows, and at least 2 per
        contributor must remain).
    model : {"mlp", "cnn", "davinz_cnn", "davinz_mlp"}
        The network at initialization (see :func:`trainfree.training.make_model`; the CNNs need image data).
    semivalue, max_exact, n_samples, checkpoint, n_jobs
        See :func:`trainfree.valuation.davinz_values`.
    random_state : None, int, Generator or SeedSequence
        Root seed; the validation split, the contributor split, the model and the valuation each
        draw from their own child.
    **davinz_options
        Passed to :class:`trainfree.valuation.DavinzUtility` (``outputs``, ``ntk_blocks``, ``device``, ...).

    Returns
    -------
    PlayerResult
        One row per contributor: ``value``, ``stderr``, ``player``, ``size``, ``ntk_term``,
        ``mmd_term``, ``noise_rate``.

    Examples
    --------
    >>> from trainfree.data import load
    >>> res = value_contributors(load("digits", n=300, random_state=0), n_contributors=3, random_state=0)
    >>> res.to_dataframe()["player"].tolist()
    ['c0', 'c1', 'c2']
    """
    t0 = time.perf_counter()
    if data.task != "classification":
        raise TrainfreeError(f"The labels of {data.name} are real numbers, but contributor valuation here needs "
                             f"class labels: bin them into classes (e.g. with pandas.cut), or value regression "
                             f"data from Python with DavinzUtility(task='regression').")
    check_param("n_contributors", n_contributors, numbers.Integral, low=1)
    check_param("val_fraction", val_fraction, numbers.Real, low=0, high=1, low_open=True, high_open=True)
    check_param("model", model, str, choices=KINDS)
    seed = check_random_state(random_state)
    n_val = int(round(val_fraction * len(data)))
    if n_val < 2 or len(data) - n_val < 2 * n_contributors:
        raise TrainfreeError(f"{len(data)} rows with val_fraction={val_fraction} leave {n_val} for validation and "
                             f"{len(data) - n_val} for {n_contributors} contributors; DAVINZ needs at least 2 "
                             f"validation rows and 2 rows per contributor. Use more data (--n) or change "
                             f"--val-fraction / --contributors.")
    order = make_rng(child(seed, "validation")).permutation(len(data))
    val, train = np.sort(order[:n_val]), np.sort(order[n_val:])
    parts = split_contributors(data.X[train], data.y[train], n_contributors, how=split, noise_rate=noise_rate,
                               random_state=child(seed, "split"))
    shape = input_shape(model, data.image_shape, data.X.shape[1], name=data.name)
    as_input = lambda A: A.reshape(len(A), *shape)  # noqa: E731
    net = make_model(model, shape, len(data.classes), random_state=child(seed, "model"))
    res = davinz_values([(as_input(p.X), p.y) for p in parts], as_input(data.X[val]), model=net, semivalue=semivalue,
                        max_exact=max_exact, n_samples=n_samples, checkpoint=checkpoint,
                        names=[p.name for p in parts], random_state=child(seed, "valuation"), n_jobs=n_jobs,
                        **davinz_options)
    return res.replace(
        columns={"noise_rate": np.array([p.noise_rate for p in parts])},
        settings={"data": data.name, "n_rows": len(data), "n_val": n_val, "split": split, "model": model,
                  "val_fraction": float(val_fraction)},
        timings={"total_s": time.perf_counter() - t0}, seed=seed_record(seed))
