"""Per-example data scores: one module per score family."""

from .cg import CGMethod, CGResult, Preprocess, cg_score

__all__ = ["CGMethod", "CGResult", "Preprocess", "cg_score"]
