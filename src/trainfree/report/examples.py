"""The examples behind per-example scores: reloaded from the data the run read, checked, and drawn.

The output folder holds scores, not pixels. To show the highest- and lowest-scored examples the
report loads the data again exactly as the run did (same data, ``--n``, ``--label-column`` and
``--seed``, hence the same subsample) and matches its rows to the scores by ``row_id``. It looks
where ``run.json`` says the run read them (the absolute path, then the path as typed), or where the
caller points (``data=``, ``trainfree report --data``); and it draws nothing when the data no longer
match the run (another row count, other row identities, labels or features), rather than other rows.
"""

from __future__ import annotations


import warnings
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import TrainfreeError
from .._runs import data_fingerprint
from . import plots
from .markup import esc


def rows_fingerprint(ds) -> str:
    """A fingerprint of a Dataset's features, labels and row identities, recorded in ``run.json`` at run time.

    Examples
    --------
    >>> from trainfree.data import Dataset
    >>> a = Dataset(np.eye(3), np.array([0, 1, 1]))
    >>> rows_fingerprint(a) == rows_fingerprint(a.subset(np.arange(3))), rows_fingerprint(a) == rows_fingerprint(
    ...     a.subset(np.array([1, 0, 2])))
    (True, False)
    """
    return data_fingerprint(ds.X, np.asarray(ds.labels).astype(str), np.asarray(ds.ids).astype(str))


@dataclass
class Rows:
    """The rows a result scored, in its order (``ds``), where they were read (``source``), or why not (``why``);
    ``note`` says where the report looked when the data were not where the run read them."""

    ds: Any = None
    source: str = ""
    why: str = ""
    note: str = ""
    labelled: bool = True


def find_rows(run: Mapping[str, Any], res, *, data: Any = None) -> Rows:
    """Load the examples of ``res`` (an ExampleResult) from ``data`` or from where ``run.json`` says, and check them.

    ``data`` is a path, a :class:`~trainfree.data.Dataset`, an array of examples (``(n, d)`` rows or
    ``(n, C, H, W)`` / ``(n, H, W)`` images) or a tuple ``(X, y)``; None looks where the run read its data.
    """
    in_memory = data is not None and not isinstance(data, (str, Path))
    if in_memory:  # matched to the scores by row_id (or position) and label; the fingerprint is of the loaded data
        ds, labelled = _in_memory(data)
        rows = Rows(ds, "the data passed to write_report", labelled=labelled)
    else:
        rows = _load(run, data)
        if rows.ds is None:
            return rows
    failed = ("" if in_memory else _fingerprint_differs(run, rows)) or _matched(rows, res)
    if failed:
        return Rows(why=failed)
    return replace(rows, ds=_as_written(rows.ds))


def _as_written(ds):
    """A standardised table's values as the file wrote them (for display; the fingerprint is of what was scored)."""
    record = ds.preprocessing or {}
    if not record.get("standardize") or "mean" not in record:
        return ds
    X = np.asarray(ds.X, dtype=np.float64) * np.asarray(record["scale"]) + np.asarray(record["mean"])
    return replace(ds, X=X)


def _fingerprint_differs(run: Mapping[str, Any], rows: Rows) -> str:
    """Why the loaded data are not the run's (another fingerprint than ``run.json`` recorded), or ''."""
    stored = run.get("data_fingerprint")
    if not stored or rows_fingerprint(rows.ds) == stored:
        return ""
    return (f"The data read from {rows.source} no longer match the run (their rows, features or labels changed since "
            f"it ran); no examples are drawn, so that none shows another row's features.")


def _matched(rows: Rows, res) -> str:
    """Put ``rows.ds`` in the order of the result's ``row_id`` and check the labels; or say why not."""
    ds, where, n_rows = rows.ds, rows.source, len(res)
    if "row_id" not in res.columns:
        if len(ds) != n_rows:
            return (f"The data read from {where} hold {len(ds)} rows, the scores {n_rows}: they are not the data the "
                    f"run scored, so no examples are drawn.")
    else:
        at = {k: i for i, k in enumerate(np.asarray(ds.ids).tolist())}
        idx = [at.get(k) for k in np.asarray(res["row_id"]).tolist()]
        missing = sum(i is None for i in idx)
        if missing:
            return (f"{missing} of the {n_rows} scored rows are not in the data read from {where} (matched by row_id): "
                    f"they are not the data the run scored, so no examples are drawn.")
        if len(ds) != n_rows or not np.array_equal(idx, np.arange(n_rows)):
            ds = ds.subset(np.asarray(idx, dtype=np.int64))
    given = next((res[c] for c in ("original_label", "label") if c in res.columns), None)
    if given is not None and rows.labelled:
        wrong = int(np.sum(np.asarray(ds.labels).astype(str) != np.asarray(given).astype(str)))
        if wrong:
            return (f"The labels of {wrong} rows read from {where} differ from those the run scored: they are not the "
                    f"data the run scored, so no examples are drawn.")
    rows.ds = ds
    return ""


def _load(run: Mapping[str, Any], data: str | Path | None) -> Rows:
    """The run's data set, loaded as the run loaded it, from ``data`` or the first place ``run.json`` names."""
    from ..data import DATASETS, is_parquet_parts, load

    if data is not None:
        places = [str(data)]
    else:
        places = list(dict.fromkeys(str(p) for p in (run.get("data_path"), run.get("data")) if p))
        if not places:
            return Rows(why="run.json names no data set (results saved from Python), so no examples are drawn.")
        gone = [p for p in places if not Path(p).exists() and p not in DATASETS]  # a folder typed bare ('imgs') too
        if len(gone) == len(places):  # every recorded path is gone: the data moved
            return Rows(why=f"The data were not found where the run read them ({' nor '.join(places)}, looked from "
                            f"{Path.cwd()}), so no examples are drawn.")
        places = [p for p in places if p not in gone]
    where, note = places[0], ""
    if is_parquet_parts(where):  # scored on Dask: its rows are never gathered in one place to be drawn
        return Rows(why=f"The data {where!r} are Parquet parts, scored on Dask; no examples are drawn for parts.")
    if data is None and run.get("data_path") and where != run.get("data_path"):
        note = (f"The data were not at {run['data_path']}, where the run read them; the examples are drawn from "
                f"{Path(where).resolve()} instead.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = load(where, n=run.get("n"), label_column=run.get("label_column", "label"),
                      id_column=run.get("id_column"), ignore_columns=run.get("ignore_columns") or (),
                      standardize=bool(run.get("standardize", False)), random_state=run.get("seed"),
                      image_size=tuple(run["image_size"]) if run.get("image_size") else None)
    except (TrainfreeError, OSError, ValueError) as exc:
        return Rows(why=f"The data {where!r} could not be loaded again ({exc}); no examples are drawn.")
    return Rows(ds, where, note=note)


def _in_memory(data: Any):
    """A Dataset of in-memory examples (a Dataset, an array of examples, or ``(X, y)``), and whether it has labels."""
    from ..data import Dataset

    if isinstance(data, Dataset):
        return data, True
    X = np.asarray(data[0] if isinstance(data, tuple) else data)
    if X.ndim < 2 or not len(X):
        raise TrainfreeError(f"data= must be a path, a Dataset, an array with one example per row or (X, y); got "
                             f"shape {X.shape}.")
    shape = None if X.ndim == 2 else (1, *X.shape[1:]) if X.ndim == 3 else X.shape[1:]
    if isinstance(data, tuple) and len(data) > 1:
        names, codes = np.unique(np.asarray(data[1]).astype(str), return_inverse=True)
        if len(codes) != len(X):
            raise TrainfreeError(f"data=(X, y) needs one label per example: X has {len(X)} rows, y {len(codes)}.")
        return Dataset(X.reshape(len(X), -1), codes, classes=tuple(names), image_shape=shape, name="data"), True
    return Dataset(X.reshape(len(X), -1), np.zeros(len(X), dtype=np.int64), image_shape=shape, name="data"), False


class Drawer:
    """Draws example ``i`` of a Dataset as an image (2-D), a line plot (1-D) or a row of feature values."""

    def __init__(self, ds, run: Mapping[str, Any] | None = None, source: str = "") -> None:
        self.ds = ds
        self.low, self.high = float(np.min(ds.X)), float(np.max(ds.X))
        shape = ds.image_shape
        if shape is None:
            self.kind = "row"
        elif len(shape) >= 2 and shape[-2] > 1 and shape[-1] > 1:
            self.kind = "image"
        else:
            self.kind = "line"
        self.names = ((ds.preprocessing.get("features") or [])[:12] or _feature_names(run or {}, ds.X.shape[1], source)
                      if self.kind == "row" else [])

    def thumbnail(self, i: int) -> str:
        """An ``<img>`` tag for example ``i`` (image or line data)."""
        x = self.ds.X[i]
        if self.kind == "line":
            b64 = plots.line_svg(x, low=self.low, high=self.high)
            return f'<img src="data:image/svg+xml;base64,{b64}" alt="signal {i}">'
        img = x.reshape(self.ds.image_shape)
        img = img[0] if img.shape[0] == 1 else np.moveaxis(img[:3], 0, -1)
        b64 = plots.image_png(img, vmin=self.low, vmax=self.high)
        return f'<img src="data:image/png;base64,{b64}" alt="example {i}">'

    def features(self, i: int, limit: int = 12) -> list[float]:
        return self.ds.X[i, :limit].tolist()


def _feature_names(run: Mapping[str, Any], d: int, source: str = "", limit: int = 12) -> list[str]:
    """Column names of a .csv/.parquet source (label and index columns dropped), else x0, x1, ..."""
    path = Path(source or str(run.get("data", "")))
    names: list[str] = []
    try:
        if path.suffix.lower() == ".csv":
            import pandas as pd

            names = [str(c) for c in pd.read_csv(path, nrows=0).columns]
        elif path.suffix.lower() == ".parquet":
            import pyarrow.parquet as pq

            names = [str(c) for c in pq.read_schema(path).names]
    except (OSError, ValueError):
        names = []
    label = str(run.get("label_column", "label"))
    names = [c for c in names if c != label and not c.startswith(("Unnamed:", "__index_level"))]
    if len(names) != d:
        names = [f"x{j}" for j in range(d)]
    return names[:limit]


def card(drawer: Drawer, i: int, *, row_id: Any, label: Any, score: float, original: Any = None,
         flipped: bool = False, flagged: bool = False, predicted: Any = None) -> str:
    """One gallery entry: the picture, its row identity, score, marks and, where a detector predicted
    another class than the given label, that class."""
    cls = " ".join(c for c in ("ex", "flipped" if flipped else "", "flagged" if flagged else "") if c)
    tags = ""
    if flipped:
        tags += f'<span class="tag flip" title="label flipped on purpose">flipped, was {esc(original)}</span>'
    if flagged:
        tags += '<span class="tag flag" title="the sign rule marks it as likely mislabelled">likely mislabel</span>'
    # The given label is the class row's own, so the card shows only what differs between examples.
    return (f'<div class="{cls}" title="label {esc(label)}">{drawer.thumbnail(i)}<div>row {esc(row_id)}</div>'
            f"<div>score {esc(score)}</div>"
            + (f"<div>predicted <b>{esc(predicted)}</b></div>" if predicted is not None and predicted != label else "")
            + f"{tags}</div>")
