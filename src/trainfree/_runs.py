"""Resumable runs made of independent work units: one file per finished unit, written atomically.

A run folder holds ``run.json`` (the identity: every setting that changes a unit's result, the seed
and a fingerprint of the data) and one ``<key>.npz`` per finished unit. Re-running the same call
loads the finished units and computes only the rest, so the final result is the one an
uninterrupted run gives; a run with another identity is refused, naming what differs. Units draw
nothing at run time (their random choices are made before dispatch), so the same folder may be
filled by any mix of joblib backends, processes or machines.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import os
import tempfile
import zipfile
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from joblib import Parallel, delayed

from ._device import parallel_n_jobs
from ._errors import TrainfreeError
from ._progress import bar
from ._random import SeedLike, check_random_state, from_record

IDENTITY_FILE = "run.json"
# Relative tolerance for floats in an identity (fingerprints, probe values): a resumed run recomputes
# them, and the same problem may differ in the last bits (thread counts, BLAS); another problem does not.
RTOL = 1e-6


def atomic_save(path: Path, write: Callable[[Any], None], *, binary: bool = True) -> None:
    """Write ``path`` through a temporary file and ``os.replace``: a kill mid-write never leaves a torn file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb" if binary else "w") as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def data_fingerprint(*arrays: np.ndarray) -> str:
    """SHA-256 of the arrays' shapes, dtypes and bytes: the same data give the same string on any machine."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.shape}{a.dtype.str}".encode())
        h.update(memoryview(a).cast("B"))
    return h.hexdigest()[:32]


def score_fingerprint(scores: np.ndarray) -> str:
    """:func:`data_fingerprint` of computed scores rounded to 9 digits relative to their largest magnitude.

    Scores computed again from the same data can differ in their last bits (BLAS results depend on the
    number of threads, which :func:`trainfree.linalg.lapack_threads` adapts to the machine's load); a
    fingerprint of the raw bytes would then refuse to resume the same run.
    """
    a = np.asarray(scores, dtype=np.float64)
    peak = float(np.nanmax(np.abs(a))) if a.size and np.isfinite(a).any() else 1.0
    return data_fingerprint(np.round(a / (peak or 1.0), 9) + 0.0)  # + 0.0: −0 and 0 hash alike


def run_seed(random_state: SeedLike, folder: str | Path | None) -> np.random.SeedSequence:
    """The root seed of a resumable run: the one saved in ``folder`` when ``random_state`` is None, else its own.

    A resumed run keeps the draws of the run it continues (its identity records ``seed_record`` of the
    seed); a given ``random_state`` is normalised by ``check_random_state``, and a different one then
    refuses the folder (its identity differs).
    """
    stored = UnitStore.stored_identity(folder)
    if random_state is None and stored is not None and "seed" in stored:
        return from_record(stored["seed"])
    return check_random_state(random_state)


class UnitStore:
    """A run folder: its identity and its finished units (see the module docstring)."""

    def __init__(self, folder: str | Path, identity: dict[str, Any]) -> None:
        self.folder = Path(folder)
        if self.folder.exists() and not self.folder.is_dir():
            raise TrainfreeError(f"The checkpoint {self.folder} is a file, but a checkpoint is a folder of work units. "
                                 f"Pass a folder path (it is created if missing).")
        self.identity = json.loads(json.dumps(identity, default=json_default))
        marker = self.folder / IDENTITY_FILE
        if marker.exists():
            try:
                stored = json.loads(marker.read_text())
            except ValueError as exc:
                raise TrainfreeError(f"Could not read {marker} ({exc}): not a trainfree run folder. Delete it or "
                                     f"pass another folder.") from None
            check_identity(stored, self.identity, where=str(self.folder))
            for torn in self.folder.glob("*.tmp"):  # a writer killed mid-write (SIGKILL) leaves its temp file
                torn.unlink(missing_ok=True)
        else:
            try:
                atomic_save(marker, lambda fh: json.dump(self.identity, fh, indent=1, sort_keys=True), binary=False)
            except OSError as exc:  # a file where a folder should be, no permission
                raise TrainfreeError(f"Cannot create the checkpoint folder {self.folder} ({exc.strerror or exc}). "
                                     f"Pass a folder path you can write to.") from None

    @staticmethod
    def stored_identity(folder: str | Path | None) -> dict[str, Any] | None:
        """The identity saved in ``folder`` (None when there is none), e.g. to adopt its seed."""
        marker = None if folder is None else Path(folder) / IDENTITY_FILE
        if marker is None or not marker.exists():
            return None
        try:
            return json.loads(marker.read_text())
        except ValueError:
            return None

    def _path(self, key: Hashable) -> Path:
        return self.folder / f"unit-{key}.npz"

    def load(self, key: Hashable) -> dict[str, np.ndarray] | None:
        path = self._path(key)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                return {k: data[k] for k in data.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:  # EOFError: an empty file
            raise TrainfreeError(f"Could not read work unit {path} ({exc}). Delete that file to recompute "
                                 f"it.") from None

    def save(self, key: Hashable, arrays: dict[str, Any]) -> None:
        atomic_save(self._path(key), lambda fh: np.savez(fh, **arrays))

    def n_done(self) -> int:
        return sum(1 for _ in self.folder.glob("unit-*.npz"))


def run_units(fn: Callable[..., dict[str, Any]], units: Sequence[tuple[Hashable, tuple]], *,
              store: UnitStore | None = None, n_jobs: int | None = None, progress: bool = False,
              desc: str = "work units") -> dict[Hashable, dict[str, Any]]:
    """``{key: fn(*args)}`` over ``units``, through joblib, saving each result as soon as it arrives.

    ``fn`` returns a dict of arrays (what a unit file holds). With a ``store``, finished units are
    loaded instead of recomputed, and an interruption (Ctrl-C) says where the saved ones are.
    """
    results: dict[Hashable, dict[str, Any]] = {}
    todo = []
    for key, args in units:
        saved = store.load(key) if store is not None else None
        if saved is not None:
            results[key] = saved
        else:
            todo.append((key, args))
    try:
        jobs = Parallel(n_jobs=parallel_n_jobs(n_jobs, len(todo)), return_as="generator_unordered")(
            delayed(_keyed)(fn, key, args) for key, args in todo)
        for key, out in bar(jobs, total=len(todo), desc=desc, show=progress):
            if store is not None:
                store.save(key, out)
            results[key] = out
    except KeyboardInterrupt:
        if store is None:
            raise
        raise KeyboardInterrupt(f"{len(results)} of {len(units)} {desc} are saved in {store.folder}; run the same "
                                f"call (same checkpoint folder) again to resume from them.") from None
    return results


def _keyed(fn: Callable[..., dict[str, Any]], key: Hashable, args: tuple) -> tuple[Hashable, dict[str, Any]]:
    return key, fn(*args)


def check_identity(stored: dict[str, Any], now: dict[str, Any], *, where: str, keys: list[str] | None = None) -> None:
    """Refuse to continue a run whose saved identity differs from this one, listing (up to three) differences."""
    keys = list(now) if keys is None else keys
    diffs = [d for key in keys for d in _differences(stored.get(key), now.get(key), key)]
    diffs.sort(key=lambda d: _has_float(d[1]) or _has_float(d[2]))  # settings before derived numbers
    if diffs:
        listed = "; ".join(f"{key}: saved {_short(a)}, now {_short(b)}" for key, a, b in diffs[:3])
        more = f"; and {len(diffs) - 3} more" if len(diffs) > 3 else ""
        raise TrainfreeError(
            f"Checkpoint {where} was written by a different run ({listed}{more}). Pass the same settings and data "
            f"to resume, or use a new checkpoint path (or delete it) to start afresh.")


def json_default(x: Any) -> Any:
    """The ``default`` of ``json.dumps`` for identities: NumPy scalars and arrays as Python values, else TypeError."""
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"{type(x).__name__} is not JSON-able")


def _differences(saved: Any, now: Any, where: str) -> list[tuple[str, Any, Any]]:
    """Where ``saved`` and ``now`` differ: floats within ``RTOL``, everything else (ints, str, seeds) exactly."""
    if isinstance(saved, dict) and isinstance(now, dict):
        return [d for key in [*now, *(k for k in saved if k not in now)]
                for d in _differences(saved.get(key), now.get(key), f"{where}.{key}")]
    if isinstance(saved, list) and isinstance(now, list) and len(saved) == len(now):
        if all(_is_number(a) and _is_number(b) for a, b in zip(saved, now)):
            return [] if all(not _differences(a, b, where) for a, b in zip(saved, now)) else [(where, saved, now)]
        return [d for i, (a, b) in enumerate(zip(saved, now)) for d in _differences(a, b, f"{where}[{i}]")]
    if _is_number(saved) and _is_number(now) and (isinstance(saved, float) or isinstance(now, float)):
        same = math.isclose(saved, now, rel_tol=RTOL, abs_tol=1e-12) or (math.isnan(saved) and math.isnan(now))
        return [] if same else [(where, saved, now)]
    return [] if saved == now and type(saved) is type(now) else [(where, saved, now)]


def _has_float(x: Any) -> bool:
    if isinstance(x, dict):
        return any(_has_float(v) for v in x.values())
    return any(_has_float(v) for v in x) if isinstance(x, list) else isinstance(x, float)


def _is_number(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _short(x: Any, width: int = 60) -> str:
    text = repr(x)
    return text if len(text) <= width else text[:width - 3] + "..."
