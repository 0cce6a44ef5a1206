"""The examples behind per-example scores: reloaded from the data set named in ``run.json`` and drawn.

The output folder holds scores, not pixels. To show the highest- and lowest-scored examples the
report loads the data set again exactly as the run did (same ``--data``, ``--n``, ``--label-column``
and ``--seed``, hence the same subsample) and matches its rows to the scores by ``row_id``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import TrainfreeError
from . import plots
from .markup import esc


def reload_rows(run: Mapping[str, Any], row_ids: np.ndarray | None, n_rows: int):
    """The rows a result scored, in its order, as a Dataset; or a sentence saying why they cannot be shown.

    Returns
    -------
    (Dataset or None, str)
    """
    from ..data import load

    name = run.get("data")
    if not name:
        return None, "run.json names no data set, so the examples cannot be drawn."
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = load(name, n=run.get("n"), label_column=run.get("label_column", "label"),
                      id_column=run.get("id_column"), ignore_columns=run.get("ignore_columns") or (),
                      standardize=False, random_state=run.get("seed"))  # a table's values as written
    except (TrainfreeError, OSError, ValueError) as exc:
        return None, f"The data set {name!r} could not be loaded again ({exc}); galleries show no pictures."
    if row_ids is None:
        if len(ds) != n_rows:
            return None, f"The data set {name!r} has {len(ds)} rows now, the scores {n_rows}; not drawn."
        return ds, ""
    where = {k: i for i, k in enumerate(ds.ids.tolist())}
    idx = [where.get(k) for k in row_ids.tolist()]
    if any(i is None for i in idx):
        return None, f"Some scored rows are no longer in {name!r}; galleries show no pictures."
    return ds.subset(np.asarray(idx, dtype=np.int64)), ""


class Drawer:
    """Draws example ``i`` of a Dataset as an image (2-D), a line plot (1-D) or a row of feature values."""

    def __init__(self, ds, run: Mapping[str, Any] | None = None) -> None:
        self.ds = ds
        self.low, self.high = float(np.min(ds.X)), float(np.max(ds.X))
        shape = ds.image_shape
        if shape is None:
            self.kind = "row"
        elif len(shape) >= 2 and shape[-2] > 1 and shape[-1] > 1:
            self.kind = "image"
        else:
            self.kind = "line"
        self.names = ((ds.preprocessing.get("features") or [])[:12] or _feature_names(run or {}, ds.X.shape[1])
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


def _feature_names(run: Mapping[str, Any], d: int, limit: int = 12) -> list[str]:
    """Column names of a .csv/.parquet source (label and index columns dropped), else x0, x1, ..."""
    path = Path(str(run.get("data", "")))
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
