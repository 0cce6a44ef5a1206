"""trainfree: value data before (or very early in) training.

The flow: :mod:`~trainfree.data` → :mod:`~trainfree.kernels` → :mod:`~trainfree.scores` (per-example)
and :mod:`~trainfree.valuation` (per-dataset) → :mod:`~trainfree.semivalues` (per-contributor) →
:mod:`~trainfree.experiments` (workflows that test a score against ground truth) → :mod:`~trainfree.cli`.

The names below are imported on first use (PEP 562), so ``import trainfree`` and ``trainfree --help``
do not import torch; ``from trainfree import mislabel_score`` works as usual.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what static analysers and IDEs see; at run time __getattr__ imports on first use
    from ._errors import TrainfreeError
    from .result import ExampleResult, PlayerResult, Result, load_result
    from .scores import (
        CGMethod,
        CGResult,
        DetectorMethod,
        MislabelResult,
        Preprocess,
        cg_features_score,
        cg_prime_score,
        cg_score,
        el2n_score,
        forgetting_events,
        forgetting_score,
        grand_score,
        mislabel_score,
    )
    from .semivalues import banzhaf_msr, exact_banzhaf, exact_shapley, leave_one_out, permutation_shapley
    from .valuation import DavinzUtility, davinz_values

# Every public name and the module that defines it; tests/test_exports.py keeps this sorted and complete.
_ORIGIN = {
    "CGMethod": ".scores",
    "CGResult": ".scores",
    "DavinzUtility": ".valuation",
    "DetectorMethod": ".scores",
    "ExampleResult": ".result",
    "MislabelResult": ".scores",
    "PlayerResult": ".result",
    "Preprocess": ".scores",
    "Result": ".result",
    "TrainfreeError": "._errors",
    "banzhaf_msr": ".semivalues",
    "cg_features_score": ".scores",
    "cg_prime_score": ".scores",
    "cg_score": ".scores",
    "davinz_values": ".valuation",
    "el2n_score": ".scores",
    "exact_banzhaf": ".semivalues",
    "exact_shapley": ".semivalues",
    "forgetting_events": ".scores",
    "forgetting_score": ".scores",
    "grand_score": ".scores",
    "leave_one_out": ".semivalues",
    "load_result": ".result",
    "mislabel_score": ".scores",
    "permutation_shapley": ".semivalues",
}
__all__ = list(_ORIGIN)
__version__ = "0.1.0"

# Sub-packages reachable as attributes after a plain ``import trainfree`` (``trainfree.data.load``).
_SUBPACKAGES = frozenset({"cli", "data", "experiments", "kernels", "metrics", "report", "result", "scores",
                          "semivalues", "training", "valuation"})


def __getattr__(name: str) -> Any:
    if name in _ORIGIN:
        value = getattr(importlib.import_module(_ORIGIN[name], __name__), name)
    elif name in _SUBPACKAGES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, *_SUBPACKAGES})
