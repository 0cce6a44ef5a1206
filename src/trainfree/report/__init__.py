"""Reports of results: plain text for the terminal (:mod:`.text`), built apart from printing, and one
self-contained HTML page per run (:func:`write_report`: :mod:`.html` over :mod:`.sections`,
:mod:`.plots`, :mod:`.examples` and :mod:`.markup`)."""

from .html import ReportWarning, write_report
from .text import (
    cleaning_report,
    correlation_report,
    groundtruth_report,
    noise_comparison_report,
    noise_report,
    pruning_report,
    values_report,
)

__all__ = ["ReportWarning", "cleaning_report", "correlation_report", "groundtruth_report", "noise_comparison_report", "noise_report",
           "pruning_report", "values_report", "write_report"]
