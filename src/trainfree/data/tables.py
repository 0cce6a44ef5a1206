"""CSV and Parquet tables and pandas DataFrames: one row per example, a label column, features, row identities."""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._errors import TrainfreeError
from .._validation import check_param
from ._arrays import check_finite, from_arrays, unreadable
from ._columns import encode, standardize_columns, user_stacklevel
from .dataset import Dataset

# pandas names a column with an empty header "Unnamed: <position>"; an index written by
# DataFrame.to_csv() without index=False is exactly such a first column.
_UNNAMED_FIRST = re.compile(r"(Unnamed: 0(\.\d+)?)?")
_LABEL_GUESSES = ("label", "labels", "target", "class", "y", "category")
_CSV_ROWS = " (0-based, header not counted)"


def load_table(path: Path, label_column: str, *, group_column: str | None = None, id_column: str | None = None,
               ignore_columns: Sequence[str] | str = (), standardize: bool = True) -> Dataset:
    """Read ``path`` (.csv or .parquet) into a Dataset; see :func:`trainfree.data.load_file`.

    ``group_column`` (e.g. which contributor a row comes from) is kept out of the features, as strings
    in ``extras[group_column]``.
    """
    csv = path.suffix.lower() == ".csv"
    return _dataset(_read(path, csv), path.name, label_column=label_column, group_column=group_column,
                    id_column=id_column, ignore_columns=ignore_columns, standardize=standardize, csv=csv,
                    where=str(path))


def from_frame(frame: Any, *, label_column: str, id_column: str | None = None,
               ignore_columns: Sequence[str] | str = (), standardize: bool = True, name: str = "frame") -> Dataset:
    """A pandas DataFrame you already hold → a :class:`Dataset`, exactly as a table file is loaded.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per example. It is not modified.
    label_column : str
        The column that holds the labels (names or integers; real numbers that are not all whole
        numbers are regression targets).
    id_column : str, optional
        A column of unique values that identify the rows (e.g. a patient id): it becomes
        ``Dataset.ids`` (every result's ``row_id``) and is kept out of the features. Default: the
        frame's index when it is not the default ``0..n-1``, else the row numbers.
    ignore_columns : sequence of str
        Columns dropped before anything else (a single name may be passed as a string).
    standardize : bool, default=True
        Scale every feature column to mean 0 and (population) standard deviation 1; a constant
        column becomes 0. The per-column means and scales are recorded in ``Dataset.preprocessing``.
        ``False`` keeps the values as given.
    name : str, default="frame"
        What messages and results call the data.

    Returns
    -------
    Dataset
        Numeric columns as given (then standardised); categorical columns (object, string or
        category dtypes) one-hot encoded, with a warning naming them; booleans as 0/1.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"id": ["a", "b", "c", "d"], "size": [1.0, 2.0, 3.0, 4.0],
    ...                       "colour": ["red", "blue", "red", "blue"], "kind": ["x", "x", "y", "y"]})
    >>> ds = from_frame(frame, label_column="kind", id_column="id")
    >>> ds.ids.tolist(), ds.preprocessing["features"]
    (['a', 'b', 'c', 'd'], ['size', 'colour=blue', 'colour=red'])
    """
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise TrainfreeError(f"from_frame needs a pandas DataFrame, got {type(frame).__name__}; for arrays build "
                             f"trainfree.data.Dataset(X, y) instead.")
    check_param("name", name, str)
    return _dataset(frame, name, label_column=label_column, group_column=None, id_column=id_column,
                    ignore_columns=ignore_columns, standardize=standardize, csv=False, where=name)


def standardize_as(data: Dataset, reference: Dataset) -> Dataset:
    """``data``'s feature columns standardised with the means and scales of ``reference``'s columns.

    For tables that must share one scale, e.g. contributors' data and the validation set they are
    valued against (standardising each on its own would erase how they differ): load them all with
    ``standardize=False``, then standardise each, the reference included, as the reference.
    Columns constant in ``reference`` become 0.

    Parameters
    ----------
    data, reference : Dataset
        Tables loaded with ``standardize=False`` (:func:`load_file`, :func:`from_frame`) with the
        same feature columns (after one-hot encoding).

    Returns
    -------
    Dataset
        ``data`` with ``X = (X - mean) / scale`` and the statistics (and ``reference``'s name) in
        ``preprocessing``.

    Examples
    --------
    >>> import pandas as pd
    >>> val = from_frame(pd.DataFrame({"x": [0.0, 2.0], "label": ["a", "b"]}), label_column="label",
    ...                  standardize=False)
    >>> standardize_as(val.subset([1]), val).X.tolist()
    [[1.0]]
    """
    for ds in (data, reference):
        if ds.preprocessing.get("standardize") is not False:
            raise TrainfreeError(f"standardize_as needs tables loaded with standardize=False; {ds.name} was "
                                 f"{'standardised already' if ds.preprocessing else 'not loaded from a table'}.")
    ours, theirs = data.preprocessing["features"], reference.preprocessing["features"]
    if ours != theirs:
        only = [c for c in ours if c not in theirs][:5]
        missing = [c for c in theirs if c not in ours][:5]
        raise TrainfreeError(f"The feature columns of {data.name} differ from those of {reference.name} (only in "
                             f"{data.name}: {only}; only in {reference.name}: {missing}); give both the same columns "
                             f"in the same order and the same categories, or drop columns with ignore_columns.")
    _, mean, scale = standardize_columns(reference.X)
    constant = np.ptp(np.asarray(reference.X, dtype=np.float64), axis=0) == 0
    X = np.where(constant, 0.0, (np.asarray(data.X, dtype=np.float64) - mean) / scale)
    record = {**data.preprocessing, "standardize": True, "mean": mean.tolist(), "scale": scale.tolist(),
              "reference": reference.name}
    return Dataset(X, data.y, data.classes, data.image_shape, data.name, data.extras, data.ids, record)


def _dataset(df: Any, name: str, *, label_column: str, group_column: str | None, id_column: str | None,
             ignore_columns: Sequence[str] | str, standardize: bool, csv: bool, where: str) -> Dataset:
    """The shared body of :func:`load_table` and :func:`from_frame`; ``where`` names the source in full."""
    check_param("label_column", label_column, str)
    if not isinstance(standardize, (bool, np.bool_)):
        raise TrainfreeError(f"The 'standardize' parameter must be True or False. Got {standardize!r} instead.")
    if id_column is not None:
        check_param("id_column", id_column, str)
    df = _drop_ignored(df, name, ignore_columns, label_column)
    if id_column is None:
        df, ids = _identity(df, name, label_column, csv)
    else:
        df, ids = _id_column(df, name, id_column, label_column)
    if len(df) == 0:
        raise TrainfreeError(f"{where} has no data rows (only a header with columns {_names(df.columns)}); add "
                             f"one row per example.")
    if label_column not in df.columns:
        raise TrainfreeError(f"{name} has no label column {label_column!r}; its columns are "
                             f"{_names(df.columns)}. Pass label_column={_guess(df.columns)}, the column that "
                             f"holds the labels.")
    groups = None
    if group_column is not None:
        if group_column not in df.columns or group_column == label_column:
            raise TrainfreeError(f"{name} has no column {group_column!r} apart from the labels; its columns are "
                                 f"{_names(df.columns)}. Pass the column that names each row's group.")
        if df[group_column].isna().any():
            row = int(np.flatnonzero(df[group_column].isna().to_numpy())[0])
            raise TrainfreeError(f"{name}: column {group_column!r} is empty at row {row}; give every row a "
                                 f"group.")
        groups = df[group_column].astype(str).to_numpy()
        df = df.drop(columns=[group_column])
    features = df.drop(columns=[label_column])
    if features.shape[1] == 0:
        raise TrainfreeError(f"{name} holds only the label column {label_column!r}; add feature columns "
                             f"(one column per feature).")
    features, levels = encode(features, name)
    columns = [str(c) for c in features.columns]
    note = _CSV_ROWS if csv else ""
    X = features.to_numpy(dtype=np.float64, na_value=np.nan)
    check_finite(X, ids, name, columns=columns, note=note, id_word="index")
    record: dict[str, Any] = {"standardize": bool(standardize), "features": columns}
    if levels:
        record["one_hot"] = levels
    if standardize:
        X, mean, scale = standardize_columns(X)
        record.update(mean=mean.tolist(), scale=scale.tolist())
    ds = from_arrays(X, _labels(df[label_column]), name, ids=ids, columns=columns, label_name=str(label_column),
                     note=note, id_word="index")
    return Dataset(ds.X, ds.y, ds.classes, ds.image_shape, ds.name, {} if groups is None else {group_column: groups},
                   ds.ids, record)


def _drop_ignored(df: Any, name: str, ignore_columns: Sequence[str] | str, label_column: str) -> Any:
    """``df`` without ``ignore_columns``, which must all exist and must not hold the labels."""
    ignored = [ignore_columns] if isinstance(ignore_columns, str) else list(ignore_columns)
    if not all(isinstance(c, str) for c in ignored):
        raise TrainfreeError(f"The 'ignore_columns' parameter must hold column names (str). Got {ignored!r} "
                             f"instead.")
    unknown = [c for c in ignored if c not in df.columns]
    if unknown:
        raise TrainfreeError(f"{name} has no column(s) {unknown} to ignore; its columns are {_names(df.columns)}. "
                             f"Fix the 'ignore_columns' parameter.")
    if label_column in ignored:
        raise TrainfreeError(f"{name}: {label_column!r} is the label column and cannot be ignored; remove it from "
                             f"the 'ignore_columns' parameter.")
    return df.drop(columns=ignored)


def _id_column(df: Any, name: str, id_column: str, label_column: str) -> tuple[Any, np.ndarray]:
    """Split ``id_column`` from the table as the row identities: present, complete, unique."""
    if id_column not in df.columns:
        raise TrainfreeError(f"{name} has no column {id_column!r} to identify the rows; its columns are "
                             f"{_names(df.columns)}. Pass one of them as id_column=NAME.")
    if id_column == label_column:
        raise TrainfreeError(f"{name}: {id_column!r} is the label column and cannot also identify the rows; pass "
                             f"another id_column=NAME.")
    values = df[id_column].reset_index(drop=True)
    if values.isna().any():
        row = int(np.flatnonzero(values.isna().to_numpy())[0])
        raise TrainfreeError(f"{name}: the id column {id_column!r} is empty at row {row}; give every row an id, "
                             f"or pass another id_column=NAME.")
    duplicated = values.duplicated(keep=False).to_numpy()
    if duplicated.any():
        first = values[int(np.flatnonzero(duplicated)[0])]
        rows = np.flatnonzero((values == first).to_numpy()).tolist()
        listed = ", ".join(map(str, rows[:5])) + (", ..." if len(rows) > 5 else "")
        raise TrainfreeError(f"{name}: the id column {id_column!r} repeats {first!r} (rows {listed}), so it "
                             f"cannot identify the rows; make its values unique, or pass another id_column=NAME.")
    from pandas.api.types import is_integer_dtype

    ids = values.to_numpy(dtype=np.int64) if is_integer_dtype(values.dtype) else values.astype(str).to_numpy()
    return df.drop(columns=[id_column]).reset_index(drop=True), ids


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


def _identity(df: Any, name: str, label_column: str, csv: bool) -> tuple[Any, np.ndarray]:
    """Split the row identities from the table: its pandas index, else an unnamed first column, else row numbers."""
    import pandas as pd

    index = df.index
    first = df.columns[0] if len(df.columns) > 1 else None
    default = isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1
    if (default and isinstance(first, str) and first != label_column and _UNNAMED_FIRST.fullmatch(first)):
        index = pd.Index(df[first])
        df = df.drop(columns=[first])
        warnings.warn(f"{name}: its unnamed first column looks like the index that DataFrame.to_csv() "
                      f"writes, so it identifies the rows instead of being a feature (write the file with "
                      f"index=False to avoid this).", UserWarning, stacklevel=user_stacklevel())
    if csv and isinstance(index, pd.MultiIndex):
        # pandas makes the surplus leading fields an index when rows are longer than the header.
        raise TrainfreeError(f"{name} has rows with more fields than its header ({len(df.columns)} column names); "
                             f"fix those rows or add the missing column names.")
    if isinstance(index, pd.MultiIndex):  # one flat id per row, e.g. "p/1", so results can store it
        index = pd.Index(["/".join(map(str, key)) for key in index], dtype=object)
    ids = index.to_numpy()
    if index.hasnans or not index.is_unique:
        warnings.warn(f"{name}: its index has missing or repeated values, so rows are identified by their "
                      f"row number instead.", UserWarning, stacklevel=user_stacklevel())
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
