"""Experiments that test whether a score is worth anything against ground truth."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import pearsonr, spearmanr

from ._validation import check_param
from .baselines import InfluenceUtility, RobustVolume
from .data import Dataset, inject_label_noise
from .davinz import DavinzUtility, davinz_value
from .kernels import median_bandwidth
from .models import evaluate, make_model, train


@dataclass
class GroundTruth:
    """Per-dataset ν, its two terms and the trained test metric, with the correlations and times."""

    sizes: np.ndarray
    noise: np.ndarray
    nu: np.ndarray
    ntk_term: np.ndarray
    mmd_term: np.ndarray
    kappa: float
    test_metric: np.ndarray
    pearson: float
    spearman: float
    davinz_s: float
    training_s: float
    baselines: dict[str, dict]  # name → {"values", "pearson", "spearman", "seconds"}


def davinz_groundtruth(train_set: Dataset, val_set: Dataset, test_set: Dataset, *, n_datasets: int = 30,
                       sizes: tuple[int, int] = (100, 600), noise: tuple[float, float] = (0.0, 0.5),
                       size_scale: str = "linear", model: str = "cnn", outputs: str = "own", epochs: int = 30,
                       device: str | None = "cpu", random_state: int = 0, progress: bool = False) -> GroundTruth:
    """The DAVINZ paper's "valid scoring function" study.

    Draws ``n_datasets`` subsets of ``train_set`` of random size (uniform over ``sizes``, or log-uniform
    with ``size_scale="log"``, closer to the paper's datasets of up to 10 000 images) and noise rate
    (flipped labels, or for regression Gaussian target noise of that many standard deviations); for each, ν at
    initialization (κ balanced across the datasets, one RBF bandwidth from the validation set) and the
    test accuracy (regression: minus the MSE) of the same network trained from the same initialization
    until its training loss is below 1e-3 or ``epochs`` end. Returns both with Pearson and Spearman
    correlations and the time each side took, and the same for the paper's baselines: VP (validation
    accuracy of the trained network, which costs the training), IF and RV (see :mod:`trainfree.baselines`).
    """
    check_param("n_datasets", n_datasets, int, low=3)
    check_param("size_scale", size_scale, str, choices=("linear", "log"))
    rng = np.random.default_rng(random_state)
    regression = train_set.task == "regression"
    task = "regression" if regression else "classification"
    shape = train_set.image_shape if model == "cnn" else (train_set.X.shape[1],)
    n_out = 1 if regression else len(train_set.classes)
    as_input = lambda A: A.reshape(len(A), *shape)  # noqa: E731
    init = make_model(model, shape, n_out, random_state=random_state)
    state0 = {k: v.clone() for k, v in init.state_dict().items()}
    sigma = median_bandwidth(torch.as_tensor(val_set.X, dtype=torch.float64))
    draws = []
    for _ in range(n_datasets):
        m = (int(rng.integers(sizes[0], sizes[1] + 1)) if size_scale == "linear"
             else int(round(np.exp(rng.uniform(np.log(sizes[0]), np.log(sizes[1]))))))
        rate = float(rng.uniform(*noise))
        idx = rng.choice(len(train_set.y), m, replace=False)
        y = train_set.y[idx]
        if regression:  # quality: Gaussian target noise of `rate` × the target's standard deviation
            y = y + rng.normal(0.0, rate * train_set.y.std(), size=m)
        elif rate > 0:
            y, _ = inject_label_noise(y, rate, n_classes=n_out, random_state=int(rng.integers(2**31)))
        draws.append((idx, y, rate))

    t = time.perf_counter()
    terms = []
    for idx, y, _ in _progress(draws, progress, "DAVINZ"):
        u = DavinzUtility([(as_input(train_set.X[idx]), y)], as_input(val_set.X), model=init, task=task,
                          outputs=outputs, bandwidth=sigma, kappa=1.0, device=device,
                          random_state=random_state)
        terms.append(u.terms((0,)))
    terms = np.array(terms)
    kappa = terms[:, 1].sum() / terms[:, 0].sum()  # the paper's κ, across the datasets
    nu = np.array([davinz_value(a, b, kappa) for a, b in terms])
    davinz_s = time.perf_counter() - t

    t = time.perf_counter()
    metric, vp = [], []
    sign = -1.0 if regression else 1.0
    for idx, y, _ in _progress(draws, progress, "training"):
        net = make_model(model, shape, n_out)
        net.load_state_dict(state0)
        train(net, as_input(train_set.X[idx]), y, task=task, epochs=epochs, device=device, random_state=random_state)
        metric.append(sign * evaluate(net, as_input(test_set.X), test_set.y, task=task, device=device))
        vp.append(sign * evaluate(net, as_input(val_set.X), val_set.y, task=task, device=device))
    training_s = time.perf_counter() - t
    metric = np.array(metric)

    def scored(values, seconds):
        values = np.asarray(values, dtype=float)
        return {"values": values, "pearson": float(pearsonr(values, metric)[0]),
                "spearman": float(spearmanr(values, metric)[0]), "seconds": seconds}

    baselines = {"VP": scored(vp, training_s)}
    if not regression:  # the influence surrogate is a classifier
        t = time.perf_counter()
        vals = [InfluenceUtility([(train_set.X[i], y)], val_set.X, val_set.y)((0,)) for i, y, _ in draws]
        baselines["IF"] = scored(vals, time.perf_counter() - t)
    t = time.perf_counter()
    baselines["RV"] = scored([RobustVolume([(train_set.X[i], y)])((0,)) for i, y, _ in draws],
                             time.perf_counter() - t)
    return GroundTruth(np.array([len(d[0]) for d in draws]), np.array([d[2] for d in draws]), nu, terms[:, 0],
                       terms[:, 1], float(kappa), metric, float(pearsonr(nu, metric)[0]),
                       float(spearmanr(nu, metric)[0]), davinz_s, training_s, baselines)


def _progress(items, show: bool, desc: str):
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, disable=not show)
