"""A folder of Parquet parts → a Dask array of standardised features, one block per part, and the labels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import TrainfreeError
from .._validation import check_param
from .tables import from_frame

#: The suffix of the files a folder of parts holds.
PART_SUFFIX = ".parquet"


@dataclass(frozen=True, eq=False, repr=False)
class ParquetParts:
    """A data set held as Parquet parts: lazy features, labels and row identities in memory.

    Duck-types the parts of a ``Dataset`` that the detector's workflow reads, so that
    :func:`trainfree.experiments.score_dataset` scores it with ``score="mislabel"``.

    Attributes
    ----------
    X : dask.array.Array of shape (n, d)
        The numeric feature columns, float64, one block of rows per part, read by whoever computes
        it (the workers of a Dask client in effect); standardised as :func:`read_parquet_parts` says.
    y : ndarray of shape (n,)
        Class codes ``0..len(classes)-1``.
    classes : tuple of str
        Class names indexed by code.
    ids : ndarray of shape (n,)
        Each row's identity: its ``id_column`` value, else its row number across the parts in order.
    name : str
        The folder's name.
    parts : tuple of str
        The part files, in the order of the rows.
    preprocessing : dict
        ``standardize``, ``features`` (column names), and with standardisation ``mean`` and
        ``scale`` per column, as :func:`trainfree.data.load_file` records them for one table.
    """

    X: Any
    y: np.ndarray
    classes: tuple[str, ...]
    ids: np.ndarray
    name: str
    parts: tuple[str, ...] = ()
    preprocessing: dict[str, Any] = field(default_factory=dict)
    image_shape: None = None

    @property
    def labels(self) -> np.ndarray:
        """The class name of every row."""
        return np.asarray(self.classes, dtype=object)[self.y]

    @property
    def task(self) -> str:
        """Always ``"classification"``: parts with real-number labels are refused when read."""
        return "classification"

    def __len__(self) -> int:
        return len(self.y)

    def __repr__(self) -> str:
        return (f"ParquetParts({self.name!r}, n={len(self)}, d={self.X.shape[1]}, parts={len(self.parts)}, "
                f"classes={len(self.classes)})")


def is_parquet_parts(path: str | Path) -> bool:
    """Whether ``path`` is a folder of Parquet parts: it holds ``*.parquet`` files and no sub-folders.

    Examples
    --------
    >>> is_parquet_parts("digits")
    False
    """
    folder = Path(path).expanduser()
    if not folder.is_dir():
        return False
    entries = [p for p in folder.iterdir() if not p.name.startswith(".")]
    return any(p.suffix.lower() == PART_SUFFIX for p in entries) and not any(p.is_dir() for p in entries)


def read_parquet_parts(folder: str | Path, *, label_column: str = "label", id_column: str | None = None,
                       ignore_columns: Sequence[str] | str = (), standardize: bool = True) -> ParquetParts:
    """Read a folder of Parquet parts (same columns in each) without gathering the features.

    Only the labels (and ids) are read into memory; the feature columns become a Dask array with
    one block per part (files in sorted name order), read where it is computed. With
    ``standardize`` (the default) every feature column is scaled to mean 0 and population
    standard deviation 1 (a constant column becomes 0) from sums over the parts, the rule and
    record of :func:`trainfree.data.load_file` for one table. Feature columns must be numbers
    or booleans: a categorical column is refused (one-hot encoding across parts would need every
    part's levels); drop it with ``ignore_columns``. NaN or infinite features are refused when
    the part holding them is read.

    Parameters
    ----------
    folder : str or Path
        A folder holding ``*.parquet`` files, e.g. written by ``dask.dataframe.to_parquet``.
    label_column : str, default="label"
        The column that holds the class labels.
    id_column : str, optional
        A column of unique values identifying the rows; default: the row number across the parts (a
        pandas index the parts were written with is not used).
    ignore_columns : sequence of str
        Columns dropped before anything else (a single name may be passed as a string).
    standardize : bool, default=True
        Scale every feature column as above; ``False`` keeps the values as stored.

    Returns
    -------
    ParquetParts
        ``X`` (Dask), ``y``, ``classes``, ``ids``, ``preprocessing``.

    Examples
    --------
    >>> parts = read_parquet_parts("parts/")  # doctest: +SKIP
    >>> parts.X.numblocks[0] == len(parts.parts)  # doctest: +SKIP
    True
    """
    import dask
    import dask.array as da
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(folder).expanduser()
    check_param("label_column", label_column, str)
    if not isinstance(standardize, (bool, np.bool_)):
        raise TrainfreeError(f"The 'standardize' parameter must be True or False. Got {standardize!r} instead.")
    if not path.is_dir():
        raise TrainfreeError(f"No such folder: {path}. Pass a folder of {PART_SUFFIX} parts.")
    files = sorted(p for p in path.iterdir() if p.suffix.lower() == PART_SUFFIX and not p.name.startswith("."))
    if not files:
        raise TrainfreeError(f"{path} holds no {PART_SUFFIX} files; pass a folder of Parquet parts (e.g. written "
                             f"by dask.dataframe.to_parquet).")
    schemas = [_schema(pq, f) for f in files]
    names = [n for n in schemas[0].names if not n.startswith("__index_level_")]
    for f, schema in zip(files[1:], schemas[1:]):
        other = [n for n in schema.names if not n.startswith("__index_level_")]
        if other != names:
            raise TrainfreeError(f"{path.name}: part {f.name} has columns {other[:10]}, but {files[0].name} has "
                                 f"{names[:10]}; write every part with the same columns in the same order.")
    ignored = [ignore_columns] if isinstance(ignore_columns, str) else list(ignore_columns)
    unknown = [c for c in ignored if c not in names or c in (label_column, id_column)]
    if unknown:
        raise TrainfreeError(f"{path.name}: cannot ignore {unknown[0]!r} (its columns are {names[:20]}; the label "
                             f"and id columns cannot be ignored); fix the 'ignore_columns' parameter.")
    for param, column in (("label_column", label_column), ("id_column", id_column)):
        if column is not None and column not in names:
            raise TrainfreeError(f"{path.name} has no column {column!r}; its columns are {names[:20]}. Fix the "
                                 f"'{param}' parameter.")
    keep = [label_column] + ([id_column] if id_column is not None else [])
    # Labels and ids get the checks of one table (from_frame) on those columns only: the features stay on disk.
    small = pd.concat([pd.read_parquet(f, columns=keep) for f in files], ignore_index=True)
    small["features stay on disk"] = np.zeros(len(small), dtype=np.float32)
    head = from_frame(small, label_column=label_column, id_column=id_column, standardize=False, name=path.name)
    if head.task != "classification":
        raise TrainfreeError(f"{path.name}: the label column {label_column!r} holds real numbers; the detector "
                             f"needs class labels: bin them into classes or encode them as integers or names.")
    columns = [c for c in names if c not in (label_column, id_column, *ignored)]
    if not columns:
        raise TrainfreeError(f"{path.name} holds no feature columns besides {keep}; add feature columns (or fix "
                             f"the 'ignore_columns' parameter).")
    for c in columns:
        kind = schemas[0].field(c).type
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)):
            raise TrainfreeError(f"{path.name}: column {c!r} holds {kind} values, not numbers; one-hot encoding "
                                 f"across parts is not done, so pass ignore_columns={c!r} (or encode it in the "
                                 f"parts).")
    rows = [pq.read_metadata(f).num_rows for f in files]
    blocks = [da.from_delayed(dask.delayed(_read_part)(str(f), columns), shape=(r, len(columns)), dtype=np.float64)
              for f, r in zip(files, rows) if r]
    X = da.concatenate(blocks, axis=0)
    record: dict[str, Any] = {"standardize": bool(standardize), "features": columns}
    if standardize:
        X, mean, scale = _standardize(X)
        record.update(mean=mean.tolist(), scale=scale.tolist())
    return ParquetParts(X, head.y, head.classes, head.ids, path.name, tuple(f.name for f in files), record)


def _schema(pq: Any, f: Path) -> Any:
    try:
        return pq.read_schema(f)
    except Exception as exc:  # ArrowInvalid, OSError: the part is at fault
        raise TrainfreeError(f"Cannot read part {f}: {str(exc).splitlines()[0]}; write it again.") from None


def _read_part(path: str, columns: list[str]) -> np.ndarray:
    """One part's feature columns as float64 (on whichever worker reads it); NaN or infinities refused."""
    import pandas as pd

    X = pd.read_parquet(path, columns=columns).to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(X).all(axis=1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        col = columns[int(np.flatnonzero(~np.isfinite(X[row]))[0])]
        raise TrainfreeError(f"Part {Path(path).name} has {int(bad.sum())} row(s) with NaN or infinite feature "
                             f"values, the first at row {row} of that part, in column {col!r}; drop those rows or "
                             f"impute the values.")
    return X


def _standardize(X: Any) -> tuple[Any, np.ndarray, np.ndarray]:
    """:func:`~trainfree.data._columns.standardize_columns`' rule on a Dask array: statistics from sums over parts."""
    import dask
    import dask.array as da

    top, bottom = dask.compute(X.max(axis=0), X.min(axis=0))
    peak = np.maximum(np.abs(top), np.abs(bottom))
    peak = np.where(peak > 0, peak, 1.0)
    unit = X / peak
    n = X.shape[0]
    middle = (top + bottom) / 2 / peak  # sums about the mid-range: no cancellation when the mean is far from 0
    shifted = unit - middle
    sums, squares = dask.compute(shifted.sum(axis=0), (shifted * shifted).sum(axis=0))
    mean = sums / n
    spread = np.sqrt(np.maximum(squares / n - mean * mean, 0.0))
    mean = mean + middle
    constant = (top == bottom) | (spread == 0)
    spread = np.where(constant, 1.0, spread)
    Z = da.where(constant, 0.0, (unit - mean) / spread)
    return Z, mean * peak, np.where(constant, 1.0, spread * peak)
