"""Kernel matrices, one module per family.

- :mod:`~trainfree.kernels.arccos`: the arc-cosine Gram H∞ of the CG-score and the detector;
- :mod:`~trainfree.kernels.conv`: features of a random CNN, for a kernel on images without training;
- :mod:`~trainfree.kernels.ntk`: the empirical neural tangent kernel of DAVINZ and the dynamics experiments;
- :mod:`~trainfree.kernels.mmd`: the RBF kernel and the MMD, of two sets or of every coalition of contributors.
"""

from .arccos import arccos_gram, arccos_lower_blocks
from .conv import random_conv_features
from .mmd import ESTIMATORS, NULL_Z, CoalitionMMD, median_bandwidth, mmd, rbf_kernel
from .ntk import empirical_ntk

__all__ = ["CoalitionMMD", "ESTIMATORS", "NULL_Z", "arccos_gram", "arccos_lower_blocks", "empirical_ntk",
           "median_bandwidth", "mmd", "random_conv_features", "rbf_kernel"]
