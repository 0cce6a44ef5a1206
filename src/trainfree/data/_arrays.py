"""Arrays read from a user file → a :class:`Dataset`, with errors that point at the offending rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .._errors import TrainfreeError
from .._validation import check_labels
from .dataset import Dataset

# How to write each file type again; every "cannot read" message ends with the matching fix.
HOW_TO_SAVE = {".npz": "np.savez(path, X=X, y=y)", ".csv": "DataFrame.to_csv(path, index=False)",
               ".parquet": "DataFrame.to_parquet(path)", ".pq": "DataFrame.to_parquet(path)"}


def unreadable(path: Path, detail: Any) -> TrainfreeError:
    """The error for a file its parser rejects: truncated, corrupt, or another format under this suffix."""
    if isinstance(detail, PermissionError):
        return TrainfreeError(f"Permission denied reading {path}; make it readable (e.g. chmod u+r) or copy it.")
    # Parser messages can span lines; the CLI promises one line, so collapse and shorten them.
    text = " ".join(str(detail).split())[:200] or type(detail).__name__
    suffix = path.suffix.lower()
    return TrainfreeError(f"Could not read {path} as {suffix} ({text}): the file is truncated, corrupt or not a "
                          f"{suffix} file; write it again, e.g. with {HOW_TO_SAVE.get(suffix, 'the right format')}.")


def locate(mask: np.ndarray, ids: np.ndarray, *, note: str = "", id_word: str = "id") -> tuple[int, int, str]:
    """Count, first row and ``"row 5 (note), index 'b'"`` for the rows where ``mask`` holds."""
    rows = np.flatnonzero(mask)
    first = int(rows[0])
    where = f"row {first}{note}"
    if not np.array_equal(ids, np.arange(len(ids))):  # the row's own identity helps find it in the source
        where += f", {id_word} {ids[first:first + 1].tolist()[0]!r}"
    return len(rows), first, where


def check_finite(X: np.ndarray, ids: np.ndarray, name: str, *, columns: list[str] | None = None, note: str = "",
                 id_word: str = "id") -> None:
    """Refuse NaN or infinite features, naming the count, the first row (see :func:`locate`) and its column."""
    if X.dtype.kind != "f":
        return
    bad = ~np.isfinite(X).all(axis=1)
    if bad.any():
        count, first, where = locate(bad, ids, note=note, id_word=id_word)
        col = int(np.flatnonzero(~np.isfinite(X[first]))[0])
        col_text = f"column {columns[col]!r}" if columns is not None else f"feature {col}"
        raise TrainfreeError(f"{name} has {count} row(s) with NaN or infinite feature values, the first at "
                             f"{where}, in {col_text}; drop those rows or impute the values (e.g. "
                             f"sklearn.impute.SimpleImputer).")


def from_arrays(X: Any, y: Any, name: str, *, image_shape: tuple[int, ...] | None = None, ids: Any = None,
                columns: list[str] | None = None, label_name: str | None = None, note: str = "",
                id_word: str = "id") -> Dataset:
    """Validate features and labels of ``name`` and build the Dataset.

    Labels are encoded as codes of the sorted unique labels; float labels that are not all whole
    numbers become regression targets. ``columns`` (feature names) and ``label_name`` only sharpen
    messages; ``note`` follows every row number in them (e.g. how a CSV counts rows).
    """
    import pandas as pd

    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise TrainfreeError(f"X of {name} holds {X.dtype} values, not numbers; store numeric features only "
                             f"(encode categories, e.g. with pandas.get_dummies).")
    if X.ndim < 2:
        raise TrainfreeError(f"X of {name} must have one row per example (2-D or more), got shape {X.shape}.")
    if len(X) == 0:
        raise TrainfreeError(f"{name} holds no rows (X has shape {X.shape}); add at least one example per class.")
    if X.ndim > 2 and image_shape is None:
        image_shape = X.shape[1:]
    X = X.reshape(len(X), -1)
    ids = np.arange(len(X)) if ids is None else np.asarray(ids)
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
    if y.shape != (len(X),):
        raise TrainfreeError(f"y of {name} must hold one label per row of X ({len(X)},), got shape {y.shape}. "
                             f"Pass one label per example (if it is one-hot, y.argmax(axis=1)).")
    if X.dtype.kind == "f" and X.dtype.itemsize > 8:
        X = X.astype(np.float64)  # long double: what float64 cannot hold is infinite, refused below
    check_finite(X, ids, name, columns=columns, note=note, id_word=id_word)
    if X.dtype.kind != "f" or X.dtype.itemsize < 8 or np.abs(X).max(initial=0.0) <= np.finfo(np.float32).max:
        X = X.astype(np.float32)  # every value fits; float64 is kept only for values float32 cannot hold
    missing = np.asarray(pd.isna(y), dtype=bool)
    if y.dtype.kind in "OU":  # an empty cell may arrive as "" (Parquet, .npz) rather than as NaN
        missing |= np.array([isinstance(v, str) and not v.strip() for v in y.tolist()], dtype=bool)
    if missing.any():
        count, _, where = locate(missing, ids, note=note, id_word=id_word)
        column = f" in column {label_name!r}" if label_name else ""
        raise TrainfreeError(f"{name} has {count} row(s) with a missing label{column}, the first at {where}; "
                             f"drop those rows or fill in their labels.")
    if y.dtype == object:  # e.g. a pandas column: ints stay ints (numeric order), the rest become str
        y = pd.Series(y).infer_objects().to_numpy()
        if y.dtype == object:
            y = y.astype(str)
    if y.dtype.kind == "f" and not np.all(y == np.round(y)):
        return Dataset(X, y, (), image_shape, name, ids=ids)
    label_text = f"the label column {label_name!r} of {name}" if label_name else f"y of {name}"
    codes, classes = check_labels(y, len(X), name=label_text, min_classes=1)
    return Dataset(X, codes, tuple(str(c) for c in classes), image_shape, name, ids=ids)
