"""trainfree: value data before (or very early in) training.

Per-example scores (CG-score, Data Diet), dataset valuation at initialization (DAVINZ) and
semivalues over data contributors, with the experiments that test them.
"""

from ._validation import TrainfreeError
from .result import Result

__all__ = ["Result", "TrainfreeError"]
__version__ = "0.1.0"
