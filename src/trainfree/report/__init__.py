"""Human-readable reports of results, built as strings apart from printing them."""

from .text import groundtruth_report, noise_comparison_report, noise_report, pruning_report, values_report

__all__ = ["groundtruth_report", "noise_comparison_report", "noise_report", "pruning_report", "values_report"]
