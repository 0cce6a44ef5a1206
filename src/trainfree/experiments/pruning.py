"""Data pruning: remove a share of the training set by a score, retrain, and measure test accuracy.

The Data Diet protocol (Paul et al., NeurIPS 2021): rank the examples by a score computed before or
early in training, drop the lowest-scored (``keep_hard``) or the highest-scored (``keep_easy``, the
CG-score paper's Fig. 2b) share, or keep rows across the whole score range by coverage-centric
selection (Zheng et al., ICLR 2023; the rules live in ``selection.py``), and train a fresh network on
what is left for the same number of optimiser steps as the full set would take. Also: how the scores
agree with each other and with the input norm (the CG-score paper's Table 1).
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._defaults import HARD_CUT, N_STRATA
from .._errors import TrainfreeError
from .._random import SeedLike, check_random_state, child, seed_record
from .._random import rng as make_rng
from .._runs import UnitStore, data_fingerprint, run_seed, run_units, score_fingerprint
from .._validation import check_n_jobs, check_param
from ..data import Dataset
from ..result import PlayerResult
from ..training import evaluate, input_shape, make_model, resolve_model, train
from .selection import DIRECTIONS, SAMPLINGS, as_scores, check_ccs, check_fraction, prune_order


def budget_epochs(epochs: int, n_full: int, n_kept: int, batch_size: int = 128) -> int:
    """Epochs on ``n_kept`` rows that take at least as many optimiser steps as ``epochs`` on ``n_full``.

    The fewest epochs with ``epochs_k * ceil(n_kept / batch_size) >= epochs * ceil(n_full / batch_size)``;
    about ``ceil(epochs * n_full / n_kept)`` (the Data Diet's fixed iteration budget).

    Examples
    --------
    >>> budget_epochs(5, 3000, 1500), budget_epochs(5, 3000, 3000)
    (10, 5)
    """
    full = epochs * math.ceil(n_full / batch_size)
    return int(math.ceil(full / math.ceil(n_kept / batch_size)))


def pruning_curve(train_set: Dataset, test_set: Dataset, scores: Mapping[str, Any], *,
                  fractions: Sequence[float] = (0.1, 0.3, 0.5, 0.7), directions: Sequence[str] = DIRECTIONS,
                  sampling: str | Sequence[str] = "top", hard_cut: float = HARD_CUT, n_strata: int = N_STRATA,
                  class_balanced: bool = False, include_random: bool = True, model: str = "auto", epochs: int = 5,
                  lr: float = 1e-3, batch_size: int = 128, n_runs: int = 2, device: str | None = "cpu",
                  random_state: SeedLike = None, n_jobs: int | None = None, checkpoint: str | Path | None = None,
                  progress: bool = False) -> PlayerResult:
    """Test accuracy after pruning ``train_set`` by each score, direction and share (Data Diet's Fig. 1).

    Every network, for every score, direction and share, trains for a fixed budget of optimiser steps:
    as many as ``epochs`` epochs of the full training set take, i.e. ``epochs_k = ceil(epochs *
    steps(n_full) / steps(n_kept))`` epochs on the ``n_kept`` rows (:func:`budget_epochs`). Run ``k``
    draws its initial weights and mini-batch order from ``child(seed, f"run/{k}")``, the same for every
    score, so the comparison between scores is paired.

    Parameters
    ----------
    train_set, test_set : Dataset
        Classification data; ``scores`` rank the rows of ``train_set``.
    scores : mapping of str to array of shape (n,) or ExampleResult
        The scores to prune by, by name.
    fractions : sequence of float in (0, 1)
        Shares of the training set removed.
    directions : sequence of {"keep_hard", "keep_easy"}
        The directions of the plain cut (``sampling`` ``"top"``); see :func:`prune_order`.
    sampling : {"top", "ccs"} or a sequence of them, default="top"
        ``top``: the plain cut, one row per direction. ``ccs``: coverage-centric selection
        (:func:`prune_order`), one row per score and share with direction ``"ccs"``; each run draws its
        own rows within the strata, as each run of ``random`` draws its own subset.
    hard_cut, n_strata : float, int
        CCS's β (share of the highest scores always removed; at most every share in ``fractions``)
        and its number of equal-width score strata; defaults 0.1 and 50 (the paper's code's).
    class_balanced : bool
        Prune the same share within each class.
    include_random : bool
        Add the baseline ``random``: a uniformly random subset of each size (direction ``random``),
        a new one per run.
    model : {"auto", "cnn", "mlp"}
        The network (:func:`~trainfree.training.make_model`); ``cnn`` needs image data; ``auto`` (the
        default) is the CNN for images with sides of at least 16 pixels, else the MLP. The network
        used is recorded in ``settings["model"]``.
    epochs, lr, batch_size : int, float, int
        Epochs of the full set that fix the step budget; Adam's learning rate; mini-batch size.
    n_runs : int
        Networks trained per row; ``stderr`` is over runs (NaN for one run).
    device : str
    random_state : None, int, Generator or SeedSequence
        Root seed (None: fresh entropy, recorded; a resumed checkpoint keeps the seed it was written with).
    n_jobs : int, optional
        Training runs in parallel (joblib work units; -1: all cores).
    checkpoint : str or Path, optional
        A folder where each training run's test accuracy is saved (atomically) as soon as it finishes.
        The same call again computes only the missing runs and gives the uninterrupted result; another
        configuration (settings, seed, data, scores) is refused naming what differs. ``n_runs`` may grow.
    progress : bool, default=False
        A progress bar over the training runs.

    Returns
    -------
    PlayerResult
        One row per (score, direction, fraction): ``value`` = mean test accuracy, ``stderr``, ``player``
        ``"{score}/{direction}/{fraction}"`` (direction ``ccs`` for CCS, ``random`` for the baseline),
        ``score``, ``direction``, ``fraction_pruned``, ``n_kept``,
        ``epochs`` (the budget's epochs on the kept rows). ``metrics``: ``full_accuracy`` (mean over runs
        on the whole training set), its ``full_stderr`` and ``full_runs``, and ``runs``: each player's
        test accuracy per run (run ``k`` of every row shares its initial weights: differences are paired).

    Examples
    --------
    >>> from trainfree.data import load
    >>> d = load("digits", n=200, random_state=0)
    >>> tr, te = d.subset(np.arange(150)), d.subset(np.arange(150, 200))
    >>> res = pruning_curve(tr, te, {"norm": np.linalg.norm(tr.X, axis=1)}, fractions=(0.5,), model="mlp",
    ...                     epochs=1, n_runs=1, random_state=0)
    >>> res["player"].tolist()
    ['norm/keep_hard/0.5', 'norm/keep_easy/0.5', 'random/random/0.5']
    """
    t0 = time.perf_counter()
    if train_set.task != "classification" or test_set.task != "classification":
        raise TrainfreeError("Pruning curves measure test accuracy and need class labels; pass classification "
                             "data (see trainfree.data.load).")
    ranked = {str(k): as_scores(v, f"{k!r} scores") for k, v in scores.items()}
    for name, s in ranked.items():
        if len(s) != len(train_set):
            raise TrainfreeError(f"The {name!r} scores have {len(s)} values but the training set has "
                                 f"{len(train_set)} rows; score the same rows you prune.")
    if not ranked and not include_random:
        raise TrainfreeError("No scores to prune by: pass at least one score or include_random=True.")
    fractions = [check_fraction(f, "fractions") for f in fractions]
    for d in directions:
        check_param("direction", d, str, choices=DIRECTIONS)
    samplings = [sampling] if isinstance(sampling, str) else list(sampling)
    for s in samplings:
        check_param("sampling", s, str, choices=SAMPLINGS)
    if "ccs" in samplings:
        for f in fractions:
            check_ccs(f, hard_cut, n_strata)
    for name, value, low in (("epochs", epochs, 1), ("n_runs", n_runs, 1), ("batch_size", batch_size, 1)):
        check_param(name, value, numbers.Integral, low=low)
    seed = run_seed(random_state, checkpoint)
    model = resolve_model(model, train_set.image_shape)
    shape = input_shape(model, train_set.image_shape, train_set.X.shape[1], name=train_set.name)
    X, y = train_set.X.reshape(len(train_set), *shape), train_set.y
    X_test = test_set.X.reshape(len(test_set), *shape)
    n, n_out = len(train_set), len(train_set.classes)
    settings = {"data": train_set.name, "n_train": n, "n_test": len(test_set), "fractions": fractions,
                "directions": list(directions), "sampling": samplings, "class_balanced": bool(class_balanced),
                "model": model,
                "epochs": int(epochs), "lr": float(lr), "batch_size": int(batch_size), "n_runs": int(n_runs),
                "device": str(device), "budget": "fixed optimiser steps: those of `epochs` epochs on the full set"}
    if "ccs" in samplings:
        settings.update(hard_cut=float(hard_cut), n_strata=int(n_strata))
    store = None
    if checkpoint is not None:  # what every training run depends on (not n_runs: run k is the same for any)
        store = UnitStore(checkpoint, {"what": "pruning_curve", **{k: v for k, v in settings.items() if k != "n_runs"},
                                       "include_random": bool(include_random), "seed": seed_record(seed),
                                       "data": data_fingerprint(X, y, X_test, test_set.y),
                                       "scores": {k: score_fingerprint(v) for k, v in ranked.items()}})
    plan = [(name, d, f) for name in ranked for d in (directions if "top" in samplings else ()) for f in fractions]
    if "ccs" in samplings:
        plan += [(name, "ccs", f) for name in ranked for f in fractions]
    if include_random:
        plan += [("random", "random", f) for f in fractions]
    # Every run's rows and seeds are drawn here, before dispatch; a unit only trains and tests.
    kept: dict[str, np.ndarray] = {}
    units = [(f"full-run{k}", np.arange(n), k) for k in range(n_runs)]
    for i, (name, d, f) in enumerate(plan):
        for k in range(n_runs):
            if name == "random":
                r = make_rng(child(child(seed, f"run/{k}"), f"random/{f}")).random(n)
                idx = prune_order(r, y, fraction=f, class_balanced=class_balanced, random_state=0)
            elif d == "ccs":  # a new draw within the strata per run, as random gets a new subset
                idx = prune_order(ranked[name], y, fraction=f, sampling="ccs", hard_cut=hard_cut, n_strata=n_strata,
                                  class_balanced=class_balanced, random_state=child(child(seed, f"run/{k}"), "ccs"))
            else:
                idx = prune_order(ranked[name], y, fraction=f, direction=d, class_balanced=class_balanced,
                                  random_state=child(seed, "ties"))
            kept[f"set{i}"] = idx
            units.append((f"set{i}-run{k}", idx, k))
    common = (X, y, X_test, test_set.y, model, shape, n_out, lr, batch_size, device)
    t = time.perf_counter()
    outs = run_units(fit_unit, [(key, (*common, idx, budget_epochs(epochs, n, len(idx), batch_size),
                                        child(seed, f"run/{k}"))) for key, idx, k in units],
                     store=store, n_jobs=check_n_jobs(n_jobs), progress=progress, desc="training runs")
    accuracy = {key: float(out["accuracy"]) for key, out in outs.items()}
    full = np.array([accuracy[f"full-run{k}"] for k in range(n_runs)])
    rows: list[dict[str, Any]] = []
    runs: dict[str, list[float]] = {}
    for i, (name, d, f) in enumerate(plan):
        accs = [accuracy[f"set{i}-run{k}"] for k in range(n_runs)]
        runs[f"{name}/{d}/{f:g}"] = accs
        n_kept = len(kept[f"set{i}"])
        rows.append({"value": float(np.mean(accs)), "stderr": standard_error(accs), "player": f"{name}/{d}/{f:g}",
                     "score": name, "direction": d, "fraction_pruned": f, "n_kept": n_kept,
                     "epochs": budget_epochs(epochs, n, n_kept, batch_size)})
    timings = {"training_s": time.perf_counter() - t, "total_s": time.perf_counter() - t0}
    columns = {c: np.array([r[c] for r in rows]) for c in rows[0]}
    metrics = {"full_accuracy": float(full.mean()), "full_stderr": standard_error(full), "full_runs": full.tolist(),
               "runs": runs}
    return PlayerResult("pruning_curve", columns, settings, seed_record(seed), timings, metrics)


def fit_unit(X, y, X_test, y_test, model, shape, n_out, lr, batch_size, device, idx, epochs_k, run) -> dict[str, Any]:
    """One training run on rows ``idx`` from run seed ``run`` (initial weights and batch order): its test accuracy."""
    net = make_model(model, shape, n_out, random_state=child(run, "init"))
    train(net, X[idx], y[idx], epochs=epochs_k, lr=lr, batch_size=batch_size, tol=0.0, device=device,
          random_state=child(run, "batches"))
    return {"accuracy": evaluate(net, X_test, y_test, device=device)}


def standard_error(values) -> float:
    """Standard error of the mean of ``values`` (NaN for fewer than two)."""
    v = np.asarray(values, dtype=float)
    return float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else float("nan")


def score_correlations(scores: Mapping[str, Any], X=None) -> PlayerResult:
    """Spearman rank correlation between every pair of scores, and of each with the input norm ‖x‖.

    The CG-score paper's Table 1; the Data Diet paper notes that GraNd at initialisation follows ‖x‖.

    Parameters
    ----------
    scores : mapping of str to array of shape (n,) or ExampleResult
    X : array of shape (n, ...), optional
        The inputs; when given, ``input_norm`` (the Euclidean norm of each flattened row) joins the scores.

    Returns
    -------
    PlayerResult
        One row per unordered pair: ``value`` = Spearman ρ, ``player`` ``"a ~ b"``, ``score_a``, ``score_b``.

    Examples
    --------
    >>> s = np.array([0.1, 0.4, 0.2, 0.9])
    >>> score_correlations({"s": s, "neg": -s}).values.tolist()
    [-1.0]
    """
    from scipy.stats import spearmanr

    named = {str(k): as_scores(v, f"{k!r} scores") for k, v in scores.items()}
    if X is not None:
        X = np.asarray(X, dtype=float)
        named["input_norm"] = np.linalg.norm(X.reshape(len(X), -1), axis=1)
    lengths = {k: len(v) for k, v in named.items()}
    if len(set(lengths.values())) > 1:
        raise TrainfreeError(f"The scores have different lengths {lengths}; pass one value per row for each.")
    if len(named) < 2:
        raise TrainfreeError("A correlation needs two scores: pass at least two, or one score and X.")
    names = list(named)
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1:]]
    rho = [float(spearmanr(named[a], named[b])[0]) for a, b in pairs]
    columns = {"value": np.array(rho), "player": np.array([f"{a} ~ {b}" for a, b in pairs]),
               "score_a": np.array([a for a, _ in pairs]), "score_b": np.array([b for _, b in pairs])}
    return PlayerResult("score_correlations", columns,
                        {"n": int(next(iter(lengths.values()))), "scores": names, "method": "spearman"})


PRUNE_SCORES = ("cg", "mislabel", "el2n", "grand", "forgetting", "input_norm", "random")


def pruning_scores(data: Dataset, names: Sequence[str], *, model: str = "auto", n_seeds: int = 3, el2n_epochs: int = 3,
                   grand_epochs: int = 0, forgetting_epochs: int = 10, device: str | None = "cpu",
                   random_state: SeedLike = None, checkpoint: str | Path | None = None) -> dict[str, np.ndarray]:
    """The named scores of every row of ``data``, for :func:`pruning_curve` (``"random"`` is left to it).

    ``cg``, ``mislabel`` (the detector, ``method="auto"``), ``el2n``, ``grand`` and ``forgetting`` come
    from :func:`score_dataset` (no label noise, ``n_seeds`` networks of ``model`` for the Data Diet
    scores); ``input_norm`` is ‖x‖. With a
    ``checkpoint`` folder, each Data Diet score saves its finished seeds in ``<checkpoint>/score-<name>``.

    Examples
    --------
    >>> from trainfree.data import load
    >>> sorted(pruning_scores(load("digits", n=100, random_state=0), ["cg", "input_norm", "random"]))
    ['cg', 'input_norm']
    """
    from .noise import check_score_names, score_dataset, score_options

    check_score_names(names, PRUNE_SCORES)
    seed = check_random_state(random_state)
    epochs = {"el2n": el2n_epochs, "grand": grand_epochs, "forgetting": forgetting_epochs}
    out = {}
    for name in names:
        if name == "input_norm":
            out[name] = np.linalg.norm(data.X, axis=1)
        elif name != "random":
            options = score_options(name, model=model, n_seeds=n_seeds, device=device, epochs=epochs.get(name))
            if checkpoint is not None and name in epochs:
                options["checkpoint"] = Path(checkpoint) / f"score-{name}"
            if name == "mislabel":  # exact up to its size limit, then the low-rank method
                options["method"] = "auto"
            out[name] = np.asarray(score_dataset(data, score=name, random_state=seed, **options).scores)
    return out


def pruning_splits(data: str, *, n: int | None = 3000, test_size: int = 2000, label_column: str = "label",
                   random_state: SeedLike = None) -> tuple[Dataset, Dataset]:
    """Training and test sets: Fashion-MNIST's ``n`` training and ``test_size`` test images; other data
    (:func:`~trainfree.data.load`, ``n`` rows, labels in ``label_column``) split 2/3 training, 1/3 test."""
    from ..data import load, load_fashion_mnist

    seed = check_random_state(random_state)
    if data == "fmnist":
        return (load("fmnist", n=n, random_state=seed),
                load_fashion_mnist(split="test", n=test_size, random_state=child(seed, "test")))
    every = load(data, n=n, label_column=label_column, random_state=seed)
    order = make_rng(child(seed, "holdout")).permutation(len(every))
    cut = len(order) * 2 // 3
    return every.subset(order[:cut]), every.subset(order[cut:])
