"""Label noise: symmetric, pair and class-conditional flips of exactly round(noise_rate * n) labels."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from .._errors import TrainfreeError
from .._random import SeedLike, check_random_state
from .._random import rng as make_rng
from .._validation import check_array, check_codes, check_param


NOISE_MODES = ("symmetric", "pair", "class_conditional")


def inject_label_noise(y: Any, noise_rate: float, *, n_classes: int | None = None, noise_mode: str = "symmetric",
                       transition: Any = None,
                       random_state: SeedLike = None) -> tuple[np.ndarray, np.ndarray]:
    """Flip exactly ``round(noise_rate * n)`` labels (half rounds up), chosen uniformly at random.

    ``noise_mode="symmetric"`` sends each flipped label to one of the other classes uniformly;
    ``"pair"`` sends class ``c`` to ``(c + 1) % n_classes``; ``"class_conditional"`` sends a flipped
    label of class ``c`` to ``j`` with probability ``transition[c, j]`` (a matrix with a zero diagonal
    and rows summing to 1; pair noise is the one whose rows are shifted identity rows). A flip never
    keeps the class, so ``flipped == (y_noisy != y)`` exactly.

    Parameters
    ----------
    y : array-like of int, shape (n,)
        Class codes in ``0..n_classes-1``.
    noise_rate : float in [0, 1]
        Fraction of labels to flip.
    n_classes : int, optional
        Number of classes; default ``y.max() + 1``.
    noise_mode : {"symmetric", "pair", "class_conditional"}, default="symmetric"
    transition : array-like of shape (n_classes, n_classes), optional
        Where flipped labels go; required by, and only by, ``noise_mode="class_conditional"``.
    random_state : None, int, Generator or SeedSequence

    Returns
    -------
    y_noisy : ndarray of int64, shape (n,)
    flipped : ndarray of bool, shape (n,)

    Examples
    --------
    >>> y_noisy, flipped = inject_label_noise(np.array([0, 1, 2, 0]), 0.5, noise_mode="pair")
    >>> int(flipped.sum()), bool(np.all(y_noisy[flipped] == (np.array([0, 1, 2, 0])[flipped] + 1) % 3))
    (2, True)
    """
    y, C = check_codes(y, n_classes, min_classes=2)
    check_param("noise_rate", noise_rate, numbers.Real, low=0, high=1)
    check_param("noise_mode", noise_mode, str, choices=NOISE_MODES)
    rng = make_rng(check_random_state(random_state))
    if (noise_mode == "class_conditional") != (transition is not None):
        raise TrainfreeError("transition is used only, and always, with noise_mode='class_conditional'; pass both, "
                             "or neither (noise_mode='pair' sends class c to c + 1).")
    n_flip = int(math.floor(noise_rate * len(y) + 0.5))
    idx = rng.choice(len(y), n_flip, replace=False)
    y_noisy = y.copy()
    if noise_mode == "symmetric":
        # A uniform non-zero offset modulo C is a uniform draw among the other classes.
        y_noisy[idx] = (y[idx] + rng.integers(1, C, size=n_flip)) % C
    else:
        T = np.roll(np.eye(C), 1, axis=1) if noise_mode == "pair" else _check_transition(transition, C)
        cdf = np.cumsum(T, axis=1)
        cdf[:, -1] = 1.0  # rounding must not leave a gap above the last class
        # Inverse CDF: the first class whose cumulative mass exceeds u; zero-mass classes are never hit.
        y_noisy[idx] = (cdf[y[idx]] <= rng.random(n_flip)[:, None]).sum(axis=1)
    flipped = np.zeros(len(y), dtype=bool)
    flipped[idx] = True
    return y_noisy, flipped


def _check_transition(transition: Any, C: int) -> np.ndarray:
    T = check_array(transition, name="transition", ndim=2)
    if T.shape != (C, C):
        raise TrainfreeError(f"transition must have shape ({C}, {C}) for {C} classes, got {T.shape}.")
    if (T < 0).any() or not np.allclose(T.sum(axis=1), 1.0, atol=1e-8) or np.diag(T).any():
        raise TrainfreeError("transition rows must be probabilities over the other classes: non-negative, "
                             "summing to 1, with a zero diagonal (noise_rate already sets how many labels flip). "
                             f"Row sums: {np.round(T.sum(axis=1), 6).tolist()}, diagonal: {np.diag(T).tolist()}.")
    return T
