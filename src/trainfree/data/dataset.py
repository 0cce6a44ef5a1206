"""The dataset type: flat features, labels, class names, row identities; stratified subsamples."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._errors import TrainfreeError
from .._random import SeedLike, check_random_state
from .._random import rng as make_rng
from .._validation import check_codes, check_param


@dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """Features, targets and what they mean; unpacks as ``X, y``.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Flat features, stored as float32; float64 features are kept as float64 when a value lies
        beyond float32's range (magnitude above about 3.4e38).
    y : ndarray of shape (n,)
        int64 class codes ``0..len(classes)-1`` for classification, or float64 targets for
        regression (then ``classes`` is empty), e.g. the energy per spin of :func:`make_ising`.
    classes : tuple of str
        Class names indexed by code; filled with ``"0", "1", ...`` when integer ``y`` comes without names.
    image_shape : tuple of int or None
        Shape of one example, channels first (``(1, 28, 28)`` for Fashion-MNIST), so that
        :meth:`images` feeds a convolutional network directly; None for plain tables.
    name : str
        Where the data came from.
    extras : dict of str to ndarray
        Per-example side information, e.g. the temperature of each Ising sample.
    ids : ndarray of shape (n,), optional
        The identity of each row in the source: its row number in a file or in Fashion-MNIST, the
        pandas index of a table, the relative path of an image. Defaults to ``0..n-1``. Subsets keep
        them, and every per-example result carries them as its ``row_id`` column.
    preprocessing : dict
        What loading did to the features, recorded in the settings of the results computed on
        them; empty when the features are as given. A table's: ``standardize`` (whether its columns
        were standardised), ``features`` (the column names), ``mean`` and ``scale`` (per column,
        with ``X = (column - mean) / scale``) and ``one_hot`` (each encoded column's levels).

    Examples
    --------
    >>> ds = Dataset(np.zeros((4, 4)), np.array([0, 1, 0, 1]), image_shape=(1, 2, 2))
    >>> X, y = ds
    >>> ds.images().shape, ds.classes
    ((4, 1, 2, 2), ('0', '1'))
    """

    X: np.ndarray
    y: np.ndarray
    classes: tuple[str, ...] = ()
    image_shape: tuple[int, ...] | None = None
    name: str = "data"
    extras: Mapping[str, np.ndarray] = field(default_factory=dict)
    ids: np.ndarray | None = None
    preprocessing: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        X = np.asarray(self.X)
        wide = X.dtype == np.float64 and X.size and np.abs(X).max() > np.finfo(np.float32).max
        X = X if wide else X.astype(np.float32, copy=False)
        if X.ndim != 2:
            raise TrainfreeError(f"Dataset.X must be 2-D (n_samples, n_features), got shape {X.shape}. "
                                 f"Flatten images with X.reshape(len(X), -1) and pass image_shape.")
        y = np.asarray(self.y)
        if y.shape != (len(X),):
            raise TrainfreeError(f"Dataset.y must have shape ({len(X)},) to match X, got {y.shape}.")
        classes = tuple(str(c) for c in self.classes)
        if y.dtype.kind in "iub":
            y, n_classes = check_codes(y, len(classes) or None, name="Dataset.y", n_classes_name="class names")
            classes = classes or tuple(str(c) for c in range(n_classes))
        elif y.dtype.kind == "f":
            if classes:
                raise TrainfreeError("Float targets mean regression, which has no classes: pass classes=() "
                                     "or integer class codes.")
            y = y.astype(np.float64)
        else:
            raise TrainfreeError(f"Dataset.y must be integer class codes or float targets, got dtype {y.dtype}. "
                                 f"Encode labels with np.unique(y, return_inverse=True).")
        shape = None if self.image_shape is None else tuple(int(s) for s in self.image_shape)
        if shape is not None and math.prod(shape) != X.shape[1]:
            raise TrainfreeError(f"image_shape {shape} holds {math.prod(shape)} values but X has "
                                 f"{X.shape[1]} features per row.")
        extras = {k: np.asarray(v) for k, v in self.extras.items()}
        for k, v in extras.items():
            if len(v) != len(X):
                raise TrainfreeError(f"Dataset.extras[{k!r}] has {len(v)} rows but X has {len(X)}.")
        ids = np.arange(len(X)) if self.ids is None else np.asarray(self.ids)
        if ids.shape != (len(X),):
            raise TrainfreeError(f"Dataset.ids must hold one identity per row ({len(X)}), got shape {ids.shape}.")
        for attr, value in (("X", X), ("y", y), ("classes", classes), ("image_shape", shape), ("extras", extras),
                            ("ids", ids), ("preprocessing", dict(self.preprocessing))):
            object.__setattr__(self, attr, value)

    @property
    def labels(self) -> np.ndarray:
        """Each row's label as the source wrote it (its class name); the targets for regression."""
        return np.asarray(self.classes, dtype=object)[self.y] if self.classes else self.y

    def __iter__(self) -> Iterator[np.ndarray]:
        yield self.X
        yield self.y

    def __len__(self) -> int:
        return len(self.X)

    def __repr__(self) -> str:
        return (f"Dataset(name={self.name!r}, n={len(self)}, n_features={self.X.shape[1]}, task={self.task!r}, "
                f"n_classes={len(self.classes)}, image_shape={self.image_shape})")

    @property
    def task(self) -> str:
        """``"classification"`` for integer labels, ``"regression"`` for float targets."""
        return "regression" if self.y.dtype.kind == "f" else "classification"

    def images(self) -> np.ndarray:
        """Return ``X`` reshaped to ``(n, *image_shape)``."""
        if self.image_shape is None:
            raise TrainfreeError(f"Dataset {self.name!r} has no image_shape, so it cannot be reshaped into images.")
        return self.X.reshape(len(self), *self.image_shape)

    def subset(self, indices: Any) -> Dataset:
        """Return the rows ``indices`` (an integer index array or a boolean mask)."""
        idx = np.asarray(indices)
        return Dataset(self.X[idx], self.y[idx], self.classes, self.image_shape, self.name,
                       {k: v[idx] for k, v in self.extras.items()}, self.ids[idx], self.preprocessing)

    def subsample(self, n: int | None, *, random_state: SeedLike = None) -> Dataset:
        """Draw ``n`` rows without replacement, stratified by class for classification.

        Each class gets its proportional share of ``n`` (largest remainders round up, ties broken at
        random), so a class-balanced source gives a subsample balanced to within one example.
        Rows keep their original order. ``n=None`` returns the data set unchanged.

        Examples
        --------
        >>> ds = Dataset(np.zeros((6, 1)), np.array([0, 0, 0, 1, 1, 1]))
        >>> np.bincount(ds.subsample(4, random_state=0).y).tolist()
        [2, 2]
        """
        if n is None:
            return self
        check_n(n, len(self))
        rng = make_rng(check_random_state(random_state))
        if self.task == "regression":
            return self.subset(np.sort(rng.choice(len(self), n, replace=False)))
        return self.subset(stratified_indices(self.y, n, rng))


def check_n(n: Any, available: int) -> None:
    """Refuse a sample size ``n`` that is not a positive int or exceeds the ``available`` examples."""
    check_param("n", n, numbers.Integral, low=1)
    if n > available:
        raise TrainfreeError(f"n={n} exceeds the {available} examples available. Pass n={available} or fewer, "
                             f"or n=None for all of them.")


def stratified_indices(y: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` row indices drawn without replacement with each label's share of ``y`` (largest remainders)."""
    _, codes, counts = np.unique(y, return_inverse=True, return_counts=True)
    # Integer arithmetic keeps the quotas exact: floor shares plus the largest remainders.
    quota, remainder = np.divmod(n * counts, counts.sum())
    order = np.lexsort((rng.random(len(counts)), -remainder))
    quota[order[:n - quota.sum()]] += 1
    picks = [rng.choice(np.flatnonzero(codes == c), q, replace=False) for c, q in enumerate(quota)]
    return np.sort(np.concatenate(picks))
