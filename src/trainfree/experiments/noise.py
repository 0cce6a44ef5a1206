"""Label-noise detection: flip a known share of labels, score every example, measure what the score finds."""

from __future__ import annotations

import numbers
import time
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._errors import TrainfreeError
from .._progress import bar
from .._random import SeedLike, check_random_state, child, seed_record
from .._random import rng as make_rng
from .._validation import check_param
from ..data import Dataset, inject_label_noise
from ..metrics import auroc, noise_found_at, sign_rule_report
from ..result import ExampleResult, PlayerResult
from ..scores import (
    cg_features_score,
    cg_prime_score,
    cg_score,
    el2n_score,
    forgetting_score,
    grand_score,
    mislabel_score,
)
from ..scores.mislabel_flags import LONE_CLASSES_MESSAGE, warn_lone_classes
from ..training import input_shape, resolve_model

NOISE_MODES = ("symmetric", "pair")  # inject_label_noise's modes that need no transition matrix
FRACTIONS = (0.05, 0.1, 0.2, 0.3, 0.5)
SCORES = {"mislabel": mislabel_score, "cg": cg_score, "cg-prime": cg_prime_score, "cg-features": cg_features_score, "grand": grand_score,
          "el2n": el2n_score, "forgetting": forgetting_score}
SCORE_NAMES = {"mislabel": "kernel leave-one-out mislabel score", "cg": "CG-score", "cg-prime": "CG′ score", "cg-features": "feature-space CG-score",
               "grand": "GraNd score", "el2n": "EL2N score", "forgetting": "forgetting score"}
LONE_CLASS_POLICY = ("mislabel", "cg", "cg-prime", "cg-features")  # warn about (and never flag) a class's only row
TRAINING_FREE = ("mislabel", "cg", "cg-prime")  # scored on flat rows; the others train a network on images or rows


def score_dataset(data: Dataset, *, score: str = "cg", noise_rate: float = 0.0, noise_mode: str = "symmetric",
                  random_state: SeedLike = None, **score_options: Any) -> ExampleResult:
    """Score every row of ``data``, after flipping a share ``noise_rate`` of its labels when asked.

    The result's rows are ``data``'s rows in order and carry their identity (``row_id``), the label
    as the source wrote it (``label``: the class name, noisy where flipped) and, with noise, the
    original label and the ``flipped`` mask. With noise, ``metrics`` holds how well a high score
    finds the flipped labels: AUROC and the share of flipped labels among the top ``f`` by score
    (``found_at``); for the CG-score also the AUROC of its label term and the sign rule's rates
    (the CG-score paper's Table 2).

    Parameters
    ----------
    data : Dataset
        Classification data (see :func:`trainfree.data.load`).
    score : {"mislabel", "cg", "cg-prime", "cg-features", "grand", "el2n", "forgetting"}
        :func:`~trainfree.scores.mislabel_score`, :func:`~trainfree.scores.cg_score`, :func:`~trainfree.scores.cg_prime_score`,
        :func:`~trainfree.scores.cg_features_score` or a Data Diet score
        (:func:`~trainfree.scores.grand_score`, :func:`~trainfree.scores.el2n_score`,
        :func:`~trainfree.scores.forgetting_score`); the scores that train a network get the rows
        reshaped to ``data.image_shape`` when the network takes images (``model="auto"``, the default:
        the CNN for images with sides of at least 16 pixels, else the MLP on flat rows).
    noise_rate : float in [0, 1]
        Share of labels flipped before scoring.
    noise_mode : {"symmetric", "pair"}
        Where a flipped label goes: any other class uniformly, or class c to c + 1 (mod the number
        of classes), the usual asymmetric "pair" noise.
    random_state : None, int, Generator or SeedSequence
        Root seed: the label noise and the score's own draws come from separate children of it.
    **score_options
        Passed to the score (``method``, ``ratio``, ``device``; ``model``, ``n_seeds``, ``epochs``, ...).

    Returns
    -------
    ExampleResult
        The score's own result (a :class:`~trainfree.scores.CGResult` for ``"cg"``) with the columns
        and metrics above.

    Examples
    --------
    >>> from trainfree.data import load
    >>> res = score_dataset(load("digits", n=300, random_state=0), noise_rate=0.2, random_state=0)
    >>> res.metrics["auroc"] > 0.9, int(res["flipped"].sum())
    (True, 60)
    """
    t0 = time.perf_counter()
    check_param("score", score, str, choices=tuple(SCORES))
    check_param("noise_rate", noise_rate, numbers.Real, low=0, high=1)
    check_param("noise_mode", noise_mode, str, choices=NOISE_MODES)
    if data.task != "classification":
        example = data.y[data.y != np.round(data.y)][:1].tolist() or data.y[:1].tolist() or [np.nan]
        raise TrainfreeError(f"The labels of {data.name} are real numbers (e.g. {example[0]:g}), but the "
                             f"{SCORE_NAMES[score]} needs class labels: bin them into classes (e.g. with pandas.cut) "
                             f"or encode them as integers or names.")
    seed = check_random_state(random_state)
    y, flipped = data.y, None
    if noise_rate > 0:
        y, flipped = flip_labels(data, noise_rate, noise_mode, seed)
    X = data.X
    if score not in TRAINING_FREE:  # the networks take images (cnn) or flat rows (mlp)
        X = X.reshape(len(X), *input_shape(score_options.get("model", "auto"), data.image_shape, X.shape[1],
                                           name=data.name))
    elif score == "mislabel" and data.image_shape is not None and len(data.image_shape) == 3:
        X = X.reshape(len(X), *data.image_shape)  # images: the detector's default kernel is convolutional
    names = np.asarray(data.classes, dtype=object)
    # The score gets the codes (in the source's class order, so that numbers never depend on how classes are
    # named); what it reports by class (the single-row warning, predicted, settings) is given the names.
    with warnings.catch_warnings():
        if score in LONE_CLASS_POLICY:
            warn_lone_classes(names, np.bincount(y, minlength=len(names)) == 1, stacklevel=3)
            warnings.filterwarnings("ignore", message=LONE_CLASSES_MESSAGE)
        res = SCORES[score](X, y, random_state=child(seed, "score"), **score_options)
    columns: dict[str, Any] = {"label": names[y], "row_id": data.ids}
    if "predicted" in res.columns and res["predicted"].dtype.kind in "iu":  # the detector's class, by name too
        columns["predicted"] = names[res["predicted"]]
    by_name = {key: names[np.asarray(res.settings[key], dtype=np.int64)].tolist()
               for key in ("classes", "unjudged_classes") if res.settings.get(key)}
    metrics: dict[str, Any] = {}
    if flipped is not None:
        columns.update(original_label=data.labels, flipped=flipped)
        fractions = sorted({*FRACTIONS, float(noise_rate)})
        metrics = {"noise_rate": float(noise_rate), "noise_mode": noise_mode, "auroc": auroc(res.scores, flipped),
                   "found_at": noise_found_at(res.scores, flipped, fractions=fractions)}
        if "partial_label" in res.columns:  # the (feature-space) CG-score's label term
            metrics["auroc_partial_label"] = auroc(res["partial_label"], flipped)
        if "flag_mislabel" in res.columns:  # a flag needing no noise rate: its precision and recall
            metrics.update(sign_rule_report(res["flag_mislabel"], flipped))
    return res.replace(columns=columns, metrics=metrics,
                       settings={**by_name, "data": data.name, "score": score, "noise_rate": float(noise_rate),
                                 "noise_mode": noise_mode, "data_classes": list(data.classes),
                                 **({"data_preprocessing": data.preprocessing} if data.preprocessing else {})},
                       timings={"workflow_s": time.perf_counter() - t0}, seed=seed_record(seed))


def flip_labels(data: Dataset, noise_rate: float, noise_mode: str, seed) -> tuple[np.ndarray, np.ndarray]:
    """The flips of this root seed: every workflow that flips with the same seed flips the same labels."""
    return inject_label_noise(data.y, noise_rate, n_classes=len(data.classes), random_state=child(seed, "noise"),
                              noise_mode=noise_mode)


BASELINES = ("input_norm", "random")
# How many epochs each trained score trains by default in these workflows (its ``epochs``).
TRAINING_LENGTH = {"cg-features": 3, "grand": 0, "el2n": 5, "forgetting": 15}


def check_score_names(names: Sequence[str], allowed: Sequence[str]) -> None:
    """Refuse an empty list or a name outside ``allowed``, listing the choices."""
    unknown = [s for s in names if s not in allowed]
    if unknown or not names:
        raise TrainfreeError(f"Unknown score {unknown[0] if unknown else '(none)'!r}: choose from "
                             f"{', '.join(allowed)}.")


def score_options(name: str, *, model: str = "auto", n_seeds: int = 3, device: str | None = "cpu",
                  epochs: int | None = None) -> dict[str, Any]:
    """The :func:`score_dataset` options of score ``name``: none for the training-free CG scores, else the
    networks and how long they train (``epochs``, or the default of :data:`TRAINING_LENGTH`).

    Examples
    --------
    >>> score_options("cg"), score_options("el2n", epochs=3)["epochs"]
    ({}, 3)
    """
    if name not in TRAINING_LENGTH:
        return {}
    return {"model": model, "n_seeds": n_seeds, "device": device,
            "epochs": TRAINING_LENGTH[name] if epochs is None else epochs}


def compare_noise_detection(data: Dataset, names: Sequence[str] = ("cg", "el2n", "forgetting", "input_norm",
                                                                    "random"), *, noise_rate: float = 0.2,
                            noise_mode: str = "symmetric", model: str = "auto", n_seeds: int = 3,
                            device: str | None = "cpu",
                            random_state: SeedLike = None) -> PlayerResult:
    """Every named score on the same flipped labels: how well a high score finds them.

    Each score goes through :func:`score_dataset` with the same root seed, hence the same flips.
    The Data Diet scores use ``n_seeds`` networks of ``model`` (GraNd at initialisation, EL2N after
    5 epochs, forgetting over 15, feature-space CG after 3); ``input_norm`` (‖x‖) and ``random``
    are the baselines an informative score must beat.

    Returns
    -------
    PlayerResult
        One row per score: ``value`` = AUROC, ``player`` = its name, ``found_at_<f>`` = share of
        the flipped labels among the top ``f`` by score, ``seconds``.

    Examples
    --------
    >>> from trainfree.data import load
    >>> res = compare_noise_detection(load("digits", n=200, random_state=0), ["cg", "random"], random_state=0)
    >>> res.to_dataframe()["player"].tolist(), bool(res.values[0] > res.values[1])
    (['cg', 'random'], True)
    """
    t0 = time.perf_counter()
    check_score_names(names, [*SCORES, *BASELINES])
    check_param("noise_rate", noise_rate, numbers.Real, low=0, high=1, low_open=True)
    check_param("noise_mode", noise_mode, str, choices=NOISE_MODES)
    seed = check_random_state(random_state)
    fractions = sorted({*FRACTIONS, float(noise_rate)})
    rows, flipped = [], None
    for name in bar(names, desc="scores", unit="score"):
        t = time.perf_counter()
        if name in SCORES:
            res = score_dataset(data, score=name, noise_rate=noise_rate, noise_mode=noise_mode, random_state=seed,
                                **score_options(name, model=model, n_seeds=n_seeds, device=device))
            flipped, scores = res["flipped"], res.scores
        else:
            if flipped is None:  # the flips score_dataset makes for this seed, without scoring anything
                flipped = flip_labels(data, noise_rate, noise_mode, seed)[1]
            scores = (np.linalg.norm(data.X, axis=1) if name == "input_norm"
                      else make_rng(child(seed, "random")).random(len(data)))
        rows.append((name, auroc(scores, flipped), noise_found_at(scores, flipped, fractions=fractions),
                     time.perf_counter() - t))
    columns: dict[str, Any] = {"value": np.array([r[1] for r in rows]), "player": np.array([r[0] for r in rows])}
    for f in fractions:
        columns[f"found_at_{f:g}"] = np.array([r[2][f] for r in rows])
    columns["seconds"] = np.array([r[3] for r in rows])
    settings = {"data": data.name, "n_rows": len(data), "noise_rate": float(noise_rate), "noise_mode": noise_mode,
                "model": resolve_model(model, data.image_shape), "n_seeds": int(n_seeds), "device": str(device)}
    return PlayerResult("compare_noise_detection", columns, settings, seed_record(seed),
                        {"total_s": time.perf_counter() - t0}, {"noise_rate": float(noise_rate)})
