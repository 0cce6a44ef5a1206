"""Clean, then train: flip labels, flag rows by a score, retrain on the cleaned set, measure test accuracy.

What a user with noisy labels wants to know: does acting on a score's flags train a better model? For
each label-noise setting the training labels are flipped (:func:`~trainfree.data.inject_label_noise`),
each score flags rows, and the same network trains on the noisy set, on the set without the flagged
rows, on the set with the flagged rows relabelled to the detector's class where it is confident, and on
the clean labels (the oracle). The share of the noisy-to-clean gap that a variant recovers is
``(accuracy − noisy) / (clean − noisy)``.
"""

from __future__ import annotations

import importlib.util
import numbers
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import TrainfreeError
from .._random import SeedLike, check_random_state, child, seed_record
from .._random import rng as make_rng
from .._runs import UnitStore, data_fingerprint, run_seed, run_units
from .._validation import check_n_jobs, check_param
from ..data import Dataset
from ..result import PlayerResult
from ..scores.mislabel_flags import confident_learning_flags
from ..training import input_shape, resolve_model
from .noise import NOISE_MODES, flip_labels, score_dataset, score_options
from .pruning import budget_epochs, fit_unit, standard_error

#: The label-noise settings of issue 21, as ``(noise_mode, noise_rate)``.
NOISE_SETTINGS = (("symmetric", 0.2), ("symmetric", 0.4), ("pair", 0.3))
#: Scores that flag rows: the detector's own flags, the highest CG-scores, the highest EL2N scores,
#: cleanlab's label issues on cross-validated logistic-regression probabilities (when cleanlab is installed),
#: and confident learning's prune-by-noise-rate rule as trainfree implements it, on the same probabilities.
CLEAN_SCORES = ("mislabel", "cg", "el2n", "cleanlab", "confident_learning")
#: Scores whose flags come with a predicted class, so that their flagged rows can be relabelled.
RELABELLING = ("mislabel", "cleanlab", "confident_learning")
VARIANTS = ("noisy", "removed", "relabelled", "clean")


def cleanlab_available() -> bool:
    """Whether the optional peer cleanlab can be imported."""
    return importlib.util.find_spec("cleanlab") is not None


def gap_recovered(accuracy, noisy: float, clean: float) -> np.ndarray:
    """Share of the noisy-to-clean test-accuracy gap recovered: ``(accuracy − noisy) / (clean − noisy)``.

    1 = as good as training on the clean labels, 0 = no better than the noisy ones, negative = worse;
    NaN when the clean labels train no better than the noisy ones (there is no gap to recover).

    Examples
    --------
    >>> gap_recovered([0.80, 0.85, 0.90], noisy=0.80, clean=0.90).round(3).tolist()
    [0.0, 0.5, 1.0]
    """
    acc = np.asarray(accuracy, dtype=float)
    gap = float(clean) - float(noisy)
    return (acc - noisy) / gap if gap > 0 else np.full(acc.shape, np.nan)


def top_share(scores, share: float) -> np.ndarray:
    """Boolean mask of the ``round(share * n)`` highest scores (ties: lower row first; NaN rows never flagged,
    so fewer when fewer are finite).

    Examples
    --------
    >>> top_share([0.1, 0.9, 0.5, 0.7], 0.5).tolist()
    [False, True, False, True]
    """
    s = np.nan_to_num(np.asarray(scores, dtype=float), nan=-np.inf)
    k = min(int(round(float(share) * len(s))), int(np.isfinite(s).sum()))  # NaN: a row the score cannot judge
    mask = np.zeros(len(s), dtype=bool)
    mask[np.argsort(-s, kind="stable")[:k]] = True
    return mask


def predicted_confidence(res) -> np.ndarray:
    """The detector's leave-one-out probability of its ``predicted`` class, from its result's columns.

    ``P[predicted] = self_confidence · exp(margin / τ)`` where the predicted class is not the given one
    (``margin`` is then the predicted class's prediction minus the given class's), else ``self_confidence``.
    """
    conf = np.asarray(res["self_confidence"], dtype=float)
    margin = np.asarray(res["margin"], dtype=float)
    return np.where(margin > 0, conf * np.exp(np.maximum(margin, 0) / float(res.settings["temperature"])), conf)


def _score_unit(data: Dataset, name: str, noise_mode: str, noise_rate: float, seed, options: dict[str, Any],
                n_folds: int) -> dict[str, np.ndarray]:
    """One score on one noise setting: the score, and for the relabelling scores their flags and predictions."""
    if name in ("cleanlab", "confident_learning"):
        return logreg_flags(data.X, flip_labels(data, noise_rate, noise_mode, seed)[0], rule=name, n_folds=n_folds,
                            random_state=child(seed, "cleanlab"))
    res = score_dataset(data, score=name, noise_rate=noise_rate, noise_mode=noise_mode, random_state=seed, **options)
    out = {"scores": np.asarray(res.scores, dtype=float)}
    if name == "mislabel":
        code = {c: i for i, c in enumerate(data.classes)}
        out.update(flags=np.asarray(res.flags, dtype=bool), predicted=np.array([code[c] for c in res["predicted"]]),
                   confidence=predicted_confidence(res),
                   noise_rate_estimate=np.float64(res.settings["noise_rate_estimate"]))
    return out


def logreg_flags(X, y, *, rule: str = "cleanlab", n_folds: int = 5,
                 random_state: SeedLike = None) -> dict[str, np.ndarray]:
    """Label issues on ``n_folds``-fold cross-validated logistic-regression probabilities.

    ``rule="cleanlab"`` flags with ``cleanlab.filter.find_label_issues`` (cleanlab must be installed);
    ``rule="confident_learning"`` with trainfree's implementation of the same default rule (confident
    joint, calibrated to the label counts, prune by noise rate:
    :func:`~trainfree.scores.mislabel_flags.confident_learning_flags`, the rule the detector's flags use).
    Returns ``flags``, ``scores`` (1 − the probability of the given label), ``predicted`` (the most
    probable class) and ``confidence`` (its probability).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    y = np.asarray(y)
    folds = StratifiedKFold(n_folds, shuffle=True, random_state=int(make_rng(child(
        check_random_state(random_state), "folds")).integers(2**31)))
    P = cross_val_predict(LogisticRegression(max_iter=1000), np.asarray(X).reshape(len(y), -1), y, cv=folds,
                          method="predict_proba")
    if rule == "cleanlab":
        from cleanlab.filter import find_label_issues

        flags = find_label_issues(labels=y, pred_probs=P)
    else:
        flags = confident_learning_flags(P, y)[0]
    return {"flags": np.asarray(flags, dtype=bool),
            "scores": 1.0 - P[np.arange(len(y)), y], "predicted": P.argmax(axis=1), "confidence": P.max(axis=1)}


def cleaned_labels(y_noisy, flags, *, variant: str, predicted=None, confidence=None,
                   min_confidence: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """The rows kept and the labels of every row after acting on ``flags``: train on ``X[idx], y[idx]``.

    ``variant="removed"`` drops the flagged rows; ``"relabelled"`` keeps every row and gives each
    flagged row whose ``confidence`` (the probability of ``predicted``) is at least ``min_confidence``
    the ``predicted`` class; other flagged rows keep their given label.

    Examples
    --------
    >>> idx, y = cleaned_labels([0, 1, 1], [False, True, True], variant="relabelled", predicted=[0, 0, 2],
    ...                         confidence=[0.9, 0.8, 0.3])
    >>> idx.tolist(), y.tolist()
    ([0, 1, 2], [0, 0, 1])
    >>> cleaned_labels([0, 1, 1], [False, True, True], variant="removed")[0].tolist()
    [0]
    """
    y = np.asarray(y_noisy).copy()
    flags = np.asarray(flags, dtype=bool)
    check_param("variant", variant, str, choices=("removed", "relabelled"))
    if variant == "removed":
        return np.flatnonzero(~flags), y
    change = flags & (np.asarray(confidence, dtype=float) >= min_confidence)
    y[change] = np.asarray(predicted)[change]
    return np.arange(len(y)), y


def cleaning_gain(train_set: Dataset, test_set: Dataset, *, noise_settings: Sequence[tuple[str, float]] = NOISE_SETTINGS,
                  scores: Sequence[str] = ("mislabel", "cg", "el2n", "cleanlab"), flag_share: float | None = None,
                  min_confidence: float = 0.5, model: str = "auto", epochs: int = 5, lr: float = 1e-3,
                  batch_size: int = 128, n_runs: int = 2, n_seeds: int = 3, el2n_epochs: int = 5,
                  device: str | None = "cpu", random_state: SeedLike = None, n_jobs: int | None = None,
                  checkpoint: str | Path | None = None, progress: bool = False) -> PlayerResult:
    """Test accuracy after training on noisy labels, on the rows a score leaves, on relabelled and on clean labels.

    For each ``(noise_mode, noise_rate)`` the labels of ``train_set`` are flipped (the flips of
    :func:`score_dataset` with the setting's seed) and each score flags rows:

    - ``mislabel``: the detector's ``flag_mislabel`` (confident learning, no noise rate needed);
    - ``cg``, ``el2n``: the highest-scored share (higher = likely mislabelled for both), the share being
      ``flag_share`` or, by default, the detector's estimated noise rate on that setting;
    - ``cleanlab``: :func:`logreg_flags`, cleanlab's label issues on cross-validated logistic
      regression, when cleanlab is installed (else skipped, said in ``metrics["notes"]``);
    - ``confident_learning``: :func:`logreg_flags` with trainfree's implementation of the same rule, on the
      same probabilities (available without cleanlab).

    The same network then trains on the noisy labels (variant ``noisy``), without the flagged rows
    (``removed``), with every flagged row whose predicted class has probability at least ``min_confidence``
    relabelled to it (``relabelled``; the detector and the two logistic-regression peers only) and on the clean labels (``clean``).
    Every network takes at least the optimiser steps of ``epochs`` epochs of the whole set
    (:func:`~trainfree.experiments.pruning.budget_epochs`), so removing rows does not shorten training.
    Run ``k`` draws its initial weights and batch order from ``child(seed, f"run/{k}")`` in every
    variant and setting: the comparisons are paired.

    Parameters
    ----------
    train_set, test_set : Dataset
        Classification data; ``train_set``'s labels are taken as clean.
    noise_settings : sequence of (str, float)
        ``(noise_mode, noise_rate)`` pairs: ``noise_mode`` in {"symmetric", "pair"}, ``noise_rate`` in (0, 1).
    scores : sequence of {"mislabel", "cg", "el2n", "cleanlab"}
    flag_share : float in (0, 1), optional
        Share flagged by ``cg`` and ``el2n``; default the detector's estimated noise rate.
    min_confidence : float in [0, 1], default=0.5
        Least probability of the predicted class (the detector's leave-one-out probability, cleanlab's
        cross-validated one) for a flagged row to be relabelled.
    model, epochs, lr, batch_size, n_runs
        As :func:`~trainfree.experiments.pruning_curve`.
    n_seeds, el2n_epochs : int
        Networks averaged by EL2N, and the epochs they train before it is read.
    device, random_state, n_jobs, checkpoint, progress
        As :func:`~trainfree.experiments.pruning_curve`; the checkpoint also holds the scores' flags.

    Returns
    -------
    PlayerResult
        One row per (noise setting, score, variant): ``value`` = mean test accuracy, ``stderr`` over runs,
        ``player`` ``"{noise_mode}-{noise_rate}/{score}/{variant}"`` (score ``none`` for the noisy and
        clean variants), ``noise_mode``, ``noise_rate``, ``score``, ``variant``, ``gap_recovered``
        (:func:`gap_recovered`), ``precision`` and ``recall`` of the flags against the flipped labels,
        ``n_flagged``, ``n_removed``, ``n_relabelled``, ``relabel_precision`` (share of relabelled rows
        given back their true class). ``metrics``: ``clean_accuracy``, ``clean_stderr``, ``notes``.

    Examples
    --------
    >>> from trainfree.data import load
    >>> d = load("digits", n=300, random_state=0)
    >>> tr, te = d.subset(np.arange(200)), d.subset(np.arange(200, 300))
    >>> res = cleaning_gain(tr, te, noise_settings=[("symmetric", 0.2)], scores=["mislabel"], model="mlp",
    ...                     epochs=1, n_runs=1, random_state=0)
    >>> res["player"].tolist()
    ['symmetric-0.2/none/noisy', 'symmetric-0.2/mislabel/removed', 'symmetric-0.2/mislabel/relabelled', \
'symmetric-0.2/none/clean']
    """
    t0 = time.perf_counter()
    if train_set.task != "classification" or test_set.task != "classification":
        raise TrainfreeError("Cleaning measures test accuracy and needs class labels; pass classification data "
                             "(see trainfree.data.load).")
    settings_list = _check_settings(noise_settings)
    names = list(dict.fromkeys(scores))
    unknown = [s for s in names if s not in CLEAN_SCORES]
    if unknown or not names:
        raise TrainfreeError(f"Unknown score {unknown[0] if unknown else '(none)'!r}: choose from "
                             f"{', '.join(CLEAN_SCORES)}.")
    if flag_share is not None:
        check_param("flag_share", flag_share, numbers.Real, low=0, high=1, low_open=True, high_open=True)
    check_param("min_confidence", min_confidence, numbers.Real, low=0, high=1)
    for name, value in (("epochs", epochs), ("n_runs", n_runs), ("batch_size", batch_size), ("n_seeds", n_seeds),
                        ("el2n_epochs", el2n_epochs)):
        check_param(name, value, numbers.Integral, low=0 if name == "el2n_epochs" else 1)
    notes = []
    if "cleanlab" in names and not cleanlab_available():
        names.remove("cleanlab")
        notes.append("cleanlab skipped: it is not installed (pip install cleanlab)")
    detector = "mislabel" in names or (flag_share is None and bool({"cg", "el2n"} & set(names)))
    computed = (["mislabel"] if detector else []) + [s for s in names if s != "mislabel"]
    seed = run_seed(random_state, checkpoint)
    model = resolve_model(model, train_set.image_shape)
    shape = input_shape(model, train_set.image_shape, train_set.X.shape[1], name=train_set.name)
    X, X_test = train_set.X.reshape(len(train_set), *shape), test_set.X.reshape(len(test_set), *shape)
    n, n_out, n_folds = len(train_set), len(train_set.classes), 5
    settings = {"data": train_set.name, "n_train": n, "n_test": len(test_set),
                "noise_settings": [[m, r] for m, r in settings_list], "scores": names,
                "flag_share": None if flag_share is None else float(flag_share),
                "min_confidence": float(min_confidence), "model": model, "epochs": int(epochs), "lr": float(lr),
                "batch_size": int(batch_size), "n_runs": int(n_runs), "n_seeds": int(n_seeds),
                "el2n_epochs": int(el2n_epochs), "device": str(device), "cleanlab_folds": n_folds,
                "budget": "at least the optimiser steps of `epochs` epochs on the whole training set"}
    store = None
    if checkpoint is not None:  # everything a unit depends on (not n_runs: run k is the same for any)
        store = UnitStore(checkpoint, {"what": "cleaning_gain", **{k: v for k, v in settings.items() if k != "n_runs"},
                                       "scores": computed, "seed": seed_record(seed),
                                       "data": data_fingerprint(X, train_set.y, X_test, test_set.y)})
    # The scores first (each on its setting's flips), saved as units so that a resumed run skips them.
    setting_seed = {s: child(seed, f"noise/{s[0]}/{s[1]:g}") for s in settings_list}
    score_units = [(f"score-{i}-{name}", (train_set, name, m, r, setting_seed[(m, r)],
                                          score_options(name, model=model, n_seeds=n_seeds, device=device,
                                                        epochs=el2n_epochs), n_folds))
                   for i, (m, r) in enumerate(settings_list) for name in computed]
    tf = time.perf_counter()
    scored = run_units(_score_unit, score_units, store=store, n_jobs=check_n_jobs(n_jobs), progress=progress,
                       desc="scores")
    timings = {"scoring_s": time.perf_counter() - tf}
    plan: list[dict[str, Any]] = []  # one entry per row of the result, with the rows and labels it trains on
    for i, (m, r) in enumerate(settings_list):
        y_noisy, flipped = flip_labels(train_set, r, m, setting_seed[(m, r)])
        base = {"noise_mode": m, "noise_rate": r, "flipped": flipped, "clean_y": train_set.y}
        plan.append({**base, "score": "none", "variant": "noisy", "idx": np.arange(n), "y": y_noisy, "flags": None})
        share = flag_share
        if share is None and detector:
            share = float(scored[f"score-{i}-mislabel"]["noise_rate_estimate"])
        for name in names:
            unit = scored[f"score-{i}-{name}"]
            flags = unit["flags"] if name in RELABELLING else top_share(unit["scores"], share)
            for variant in ("removed", "relabelled") if name in RELABELLING else ("removed",):
                idx, y = cleaned_labels(y_noisy, flags, variant=variant, predicted=unit.get("predicted"),
                                        confidence=unit.get("confidence"), min_confidence=min_confidence)
                plan.append({**base, "score": name, "variant": variant, "idx": idx, "y": y, "flags": flags,
                             "y_noisy": y_noisy})
        plan.append({**base, "score": "none", "variant": "clean", "idx": np.arange(n), "y": train_set.y,
                     "flags": None})
    # The clean labels are the same in every setting: their networks train once per run.
    key = [("clean" if p["variant"] == "clean" else f"set{j}") for j, p in enumerate(plan)]
    units, common = {}, (X_test, test_set.y, model, shape, n_out, lr, batch_size, device)
    for j, p in enumerate(plan):
        for k in range(n_runs):
            units[f"{key[j]}-run{k}"] = (X, p["y"], *common, p["idx"], budget_epochs(epochs, n, len(p["idx"]),
                                                                                    batch_size), child(seed, f"run/{k}"))
    t = time.perf_counter()
    outs = run_units(fit_unit, list(units.items()), store=store, n_jobs=check_n_jobs(n_jobs), progress=progress,
                     desc="training runs")
    timings["training_s"] = time.perf_counter() - t
    acc = {j: [float(outs[f"{key[j]}-run{k}"]["accuracy"]) for k in range(n_runs)] for j in range(len(plan))}
    rows = []
    for j, p in enumerate(plan):
        at = [i for i, q in enumerate(plan) if q["noise_mode"] == p["noise_mode"] and q["noise_rate"] == p["noise_rate"]]
        noisy = np.mean(acc[next(i for i in at if plan[i]["variant"] == "noisy")])
        clean = np.mean(acc[next(i for i in at if plan[i]["variant"] == "clean")])
        rows.append({"value": float(np.mean(acc[j])), "stderr": standard_error(acc[j]),
                     "player": f"{p['noise_mode']}-{p['noise_rate']:g}/{p['score']}/{p['variant']}",
                     **{c: p[c] for c in ("noise_mode", "noise_rate", "score", "variant")},
                     "gap_recovered": float(gap_recovered(np.mean(acc[j]), noisy, clean)), **_flag_columns(p)})
    clean_runs = acc[key.index("clean")]
    timings["total_s"] = time.perf_counter() - t0
    columns = {c: np.array([row[c] for row in rows]) for c in rows[0]}
    metrics = {"clean_accuracy": float(np.mean(clean_runs)), "clean_stderr": standard_error(clean_runs),
               "notes": notes}
    return PlayerResult("cleaning_gain", columns, settings, seed_record(seed), timings, metrics)


def _flag_columns(p: dict[str, Any]) -> dict[str, Any]:
    """Precision and recall of a row's flags against the flips, and what acting on them changed."""
    flags, flipped = p["flags"], p["flipped"]
    if flags is None:
        return {"precision": np.nan, "recall": np.nan, "n_flagged": 0, "n_removed": 0, "n_relabelled": 0,
                "relabel_precision": np.nan}
    hit = int((flags & flipped).sum())
    changed = np.zeros(len(flags), dtype=bool)
    if p["variant"] == "relabelled":
        changed = p["y"] != p["y_noisy"]
    true_back = int((changed & flipped & (p["y"] == p["clean_y"])).sum()) if changed.any() else 0
    return {"precision": hit / flags.sum() if flags.any() else np.nan,
            "recall": hit / flipped.sum() if flipped.any() else np.nan, "n_flagged": int(flags.sum()),
            "n_removed": int(len(flags) - len(p["idx"])), "n_relabelled": int(changed.sum()),
            "relabel_precision": true_back / changed.sum() if changed.any() else np.nan}


def _check_settings(noise_settings) -> list[tuple[str, float]]:
    out = []
    for item in noise_settings:
        try:
            mode, rate = item
        except (TypeError, ValueError):
            raise TrainfreeError(f"Each noise setting is a pair (noise_mode, noise_rate); got {item!r}. Pass e.g. "
                                 f"[('symmetric', 0.2), ('pair', 0.3)].") from None
        if mode not in NOISE_MODES or isinstance(rate, bool) or not isinstance(rate, numbers.Real) \
                or not 0 < float(rate) < 1:
            raise TrainfreeError(f"The noise setting {item!r} is not a (noise_mode, noise_rate) pair with noise_mode "
                                 f"in {list(NOISE_MODES)} and noise_rate strictly between 0 and 1. Pass e.g. "
                                 f"('symmetric', 0.2).")
        out.append((str(mode), float(rate)))
    if not out or len(set(out)) < len(out):
        raise TrainfreeError(f"Pass at least one noise setting, each once; got {list(noise_settings)!r}.")
    return out
