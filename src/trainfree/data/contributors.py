"""Data contributors: splits of a pooled data set, noisy and domain-shifted contributors."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._errors import TrainfreeError
from .._random import SeedLike, check_random_state, child
from .._random import rng as make_rng
from .._validation import check_codes, check_param
from .corruption import inject_label_noise


@dataclass(frozen=True, eq=False, repr=False)
class Contributor:
    """One data contributor: its rows of the pooled data and how they were corrupted.

    ``y`` is the label the contributor reports (noisy where ``flipped``); ``indices`` index the
    pooled ``X, y`` it was split from. Unpacks as ``X, y``.
    """

    X: np.ndarray
    y: np.ndarray
    indices: np.ndarray
    name: str
    flipped: np.ndarray
    noise_rate: float = 0.0
    shift: str | None = None

    def __iter__(self) -> Iterator[np.ndarray]:
        yield self.X
        yield self.y

    def __len__(self) -> int:
        return len(self.y)

    def __repr__(self) -> str:
        return (f"Contributor(name={self.name!r}, n={len(self)}, noise_rate={self.noise_rate}, "
                f"n_flipped={int(self.flipped.sum())}, shift={self.shift!r})")


NOISY_SHARE = 0.3


def n_affected(n_contributors: int) -> int:
    """How many contributors the noisy and shifted set-ups corrupt by default: 30%, half rounding up, at least 1.

    Examples
    --------
    >>> [n_affected(k) for k in (1, 3, 10, 15)]
    [1, 1, 3, 5]
    """
    return max(1, int(NOISY_SHARE * n_contributors + 0.5))


def split_contributors(X: Any, y: Any, n_contributors: int, *, how: str = "random",
                       noise_rates: Sequence[float] | None = None, noise_rate: float = 0.4,
                       random_state: SeedLike = None) -> list[Contributor]:
    """Split a pooled data set among contributors (the DAVINZ set-ups).

    Parameters
    ----------
    X : array-like of shape (n, ...)
    y : array-like of shape (n,)
    n_contributors : int
    how : {"random", "class", "sizes", "noisy"}
        ``"random"``: a random split into near-equal parts. ``"class"``: whole classes, class ``c``
        (in sorted order) going to contributor ``c % n_contributors``. ``"sizes"``: random sizes with
        Dirichlet(1) proportions and at least 2 examples each. ``"noisy"``: ``"random"`` with label
        noise of rate ``noise_rate`` for the first :func:`n_affected` contributors.
    noise_rate : float
        ``how="noisy"``: the rate of the noisy contributors when ``noise_rates`` is not given.
    noise_rates : sequence of float, optional
        Symmetric label-noise rate per contributor (see :func:`inject_label_noise`); works with any
        ``how``. Labels must then be integer codes and may flip to any class of the pooled ``y``.
    random_state : None, int, Generator or SeedSequence

    Returns
    -------
    list of Contributor
        Named ``"c0", "c1", ...``; their ``indices`` partition ``range(n)``.

    Examples
    --------
    >>> X, y = np.zeros((20, 2)), np.arange(20) % 4
    >>> [sorted(set(c.y.tolist())) for c in split_contributors(X, y, 2, how="class")]
    [[0, 2], [1, 3]]
    """
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim == 0 or y.shape != (len(X),):
        raise TrainfreeError(f"X and y must have one row per example: got shapes {X.shape} and {y.shape}.")
    check_param("n_contributors", n_contributors, numbers.Integral, low=1)
    check_param("how", how, str, choices=("random", "class", "sizes", "noisy"))
    check_param("noise_rate", noise_rate, numbers.Real, low=0, high=1)
    seed = check_random_state(random_state)
    rng = make_rng(child(seed, "split"))
    K, n = int(n_contributors), len(y)
    if how == "noisy" and noise_rates is None:
        noise_rates = [noise_rate if k < n_affected(K) else 0.0 for k in range(K)]
    rates = np.zeros(K) if noise_rates is None else np.asarray(noise_rates, dtype=float)
    if rates.shape != (K,):
        raise TrainfreeError(f"noise_rates must give one rate per contributor ({K}), got {len(np.atleast_1d(rates))}.")
    for r in rates:
        check_param("noise_rates", float(r), numbers.Real, low=0, high=1)
    C = check_codes(y, min_classes=2)[1] if rates.any() else 0

    if how == "class":
        if y.dtype.kind == "f" and not np.all(y == np.round(y)):
            raise TrainfreeError("how='class' needs class labels, but y holds non-integer floats (regression). "
                                 "Use how='random' or 'sizes'.")
        classes = np.unique(y)
        if len(classes) < K:
            raise TrainfreeError(f"how='class' gives each contributor whole classes, so it needs at least "
                                 f"{K} classes; y has {len(classes)}. Use fewer contributors or how='random'.")
        parts = [np.flatnonzero(np.isin(y, classes[k::K])) for k in range(K)]
    else:
        low = 2 if how == "sizes" else 1
        if n < low * K:
            raise TrainfreeError(f"Splitting {n} examples among {K} contributors with how={how!r} needs at least "
                                 f"{low * K} examples. Use fewer contributors.")
        sizes = (low + rng.multinomial(n - low * K, rng.dirichlet(np.ones(K)))) if how == "sizes" else \
            np.diff(np.linspace(0, n, K + 1).round().astype(int))
        parts = [np.sort(p) for p in np.split(rng.permutation(n), np.cumsum(sizes)[:-1])]

    contributors = []
    for k, idx in enumerate(parts):
        y_k, flipped = y[idx], np.zeros(len(idx), dtype=bool)
        if rates[k] > 0:
            y_k, flipped = inject_label_noise(y_k, float(rates[k]), n_classes=C, random_state=child(seed, f"noise/{k}"))
        contributors.append(Contributor(X[idx], y_k, idx, f"c{k}", flipped, float(rates[k])))
    return contributors


def domain_shift(X: Any, y: Any, n_contributors: int, *, n_shifted: int | None = None, kind: str = "noise",
                 scale: float = 1.0, how: str = "random", image_shape: tuple[int, ...] | None = None,
                 random_state: SeedLike = None) -> list[Contributor]:
    """Split among contributors (see :func:`split_contributors`), then shift the features of the first few.

    Keep unshifted data (e.g. the test split) as the validation set, so shifted contributors follow
    a distribution that differs from it while their labels stay correct.

    Parameters
    ----------
    n_shifted : int, optional
        How many contributors (the first ones) are shifted; default :func:`n_affected`.
    kind : {"noise", "invert", "rotate"}
        ``"noise"`` adds Gaussian noise of standard deviation ``scale`` times the overall std of ``X``;
        ``"invert"`` maps ``x -> min(X) + max(X) - x`` (``1 - x`` for images in [0, 1]);
        ``"rotate"`` turns square images by 90 degrees (needs ``image_shape`` or ``X`` of shape (n, ..., H, H)).
    scale : float
        Noise level of ``kind="noise"``.
    how : str
        Split of :func:`split_contributors`.
    image_shape : tuple of int, optional
        Shape of one example when ``X`` is flat, e.g. ``Dataset.image_shape``.
    random_state : None, int, Generator or SeedSequence

    Examples
    --------
    >>> X, y = np.random.default_rng(0).random((30, 4)), np.arange(30) % 3
    >>> [c.shift for c in domain_shift(X, y, 3, n_shifted=1, kind="invert", random_state=0)]
    ['invert', None, None]
    """
    X = np.asarray(X)
    X = X if X.dtype.kind == "f" else X.astype(np.float32)
    check_param("kind", kind, str, choices=("noise", "invert", "rotate"))
    check_param("scale", scale, numbers.Real, low=0)
    check_param("n_contributors", n_contributors, numbers.Integral, low=1)
    n_shifted = n_affected(n_contributors) if n_shifted is None else n_shifted
    check_param("n_shifted", n_shifted, numbers.Integral, low=0, high=n_contributors)
    shape = X.shape[1:] if image_shape is None else tuple(image_shape)
    if kind == "rotate" and (len(shape) < 2 or shape[-1] != shape[-2] or math.prod(shape) != math.prod(X.shape[1:])):
        raise TrainfreeError(f"kind='rotate' needs square images; one example has shape {shape}. Pass "
                             f"image_shape=(C, H, H) for flat X (e.g. Dataset.image_shape).")
    seed = check_random_state(random_state)
    rng = make_rng(child(seed, "shift"))
    contributors = split_contributors(X, y, n_contributors, how=how, random_state=child(seed, "split"))
    lo, hi, std = X.min(), X.max(), X.std()  # pooled statistics: every shifted contributor moves alike
    shifted = []
    for k, c in enumerate(contributors):
        if k < n_shifted:
            if kind == "noise":
                Xs = c.X + (scale * std * rng.standard_normal(c.X.shape)).astype(X.dtype)
            elif kind == "invert":
                Xs = lo + hi - c.X
            else:
                Xs = np.rot90(c.X.reshape(len(c), *shape), axes=(-2, -1)).reshape(c.X.shape)
            c = Contributor(np.ascontiguousarray(Xs), c.y, c.indices, c.name, c.flipped, c.noise_rate, kind)
        shifted.append(c)
    return shifted
