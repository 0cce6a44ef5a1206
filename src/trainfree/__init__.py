"""trainfree: value data before (or very early in) training.

Per-example scores (CG-score), dataset valuation at initialization (DAVINZ) and semivalues over
data contributors, with the experiments that test them.
"""

from ._validation import TrainfreeError
from .davinz import DavinzUtility
from .result import Result
from .scores import CGResult, cg_score
from .semivalues import (SemivalueResult, banzhaf_msr, exact_banzhaf, exact_shapley, leave_one_out,
                         permutation_shapley)

__all__ = [
    "CGResult",
    "DavinzUtility",
    "Result",
    "SemivalueResult",
    "TrainfreeError",
    "banzhaf_msr",
    "cg_score",
    "exact_banzhaf",
    "exact_shapley",
    "leave_one_out",
    "permutation_shapley",
]
__version__ = "0.1.0"
