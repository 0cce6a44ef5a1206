"""Contributor values: a semivalue of the DAVINZ utility, with each contributor's two terms beside it."""

from __future__ import annotations

import numbers
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from .. import semivalues
from .._errors import TrainfreeError
from .._random import SeedLike, check_random_state, child, seed_record
from .._validation import check_param
from ..result import PlayerResult
from .davinz import DavinzUtility
from .davinz_options import DEFAULT_NU, NuOptions

SEMIVALUES = ("loo", "shapley", "banzhaf")


def davinz_values(contributors: Sequence[tuple], X_val: Any, *, model: nn.Module,
                  nu: str | NuOptions = DEFAULT_NU, semivalue: str = "shapley", max_exact: int = 12,
                  n_samples: int = 500, checkpoint: str | Path | None = None,
                  names: Sequence[Any] | None = None, random_state: SeedLike = None, n_jobs: int | None = None,
                  **utility_options: Any) -> PlayerResult:
    """Value each contributor by a semivalue of the DAVINZ utility ν.

    Parameters
    ----------
    contributors : sequence of (X_i, y_i)
        Each contributor's inputs and targets (see :class:`DavinzUtility`).
    X_val : array
        The validation inputs T.
    model : nn.Module
        The network at initialization.
    nu : {"recommended", "paper"} or NuOptions
        Which ν (see :class:`DavinzUtility`): ``"recommended"`` (default; the mean NTK over the
        class outputs, size ridge 3e-4, thresholded MMD, chosen by the ground-truth study) or ``"paper"`` (the
        official ν); :class:`~trainfree.valuation.NuOptions` overrides one of their options.
    semivalue : {"loo", "shapley", "banzhaf"}
        Leave-one-out, or Shapley / Banzhaf values: enumerated exactly up to ``max_exact``
        contributors, else permutation Monte Carlo (Shapley) or maximum sample reuse (Banzhaf)
        with ``n_samples`` draws, resumable from ``checkpoint``.
    max_exact, n_samples : int
    checkpoint : str or Path, optional
        Monte Carlo only: saved after every batch and resumed from; refused for exact methods, and
        on resume when it was written for another problem (data, model, ``utility_options``: see
        :meth:`DavinzUtility.fingerprint`) or other Monte Carlo settings.
    names : sequence, optional
        Contributor names for the ``player`` column (default ``c0, c1, ...``).
    random_state : None, int, Generator or SeedSequence
        Seeds the NTK block assignment and the Monte Carlo draws, each from its own child sequence.
    n_jobs : int, optional
        joblib workers for utility evaluations.
    **utility_options
        Passed to :class:`DavinzUtility` (``kappa``, ``bandwidth``, ``convention``, ``ntk``, ``device``, ...).

    Returns
    -------
    PlayerResult
        Columns ``value``, ``stderr`` (NaN for exact methods), ``player``, ``size``, ``ntk_term``
        = sqrt(ŷᵀΘ₀⁻¹ŷ/m) and ``mmd_term`` = MMD(T, S) of each contributor alone; settings of the
        utility and of the semivalue; timings ``ntk_s``, ``mmd_s``, ``semivalue_s``, ``total_s``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> parts = [(rng.normal(size=(20, 4)), rng.integers(0, 2, 20)) for _ in range(3)]
    >>> net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
    >>> res = davinz_values(parts, rng.normal(size=(30, 4)), model=net, random_state=0)
    >>> list(res.to_dataframe().columns)
    ['value', 'stderr', 'player', 'size', 'ntk_term', 'mmd_term']
    """
    t0 = time.perf_counter()
    check_param("semivalue", semivalue, str, choices=SEMIVALUES)
    check_param("max_exact", max_exact, numbers.Integral, low=1, high=semivalues.MAX_EXACT_PLAYERS)
    check_param("n_samples", n_samples, numbers.Integral, low=2)
    seed = check_random_state(random_state)
    K = len(contributors)
    names = [f"c{k}" for k in range(K)] if names is None else list(names)
    exact = semivalue == "loo" or K <= max_exact
    if exact and checkpoint is not None:
        raise TrainfreeError(f"A checkpoint resumes Monte Carlo runs, but {K} contributors with "
                             f"semivalue={semivalue!r} and max_exact={max_exact} are computed exactly in one pass. "
                             f"Pass checkpoint=None" + ("." if semivalue == "loo" or K < 2 else
                                                         f", or max_exact={K - 1} or less for Monte Carlo."))
    utility = DavinzUtility(contributors, X_val, model=model, nu=nu, random_state=child(seed, "ntk_blocks"),
                            **utility_options)
    t1 = time.perf_counter()
    mc_seed = child(seed, "semivalue")
    if semivalue == "loo":
        res = semivalues.leave_one_out(utility, K, names=names, n_jobs=n_jobs)
    elif semivalue == "shapley":
        res = (semivalues.exact_shapley(utility, K, names=names, n_jobs=n_jobs) if exact else
               semivalues.permutation_shapley(utility, K, max_permutations=n_samples, random_state=mc_seed,
                                              checkpoint=checkpoint, names=names, n_jobs=n_jobs))
    else:
        res = (semivalues.exact_banzhaf(utility, K, names=names, n_jobs=n_jobs) if exact else
               semivalues.banzhaf_msr(utility, K, n_samples=n_samples, random_state=mc_seed,
                                      checkpoint=checkpoint, names=names, n_jobs=n_jobs))
    ntk_term, mmd_term = np.array([utility.terms((i,)) for i in range(K)]).T
    return PlayerResult(
        "davinz_values",
        {**res.columns, "size": utility.sizes, "ntk_term": ntk_term, "mmd_term": mmd_term},
        {**utility.settings, "semivalue": res.method, **res.settings}, seed_record(seed),
        {**utility.timings, "semivalue_s": time.perf_counter() - t1, "total_s": time.perf_counter() - t0})

