"""Result objects: per-example scores and per-player values on one small, immutable base.

Rows are examples (:class:`ExampleResult`, main column ``score``) or players such as data
contributors or whole datasets (:class:`PlayerResult`, main column ``value``). Every result holds
``stderr`` (NaN where a method has none), the settings and seed that produced it, timings in
seconds (keys ending in ``_s``) and what an experiment measured of it (``metrics``). It is saved as
Parquet or CSV plus a JSON sidecar, never pickle, and :func:`load_result` reads it back as the same type.
"""

from __future__ import annotations

import json
import math
import types
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ._errors import TrainfreeError

_TYPES: dict[str, type[Result]] = {}
_KEEP = object()


@dataclass(frozen=True, eq=False)
class Result:
    """Base of every result: named equal-length columns plus what produced them.

    Parameters
    ----------
    method : str
        Name of the method, e.g. ``"cg_score"``.
    columns : mapping of str to ndarray
        Equal-length 1-D arrays. The main column comes first; ``stderr`` is added (NaN) when absent.
    settings : mapping
        The parameters of the call and what the run did, JSON-serialisable.
    seed : int, dict or None
        The seed record that reproduces the result (see :func:`trainfree._random.seed_record`);
        None for deterministic methods.
    timings : mapping of str to float
        Seconds per phase; every key ends in ``_s`` (``total_s`` for the whole call).
    metrics : mapping
        What an experiment measured of the result (e.g. AUROC against known flipped labels).

    Results are immutable: arrays are read-only, and :meth:`replace` returns a new result.
    """

    method: str
    columns: Mapping[str, np.ndarray]
    settings: Mapping[str, Any] = field(default_factory=dict)
    seed: int | dict | None = None
    timings: Mapping[str, float] = field(default_factory=dict)
    metrics: Mapping[str, Any] = field(default_factory=dict)

    main_column: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _TYPES[cls.__name__] = cls

    def __post_init__(self) -> None:
        cols = {str(k): np.array(v) for k, v in self.columns.items()}  # a private copy the caller cannot change
        if self.main_column:
            if self.main_column not in cols:
                raise TrainfreeError(f"A {type(self).__name__} needs a {self.main_column!r} column; got {list(cols)}.")
        lengths = {k: len(v) for k, v in cols.items()}
        if len(set(lengths.values())) > 1:
            raise TrainfreeError(f"Result columns must have equal lengths, got {lengths}.")
        if self.main_column:  # main column, then its standard error (NaN where the method has none)
            stderr = cols.pop("stderr", np.full(lengths[self.main_column], np.nan))
            cols = {self.main_column: cols.pop(self.main_column), "stderr": stderr, **cols}
        for arr in cols.values():
            arr.setflags(write=False)
        bad = [k for k in self.timings if not k.endswith("_s")]
        if bad:
            raise TrainfreeError(f"Timing keys must end in '_s' (seconds); got {bad}.")
        object.__setattr__(self, "columns", types.MappingProxyType(cols))
        object.__setattr__(self, "settings", types.MappingProxyType(dict(self.settings)))
        object.__setattr__(self, "timings", types.MappingProxyType({k: float(v) for k, v in self.timings.items()}))
        object.__setattr__(self, "metrics", types.MappingProxyType(dict(self.metrics)))

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    @property
    def stderr(self) -> np.ndarray:
        """Standard error of the main column (NaN where the method defines none)."""
        return self.columns["stderr"]

    def replace(self, *, columns: Mapping[str, Any] | None = None, settings: Mapping[str, Any] | None = None,
                timings: Mapping[str, float] | None = None, metrics: Mapping[str, Any] | None = None,
                seed: Any = _KEEP) -> Result:
        """A new result of the same type with columns, settings, timings or metrics added or overridden.

        A workflow uses it to add what it knows (row identities, known flips, its own root ``seed``).
        """
        return replace(self, columns={**self.columns, **(columns or {})}, seed=self.seed if seed is _KEEP else seed,
                       settings={**self.settings, **(settings or {})},
                       timings={**self.timings, **(timings or {})}, metrics={**self.metrics, **(metrics or {})})

    def to_dataframe(self):
        """Return the columns as a ``pandas.DataFrame``, main column first."""
        import pandas as pd

        return pd.DataFrame({k: np.asarray(v) for k, v in self.columns.items()})

    def metadata(self) -> dict[str, Any]:
        """Type, method, settings, seed, timings and metrics as a JSON-ready dict."""
        return {"result_type": type(self).__name__, "method": self.method, "n_rows": len(self),
                "settings": jsonable(self.settings), "seed": jsonable(self.seed),
                "timings": jsonable(self.timings), "metrics": jsonable(self.metrics)}

    def summary(self) -> str:
        """One line on what the result holds."""
        main = self.columns[self.main_column] if self.main_column else None
        if main is None or not len(main):
            return f"{self.method}: {len(self)} rows"
        return (f"{self.method} (n={len(main)}): {self.main_column} mean {np.mean(main):.4g}, "
                f"median {np.median(main):.4g}, min {np.min(main):.4g}, max {np.max(main):.4g}")

    def save(self, path: str | Path) -> Path:
        """Write the table to ``path`` and the metadata to ``<path>.json``; returns ``path``.

        ``path`` ends in ``.parquet`` (typed columns, compact) or ``.csv`` (for spreadsheets: a header row,
        no index column, UTF-8, NaN as an empty cell; the sidecar records each column's type, so
        :func:`load_result` reads the same values back).
        """
        path = Path(path)
        if path.suffix not in FORMATS.values():
            raise TrainfreeError(f"Results are saved as Parquet or CSV: name the file '*.parquet' or '*.csv', not "
                                 f"{path.name!r}.")
        path.parent.mkdir(parents=True, exist_ok=True)
        df = self.to_dataframe()
        meta = self.metadata()
        if path.suffix == ".csv":
            df.to_csv(path, index=False)
            meta["column_types"] = {c: _column_type(a) for c, a in self.columns.items()}
        else:
            df.to_parquet(path, index=False)
        _sidecar(path).write_text(json.dumps(meta, indent=2, allow_nan=True))
        return path


# The file formats a result is saved in (``--format``), by name: their suffixes.
FORMATS = {"parquet": ".parquet", "csv": ".csv"}


def _column_type(arr: np.ndarray) -> str:
    """How a CSV column is read back: ``"str"`` for text (and other objects), else the NumPy dtype."""
    return "str" if arr.dtype.kind in "OUS" else arr.dtype.str


def _read_table(path: Path, meta: dict[str, Any]):
    import pandas as pd

    if path.suffix != ".csv":
        return pd.read_parquet(path)
    types = meta.get("column_types") or {}
    text = [c for c, t in types.items() if t == "str"]
    if not types:
        return pd.read_csv(path)
    # Text stays text ("NA", "1" and "" are class names like any other); numbers read "" back as NaN.
    df = pd.read_csv(path, dtype={c: str for c in text}, keep_default_na=False,
                     na_values={c: [""] for c in types if c not in text})
    for c, t in types.items():
        if t != "str" and c in df.columns:
            df[c] = df[c].to_numpy().astype(np.dtype(t))
    return df


def load_result(path: str | Path) -> Result:
    """Read a result written by :meth:`Result.save` (``.parquet`` or ``.csv``), as the type that wrote it.

    Examples
    --------
    >>> import tempfile, os
    >>> r = ExampleResult("demo", {"score": np.array([0.5, 1.5])}, timings={"total_s": 0.1})
    >>> with tempfile.TemporaryDirectory() as d:
    ...     back = load_result(r.save(os.path.join(d, "r.parquet")))
    >>> type(back).__name__, back.scores.tolist(), bool(np.isnan(back.stderr).all())
    ('ExampleResult', [0.5, 1.5], True)
    """
    path = Path(path)
    try:
        meta = json.loads(_sidecar(path).read_text())
        df = _read_table(path, meta)
        cls = _result_type(meta["result_type"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TrainfreeError(f"Could not read a trainfree result from {path} and {_sidecar(path).name} ({exc}). "
                             f"Pass a .parquet or .csv file written by Result.save, with its .json beside "
                             f"it.") from None
    return cls(meta["method"], {c: df[c].to_numpy() for c in df.columns}, meta["settings"], meta["seed"],
               meta["timings"], meta.get("metrics", {}))


class ExampleResult(Result):
    """One row per example: ``score`` first, then ``stderr`` and method-specific columns.

    Examples
    --------
    >>> r = ExampleResult("demo", {"score": np.array([0.1, 0.2])}, settings={"k": 1})
    >>> list(r.to_dataframe().columns)
    ['score', 'stderr']
    """

    main_column: ClassVar[str] = "score"

    @property
    def scores(self) -> np.ndarray:
        """The score of each example."""
        return self.columns["score"]


class PlayerResult(Result):
    """One row per player (a contributor or a whole dataset): ``value``, ``stderr``, ``player``, ...

    ``settings["n_evaluations"]`` counts utility evaluations where a semivalue produced it.

    Examples
    --------
    >>> r = PlayerResult("demo", {"value": np.array([1.0, 2.0]), "player": np.array(["a", "b"])})
    >>> r.values.tolist(), list(r.to_dataframe().columns)
    ([1.0, 2.0], ['value', 'stderr', 'player'])
    """

    main_column: ClassVar[str] = "value"

    def __post_init__(self) -> None:
        super().__post_init__()
        if "player" not in self.columns:
            raise TrainfreeError(f"A PlayerResult needs a 'player' column; got {list(self.columns)}.")

    @property
    def values(self) -> np.ndarray:
        """The value of each player."""
        return self.columns["value"]

    @property
    def n_evaluations(self) -> int:
        """Number of utility values computed."""
        return int(self.settings["n_evaluations"])

    def summary(self) -> str:
        order = np.argsort(self.values, kind="stable")
        low = ", ".join(f"{self.columns['player'][i]} ({self.values[i]:.4g})" for i in order[:3])
        se = self.stderr
        err = "no standard errors" if np.isnan(se).all() else f"largest standard error {np.nanmax(se):.3g}"
        return f"{self.method}: {len(self)} players; lowest values: {low}; {err}"


def _result_type(name: str) -> type[Result]:
    """The class a sidecar names; the scores' own result types register when trainfree.scores is imported."""
    if name not in _TYPES:
        import importlib

        importlib.import_module("trainfree.scores")
    return _TYPES[name]


def _sidecar(path: Path) -> Path:
    return path.with_suffix(path.suffix + ".json")


def jsonable(obj: Any) -> Any:
    """``obj`` as JSON values: mappings, sequences and NumPy values converted, NaN as null, ±inf and others as text."""
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return jsonable(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None if math.isnan(obj) else str(obj)
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    return str(obj)
