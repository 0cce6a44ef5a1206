"""trainfree: value data before (or very early in) training.

The flow: :mod:`~trainfree.data` → :mod:`~trainfree.kernels` → :mod:`~trainfree.scores` (per-example)
and :mod:`~trainfree.valuation` (per-dataset) → :mod:`~trainfree.semivalues` (per-contributor) →
:mod:`~trainfree.experiments` (workflows that test a score against ground truth) → :mod:`~trainfree.cli`.
"""

from ._errors import TrainfreeError
from .result import ExampleResult, PlayerResult, Result, load_result
from .scores import CGResult, MislabelResult, cg_score, mislabel_score
from .semivalues import banzhaf_msr, exact_banzhaf, exact_shapley, leave_one_out, permutation_shapley
from .valuation import DavinzUtility, davinz_values

__all__ = [
    "CGResult",
    "DavinzUtility",
    "ExampleResult",
    "MislabelResult",
    "PlayerResult",
    "Result",
    "TrainfreeError",
    "banzhaf_msr",
    "cg_score",
    "davinz_values",
    "exact_banzhaf",
    "exact_shapley",
    "leave_one_out",
    "load_result",
    "mislabel_score",
    "permutation_shapley",
]
__version__ = "0.1.0"
