"""A table's feature columns → numbers: categorical columns one-hot encoded, numeric columns standardised."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import TrainfreeError

#: A categorical column may hold at most this many levels, and at most one level per two rows (but
#: ``MIN_LEVELS`` levels are always accepted): more looks like an id or free text, not a category.
MAX_LEVELS = 100
MIN_LEVELS = 10
#: The level that a missing value of a categorical column becomes.
MISSING_LEVEL = "<missing>"


def max_levels(n_rows: int) -> int:
    """How many levels a categorical column of a table with ``n_rows`` rows may have.

    Examples
    --------
    >>> max_levels(8), max_levels(60), max_levels(10_000)
    (10, 30, 100)
    """
    return min(MAX_LEVELS, max(MIN_LEVELS, n_rows // 2))


def encode(features: Any, name: str) -> tuple[Any, dict[str, list[str]]]:
    """One-hot encode the categorical columns of the DataFrame ``features`` in place of each.

    A column is categorical when its dtype is object, string or category (booleans are numbers,
    0 and 1). Each level becomes a 0/1 column ``"<column>=<level>"``, levels in sorted order; a
    missing value is a level of its own, :data:`MISSING_LEVEL`. Returns the numeric frame and the
    levels of each encoded column; warns once, naming them.
    """
    import pandas as pd
    from pandas.api.types import is_numeric_dtype

    categorical = [c for c in features.columns if not is_numeric_dtype(features[c])]
    if not categorical:
        return features, {}
    limit = max_levels(len(features))
    levels: dict[str, list[str]] = {}
    parts = []
    for column in features.columns:
        values = features[column]
        if column not in categorical:
            parts.append(values.to_frame())
            continue
        text = values.astype(object).where(values.notna(), MISSING_LEVEL).astype(str)
        found = sorted(set(text.tolist()))
        if len(found) > limit:
            raise TrainfreeError(_too_many(name, str(column), values, len(found), limit))
        levels[str(column)] = found
        parts.append(pd.DataFrame({f"{column}={level}": (text == level).to_numpy(dtype=np.float64)
                                   for level in found}, index=features.index))
    encoded = ", ".join(f"{c!r} ({len(v)} levels)" for c, v in levels.items())
    drop = (f"pass ignore_columns={categorical[0]!r}" if len(levels) == 1 else
            "name them in the 'ignore_columns' parameter")
    warnings.warn(f"{name}: one-hot encoded the categorical column(s) {encoded} into "
                  f"{sum(map(len, levels.values()))} 0/1 features; to drop them instead, {drop}.",
                  UserWarning, stacklevel=user_stacklevel())
    return pd.concat(parts, axis=1), levels


def _too_many(name: str, column: str, values: Any, n_levels: int, limit: int) -> str:
    """The refusal of a column with too many distinct values: an id, free text, or numbers with a typo."""
    import pandas as pd

    numbers = pd.to_numeric(values, errors="coerce")
    text = values.notna() & numbers.isna()
    if numbers.notna().sum() > text.sum():  # mostly numbers: a few cells are not
        row = int(np.flatnonzero(text.to_numpy())[0])
        return (f"{name}: column {column!r} holds numbers and {int(text.sum())} text value(s), the first "
                f"{values.iloc[row]!r} at row {row}; fix or empty those cells (a number column must hold "
                f"numbers only), or pass ignore_columns={column!r}.")
    return (f"{name}: column {column!r} has {n_levels} distinct values, too many for a categorical feature "
            f"(at most {limit} here); if it identifies the rows, pass id_column={column!r}, otherwise "
            f"ignore_columns={column!r}.")


def user_stacklevel() -> int:
    """The ``stacklevel`` of a warning that points at the first caller outside trainfree."""
    package = str(Path(__file__).resolve().parents[1])
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def standardize_columns(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each column minus its mean, divided by its population standard deviation; constant columns become 0.

    Computed in float64 on columns first divided by their largest absolute value (standardising
    does not depend on that scale), so values up to float64's limit neither overflow nor lose
    their spread. Returns ``(Z, mean, scale)`` with ``Z = (X - mean) / scale``; ``scale`` is 1 for
    a constant column, whose ``Z`` is 0.

    Examples
    --------
    >>> Z, mean, scale = standardize_columns(np.array([[1.0, 5.0, 1e200], [3.0, 5.0, 3e200]]))
    >>> Z.round(6).tolist(), (mean / [1, 1, 1e200]).round(6).tolist(), (scale / [1, 1, 1e200]).round(6).tolist()
    ([[-1.0, 0.0, -1.0], [1.0, 0.0, 1.0]], [2.0, 5.0, 2.0], [1.0, 1.0, 1.0])
    """
    X = np.asarray(X, dtype=np.float64)
    peak = np.abs(X).max(axis=0, initial=0.0)
    peak = np.where(peak > 0, peak, 1.0)
    unit = X / peak
    mean = unit.mean(axis=0)
    spread = unit.std(axis=0)
    constant = (X.max(axis=0, initial=0.0) == X.min(axis=0, initial=0.0)) | (spread == 0)
    spread = np.where(constant, 1.0, spread)
    Z = np.where(constant, 0.0, (unit - mean) / spread)
    return Z, mean * peak, np.where(constant, 1.0, spread * peak)
