"""Per-example data scores: one module per score family."""

from .cg import CGMethod, CGResult, Preprocess, cg_score
from .cg_variants import cg_features_score, cg_prime_score
from .datadiet import el2n_score, forgetting_events, forgetting_score, grand_score
from .mislabel import DetectorMethod, MislabelResult, mislabel_score

__all__ = ["CGMethod", "CGResult", "DetectorMethod", "MislabelResult", "Preprocess", "cg_features_score",
           "cg_prime_score", "cg_score", "el2n_score", "forgetting_events", "forgetting_score", "grand_score",
           "mislabel_score"]
