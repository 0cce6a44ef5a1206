"""Contributor valuation with DAVINZ: real contributors' data sets (one file each, or a contributor column), or one
data set split among simulated contributors, some corrupted."""

from __future__ import annotations

import numbers
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import TrainfreeError
from .._random import SeedLike, check_random_state, child, seed_record
from .._random import rng as make_rng
from .._validation import check_param
from ..data import Dataset, load_file, split_contributors
from ..result import PlayerResult
from ..training import input_shape, make_model
from ..training.models import KINDS, resolve_model
from ..valuation import davinz_values
from ..valuation.davinz_options import DEFAULT_NU, NuOptions


def value_contributors(data: Dataset, *, n_contributors: int = 10, split: str = "random", noise_rate: float = 0.4,
                       val_fraction: float = 0.2, model: str = "mlp", nu: str | NuOptions = DEFAULT_NU,
                       semivalue: str = "shapley",
                       max_exact: int = 12, n_samples: int = 500, checkpoint: str | Path | None = None,
                       random_state: SeedLike = None, n_jobs: int | None = None,
                       **davinz_options: Any) -> PlayerResult:
    """Hold out a validation set, split the rest among contributors and value each with DAVINZ.

    Parameters
    ----------
    data : Dataset
        Classification data.
    n_contributors : int
    split : {"random", "class", "sizes", "noisy"}
        How the rows are shared (see :func:`trainfree.data.split_contributors`); ``"noisy"`` flips a
        share ``noise_rate`` of the labels of the first :func:`trainfree.data.n_affected` contributors.
    noise_rate : float
    val_fraction : float in (0, 1)
        Share of the rows held out as the validation set T (at least 2 rows, and at least 2 per
        contributor must remain).
    model : {"mlp", "auto", "cnn", "davinz_cnn", "davinz_mlp"}
        The network at initialization (see :func:`trainfree.training.make_model`; the CNNs need image data).
    nu, semivalue, max_exact, n_samples, checkpoint, n_jobs
        See :func:`trainfree.valuation.davinz_values` (``nu``: ``"recommended"``, the default, or
        ``"paper"``).
    random_state : None, int, Generator or SeedSequence
        Root seed; the validation split, the contributor split, the model and the valuation each
        draw from their own child.
    **davinz_options
        Passed to :class:`trainfree.valuation.DavinzUtility` (``kappa``, ``bandwidth``, ``ntk``, ``device``, ...).

    Returns
    -------
    PlayerResult
        One row per contributor: ``value``, ``stderr``, ``player``, ``size``, ``ntk_term``,
        ``mmd_term``, ``noise_rate``.

    Examples
    --------
    >>> from trainfree.data import load
    >>> res = value_contributors(load("digits", n=300, random_state=0), n_contributors=3, random_state=0)
    >>> res.to_dataframe()["player"].tolist()
    ['c0', 'c1', 'c2']
    """
    t0 = time.perf_counter()
    if data.task != "classification":
        raise TrainfreeError(f"The labels of {data.name} are real numbers, but contributor valuation here needs "
                             f"class labels: bin them into classes (e.g. with pandas.cut), or value regression "
                             f"data from Python with DavinzUtility(task='regression').")
    check_param("n_contributors", n_contributors, numbers.Integral, low=1)
    check_param("val_fraction", val_fraction, numbers.Real, low=0, high=1, low_open=True, high_open=True)
    check_param("model", model, str, choices=KINDS)
    seed = check_random_state(random_state)
    n_val = int(round(val_fraction * len(data)))
    if n_val < 2 or len(data) - n_val < 2 * n_contributors:
        raise TrainfreeError(f"{len(data)} rows with val_fraction={val_fraction} leave {n_val} for validation and "
                             f"{len(data) - n_val} for {n_contributors} contributors; DAVINZ needs at least 2 "
                             f"validation rows and 2 rows per contributor. Use more data (--n) or change "
                             f"--val-fraction / --contributors.")
    order = make_rng(child(seed, "validation")).permutation(len(data))
    val, train = np.sort(order[:n_val]), np.sort(order[n_val:])
    parts = split_contributors(data.X[train], data.y[train], n_contributors, how=split, noise_rate=noise_rate,
                               random_state=child(seed, "split"))
    model = resolve_model(model, data.image_shape)
    shape = input_shape(model, data.image_shape, data.X.shape[1], name=data.name)
    as_input = lambda A: A.reshape(len(A), *shape)  # noqa: E731
    net = make_model(model, shape, len(data.classes), random_state=child(seed, "model"))
    res = davinz_values([(as_input(p.X), p.y) for p in parts], as_input(data.X[val]), model=net, nu=nu,
                        semivalue=semivalue,
                        max_exact=max_exact, n_samples=n_samples, checkpoint=checkpoint,
                        names=[p.name for p in parts], random_state=child(seed, "valuation"), n_jobs=n_jobs,
                        **davinz_options)
    return res.replace(
        columns={"noise_rate": np.array([p.noise_rate for p in parts])},
        settings={"data": data.name, "n_rows": len(data), "n_val": n_val, "split": split, "model": model,
                  "val_fraction": float(val_fraction)},
        timings={"total_s": time.perf_counter() - t0}, seed=seed_record(seed))


def load_contributors(sources: Sequence[str | Path], *, group_column: str | None = None,
                      label_column: str = "label", id_column: str | None = None,
                      ignore_columns: Sequence[str] | str = ()) -> dict[str, Dataset]:
    """Real contributors' data: one file or image folder each, or one table with a column naming each row's contributor.

    Parameters
    ----------
    sources : sequence of paths
        One path per contributor (``.npz``, ``.csv``, ``.parquet`` or an image folder; see
        :func:`trainfree.data.load_file`), named by the file's stem; or, with ``group_column``, a single
        table whose rows are split by that column, named by its values (in sorted order).
    group_column : str, optional
    label_column, id_column, ignore_columns : str, str, sequence of str
        The label column, the row id column and the columns to drop of tables (see
        :func:`trainfree.data.load_file`). Tables are loaded with ``standardize=False``: standardise
        them all with the validation set's statistics, ``trainfree.data.standardize_as(part, val)``,
        since standardising each on its own would erase how they differ.

    Returns
    -------
    dict of str to Dataset
        Contributor name → its data, labels as each file gives them (see :func:`value_datasets` for
        how class names are matched across files).

    Examples
    --------
    >>> load_contributors(["alice.csv", "bob.csv"])  # doctest: +SKIP
    {'alice': Dataset(...), 'bob': Dataset(...)}
    """
    sources = [Path(s) for s in sources]
    columns = {"label_column": label_column, "id_column": id_column, "ignore_columns": ignore_columns}
    if not sources:
        raise TrainfreeError("No contributor data given: pass one file or folder per contributor, or one table "
                             "and the column that names each row's contributor.")
    if group_column is not None:
        if len(sources) != 1:
            raise TrainfreeError(f"A contributor column splits one table, but {len(sources)} paths were given. Pass "
                                 f"one table with group_column, or one file per contributor without it.")
        table = load_file(sources[0], standardize=False, group_column=group_column, **columns)
        groups = table.extras[group_column]
        return {str(g): table.subset(groups == g) for g in np.unique(groups)}
    names = [p.stem for p in sources]
    if len(set(names)) < len(names):  # e.g. a/data.csv and b/data.csv: name them by their whole path
        names = [str(p) for p in sources]
    if len(set(names)) < len(names):
        raise TrainfreeError(f"Contributor data {[str(p) for p in sources]} lists a path twice; give each "
                             f"contributor's data once.")
    return {name: load_file(p, standardize=False, **columns) for name, p in zip(names, sources)}


def value_datasets(contributors: Mapping[str, Dataset], val: Dataset, *, task: str | None = None,
                   model: str = "mlp", nu: str | NuOptions = DEFAULT_NU, semivalue: str = "shapley",
                   max_exact: int = 12, n_samples: int = 500,
                   checkpoint: str | Path | None = None, random_state: SeedLike = None, n_jobs: int | None = None,
                   allow_new_classes: bool = False, **davinz_options: Any) -> PlayerResult:
    """Value real contributors' data sets against the user's own validation set with DAVINZ.

    Parameters
    ----------
    contributors : mapping of name to Dataset
        Each contributor's data (e.g. from :func:`load_contributors`); names label the result's rows.
    val : Dataset
        The validation set T.
    task : {"classification", "regression"}, optional
        Default: regression when every data set holds real-valued targets, else classification.
        Classification matches classes by name across the data sets (class names that are all whole
        numbers sort as numbers); regression reads the targets as numbers, so integer-valued targets
        are regression targets too when asked for.
    model, nu, semivalue, max_exact, n_samples, checkpoint, n_jobs, random_state, **davinz_options
        As in :func:`value_contributors`.
    allow_new_classes : bool, default=False
        Classification: accept contributor labels that the validation set lacks, as classes of their
        own. By default they are refused, naming the contributor and the labels: a label the
        validation set never shows is most often another spelling or encoding of a class (``"d0"``
        for ``0``), which DAVINZ would value as a new class.

    Returns
    -------
    PlayerResult
        One row per contributor: ``value``, ``stderr``, ``player`` (its name), ``size``, ``ntk_term``,
        ``mmd_term``; ``settings["classes"]`` the matched class names (classification).

    Examples
    --------
    >>> from trainfree.data import load
    >>> d = load("digits", n=300, random_state=0)
    >>> parts = {"a": d.subset(np.arange(100)), "b": d.subset(np.arange(100, 200))}
    >>> value_datasets(parts, d.subset(np.arange(200, 300)), random_state=0).to_dataframe()["player"].tolist()
    ['a', 'b']
    """
    t0 = time.perf_counter()
    sets = {**contributors, "validation set": val}
    if not contributors:
        raise TrainfreeError("No contributors given: pass a mapping of contributor name to Dataset.")
    task = task or ("regression" if all(d.task == "regression" for d in sets.values()) else "classification")
    check_param("task", task, str, choices=("classification", "regression"))
    check_param("model", model, str, choices=KINDS)
    widths = {name: d.X.shape[1] for name, d in sets.items()}
    if len(set(widths.values())) > 1:
        raise TrainfreeError(f"The data sets have different numbers of features ({widths}); every contributor and "
                             f"the validation set must describe examples the same way.")
    small = [(name, d) for name, d in contributors.items() if len(d) < 2]
    if small:
        name, d = small[0]
        raise TrainfreeError(f"Contributor {name!r} ({d.name}) has {len(d)} example(s); DAVINZ needs at least 2 per contributor (a single point has no "
                             f"distribution to compare). Merge it with another contributor or drop it.")
    if task == "classification" and val.task != "regression" and not allow_new_classes:
        _check_known_classes(contributors, val)
    targets, classes = _common_targets(sets, task)
    shapes = {d.image_shape for d in sets.values()}
    image_shape = shapes.pop() if len(shapes) == 1 else None
    first = next(iter(sets.values()))
    model = resolve_model(model, image_shape)
    shape = input_shape(model, image_shape, first.X.shape[1], name="the contributors' data")
    as_input = lambda A: A.reshape(len(A), *shape)  # noqa: E731
    seed = check_random_state(random_state)
    n_out = 1 if task == "regression" else len(classes)
    net = make_model(model, shape, n_out, random_state=child(seed, "model"))
    names = list(contributors)
    res = davinz_values([(as_input(contributors[k].X), targets[k]) for k in names], as_input(val.X), model=net,
                        nu=nu, task=task, semivalue=semivalue, max_exact=max_exact, n_samples=n_samples,
                        checkpoint=checkpoint, names=names, random_state=child(seed, "valuation"), n_jobs=n_jobs,
                        **davinz_options)
    return res.replace(settings={"allow_new_classes": bool(allow_new_classes), "data": {k: d.name for k, d in contributors.items()}, "validation": val.name,
                                 "n_val": len(val), "model": model, "classes": list(classes)},
                       timings={"total_s": time.perf_counter() - t0}, seed=seed_record(seed))


def _check_known_classes(contributors: Mapping[str, Dataset], val: Dataset) -> None:
    """Refuse contributor labels that the validation set lacks, naming the contributor and the labels."""
    known = set(val.classes)
    for name, d in contributors.items():
        new = [c for c in d.classes if c not in known]
        if new and d.task != "regression":
            shown = ", ".join(repr(c) for c in new[:5]) + (f" and {len(new) - 5} more" if len(new) > 5 else "")
            raise TrainfreeError(f"Contributor {name!r} ({d.name}) has label(s) {shown} that the validation set "
                                 f"{val.name} lacks (its classes: {', '.join(map(repr, val.classes[:10]))}). Check "
                                 f"that both spell the classes the same way, or pass allow_new_classes=True to "
                                 f"value them as classes of their own.")


def _common_targets(sets: Mapping[str, Dataset], task: str) -> tuple[dict[str, np.ndarray], list[str]]:
    """Targets of every data set on one scale: class codes of the union of class names, or numbers."""
    if task == "regression":
        out = {}
        for name, d in sets.items():
            if d.task == "regression":
                out[name] = d.y.astype(np.float64)
                continue
            try:
                out[name] = np.array([float(c) for c in d.classes])[d.y]
            except ValueError:
                raise TrainfreeError(f"task='regression' needs numeric targets, but {name} has labels such as "
                                     f"{d.classes[0]!r}. Use task='classification'.") from None
        return out, []
    bad = [name for name, d in sets.items() if d.task == "regression"]
    if bad:
        raise TrainfreeError(f"{bad[0]} has real-valued targets, which classification cannot use; pass "
                             f"task='regression', or give whole-number class labels.")
    names = sorted({c for d in sets.values() for c in d.classes})
    if all(re.fullmatch(r"-?\d+", c) for c in names):
        names = sorted(names, key=int)
    code = {c: i for i, c in enumerate(names)}
    return {name: np.array([code[c] for c in d.classes], dtype=np.int64)[d.y] for name, d in sets.items()}, names
