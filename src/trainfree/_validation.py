"""Input validation shared by every score: one place, messages that name the fix."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import torch

from ._errors import TrainfreeError


def check_param(name: str, value: Any, kind: type | tuple[type, ...], *, low: float | None = None,
                high: float | None = None, low_open: bool = False, high_open: bool = False,
                choices: tuple | None = None) -> Any:
    """Validate a scalar parameter against a type, an interval or a set of choices.

    Examples
    --------
    >>> check_param("ratio", 3.0, numbers.Real, low=0, low_open=True)
    3.0
    """
    if choices is not None:
        if value not in choices:
            raise TrainfreeError(f"The {name!r} parameter must be one of {list(choices)}. Got {value!r} instead.")
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, kind):
        tname = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise TrainfreeError(f"The {name!r} parameter must be of type {tname}. Got {value!r} instead.")
    if isinstance(value, numbers.Real) and not math.isfinite(value):
        raise TrainfreeError(f"The {name!r} parameter must be a finite number. Got {value!r} instead.")
    bad_low = low is not None and (value <= low if low_open else value < low)
    bad_high = high is not None and (value >= high if high_open else value > high)
    if bad_low or bad_high:
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        bracket = "(" if low_open or low is None else "["
        raise TrainfreeError(
            f"The {name!r} parameter must be in the range {bracket}{lo}, {hi}{')' if high_open or high is None else ']'}. "
            f"Got {value!r} instead.")
    return value


def check_n_jobs(n_jobs: Any) -> int | None:
    """``n_jobs`` as joblib takes it: None (one, or the active ``parallel_config``), a positive count, or -1 for all.

    Examples
    --------
    >>> check_n_jobs(-1), check_n_jobs(None)
    (-1, None)
    """
    if n_jobs is None:
        return None
    check_param("n_jobs", n_jobs, numbers.Integral)
    if n_jobs == 0:
        raise TrainfreeError("The 'n_jobs' parameter must not be 0. Use 1, a positive count, or -1 for all cores.")
    return int(n_jobs)


def check_array(X: Any, *, name: str = "X", ndim: int | None = None, min_samples: int = 1,
                dtype: Any = np.float64) -> np.ndarray:
    """Convert to a finite NumPy array of ``dtype``; raise a clear error otherwise.

    ``ndim=2`` refuses 1-D input instead of guessing whether it is one sample or one feature.
    """
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    try:
        with np.errstate(over="ignore"):  # values beyond ``dtype``'s range are refused below, by name
            arr = np.asarray(X, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise TrainfreeError(f"{name} could not be converted to a numeric array ({exc}). "
                             f"Pass numbers only, e.g. a float NumPy array.") from None
    if ndim is not None and arr.ndim != ndim:
        hint = (f" Reshape it with {name}.reshape(-1, 1) for one feature or {name}.reshape(1, -1) for one sample."
                if arr.ndim == 1 and ndim == 2 else "")
        raise TrainfreeError(f"Expected a {ndim}-D array for {name}, got {arr.ndim}-D with shape {arr.shape}.{hint}")
    if arr.shape[0] < min_samples if arr.ndim else True:
        raise TrainfreeError(f"Found array with {arr.shape[0] if arr.ndim else 0} sample(s) (shape={arr.shape}) "
                             f"in {name} while a minimum of {min_samples} is required.")
    if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
        given = np.asarray(X)
        if given.dtype.kind == "f" and np.isfinite(given).all():  # finite values that overflow ``dtype``
            raise TrainfreeError(f"{name} holds values beyond {arr.dtype}'s range (largest magnitude "
                                 f"{np.abs(given).max():.3g}), which this computation needs; rescale the features "
                                 f"(e.g. standardise the columns, as trainfree.data.load_file does by default).")
        n_nan, n_inf = int(np.isnan(arr).sum()), int(np.isinf(arr).sum())
        raise TrainfreeError(f"{name} contains {n_nan} NaN and {n_inf} infinite value(s). Remove or impute them "
                             f"first (e.g. sklearn.impute.SimpleImputer), or drop those rows.")
    return arr


def check_labels(y: Any, n_samples: int, *, name: str = "y", min_classes: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Validate class labels; return ``(codes, classes)`` with codes in ``0..n_classes-1``."""
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
    if y.ndim != 1:
        raise TrainfreeError(f"{name} must be a 1-D array of class labels, got shape {y.shape}. "
                             f"If it is one-hot, pass {name}.argmax(axis=1).")
    if y.shape[0] != n_samples:
        raise TrainfreeError(f"X and {name} have inconsistent numbers of samples: {n_samples} rows in X "
                             f"but {y.shape[0]} labels in {name}. Pass one label per row.")
    if y.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(y))
        if bad.size:
            raise TrainfreeError(f"{name} holds {bad.size} NaN or infinite label(s), the first at row {bad[0]}; "
                                 f"drop those rows or fill in their labels.")
        frac = np.flatnonzero(y != np.round(y))
        if frac.size:
            raise TrainfreeError(f"{name} holds non-integer real numbers (e.g. {y[frac[0]]:g} at row {frac[0]}), but "
                                 f"class labels are needed here: bin them into classes (e.g. with pandas.cut) or "
                                 f"encode them as integer class codes.")
    if y.dtype.kind == "O":
        missing = np.flatnonzero([v is None or (isinstance(v, float) and math.isnan(v)) for v in y])
        if missing.size:
            rows = ", ".join(map(str, missing[:5])) + (f" and {missing.size - 5} more" if missing.size > 5 else "")
            raise TrainfreeError(f"{name} holds {missing.size} missing label(s) (None or NaN) at row(s) {rows}; drop "
                                 f"those rows or fill in their labels.")
    try:
        classes, codes = np.unique(y, return_inverse=True)
    except TypeError:  # labels that do not sort together, e.g. strings and numbers
        kinds = sorted({type(v).__name__ for v in y})
        raise TrainfreeError(f"{name} mixes label types ({', '.join(kinds)}), which cannot be ordered into classes; "
                             f"pass labels of one type, e.g. {name}.astype(str).") from None
    if classes.size < min_classes:
        raise TrainfreeError(f"{name} has {classes.size} class(es) ({classes.tolist()}) but at least {min_classes} "
                             f"are required: a score that contrasts classes is undefined with one class. "
                             f"Include examples of other classes.")
    return codes.astype(np.int64), classes


def check_codes(y: Any, n_classes: int | None = None, *, name: str = "y", min_classes: int = 0,
                n_classes_name: str = "n_classes") -> tuple[np.ndarray, int]:
    """Validate integer class codes ``0..C-1``; return them as int64 with ``C`` (``n_classes`` or max + 1).

    The one rule for code arrays (label noise, contributor splits, the dataset type); raw labels of
    any kind go through :func:`check_labels` instead, which encodes them.

    Examples
    --------
    >>> check_codes(np.array([0, 2, 1]))
    (array([0, 2, 1]), 3)
    """
    y = np.asarray(y)
    if y.ndim != 1 or y.dtype.kind not in "iub":
        raise TrainfreeError(f"{name} must be a 1-D array of integer class codes 0..C-1, got dtype {y.dtype} and "
                             f"shape {y.shape}. Encode labels with np.unique(y, return_inverse=True)[1].")
    if len(y) and y.min() < 0:
        raise TrainfreeError(f"{name} holds negative class codes. Encode labels with "
                             f"np.unique(y, return_inverse=True)[1].")
    top = int(y.max()) + 1 if len(y) else 0
    if n_classes is None:
        n_classes = top
    check_param("n_classes", n_classes, numbers.Integral, low=min_classes)
    if top > n_classes:
        given = f"n_classes={n_classes}" if n_classes_name == "n_classes" else f"{n_classes} {n_classes_name}"
        raise TrainfreeError(f"{name} holds class code {top - 1} but {given} was given. Pass one per class "
                             f"({top}).")
    return y.astype(np.int64), int(n_classes)


def check_examples(X: Any, y: Any, *, flatten: bool = True, dtype: Any = np.float64
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inputs with one row per example and their class labels, as every per-example score takes them.

    Returns ``(X, codes, classes)``: ``X`` finite, at least 2-D (flattened to (n, d) when
    ``flatten``), and the label codes and class values of :func:`check_labels`.

    Examples
    --------
    >>> X, codes, classes = check_examples(np.zeros((3, 2, 2)), ["b", "a", "b"])
    >>> X.shape, codes.tolist(), classes.tolist()
    ((3, 4), [1, 0, 1], ['a', 'b'])
    """
    X = check_array(X, name="X", min_samples=2, dtype=dtype)
    if X.ndim < 2:
        raise TrainfreeError(f"Expected X with one row per example (2-D or more), got shape {X.shape}. "
                             f"Reshape it with X.reshape(-1, 1) for one feature.")
    if flatten:
        X = X.reshape(X.shape[0], -1)
    codes, classes = check_labels(y, X.shape[0])
    return X, codes, classes
