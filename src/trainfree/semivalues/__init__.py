"""Semivalues over K players (data contributors) for any utility: Shapley, Banzhaf, Beta-Shapley, LOO.

Utility protocol
----------------
A utility is a callable ``utility(coalition) -> float``, where ``coalition`` is a sorted tuple of
player indices in ``0..K-1``; the empty tuple is a coalition like any other. Within one call every
coalition is evaluated at most once (values are cached by coalition) and ``n_evaluations`` counts the
distinct evaluations. The utility must be deterministic given the coalition, and picklable when a
process-based joblib backend is used.

A utility that knows its number of players should expose it as an ``n_players`` attribute (an int);
every semivalue then refuses another ``n_players``. Without it, an ``IndexError`` or ``KeyError``
raised by the utility becomes a :class:`~trainfree.TrainfreeError` naming the coalition (``n_players``
probably exceeds the utility's players).

A utility may also define ``fingerprint()``, returning a str or a JSON-able dict that identifies the
problem (data, settings, summaries of what it precomputed): checkpoints store it and refuse to resume
another problem's run (floats compared with a relative tolerance of 1e-6).

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
running moments are saved after every batch (atomically: a temp file, then ``os.replace``) and an
interrupted run resumes where it stopped, giving the values an uninterrupted run would have given. The
checkpoint records the settings that change the draws (method, n_players, batch_size, antithetic,
seed), the utility's values on the empty and the grand coalition, and its ``fingerprint()`` if any;
resuming with anything else is refused. Stopping settings (sample budgets, tolerance) may change.
"""

from .exact import MAX_EXACT_PLAYERS, exact_banzhaf, exact_semivalue, exact_shapley, leave_one_out
from .montecarlo import banzhaf_msr, permutation_shapley
from .weights import banzhaf_weights, beta_shapley_weights, shapley_weights

__all__ = ["MAX_EXACT_PLAYERS", "banzhaf_msr", "banzhaf_weights", "beta_shapley_weights", "exact_banzhaf",
           "exact_semivalue", "exact_shapley", "leave_one_out", "permutation_shapley", "shapley_weights"]
