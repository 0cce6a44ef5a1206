"""Valuing whole datasets and their contributors: DAVINZ and the baselines it is compared with."""

from .baselines import InfluenceUtility, RobustVolume, ValidationPerformance
from .contributor_values import davinz_values
from .davinz import DavinzUtility, davinz_value
from .davinz_options import NtkOptions, NuOptions

__all__ = ["DavinzUtility", "InfluenceUtility", "NtkOptions", "NuOptions", "RobustVolume", "ValidationPerformance",
           "davinz_value", "davinz_values"]
