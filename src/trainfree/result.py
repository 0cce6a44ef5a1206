"""A small result object with provenance, shared by every score and valuation.

Rows are examples (for per-example scores) or contributors (for valuations); columns are named
NumPy arrays. Results are saved as Parquet or CSV plus a JSON sidecar of the settings: never pickle.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._validation import TrainfreeError


@dataclass
class Result:
    """Scores (one row per example or contributor) plus what produced them.

    Parameters
    ----------
    method : str
        Name of the method, e.g. ``"cg_score"``.
    columns : dict of str to ndarray
        Equal-length 1-D arrays; the first is the main score.
    settings : dict
        The parameters of the call, JSON-serialisable.
    seed : int or None
        The seed that reproduces the result.
    timings : dict of str to float
        Seconds spent per phase.

    Examples
    --------
    >>> r = Result("demo", {"score": np.array([0.1, 0.2])}, settings={"k": 1})
    >>> r.to_dataframe().shape
    (2, 1)
    """

    method: str
    columns: dict[str, np.ndarray]
    settings: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        lengths = {k: len(v) for k, v in self.columns.items()}
        if len(set(lengths.values())) > 1:
            raise TrainfreeError(f"Result columns must have equal lengths, got {lengths}.")

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def to_dataframe(self):
        """Return the columns as a ``pandas.DataFrame``."""
        import pandas as pd

        return pd.DataFrame({k: np.asarray(v) for k, v in self.columns.items()})

    def metadata(self) -> dict[str, Any]:
        """Settings, seed and timings as a JSON-ready dict."""
        return {"method": self.method, "settings": _jsonable(self.settings), "seed": self.seed,
                "timings": _jsonable(self.timings), "n_rows": len(self)}

    def save(self, path: str | Path) -> Path:
        """Write the table to ``.parquet`` or ``.csv`` and the metadata to ``<path>.json``."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        df = self.to_dataframe()
        if path.suffix == ".parquet":
            df.to_parquet(path, index=False)
        elif path.suffix == ".csv":
            df.to_csv(path, index=False)
        else:
            raise TrainfreeError(f"Cannot save results to {path.name!r}: use a .parquet or .csv file name.")
        path.with_suffix(path.suffix + ".json").write_text(json.dumps(self.metadata(), indent=2))
        return path

    @classmethod
    def load(cls, path: str | Path) -> "Result":
        """Read a result written by :meth:`save`."""
        import pandas as pd

        path = Path(path)
        df = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
        meta = json.loads(path.with_suffix(path.suffix + ".json").read_text())
        return cls(meta["method"], {c: df[c].to_numpy() for c in df.columns}, meta["settings"],
                   meta["seed"], meta["timings"])


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    return str(obj)
