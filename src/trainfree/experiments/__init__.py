"""Workflows that the CLI, the benchmarks and the tests share, each returning a result object.

- :func:`score_dataset`: score a data set with any per-example score, optionally with known flipped labels,
  and measure detection; :func:`compare_noise_detection` puts every score side by side on the same flips;
  :func:`score_parquet_parts` runs the detector on a folder of Parquet parts, on Dask.
- :func:`value_contributors`: split a data set among contributors and value them with DAVINZ;
  :func:`value_datasets` values real contributors' data (from :func:`load_contributors`) against your validation set.
- :func:`davinz_groundtruth`: the DAVINZ paper's study of ν against trained test accuracy.
- :func:`cleaning_gain`: flip labels, remove or relabel what a score flags, retrain, and measure the test
  accuracy gained against the noisy and the clean labels.
- :func:`pruning_curve`: prune by a score, retrain on a fixed step budget, test accuracy (Data Diet);
  :func:`prune_order` (the plain cut, or coverage-centric selection with :func:`stratum_budgets`), :func:`window`
  and :func:`score_correlations` beside it; :func:`window_curve` trains on
  offset windows of the score-ranked data with label noise (CG-score Fig. 6).
- :func:`group_dynamics`: per-score-group loss, accuracy and kernel velocity during training (CG-score
  Fig. 4); :func:`error_barrier` (linear mode connectivity), :func:`score_groups`, :func:`kernel_distance`.
"""

from .cleaning import cleaning_gain
from .contributors import load_contributors, value_contributors, value_datasets
from .dynamics import error_barrier, group_dynamics, kernel_distance, score_groups
from .groundtruth import GroundTruthTraining, davinz_groundtruth
from .noise import compare_noise_detection, score_dataset
from .parts import score_parquet_parts
from .pruning import pruning_curve, score_correlations
from .selection import prune_order, stratum_budgets, window
from .windows import window_curve

__all__ = ["GroundTruthTraining", "cleaning_gain", "compare_noise_detection", "davinz_groundtruth", "error_barrier", "group_dynamics",
           "kernel_distance", "load_contributors", "prune_order", "pruning_curve", "score_correlations",
           "score_dataset", "score_groups", "score_parquet_parts", "stratum_budgets",
           "value_contributors", "value_datasets", "window", "window_curve"]
