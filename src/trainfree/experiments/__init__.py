"""Workflows that the CLI, the benchmarks and the tests share, each returning a result object.

- :func:`score_dataset`: CG-score a data set, optionally with known flipped labels, and measure detection.
- :func:`value_contributors`: split a data set among contributors and value them with DAVINZ.
- :func:`davinz_groundtruth`: the DAVINZ paper's study of ν against trained test accuracy.
"""

from .contributors import value_contributors
from .groundtruth import davinz_groundtruth
from .noise import score_dataset

__all__ = ["davinz_groundtruth", "score_dataset", "value_contributors"]
