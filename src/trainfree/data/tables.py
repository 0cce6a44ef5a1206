"""CSV and Parquet tables: one row per example, a label column, numeric features, row identities."""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import TrainfreeError
from ._arrays import from_arrays, unreadable
from .dataset import Dataset

# pandas names a column with an empty header "Unnamed: <position>"; an index written by
# DataFrame.to_csv() without index=False is exactly such a first column.
_UNNAMED_FIRST = re.compile(r"(Unnamed: 0(\.\d+)?)?")
_LABEL_GUESSES = ("label", "labels", "target", "class", "y", "category")
_CSV_ROWS = " (0-based, header not counted)"


def load_table(path: Path, label_column: str, group_column: str | None = None) -> Dataset:
    """Read ``path`` (.csv or .parquet) into a Dataset; see :func:`trainfree.data.load_file`.

    ``group_column`` (e.g. which contributor a row comes from) is kept out of the features, as strings
    in ``extras[group_column]``.
    """
    from pandas.api.types import is_numeric_dtype

    csv = path.suffix.lower() == ".csv"
    df = _read(path, csv)
    df, ids = _identity(df, path, label_column, csv)
    if len(df) == 0:
        raise TrainfreeError(f"{path} has no data rows (only a header with columns {_names(df.columns)}); add "
                             f"one row per example.")
    if label_column not in df.columns:
        raise TrainfreeError(f"{path.name} has no label column {label_column!r}; its columns are "
                             f"{_names(df.columns)}. Pass label_column={_guess(df.columns)}, the column that "
                             f"holds the labels.")
    groups = None
    if group_column is not None:
        if group_column not in df.columns or group_column == label_column:
            raise TrainfreeError(f"{path.name} has no column {group_column!r} apart from the labels; its columns are "
                                 f"{_names(df.columns)}. Pass the column that names each row's group.")
        if df[group_column].isna().any():
            row = int(np.flatnonzero(df[group_column].isna().to_numpy())[0])
            raise TrainfreeError(f"{path.name}: column {group_column!r} is empty at row {row}; give every row a "
                                 f"group.")
        groups = df[group_column].astype(str).to_numpy()
        df = df.drop(columns=[group_column])
    features = df.drop(columns=[label_column])
    if features.shape[1] == 0:
        raise TrainfreeError(f"{path.name} holds only the label column {label_column!r}; add feature columns "
                             f"(one numeric column per feature).")
    bad = [str(c) for c in features.columns if not is_numeric_dtype(features[c])]
    if bad:
        raise TrainfreeError(f"{path.name} has non-numeric feature column(s) {bad}. Encode them as numbers "
                             f"(e.g. pandas.get_dummies) or drop them.")
    ds = from_arrays(features.to_numpy(dtype=np.float64), _labels(df[label_column]), path.name, ids=ids,
                     columns=[str(c) for c in features.columns], label_name=str(label_column),
                     note=_CSV_ROWS if csv else "", id_word="index")
    return ds if groups is None else Dataset(ds.X, ds.y, ds.classes, ds.image_shape, ds.name, {group_column: groups},
                                             ds.ids)


def _read(path: Path, csv: bool) -> Any:
    import pandas as pd

    try:
        return pd.read_csv(path) if csv else pd.read_parquet(path)
    except ImportError as exc:
        raise TrainfreeError(f"Reading {path.name} needs a Parquet engine ({exc}): pip install pyarrow.") from None
    except pd.errors.EmptyDataError:
        raise TrainfreeError(f"{path} holds no header and no rows; write the data again, e.g. with "
                             f"DataFrame.to_csv(path, index=False).") from None
    except MemoryError:
        raise
    except Exception as exc:  # UnicodeDecodeError, ParserError, ArrowInvalid, OSError...: the file is at fault
        raise unreadable(path, exc) from None


def _identity(df: Any, path: Path, label_column: str, csv: bool) -> tuple[Any, np.ndarray]:
    """Split the row identities from the table: its pandas index, else an unnamed first column, else row numbers."""
    import pandas as pd

    index = df.index
    first = df.columns[0] if len(df.columns) > 1 else None
    default = isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1
    if (default and isinstance(first, str) and first != label_column and _UNNAMED_FIRST.fullmatch(first)):
        index = pd.Index(df[first])
        df = df.drop(columns=[first])
        warnings.warn(f"{path.name}: its unnamed first column looks like the index that DataFrame.to_csv() "
                      f"writes, so it identifies the rows instead of being a feature (write the file with "
                      f"index=False to avoid this).", UserWarning, stacklevel=4)
    if csv and isinstance(index, pd.MultiIndex):
        # pandas makes the surplus leading fields an index when rows are longer than the header.
        raise TrainfreeError(f"{path} has rows with more fields than its header ({len(df.columns)} column names); "
                             f"fix those rows or add the missing column names.")
    if isinstance(index, pd.MultiIndex):  # one flat id per row, e.g. "p/1", so results can store it
        index = pd.Index(["/".join(map(str, key)) for key in index], dtype=object)
    ids = index.to_numpy()
    if index.hasnans or not index.is_unique:
        warnings.warn(f"{path.name}: its index has missing or repeated values, so rows are identified by their "
                      f"row number instead.", UserWarning, stacklevel=4)
        ids = np.arange(len(df))
    return df.reset_index(drop=True), ids


def _labels(column: Any) -> np.ndarray:
    """The label column as NumPy: nullable numbers become plain ones (missing values stay visible as NaN/None)."""
    from pandas.api.types import is_bool_dtype, is_extension_array_dtype, is_numeric_dtype

    if is_extension_array_dtype(column.dtype) and is_numeric_dtype(column.dtype) and not is_bool_dtype(column.dtype):
        return column.to_numpy(dtype=np.float64, na_value=np.nan) if column.hasnans else column.to_numpy(
            dtype=column.dtype.numpy_dtype)
    return column.to_numpy()


def _names(columns: Any, limit: int = 20) -> str:
    names = [str(c) for c in columns]
    return str(names) if len(names) <= limit else f"{names[:limit]} and {len(names) - limit} more"


def _guess(columns: Any) -> str:
    """A likely label column for the message, else a placeholder."""
    by_lower = {str(c).lower(): str(c) for c in columns}
    for guess in _LABEL_GUESSES:
        if guess in by_lower:
            return repr(by_lower[guess])
    return "NAME"
