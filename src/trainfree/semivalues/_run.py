"""A resumable Monte Carlo run: running moments, per-batch seeds and an atomically written checkpoint."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import TrainfreeError
from .._random import check_random_state, from_record, seed_record, unit_child
from .._random import rng as make_rng
from .._runs import atomic_save, check_identity, json_default
from ._evaluator import Evaluator


class Moments:
    """Per-player count, mean and sum of squared deviations, merged batch by batch (Chan et al.).

    Kept instead of sums and sums of squares, whose difference cancels when |mean| >> std.
    """

    def __init__(self, count: np.ndarray, mean: np.ndarray, m2: np.ndarray) -> None:
        self.count, self.mean, self.m2 = count, mean, m2

    def add(self, x: np.ndarray, member: np.ndarray | None = None) -> None:
        """Add the rows of ``x`` (n, K), only where ``member`` is true when given."""
        w = np.ones(x.shape) if member is None else member.astype(float)
        n_b = w.sum(axis=0)
        mean_b = np.divide((w * x).sum(axis=0), n_b, out=np.zeros_like(n_b), where=n_b > 0)
        m2_b = (w * (x - mean_b) ** 2).sum(axis=0)
        n = self.count + n_b
        delta = mean_b - self.mean
        frac = np.divide(n_b, n, out=np.zeros_like(n), where=n > 0)
        self.mean = self.mean + delta * frac
        self.m2 = self.m2 + m2_b + delta ** 2 * self.count * frac
        self.count = n

    def stderr(self) -> np.ndarray:
        var = np.divide(self.m2, self.count - 1, out=np.full_like(self.m2, np.inf), where=self.count > 1)
        return np.sqrt(var / np.maximum(self.count, 1))


class Run:
    """A resumable Monte Carlo run: its identity, its moments, how far it got, and its checkpoint."""

    def __init__(self, path: Path | None, identity: dict[str, Any], moments: dict[str, Moments]) -> None:
        self.path, self.identity, self.moments = path, identity, moments
        self.n_batches = self.n_samples = self.prior_evaluations = 0

    @property
    def seed(self) -> int | dict:
        """The seed record of the run (see :func:`trainfree._random.seed_record`)."""
        return self.identity["seed"]

    @classmethod
    def start(cls, checkpoint: str | Path | None, random_state: Any, names: tuple[str, ...],
              evaluator: Evaluator, **identity: Any) -> "Run":
        """Fresh run, or resume from ``checkpoint`` when it exists and was written for the same problem.

        ``identity`` holds the settings that change the draws or the values (method, n_players,
        batch_size, ...). With a checkpoint the utility is fingerprinted too (see :func:`utility_fingerprint`),
        so a checkpoint of another utility is refused instead of being averaged with this one.
        """
        path = None if checkpoint is None else Path(checkpoint)
        saved = _read_checkpoint(path) if path is not None and path.exists() else None
        stored = None if saved is None else json.loads(str(saved["identity"]))
        if random_state is None and stored is not None and "seed" in stored:
            seed = stored["seed"]
        else:
            seed = seed_record(check_random_state(random_state))
        K = identity["n_players"]
        run = cls(path, {**identity, "seed": seed},
                  {name: Moments(np.zeros(K), np.zeros(K), np.zeros(K)) for name in names})
        if path is None:
            return run
        # Settings first (cheap, and the probes below assume the right n_players), then the problem itself.
        if stored is not None:
            run._check_identity(stored, list(run.identity))
        run.identity["fingerprint"] = utility_fingerprint(evaluator.utility)
        if stored is not None:
            run._check_identity(stored, ["fingerprint"])
        # The utility on the empty and the grand coalition: cached, so at most two extra evaluations.
        run.identity["probe"] = evaluator.coalitions([0, (1 << K) - 1]).tolist()
        if stored is not None:
            run._check_identity(stored, ["probe"])
            run._restore(saved)
        return run

    def loop(self, step: Callable[[np.random.Generator, int], None], converged: Callable[[], bool],
             batch_size: int, max_samples: int, evaluator: Evaluator) -> None:
        """Run batches until ``converged()`` or ``max_samples``, checkpointing after each one."""
        while self.n_samples < max_samples and not converged():
            n = min(batch_size, max_samples - self.n_samples)
            # One seed per batch index: a resumed run draws exactly what the interrupted one would have.
            root = from_record(self.seed)
            step(make_rng(unit_child(root, self.n_batches)), n)
            self.n_batches += 1
            self.n_samples += n
            if self.path is not None:
                self._save(self.n_evaluations(evaluator))

    def n_evaluations(self, evaluator: Evaluator) -> int:
        return self.prior_evaluations + evaluator.n_evaluations

    def _save(self, n_evaluations: int) -> None:
        arrays: dict[str, Any] = {"identity": np.array(json.dumps(self.identity, sort_keys=True)),
                                  "progress": np.array([self.n_batches, self.n_samples, n_evaluations])}
        for name, m in self.moments.items():
            arrays.update({f"{name}.count": m.count, f"{name}.mean": m.mean, f"{name}.m2": m.m2})
        atomic_save(self.path, lambda fh: np.savez(fh, **arrays))

    def _check_identity(self, stored: dict[str, Any], keys: list[str]) -> None:
        check_identity(stored, self.identity, where=str(self.path), keys=keys)

    def _restore(self, saved: dict[str, np.ndarray]) -> None:
        try:
            for name, m in self.moments.items():
                m.count, m.mean, m.m2 = (saved[f"{name}.{field}"] for field in ("count", "mean", "m2"))
        except KeyError:
            raise TrainfreeError(f"Checkpoint {self.path} lacks saved moments; it is not a checkpoint of this "
                                 f"method. Use a new checkpoint path.") from None
        self.n_batches, self.n_samples, self.prior_evaluations = (int(x) for x in saved["progress"])


def _read_checkpoint(path: Path) -> dict[str, np.ndarray]:
    if path.is_dir():
        raise TrainfreeError(f"Checkpoint {path} is a folder, but a Monte Carlo checkpoint is one file: pass a file "
                             f"path such as {path / 'checkpoint.npz'}.")
    try:
        with np.load(path, allow_pickle=False) as data:
            saved = {key: data[key] for key in data.files}
        json.loads(str(saved["identity"]))
        if saved["progress"].shape != (3,):
            raise ValueError("bad progress record")
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:  # EOFError: an empty file
        raise TrainfreeError(f"Could not read checkpoint {path} ({exc}). It is not a trainfree semivalue "
                             f"checkpoint: delete it or pass another path.") from None
    return saved


def utility_fingerprint(utility: Any) -> Any:
    """``utility.fingerprint()`` when the utility defines one (a str or a JSON-able dict), else None."""
    method = getattr(utility, "fingerprint", None)
    if not callable(method):
        return None
    fp = method()
    if not isinstance(fp, (str, dict)):
        raise TrainfreeError(f"utility.fingerprint() must return a str or a dict describing the problem; it "
                             f"returned {type(fp).__name__}. Fix the utility's fingerprint method.")
    try:
        return json.loads(json.dumps(fp, default=json_default))
    except (TypeError, ValueError) as exc:
        raise TrainfreeError(f"utility.fingerprint() must return JSON-able values (str, numbers, lists, dicts): "
                             f"{exc}. Fix the utility's fingerprint method.") from None
