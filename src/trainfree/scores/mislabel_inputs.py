"""What the mislabel detector's kernel is built from: the kernel ``"auto"`` stands for, unit rows of X or
of random-CNN features, a checked precomputed kernel, or unit rows of a Dask array (low-rank mode).
"""

from __future__ import annotations

import numpy as np
import torch

from .._errors import TrainfreeError
from .._random import child
from .._validation import check_labels, check_param
from ..kernels import random_conv_features
from .cg import Preprocess, unit_rows

KERNELS = ("auto", "arccos", "conv", "precomputed")


def resolve_kernel(X, kernel: str) -> tuple[str, tuple[int, ...] | None]:
    """The kernel ``"auto"`` stands for, and the (C, H, W) shape of one image (None for rows)."""
    check_param("kernel", kernel, str, choices=KERNELS)
    shape = np.shape(X)[1:]
    image = shape if len(shape) == 3 else (1, *shape) if len(shape) == 2 else None
    if image is not None and min(image[1:]) < 4:
        image = None
    if kernel == "auto":
        kernel = "conv" if image is not None else "arccos"
    if kernel == "conv" and image is None:
        raise TrainfreeError(f"kernel='conv' needs images of at least 4×4 pixels, shaped (n, H, W) or (n, C, H, W); "
                             f"got rows of shape {shape}. Reshape X (e.g. X.reshape(-1, 1, 28, 28)) or use "
                             f"kernel='arccos'.")
    return kernel, image


def kernel_inputs(X: np.ndarray, kernel: str, image, preprocess: Preprocess, device: torch.device,
                   seed: np.random.SeedSequence) -> tuple[np.ndarray, float]:
    """What the kernel is built from, and its mean diagonal (the unit a ridge is given in).

    Unit rows of ``X`` (arccos), unit rows of the centred random-CNN features of the images (conv),
    or the checked kernel matrix itself (precomputed). H∞ of unit rows has diagonal 1/2.
    """
    if kernel == "precomputed":
        K = check_precomputed(X)
        return K, float(np.mean(np.diagonal(K)))
    if kernel == "conv":
        images = torch.as_tensor(X.reshape(X.shape[0], *image), dtype=torch.float32, device=device)
        feats = random_conv_features(images, random_state=child(seed, "conv")).cpu().numpy()  # float32
        return unit_rows(feats, "center", copy=False), 0.5  # the features are this call's own
    return unit_rows(X, preprocess), 0.5


def check_precomputed(X: np.ndarray) -> np.ndarray:
    n = X.shape[0]
    if X.shape[1] != n:
        raise TrainfreeError(f"kernel='precomputed' needs an n×n kernel matrix; got {n} rows of {X.shape[1]} "
                             f"values. Pass the Gram matrix of your examples, or use kernel='arccos' on features.")
    asym = float(np.abs(X - X.T).max())
    if asym > 1e-8 * max(float(np.abs(X).max()), 1e-300):
        raise TrainfreeError(f"kernel='precomputed' needs a symmetric kernel matrix; entries differ from their "
                             f"transpose by up to {asym:.3g}. Pass (K + K.T) / 2 if the asymmetry is rounding.")
    return X


def is_dask_array(X) -> bool:
    """Whether ``X`` is a Dask array (scored partition by partition by the low-rank mode)."""
    return type(X).__module__.startswith("dask.")


def dask_examples(X, y, kernel: str, preprocess: Preprocess):
    """Unit rows of a 2-D Dask array (lazy, per partition), label codes and classes.

    Rows are normalised one at a time ("raw" or "mnist-shift"); "center" would need a pass for the
    column means first and is refused, as are images and precomputed kernels.
    """
    if X.ndim != 2 or kernel != "arccos":
        raise TrainfreeError(f"A Dask array X must hold rows (2-D) for kernel='arccos'; got shape {X.shape} with "
                             f"kernel={kernel!r}. Compute features first, or pass a NumPy array.")
    if preprocess is Preprocess.CENTER:
        raise TrainfreeError("preprocess='center' needs the column means of the whole Dask array; use "
                             "preprocess='raw' (or centre the array yourself: X - X.mean(axis=0)).")
    codes, classes = check_labels(y, X.shape[0])
    if not bool(np.isfinite(X).all().compute()):
        raise TrainfreeError("X holds NaN or infinite values; drop or impute those rows first.")
    rows = X.rechunk({1: -1}).map_blocks(lambda b: unit_rows(np.asarray(b), preprocess), dtype=np.float64)
    return rows, codes, classes
