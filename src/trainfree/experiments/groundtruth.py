"""DAVINZ's ground-truth study: ν at initialization against the test accuracy of trained networks."""

from __future__ import annotations

import dataclasses
import numbers
import time
from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import pearsonr, spearmanr

from .._errors import TrainfreeError
from .._progress import bar
from .._random import SeedLike, check_random_state, child, seed_record
from .._random import rng as make_rng
from .._validation import check_param
from ..data import Dataset, inject_label_noise
from ..kernels import median_bandwidth
from ..result import PlayerResult
from ..training import evaluate, input_shape, make_model, resolve_model
from ..valuation import DavinzUtility, InfluenceUtility, RobustVolume, ValidationPerformance, davinz_value
from ..valuation.davinz_options import DEFAULT_NU, NuOptions, as_nu


@dataclass(frozen=True)
class GroundTruthTraining:
    """How the ground-truth study trains a network on each dataset.

    Parameters
    ----------
    optimizer : {"adam", "sgd", "plain_sgd"}
        See :func:`trainfree.training.train`; default Adam.
    lr : float
        Learning rate; default 1e-3.
    epochs : int
        At most this many epochs; default 30.
    stopping : {"loss", "plateau"}
        ``"loss"`` (default): stop once the training loss is below 1e-3; ``"plateau"``: once the epoch
        loss changes by less than 1e-6 (the official rule).
    even_batches : bool
        Batches of at most 128 of equal size (default True); False: full batches and a remainder (a
        131-image set then trains on 128 + 3, and its 3-image steps cost it a third of its accuracy).
    repeats : int
        Trainings per dataset from the same initialization with other batch orders; the ground truth
        is their mean test metric. Default 1.

    Examples
    --------
    >>> GroundTruthTraining(optimizer="plain_sgd", lr=0.01, stopping="plateau", epochs=1000).repeats
    1
    """

    optimizer: str = "adam"
    lr: float = 1e-3
    epochs: int = 30
    stopping: str = "loss"
    even_batches: bool = True
    repeats: int = 1

    def __post_init__(self) -> None:
        check_param("optimizer", self.optimizer, str, choices=("adam", "sgd", "plain_sgd"))
        check_param("lr", self.lr, (int, float), low=0, low_open=True)
        check_param("epochs", self.epochs, numbers.Integral, low=1)
        check_param("stopping", self.stopping, str, choices=("loss", "plateau"))
        if not isinstance(self.even_batches, bool):
            raise TrainfreeError(f"GroundTruthTraining(even_batches=...) must be True or False. Got "
                                 f"{self.even_batches!r}.")
        check_param("repeats", self.repeats, numbers.Integral, low=1)

    def options(self) -> dict:
        """:func:`trainfree.training.train`'s options for one run (the stopping rule spelled out)."""
        stop = {"tol": 1e-3} if self.stopping == "loss" else {"tol": 0.0, "plateau": 1e-6}
        return {"epochs": self.epochs, "optimizer": self.optimizer, "lr": self.lr, "even_batches": self.even_batches,
                **stop}


def davinz_groundtruth(train_set: Dataset, val_set: Dataset, test_set: Dataset, *, n_datasets: int = 30,
                       sizes: tuple[int, int] = (100, 600), noise: tuple[float, float] = (0.0, 0.5),
                       size_scale: str = "linear", replace: bool = False, model: str = "auto",
                       nu: str | NuOptions = DEFAULT_NU, bandwidth: str | float = "median",
                       convention: str = "trainfree", training: GroundTruthTraining = GroundTruthTraining(),
                       device: str | None = "cpu", random_state: SeedLike = 0, progress: bool = False) -> PlayerResult:
    """The DAVINZ paper's "valid scoring function" study.

    Draws ``n_datasets`` subsets of ``train_set`` of random size (uniform over ``sizes``, or log-uniform
    with ``size_scale="log"``, closer to the paper's datasets of up to 10 000 images) and noise rate
    (flipped labels, or for regression Gaussian target noise of that many standard deviations); for each,
    ν at initialization (κ balanced across the datasets, one RBF bandwidth from the validation set) and
    the test accuracy (regression: minus the MSE) of the same network trained from the same
    initialization as ``training`` says (:class:`GroundTruthTraining`: by default Adam until the
    training loss is below 1e-3 or 30 epochs end, in even batches of at most 128). ``nu`` chooses the ν
    (``"recommended"``, the default, or ``"paper"``; see :class:`trainfree.valuation.DavinzUtility`; κ
    balances the NTK term against the biased MMD when the MMD is thresholded). The paper's protocol:
    ``replace=True`` (bootstrap draws, with duplicates), clean labels (``noise=(0, 0)``),
    ``model="davinz_cnn"``, ``nu="paper"``, ``convention="official"`` (its absolute 1e-4 ridge keeps the
    duplicates' Θ₀ invertible), ``bandwidth=5.0`` on [0, 1] pixels, and
    ``training=GroundTruthTraining(optimizer="plain_sgd", lr=0.01, stopping="plateau", epochs=1000)``.

    One training run is a noisy measurement of what a dataset is worth: a bad draw of the mini-batch
    order can leave a network far below its siblings. ``GroundTruthTraining(repeats=r)`` trains each
    dataset r times from the same initialization with r batch orders (the first as with ``repeats=1``; a
    dataset that fits in one batch of 128 trains the same network every time) and takes the mean test
    metric as the ground truth; ``metrics["repeat_pearson"]`` / ``["repeat_spearman"]`` then hold
    the mean correlation between two single runs' test metrics across the datasets: how well one
    training run predicts another, the ceiling of any scorer judged against a single run.

    Parameters
    ----------
    train_set, val_set, test_set : Dataset
        The pool the datasets are drawn from, the validation set T (of ν and of VP) and the test set
        of the ground truth (see :func:`groundtruth_splits`).
    n_datasets : int
        Number of datasets drawn, at least 3; default 30.
    sizes : (int, int)
        Smallest and largest size; default (100, 600).
    noise : (float, float)
        Range of the share of flipped labels (regression: target noise in standard deviations);
        default (0, 0.5).
    size_scale : {"linear", "log"}
        Sizes uniform (default) or log-uniform over ``sizes``.
    replace : bool
        Draw with replacement (the paper's bootstrap); default False.
    model : str
        The network (see :func:`trainfree.training.make_model`); default ``"auto"``: the CNN for
        images with sides of at least 16 pixels, else the MLP (recorded in ``settings["model"]``).
    nu : {"recommended", "paper"} or NuOptions
        Which ν; default ``"recommended"``.
    bandwidth : "median" or float
        The RBF bandwidth, one for all datasets: the median heuristic on the validation set (default)
        or fixed.
    convention : {"trainfree", "official"}
        How Θ₀ is taken from the network (see :class:`trainfree.valuation.DavinzUtility`).
    training : GroundTruthTraining
        How each dataset's network is trained; default ``GroundTruthTraining()``.
    device : str
        Where to compute and train; default ``"cpu"``.
    random_state : int, Generator or SeedSequence
        Root seed of the draws, the initialization, ν and the training; default 0.
    progress : bool
        Show progress bars; default False.

    Returns
    -------
    PlayerResult
        One row per dataset (``player`` d0, d1, ...): ``value`` = ν, ``size``, ``noise_rate``,
        ``ntk_term``, ``mmd_term``, ``test_metric`` and the paper's baselines ``VP`` (validation
        accuracy of the trained network, which costs the training), ``IF`` (classification only) and
        ``RV``. ``metrics`` holds the Pearson and Spearman correlation of each with ``test_metric``
        (``pearson``/``spearman`` for ν, ``VP_pearson``, ...), ``settings["kappa"]`` the balancing
        factor, and ``timings`` the seconds of DAVINZ, training and each baseline. With ``repeats`` > 1,
        ``test_metric`` and ``VP`` are means over the runs and ``test_metric_sd`` their standard deviation.
    """
    t0 = time.perf_counter()
    check_param("n_datasets", n_datasets, numbers.Integral, low=3)
    check_param("size_scale", size_scale, str, choices=("linear", "log"))
    _check_sizes(sizes, len(train_set), replace)
    _check_noise(noise, regression=train_set.task == "regression")
    if not isinstance(training, GroundTruthTraining):
        raise TrainfreeError(f"The 'training' parameter must be GroundTruthTraining(epochs=..., lr=..., ...). Got "
                             f"{type(training).__name__} instead.")
    nu_settings = as_nu(nu).resolved()
    repeats = training.repeats
    seed = check_random_state(random_state)
    regression = train_set.task == "regression"
    task = "regression" if regression else "classification"
    model = resolve_model(model, train_set.image_shape)
    shape = input_shape(model, train_set.image_shape, train_set.X.shape[1], name=train_set.name)
    n_out = 1 if regression else len(train_set.classes)
    as_input = lambda A: A.reshape(len(A), *shape)  # noqa: E731
    init = make_model(model, shape, n_out, random_state=child(seed, "model"))
    sigma = (median_bandwidth(torch.as_tensor(val_set.X, dtype=torch.float64), random_state=child(seed, "bandwidth"))
             if bandwidth == "median" else float(check_param("bandwidth", bandwidth, (int, float), low=0, low_open=True)))
    draws = _draw_datasets(train_set, n_datasets, sizes, noise, size_scale, n_out, child(seed, "datasets"), replace)

    t = time.perf_counter()
    terms = []
    for idx, y, _ in bar(draws, desc="DAVINZ", show=progress):
        u = DavinzUtility([(as_input(train_set.X[idx]), y)], as_input(val_set.X), model=init, task=task, nu=nu,
                          bandwidth=sigma, convention=convention, kappa=1.0, device=device,
                          random_state=child(seed, "davinz"))
        terms.append((*u.terms((0,)), u.mmd((0,), "biased")))
    terms = np.array(terms)
    kappa = terms[:, 2].sum() / terms[:, 0].sum()  # the paper's κ across the datasets, on the biased MMD's scale
    nu = np.array([davinz_value(a, b, kappa) for a, b, _ in terms])
    timings = {"davinz_s": time.perf_counter() - t}

    t = time.perf_counter()
    sign = -1.0 if regression else 1.0
    train_seed = child(seed, "training")
    run_seeds = [train_seed] + [child(train_seed, f"repeat/{r}") for r in range(1, repeats)]  # run 0: as one run
    runs = np.empty((repeats, len(draws), 2))  # (test metric, VP) of each run
    for k, (idx, y, _) in enumerate(bar(draws, desc="training", show=progress)):
        for r, run_seed in enumerate(run_seeds):
            vp_utility = ValidationPerformance([(as_input(train_set.X[idx]), y)], as_input(val_set.X), val_set.y,
                                               model=init, task=task, device=device, random_state=run_seed,
                                               **training.options())
            net = vp_utility.fit((0,))
            test_metric = sign * evaluate(net, as_input(test_set.X), test_set.y, task=task, device=device)
            runs[r, k] = (test_metric, vp_utility.score(net))
    timings["training_s"] = time.perf_counter() - t
    metric = runs[:, :, 0].mean(0)
    columns = {"value": nu, "player": np.array([f"d{k}" for k in range(len(draws))]),
               "size": np.array([len(d[0]) for d in draws]), "noise_rate": np.array([d[2] for d in draws]),
               "ntk_term": terms[:, 0], "mmd_term": terms[:, 1], "test_metric": metric, "VP": runs[:, :, 1].mean(0)}
    if repeats > 1:
        columns["test_metric_sd"] = runs[:, :, 0].std(0, ddof=1)
    if not regression:  # the influence surrogate is a classifier
        t = time.perf_counter()
        columns["IF"] = np.array([InfluenceUtility([(train_set.X[i], y)], val_set.X, val_set.y)((0,))
                                  for i, y, _ in draws])
        timings["IF_s"] = time.perf_counter() - t
    t = time.perf_counter()
    columns["RV"] = np.array([RobustVolume([(train_set.X[i], y)])((0,)) for i, y, _ in draws])
    timings["RV_s"] = time.perf_counter() - t
    timings["total_s"] = time.perf_counter() - t0
    metrics = {"pearson": float(pearsonr(nu, metric)[0]), "spearman": float(spearmanr(nu, metric)[0])}
    for name in ("VP", "IF", "RV"):
        if name in columns:
            metrics[f"{name}_pearson"] = float(pearsonr(columns[name], metric)[0])
            metrics[f"{name}_spearman"] = float(spearmanr(columns[name], metric)[0])
    if repeats > 1:  # how well one run predicts another: mean over the pairs of runs
        pairs = [(a, b) for a in range(repeats) for b in range(a + 1, repeats)]
        for name, corr in (("pearson", pearsonr), ("spearman", spearmanr)):
            metrics[f"repeat_{name}"] = float(np.mean([corr(runs[a, :, 0], runs[b, :, 0])[0] for a, b in pairs]))
    settings = {"n_datasets": int(n_datasets), "sizes": list(sizes), "noise": list(noise), "size_scale": size_scale,
                "model": model, **nu_settings, "replace": bool(replace), "convention": convention,
                **dataclasses.asdict(training), "device": str(device), "task": task,
                "kappa": float(kappa), "bandwidth": float(sigma), "data": train_set.name}
    if regression:
        settings["outputs"] = "own"  # one output, whatever the preset
    return PlayerResult("davinz_groundtruth", columns, settings, seed_record(seed), timings, metrics)


def _check_sizes(sizes: tuple[int, int], n_pool: int, replace: bool) -> None:
    """The smallest and largest dataset size: whole numbers, 2 <= smallest <= largest, at most the pool's rows."""
    try:
        low, high = sizes
    except (TypeError, ValueError):
        raise TrainfreeError(f"The 'sizes' parameter must be (smallest, largest). Got {sizes!r} instead.") from None
    check_param("sizes", low, numbers.Integral, low=2)
    check_param("sizes", high, numbers.Integral, low=2)
    if low > high:
        raise TrainfreeError(f"The 'sizes' parameter must have smallest <= largest. Got smallest {low} and largest "
                             f"{high}: swap them.")
    if high > n_pool and not replace:
        raise TrainfreeError(f"The 'sizes' parameter: datasets of up to {high} rows exceed the pool's {n_pool} rows. "
                             f"Pass a largest size of at most {n_pool}.")


def _check_noise(noise: tuple[float, float], *, regression: bool) -> None:
    """The range of noise rates: 0 <= lowest <= highest (<= 1 for a share of flipped labels)."""
    try:
        low, high = (float(v) for v in noise)
    except (TypeError, ValueError):
        raise TrainfreeError(f"The 'noise' parameter must be (lowest, highest). Got {noise!r} instead.") from None
    top = np.inf if regression else 1.0
    if not 0 <= low <= high <= top:
        raise TrainfreeError(f"The 'noise' parameter must satisfy 0 <= lowest <= highest"
                             f"{'' if regression else ' <= 1 (a share of flipped labels)'}. Got ({low:g}, {high:g}).")


def _draw_datasets(train_set: Dataset, n_datasets: int, sizes: tuple[int, int], noise: tuple[float, float],
                   size_scale: str, n_classes: int, seed: np.random.SeedSequence, replace: bool = False) -> list:
    """(row indices, targets, noise rate) of each random dataset."""
    rng = make_rng(seed)
    draws = []
    for k in range(n_datasets):
        m = (int(rng.integers(sizes[0], sizes[1] + 1)) if size_scale == "linear"
             else int(round(np.exp(rng.uniform(np.log(sizes[0]), np.log(sizes[1]))))))
        rate = float(rng.uniform(*noise))
        idx = rng.choice(len(train_set.y), m, replace=replace)
        y = train_set.y[idx]
        if train_set.task == "regression":  # quality: Gaussian target noise of `rate` × the target's std
            y = y + rng.normal(0.0, rate * train_set.y.std(), size=m)
        elif rate > 0:
            y, _ = inject_label_noise(y, rate, n_classes=n_classes, random_state=child(seed, f"noise/{k}"))
        draws.append((idx, y, rate))
    return draws


def groundtruth_splits(data: str, *, pool: int = 12000, val_size: int = 500, test_size: int = 2000,
                       first: bool = False, label_column: str = "label",
                       random_state: SeedLike = 0) -> tuple[Dataset, Dataset, Dataset]:
    """The study's train, validation and test sets.

    Fashion-MNIST: ``pool`` training images (the first ``val_size`` of them for validation, the rest
    to draw datasets from) and ``test_size`` test images. The pool is a class-stratified random sample,
    or with ``first=True`` the file's first ``pool`` images, as the paper drew from MNIST's first 10 000
    (``pool=10500, val_size=500``: validation from the first 500, datasets from the next 10 000).
    ``"ising"``: 4 000 generated lattices;
    other data (a file's labels in ``label_column``): all of it; both split 2/3 pool, 1/3 test.
    """
    from ..data import load, load_fashion_mnist, make_ising

    check_param("val_size", val_size, numbers.Integral, low=1)
    check_param("test_size", test_size, numbers.Integral, low=1)
    seed = check_random_state(random_state)
    if data == "fmnist":
        full = (load_fashion_mnist(split="train").subset(np.arange(pool)) if first
                else load_fashion_mnist(split="train", n=pool, random_state=child(seed, "pool")))
        test = load_fashion_mnist(split="test", n=test_size, random_state=child(seed, "test"))
    else:
        every = (make_ising(4000, random_state=child(seed, "ising")) if data == "ising"
                 else load(data, label_column=label_column))
        order = make_rng(child(seed, "holdout")).permutation(len(every))
        full, test = every.subset(order[: len(order) * 2 // 3]), every.subset(order[len(order) * 2 // 3:])
    if len(full) <= val_size + 3:
        raise TrainfreeError(f"The pool holds {len(full)} rows; {val_size} go to validation and the rest must "
                             f"hold the datasets. Pass val_size={max(1, len(full) // 4)} or so, or more data.")
    return full.subset(np.arange(val_size, len(full))), full.subset(np.arange(val_size)), test
