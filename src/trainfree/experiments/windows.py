"""Offset windows: train on a band of the data ranked by a score, with label noise (CG-score Fig. 6, Data Diet).

Flip a share ``noise_rate`` of the training labels, score every row on the noisy labels, rank the rows by
score (highest first) and train a fresh network on the window of ranks ``[offset, offset + window_width)``
for several offsets. A score that puts the flipped labels at the top has its worst windows at offset
0 and the best ones just past the flipped share; a score that ignores them is flat. Every window
trains for the same optimiser steps as the full set in ``epochs`` epochs (the Data Diet budget).
"""

from __future__ import annotations

import dataclasses
import numbers
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import TrainfreeError
from .._random import SeedLike, child, seed_record
from .._random import rng as make_rng
from .._runs import UnitStore, data_fingerprint, run_seed, run_units, score_fingerprint
from .._validation import check_n_jobs, check_param
from ..data import Dataset
from ..result import PlayerResult
from ..training import input_shape, resolve_model
from . import pruning
from .selection import window
from .noise import SCORES, check_score_names, flip_labels, score_dataset, score_options


def window_curve(train_set: Dataset, test_set: Dataset, names: Sequence[str] = ("cg", "el2n"), *,
                 window_width: float = 0.5, offsets: Sequence[float] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5),
                 noise_rate: float = 0.2, include_random: bool = True, model: str = "auto", epochs: int = 5,
                 lr: float = 1e-3, batch_size: int = 128, n_runs: int = 2, n_seeds: int = 3, device: str | None = "cpu",
                 random_state: SeedLike = None, n_jobs: int | None = None, checkpoint: str | Path | None = None,
                 progress: bool = False) -> PlayerResult:
    """Test accuracy of networks trained on offset windows of the score-ranked, noisy training set.

    Parameters
    ----------
    train_set, test_set : Dataset
        Classification data; labels of ``train_set`` are flipped, the test labels are left clean.
    names : sequence of str
        Scores to rank by (any of :func:`~trainfree.experiments.score_dataset`'s, or ``input_norm``),
        each computed on the noisy labels with the same flips (the same root seed).
    window_width : float in (0, 1]
        Share of the rows in each window (the CG-score paper: 0.5; Data Diet: 0.4).
    offsets : sequence of float
        Window starts, as shares of the rows ranked by score *descending* (0 = the highest scores).
        The CG-score paper ranks ascending: its offset ``o`` is ``1 - window_width - o`` here.
    noise_rate : float in [0, 1)
        Share of training labels flipped (symmetric), as in :func:`score_dataset`.
    include_random : bool
        Add ``random``: a random subset of the window's size, a new one per run (offset NaN; its
        ``flipped_share`` is the mean over runs).
    model, epochs, lr, batch_size, n_runs, device, n_jobs, checkpoint, progress
        As in :func:`~trainfree.experiments.pruning_curve` (``epochs`` of the full set fix the step
        budget; run ``k`` starts every window from the same weights; each run is a resumable unit).
    n_seeds : int
        Networks averaged by the trained scores (EL2N after 5 epochs, GraNd at initialisation, ...).
    random_state : None, int, Generator or SeedSequence

    Returns
    -------
    PlayerResult
        One row per (score, offset): ``value`` = mean test accuracy, ``stderr`` over runs, ``player``
        ``"{score}/{offset}"``, ``score``, ``offset``, ``n_kept``, ``flipped_share`` (the share of flipped
        labels in the window; the whole set holds ``noise_rate``), ``epochs`` (the budget on the window).
        ``metrics``: ``full_accuracy`` on all noisy rows, ``full_stderr``, ``full_runs``.

    Examples
    --------
    >>> from trainfree.data import load
    >>> d = load("digits", n=300, random_state=0)
    >>> res = window_curve(d.subset(np.arange(200)), d.subset(np.arange(200, 300)), ["cg"], offsets=(0.0, 0.5),
    ...                    include_random=False, model="mlp", epochs=1, n_runs=1, random_state=0)
    >>> res["player"].tolist(), bool(res["flipped_share"][0] > res["flipped_share"][1])
    (['cg/0', 'cg/0.5'], True)
    """
    t0 = time.perf_counter()
    if train_set.task != "classification" or test_set.task != "classification":
        raise TrainfreeError("Window experiments measure test accuracy and need class labels; pass classification "
                             "data (see trainfree.data.load).")
    check_score_names(list(names), [*SCORES, "input_norm"])
    check_param("window_width", window_width, numbers.Real, low=0, high=1, low_open=True)
    check_param("noise_rate", noise_rate, numbers.Real, low=0, high=1, high_open=True)
    offsets = [float(check_param("offsets", o, numbers.Real, low=0, high=1)) for o in offsets]
    if not offsets or max(offsets) + window_width > 1 + 1e-12:
        raise TrainfreeError(f"Every window [offset, offset + window_width) must end by rank 1; got window_width "
                             f"{window_width:g} and offsets {offsets}. Pass offsets <= {1 - window_width:g}.")
    for name, value in (("epochs", epochs), ("n_runs", n_runs), ("batch_size", batch_size), ("n_seeds", n_seeds)):
        check_param(name, value, numbers.Integral, low=1)
    seed = run_seed(random_state, checkpoint)  # a resumed run keeps its draws (flips, scores)
    y_noisy, flipped = flip_labels(train_set, noise_rate, "symmetric", seed) if noise_rate > 0 else (train_set.y, np.zeros(
        len(train_set), bool))
    t = time.perf_counter()
    ranked: dict[str, np.ndarray] = {}
    for name in names:  # score_dataset flips the same labels for this root seed
        if name == "input_norm":
            ranked[name] = np.linalg.norm(train_set.X, axis=1)
        else:
            ranked[name] = np.asarray(score_dataset(train_set, score=name, noise_rate=noise_rate, random_state=seed,
                                                    **score_options(name, model=model, n_seeds=n_seeds,
                                                                    device=device)).scores)
    scoring_s = time.perf_counter() - t
    noisy = dataclasses.replace(train_set, y=y_noisy)
    model = resolve_model(model, noisy.image_shape)
    shape = input_shape(model, noisy.image_shape, noisy.X.shape[1], name=noisy.name)
    X, X_test = noisy.X.reshape(len(noisy), *shape), test_set.X.reshape(len(test_set), *shape)
    n, n_out, size = len(noisy), len(noisy.classes), int(round(window_width * len(noisy)))
    settings = {"data": train_set.name, "n_train": n, "n_test": len(test_set), "scores": list(names),
                "window_width": float(window_width), "offsets": offsets, "noise_rate": float(noise_rate),
                "model": model, "epochs": int(epochs), "lr": float(lr), "batch_size": int(batch_size),
                "n_runs": int(n_runs), "n_seeds": int(n_seeds), "device": str(device),
                "order": "descending score: offset 0 = highest"}
    store = None
    if checkpoint is not None:
        store = UnitStore(checkpoint, {"what": "window_curve", **{k: v for k, v in settings.items() if k != "n_runs"},
                                       "include_random": bool(include_random), "seed": seed_record(seed),
                                       "data": data_fingerprint(X, y_noisy, X_test, test_set.y),
                                       "ranked": {k: score_fingerprint(v) for k, v in ranked.items()}})
    plan = [(name, o) for name in ranked for o in offsets] + ([("random", float("nan"))] if include_random else [])
    units, rows_of = [(f"full-run{k}", np.arange(n), k) for k in range(n_runs)], {}
    for i, (name, o) in enumerate(plan):
        for k in range(n_runs):
            if name == "random":
                idx = np.sort(make_rng(child(child(seed, f"run/{k}"), "random")).permutation(n)[:size])
            else:
                idx = window(ranked[name], offset=o, window_width=window_width,
                                     random_state=child(seed, "ties"))
            rows_of.setdefault(i, []).append(idx)
            units.append((f"set{i}-run{k}", idx, k))
    common = (X, y_noisy, X_test, test_set.y, model, shape, n_out, lr, batch_size, device)
    t = time.perf_counter()
    outs = run_units(pruning.fit_unit, [
        (key, (*common, idx, pruning.budget_epochs(epochs, n, len(idx), batch_size), child(seed, f"run/{k}")))
        for key, idx, k in units], store=store, n_jobs=check_n_jobs(n_jobs), progress=progress, desc="training runs")
    acc = {key: float(out["accuracy"]) for key, out in outs.items()}
    full = np.array([acc[f"full-run{k}"] for k in range(n_runs)])
    rows: list[dict[str, Any]] = []
    for i, (name, o) in enumerate(plan):
        accs, idx = [acc[f"set{i}-run{k}"] for k in range(n_runs)], rows_of[i]
        rows.append({"value": float(np.mean(accs)), "stderr": pruning.standard_error(accs),
                     "player": name if name == "random" else f"{name}/{o:g}", "score": name, "offset": o,
                     "n_kept": len(idx[0]), "flipped_share": float(np.mean([flipped[r].mean() for r in idx])),
                     "epochs": pruning.budget_epochs(epochs, n, len(idx[0]), batch_size)})
    columns = {c: np.array([r[c] for r in rows]) for c in rows[0]}
    timings = {"scoring_s": scoring_s, "training_s": time.perf_counter() - t, "total_s": time.perf_counter() - t0}
    metrics = {"full_accuracy": float(full.mean()), "full_stderr": pruning.standard_error(full),
               "full_runs": full.tolist(),
               "n_flipped": int(flipped.sum())}
    return PlayerResult("window_curve", columns, settings, seed_record(seed), timings, metrics)

