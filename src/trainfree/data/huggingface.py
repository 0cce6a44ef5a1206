"""Hugging Face data sets, without the ``datasets`` package: a ``datasets.Dataset`` object or a
folder written by ``Dataset.save_to_disk``.

A folder is read with pyarrow alone: its Arrow stream files (``data-*.arrow``, listed in
``state.json``) and the column types in ``dataset_info.json`` (class names of a ``ClassLabel``,
``Image`` columns stored as PNG/JPEG bytes). An object is read through what every
``datasets.Dataset`` has: ``column_names``, ``len()``, ``ds[column]`` and ``ds.features``.
"""

from __future__ import annotations

import io
import json
import numbers
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import TrainfreeError
from ._arrays import from_arrays
from .dataset import Dataset
from .images import images_to_array
from .torch_inputs import BATCH_SIZE, embed


def from_huggingface(source: Any, *, label_column: str = "label", inputs: str | Sequence[str] | None = None,
                     split: str | None = None, image_size: tuple[int, int] | None = None, features: Any = None,
                     batch_size: int = BATCH_SIZE, device: str | None = "cpu") -> Dataset:
    """Read a Hugging Face data set into a Dataset: a ``datasets.Dataset`` or a ``save_to_disk`` folder.

    Parameters
    ----------
    source : datasets.Dataset, str or Path
        The data set object, or the folder ``Dataset.save_to_disk`` (or ``DatasetDict.save_to_disk``,
        then pick ``split``) wrote. The ``datasets`` package is not needed.
    label_column : str, default="label"
        The label column. A ``ClassLabel`` column's class names become the Dataset's classes.
    inputs : str or sequence of str, optional
        The input column(s): an image column, a column of vectors (e.g. stored embeddings), or
        numeric columns side by side. Default: every column besides ``label_column``.
    split : str, optional
        The split of a ``DatasetDict`` folder (e.g. ``"train"``); needed when it holds several.
    image_size : (int, int), optional
        Images of different sizes are resized to this (height, width), else to the most common
        size, as for image folders (:func:`~trainfree.data.load_file`).
    features : torch.nn.Module or callable, optional
        Your network: rows become its features (:func:`~trainfree.data.embed`).
    batch_size, device
        As in :func:`~trainfree.data.embed`.

    Returns
    -------
    Dataset
        Rows in the data set's order, ids ``0..n-1``; images keep their ``image_shape``.

    Examples
    --------
    >>> class Tiny:  # what a datasets.Dataset offers
    ...     column_names = ["x", "label"]
    ...     def __len__(self): return 4
    ...     def __getitem__(self, column): return {"x": [[0., 1.], [1., 0.], [0., 2.], [2., 0.]],
    ...                                            "label": [0, 1, 0, 1]}[column]
    >>> ds = from_huggingface(Tiny())
    >>> ds.X.shape, ds.classes
    ((4, 2), ('0', '1'))
    """
    if isinstance(source, (str, Path)):
        table, info, name = _read_folder(Path(source).expanduser(), split)
        columns = list(table.column_names)
        column = lambda c: table.column(c).to_pylist()  # noqa: E731
        kinds = {c: (info.get(c) or {}) for c in columns}
        kind = kinds.get(label_column, {})
        names = kind.get("names") if kind.get("_type") == "ClassLabel" else None
    elif all(hasattr(source, a) for a in ("column_names", "__len__", "__getitem__")):
        columns, name = list(source.column_names), getattr(getattr(source, "info", None), "dataset_name", None) or \
            type(source).__name__
        column = lambda c: list(source[c])  # noqa: E731
        names = getattr((getattr(source, "features", None) or {}).get(label_column), "names", None)
    else:
        raise TrainfreeError(f"from_huggingface takes a datasets.Dataset or the folder Dataset.save_to_disk wrote; "
                             f"got {type(source).__name__}.")
    if label_column not in columns:
        raise TrainfreeError(f"{name} has no label column {label_column!r}; its columns are {columns}. Pass "
                             f"label_column= one of them.")
    chosen = [c for c in columns if c != label_column] if inputs is None else [inputs] if isinstance(inputs, str) else \
        list(inputs)
    missing = [c for c in chosen if c not in columns]
    if missing or not chosen:
        raise TrainfreeError(f"{name} has no input column {missing[0] if missing else '(none)'!r}; its columns are "
                             f"{columns}. Pass inputs= the column(s) holding the inputs.")
    parts, extras = [], {}
    for c in chosen:
        X, more = _column_array(column(c), c, name, image_size)
        parts.append(X)
        extras.update(more)
    if len(parts) == 1:
        X = parts[0]
    else:
        if any(p.ndim > 2 for p in parts):
            raise TrainfreeError(f"{name}: image column(s) cannot be combined with other inputs; pass inputs= one "
                                 f"image column.")
        X = np.concatenate([p.reshape(len(p), -1) for p in parts], axis=1)
    y = np.asarray(column(label_column), dtype=object)
    ds = _dataset(X, y, names, name, label_column)
    if extras:
        ds = Dataset(ds.X, ds.y, ds.classes, ds.image_shape, ds.name, extras, ds.ids)
    return ds if features is None else embed(ds, features, batch_size=batch_size, device=device)


def _dataset(X: np.ndarray, y: np.ndarray, names: Sequence[str] | None, name: str, label: str) -> Dataset:
    image_shape = tuple(X.shape[1:]) if X.ndim == 4 else None
    ints = all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in y.tolist())
    if names is not None and ints:
        codes = y.astype(np.int64)
        if (codes < 0).any():  # datasets writes -1 for a missing ClassLabel
            first = int(np.flatnonzero(codes < 0)[0])
            raise TrainfreeError(f"{name} has {int((codes < 0).sum())} row(s) without a label (-1) in column "
                                 f"{label!r}, the first at row {first}; drop those rows (ds.filter) first.")
        X = from_arrays(X.reshape(len(X), -1), codes, name, label_name=label).X  # the feature checks
        return Dataset(X, codes, tuple(str(n) for n in names), image_shape, name)
    return from_arrays(X.reshape(len(X), -1), y, name, image_shape=image_shape, label_name=label)


def _column_array(values: list, column: str, name: str, image_size: Any) -> tuple[np.ndarray, dict]:
    """One column's values → an array: images (n, c, h, w), vectors (n, d) or numbers (n, 1)."""
    if not values:
        raise TrainfreeError(f"{name} holds no rows; pass a data set with at least one example per class.")
    first = values[0]
    if isinstance(first, dict) and "bytes" in first or hasattr(first, "convert") and hasattr(first, "size"):
        return images_to_array([_image(v, i, column, name) for i, v in enumerate(values)], image_size=image_size,
                               name=name)
    if isinstance(first, str):
        raise TrainfreeError(f"Column {column!r} of {name} holds text; embed it first (e.g. features= a text "
                             f"encoder's embeddings, stored as a column of vectors) or pass inputs= numeric columns.")
    try:
        X = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TrainfreeError(f"Column {column!r} of {name} holds values of different shapes or types; inputs must "
                             f"be numbers, vectors of one length, or images.") from None
    return (X[:, None] if X.ndim == 1 else X), {}


def _image(value: Any, row: int, column: str, name: str) -> Any:
    from PIL import Image

    if not isinstance(value, dict):
        return value  # already a Pillow image (a datasets.Dataset decodes its Image columns)
    try:
        return Image.open(io.BytesIO(value["bytes"]))
    except Exception as exc:
        raise TrainfreeError(f"Could not decode the image in row {row} of column {column!r} of {name} "
                             f"({' '.join(str(exc).split())[:200]}); fix or drop that row.") from None


def _read_folder(folder: Path, split: str | None) -> tuple[Any, dict, str]:
    """The Arrow table, the column types and the name of a ``save_to_disk`` folder."""
    import pyarrow as pa

    if not folder.is_dir():
        raise TrainfreeError(f"No such folder: {folder}. Pass the folder Dataset.save_to_disk wrote.")
    splits_file = folder / "dataset_dict.json"
    if splits_file.is_file():
        splits = _json(splits_file).get("splits", [])
        if split is None and len(splits) == 1:
            split = splits[0]
        if split not in splits:
            raise TrainfreeError(f"{folder.name} holds the splits {splits}; pass split= one of them, or the "
                                 f"folder of one split (e.g. {folder / str(splits[0]) if splits else folder}).")
        folder = folder / split
    elif split is not None:
        raise TrainfreeError(f"{folder.name} holds one data set, not splits; leave split out.")
    state, info = folder / "state.json", folder / "dataset_info.json"
    if not state.is_file():
        raise TrainfreeError(f"{folder} has no state.json, so it is not a folder written by Dataset.save_to_disk; "
                             f"save the data set with ds.save_to_disk(path) and pass that path.")
    files = [folder / f["filename"] for f in _json(state).get("_data_files", [])]
    if not files:
        raise TrainfreeError(f"{state} lists no data files; save the data set again with ds.save_to_disk(path).")
    tables = []
    for f in files:
        try:
            with pa.memory_map(str(f)) as source:
                tables.append(pa.ipc.open_stream(source).read_all())
        except (OSError, pa.ArrowException) as exc:
            raise TrainfreeError(f"Could not read {f} as an Arrow stream ({' '.join(str(exc).split())[:200]}); "
                                 f"save the data set again with ds.save_to_disk(path).") from None
    try:
        table = pa.concat_tables(tables)
    except pa.ArrowException as exc:
        raise TrainfreeError(f"The data files of {folder} do not share one schema ({exc}); save the data set "
                             f"again.") from None
    features = _json(info).get("features", {}) if info.is_file() else {}
    return table, features, folder.name


def _json(path: Path) -> dict:
    try:
        out = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise TrainfreeError(f"Could not read {path} ({exc}); save the data set again with "
                             f"ds.save_to_disk(path).") from None
    if not isinstance(out, dict):
        raise TrainfreeError(f"{path} does not hold a JSON object; save the data set again.")
    return out
