"""Data sets, label noise and contributor set-ups for the experiments.

Everything is read or generated locally: nothing here ever downloads. Every loader returns a
:class:`Dataset` (flat float32 features, labels, class names, the shape of one example), which
unpacks as ``X, y = load("digits")``.
"""

from __future__ import annotations

import gzip
import math
import numbers
import os
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._validation import TrainfreeError, as_seed, check_array, check_labels, check_param

__all__ = [
    "Contributor", "Dataset", "domain_shift", "inject_label_noise", "ising_energy", "load",
    "load_digits_dataset", "load_fashion_mnist", "load_file", "load_mnist1d", "make_ising",
    "read_idx", "split_contributors",
]

FMNIST_ENV = "TRAINFREE_FMNIST_DIR"
FMNIST_DEFAULT_DIR = Path("/usr/share/datasets/fashion-mnist")
FMNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                  "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
DATASETS = ("fmnist", "digits", "mnist1d")

_IDX_DTYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
_GRAY_MODES = {"1", "L", "LA", "I", "I;16", "F"}


@dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """Features, targets and what they mean; unpacks as ``X, y``.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Flat features, stored as float32.
    y : ndarray of shape (n,)
        int64 class codes ``0..len(classes)-1`` for classification, or float64 targets for
        regression (then ``classes`` is empty), e.g. the energy per spin of :func:`make_ising`.
    classes : tuple of str
        Class names indexed by code; filled with ``"0", "1", ...`` when integer ``y`` comes without names.
    image_shape : tuple of int or None
        Shape of one example, channels first (``(1, 28, 28)`` for Fashion-MNIST), so that
        :meth:`images` feeds a convolutional network directly; None for plain tables.
    name : str
        Where the data came from.
    extras : dict of str to ndarray
        Per-example side information, e.g. the temperature of each Ising sample.

    Examples
    --------
    >>> ds = Dataset(np.zeros((4, 4)), np.array([0, 1, 0, 1]), image_shape=(1, 2, 2))
    >>> X, y = ds
    >>> ds.images().shape, ds.classes
    ((4, 1, 2, 2), ('0', '1'))
    """

    X: np.ndarray
    y: np.ndarray
    classes: tuple[str, ...] = ()
    image_shape: tuple[int, ...] | None = None
    name: str = "data"
    extras: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        X = np.asarray(self.X, dtype=np.float32)
        if X.ndim != 2:
            raise TrainfreeError(f"Dataset.X must be 2-D (n_samples, n_features), got shape {X.shape}. "
                                 f"Flatten images with X.reshape(len(X), -1) and pass image_shape.")
        y = np.asarray(self.y)
        if y.shape != (len(X),):
            raise TrainfreeError(f"Dataset.y must have shape ({len(X)},) to match X, got {y.shape}.")
        classes = tuple(str(c) for c in self.classes)
        if y.dtype.kind in "iub":
            y = y.astype(np.int64)
            if len(y) and y.min() < 0:
                raise TrainfreeError("Dataset.y class codes must be >= 0. Encode labels with "
                                     "np.unique(y, return_inverse=True)[1].")
            if not classes and len(y):
                classes = tuple(str(c) for c in range(int(y.max()) + 1))
            if len(y) and y.max() >= len(classes):
                raise TrainfreeError(f"Dataset.y holds code {int(y.max())} but only {len(classes)} class "
                                     f"names were given. Pass one name per class.")
        elif y.dtype.kind == "f":
            if classes:
                raise TrainfreeError("Float targets mean regression, which has no classes: pass classes=() "
                                     "or integer class codes.")
            y = y.astype(np.float64)
        else:
            raise TrainfreeError(f"Dataset.y must be integer class codes or float targets, got dtype {y.dtype}. "
                                 f"Encode labels with np.unique(y, return_inverse=True).")
        shape = None if self.image_shape is None else tuple(int(s) for s in self.image_shape)
        if shape is not None and math.prod(shape) != X.shape[1]:
            raise TrainfreeError(f"image_shape {shape} holds {math.prod(shape)} values but X has "
                                 f"{X.shape[1]} features per row.")
        extras = {k: np.asarray(v) for k, v in self.extras.items()}
        for k, v in extras.items():
            if len(v) != len(X):
                raise TrainfreeError(f"Dataset.extras[{k!r}] has {len(v)} rows but X has {len(X)}.")
        for attr, value in (("X", X), ("y", y), ("classes", classes), ("image_shape", shape), ("extras", extras)):
            object.__setattr__(self, attr, value)

    def __iter__(self) -> Iterator[np.ndarray]:
        yield self.X
        yield self.y

    def __len__(self) -> int:
        return len(self.X)

    def __repr__(self) -> str:
        return (f"Dataset(name={self.name!r}, n={len(self)}, n_features={self.X.shape[1]}, task={self.task!r}, "
                f"n_classes={len(self.classes)}, image_shape={self.image_shape})")

    @property
    def task(self) -> str:
        """``"classification"`` for integer labels, ``"regression"`` for float targets."""
        return "regression" if self.y.dtype.kind == "f" else "classification"

    def images(self) -> np.ndarray:
        """Return ``X`` reshaped to ``(n, *image_shape)``."""
        if self.image_shape is None:
            raise TrainfreeError(f"Dataset {self.name!r} has no image_shape, so it cannot be reshaped into images.")
        return self.X.reshape(len(self), *self.image_shape)

    def subset(self, indices: Any) -> Dataset:
        """Return the rows ``indices`` (an integer index array or a boolean mask)."""
        idx = np.asarray(indices)
        return Dataset(self.X[idx], self.y[idx], self.classes, self.image_shape, self.name,
                       {k: v[idx] for k, v in self.extras.items()})

    def subsample(self, n: int | None, *, random_state: int | np.random.Generator | None = None) -> Dataset:
        """Draw ``n`` rows without replacement, stratified by class for classification.

        Each class gets its proportional share of ``n`` (largest remainders round up, ties broken at
        random), so a class-balanced source gives a subsample balanced to within one example.
        Rows keep their original order. ``n=None`` returns the data set unchanged.

        Examples
        --------
        >>> ds = Dataset(np.zeros((6, 1)), np.array([0, 0, 0, 1, 1, 1]))
        >>> np.bincount(ds.subsample(4, random_state=0).y).tolist()
        [2, 2]
        """
        if n is None:
            return self
        _check_n(n, len(self))
        rng = as_seed(random_state)
        if self.task == "regression":
            return self.subset(np.sort(rng.choice(len(self), n, replace=False)))
        return self.subset(_stratified_indices(self.y, n, rng))


def _check_n(n: Any, available: int) -> None:
    check_param("n", n, numbers.Integral, low=1)
    if n > available:
        raise TrainfreeError(f"n={n} exceeds the {available} examples available. Pass n <= {available} "
                             f"or n=None for all of them.")


def _stratified_indices(y: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    _, codes, counts = np.unique(y, return_inverse=True, return_counts=True)
    # Integer arithmetic keeps the quotas exact: floor shares plus the largest remainders.
    quota, remainder = np.divmod(n * counts, counts.sum())
    order = np.lexsort((rng.random(len(counts)), -remainder))
    quota[order[:n - quota.sum()]] += 1
    picks = [rng.choice(np.flatnonzero(codes == c), q, replace=False) for c, q in enumerate(quota)]
    return np.sort(np.concatenate(picks))


# ----------------------------------------------------------------------------------------- loaders


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzip-compressed or not.

    The header is two zero bytes, a type code (0x08 = uint8, ..., 0x0E = float64), the number of
    dimensions, then each dimension as a big-endian uint32; the data follow in C order.

    Examples
    --------
    >>> read_idx("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz").shape  # doctest: +SKIP
    (10000,)
    """
    path = Path(path)
    try:
        with path.open("rb") as fh:
            compressed = fh.read(2) == b"\x1f\x8b"
        with (gzip.open(path, "rb") if compressed else path.open("rb")) as fh:
            raw = fh.read()
    except (OSError, EOFError) as exc:
        raise TrainfreeError(f"Could not read {path} ({exc}). The file is missing or corrupt; reinstall it.") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise TrainfreeError(f"{path} is not an IDX file: its magic number is 0x{raw[:4].hex()}, expected 0x0000 "
                             f"followed by a type code and the number of dimensions. Reinstall the file.")
    ndim, dtype = raw[3], np.dtype(_IDX_DTYPES[raw[2]])
    offset = 4 + 4 * ndim
    dims = tuple(int(d) for d in np.frombuffer(raw[4:offset], dtype=">u4")) if len(raw) >= offset else ()
    expected = offset + math.prod(dims) * dtype.itemsize
    if len(dims) != ndim or len(raw) != expected:
        raise TrainfreeError(f"{path} is truncated or padded: the header announces {expected} bytes but the file "
                             f"holds {len(raw)}. Reinstall the file.")
    return np.frombuffer(raw, dtype=dtype, offset=offset).reshape(dims).astype(dtype.newbyteorder("="))


def load_fashion_mnist(*, split: str = "train", n: int | None = None,
                       random_state: int | np.random.Generator | None = None,
                       root: str | Path | None = None) -> Dataset:
    """Fashion-MNIST from local IDX files, pixels scaled to [0, 1].

    The folder is ``root``, else ``$TRAINFREE_FMNIST_DIR``, else ``/usr/share/datasets/fashion-mnist``
    (Debian package ``dataset-fashion-mnist``). It must hold ``train-images-idx3-ubyte.gz``,
    ``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz`` and ``t10k-labels-idx1-ubyte.gz``
    (uncompressed copies without ``.gz`` work too).

    Parameters
    ----------
    split : {"train", "test"}
        60,000 training or 10,000 test images.
    n : int, optional
        Class-stratified random subsample size (see :meth:`Dataset.subsample`); all images by default.
    random_state : int, Generator or None
        Seed of the subsample.
    root : str or Path, optional
        Folder holding the IDX files.

    Returns
    -------
    Dataset
        ``X`` of shape (n, 784), ``image_shape=(1, 28, 28)``, ten named classes.

    Examples
    --------
    >>> load_fashion_mnist(split="test", n=100, random_state=0).X.shape  # doctest: +SKIP
    (100, 784)
    """
    check_param("split", split, str, choices=("train", "test"))
    folder, source = ((Path(root), "the 'root' argument") if root is not None else
                      (Path(os.environ[FMNIST_ENV]), f"${FMNIST_ENV}") if os.environ.get(FMNIST_ENV) else
                      (FMNIST_DEFAULT_DIR, "the default location"))
    prefix = "train" if split == "train" else "t10k"
    paths = [_find_idx(folder, source, f"{prefix}-{kind}") for kind in ("images-idx3-ubyte", "labels-idx1-ubyte")]
    images, labels = read_idx(paths[0]), read_idx(paths[1])
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels) or images.dtype != np.uint8:
        raise TrainfreeError(f"{paths[0].name} and {paths[1].name} in {folder} do not form an image/label pair "
                             f"(shapes {images.shape} and {labels.shape}). Reinstall dataset-fashion-mnist.")
    if labels.max(initial=0) >= len(FMNIST_CLASSES):
        raise TrainfreeError(f"{paths[1]} holds label {int(labels.max())}; Fashion-MNIST has 10 classes.")
    if n is None:
        idx = np.arange(len(labels))
    else:
        _check_n(n, len(labels))
        idx = _stratified_indices(labels, n, as_seed(random_state))
    # Subsample before converting, so a small n never materialises 60,000 float images.
    X = images[idx].reshape(len(idx), -1).astype(np.float32) / np.float32(255)
    return Dataset(X, labels[idx], FMNIST_CLASSES, (1, *images.shape[1:]), f"fmnist-{split}")


def _find_idx(folder: Path, source: str, stem: str) -> Path:
    for path in (folder / f"{stem}.gz", folder / stem):
        if path.is_file():
            return path
    raise TrainfreeError(
        f"Fashion-MNIST file {stem}.gz not found in {folder} (from {source}). Install the data with "
        f"`apt-get install -y dataset-fashion-mnist` (it puts the files in {FMNIST_DEFAULT_DIR}), or set "
        f"{FMNIST_ENV} (or root=) to a folder holding the four IDX .gz files. trainfree never downloads data.")


def load_digits_dataset(*, n: int | None = None, random_state: int | np.random.Generator | None = None) -> Dataset:
    """scikit-learn's 8x8 handwritten digits (1,797 images, bundled with scikit-learn), scaled to [0, 1].

    Examples
    --------
    >>> ds = load_digits_dataset(n=100, random_state=0)
    >>> ds.X.shape, ds.image_shape
    ((100, 64), (1, 8, 8))
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    ds = Dataset(bunch.data / 16.0, bunch.target, tuple(str(c) for c in range(10)), (1, 8, 8), "digits")
    return ds.subsample(n, random_state=random_state)


def load_mnist1d(*, n: int | None = None, random_state: int | np.random.Generator | None = None) -> Dataset:
    """MNIST-1D signals (length 40, ten classes) generated locally with the ``mnist1d`` package.

    Calls the package's generator directly, never its downloading/caching ``get_dataset``, so
    nothing touches the network or writes a file. The generator reseeds NumPy's and Python's global
    random state; both are restored afterwards.

    Parameters
    ----------
    n : int, optional
        Number of signals; default 5000. The generator makes ``10 * ceil(n / 10)`` class-balanced
        signals, then a stratified subsample keeps ``n``.
    random_state : int, Generator or None
        Generator seed. None uses 42, the published seed: ``load_mnist1d()`` returns the standard
        5000 signals in order, the first 4000 being the standard training set.

    Examples
    --------
    >>> ds = load_mnist1d(n=50, random_state=0)
    >>> ds.X.shape, ds.image_shape
    ((50, 40), (1, 40))
    """
    n_total = 5000 if n is None else n
    _check_n(n_total, n_total)
    if random_state is None:
        seed = 42
    elif isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        seed = int(check_param("random_state", random_state, numbers.Integral, low=0, high=2**32 - 1))
    else:
        seed = int(as_seed(random_state).integers(2**32))
    from mnist1d.data import get_dataset_args, make_dataset  # lazy: the package imports matplotlib

    args = get_dataset_args()
    args.num_samples, args.train_split, args.seed = 10 * math.ceil(n_total / 10), 1.0, seed
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        data = make_dataset(args)
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    ds = Dataset(data["x"], data["y"], tuple(str(c) for c in range(10)), (1, data["x"].shape[1]), "mnist1d")
    return ds.subsample(n_total, random_state=seed) if len(ds) > n_total else ds


def load_file(path: str | Path, *, label_column: str = "label") -> Dataset:
    """Load a data set from a file or an image folder.

    * ``.npz``: arrays ``X`` (n, ...) and ``y`` (n,); ``X`` with more than two dimensions is
      flattened and its trailing shape kept as ``image_shape``.
    * ``.csv`` / ``.parquet``: one row per example; ``label_column`` holds the labels and every
      other column must be numeric.
    * a folder with one sub-folder of images per class (class names are the sorted folder names).
      All images must have the same size; they are read as grayscale when all are grayscale, else
      all as RGB (channels first), and 8-bit values are scaled to [0, 1].

    Values of ``.npz`` and tables are kept as stored. Labels are encoded as codes of the sorted
    unique labels; float labels that are not all whole numbers are regression targets.

    Examples
    --------
    >>> np.savez("toy.npz", X=np.eye(2), y=np.array(["cat", "dog"]))  # doctest: +SKIP
    >>> load_file("toy.npz").classes  # doctest: +SKIP
    ('cat', 'dog')
    """
    path = Path(path)
    if not path.exists():
        raise TrainfreeError(f"No such file or folder: {path}. Pass an existing .npz, .csv or .parquet file "
                             f"or a folder with one sub-folder of images per class.")
    if path.is_dir():
        return _load_image_folder(path)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _load_npz(path)
    if suffix in (".csv", ".parquet", ".pq"):
        return _load_table(path, label_column)
    raise TrainfreeError(f"Cannot load {path.name!r}: supported are .npz, .csv, .parquet files and image folders.")


def _from_arrays(X: Any, y: Any, name: str, *, image_shape: tuple[int, ...] | None = None) -> Dataset:
    X = check_array(X, name=f"X of {name}", dtype=np.float32)
    if X.ndim < 2:
        raise TrainfreeError(f"X of {name} must have one row per example (2-D or more), got shape {X.shape}.")
    if X.ndim > 2 and image_shape is None:
        image_shape = X.shape[1:]
    X = X.reshape(len(X), -1)
    y = np.asarray(y)
    if y.dtype.kind == "f" and y.shape == (len(X),) and np.isfinite(y).all() and not np.all(y == np.round(y)):
        return Dataset(X, y, (), image_shape, name)
    codes, classes = check_labels(y, len(X), name=f"y of {name}", min_classes=1)
    return Dataset(X, codes, tuple(str(c) for c in classes), image_shape, name)


def _load_npz(path: Path) -> Dataset:
    try:
        with np.load(path, allow_pickle=False) as npz:
            keys = sorted(npz.files)
            if "X" not in keys or "y" not in keys:
                raise TrainfreeError(f"{path.name} must hold arrays named 'X' and 'y'; found keys {keys}. "
                                     f"Save it with np.savez(path, X=X, y=y).")
            X, y = npz["X"], npz["y"]
    except (OSError, ValueError) as exc:
        if isinstance(exc, TrainfreeError):
            raise
        raise TrainfreeError(f"Could not read {path} as .npz ({exc}). Save numeric or string arrays with "
                             f"np.savez(path, X=X, y=y); object arrays are refused (no pickle).") from None
    return _from_arrays(X, y, path.name)


def _load_table(path: Path, label_column: str) -> Dataset:
    import pandas as pd
    from pandas.api.types import is_numeric_dtype

    df = pd.read_csv(path) if path.suffix.lower() == ".csv" else pd.read_parquet(path)
    if label_column not in df.columns:
        raise TrainfreeError(f"{path.name} has no label column {label_column!r}; its columns are "
                             f"{list(df.columns)}. Pass label_column=<name of the label column>.")
    features = df.drop(columns=[label_column])
    if features.shape[1] == 0:
        raise TrainfreeError(f"{path.name} holds only the label column; add feature columns.")
    bad = [str(c) for c in features.columns if not is_numeric_dtype(features[c])]
    if bad:
        raise TrainfreeError(f"{path.name} has non-numeric feature column(s) {bad}. Encode them as numbers "
                             f"(e.g. pandas.get_dummies) or drop them.")
    return _from_arrays(features.to_numpy(dtype=np.float64), df[label_column].to_numpy(), path.name)


def _load_image_folder(folder: Path) -> Dataset:
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise TrainfreeError("Reading an image folder needs Pillow: pip install pillow.") from None
    class_dirs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise TrainfreeError(f"{folder} has no sub-folders: put the images of each class in its own sub-folder, "
                             f"e.g. {folder}/cat/1.png and {folder}/dog/2.png.")
    files, labels = [], []
    for code, d in enumerate(class_dirs):
        found = sorted(f for f in d.iterdir() if f.is_file() and f.suffix.lower() in _IMAGE_SUFFIXES)
        if not found:
            raise TrainfreeError(f"Class folder {d} holds no images ({', '.join(sorted(_IMAGE_SUFFIXES))}).")
        files += found
        labels += [code] * len(found)

    def open_image(f: Path) -> Image.Image:
        try:
            return Image.open(f)
        except (OSError, UnidentifiedImageError) as exc:
            raise TrainfreeError(f"Could not read image {f} ({exc}). Remove or replace it.") from None

    # First pass reads headers only: sizes and modes decide before any pixel is decoded.
    size, gray = None, True
    for f in files:
        with open_image(f) as img:
            if size is None:
                size = img.size
            elif img.size != size:
                raise TrainfreeError(f"Images must all have the same size: {f} is {img.size[0]}x{img.size[1]} but "
                                     f"{files[0]} is {size[0]}x{size[1]} (width x height). Resize them first, "
                                     f"e.g. with PIL.Image.resize.")
            gray &= img.mode in _GRAY_MODES
    mode = "L" if gray else "RGB"
    pixels = []
    for f in files:
        with open_image(f) as img:
            arr = np.asarray(img.convert(mode), dtype=np.float32) / np.float32(255)
        pixels.append(arr[None] if gray else arr.transpose(2, 0, 1))
    X = np.stack(pixels)
    return Dataset(X.reshape(len(X), -1), np.array(labels), tuple(d.name for d in class_dirs), X.shape[1:],
                   folder.name)


_LOADERS = {"fmnist": load_fashion_mnist, "digits": load_digits_dataset, "mnist1d": load_mnist1d}


def load(name_or_path: str | Path, *, n: int | None = None,
         random_state: int | np.random.Generator | None = None) -> Dataset:
    """Load a named data set (``"fmnist"``, ``"digits"``, ``"mnist1d"``) or a file/folder (see :func:`load_file`).

    ``n`` takes a class-stratified random subsample seeded by ``random_state``.

    Examples
    --------
    >>> X, y = load("digits", n=200, random_state=0)
    >>> X.shape
    (200, 64)
    """
    if isinstance(name_or_path, str) and name_or_path.lower() in _LOADERS:
        return _LOADERS[name_or_path.lower()](n=n, random_state=random_state)
    if Path(name_or_path).exists():
        return load_file(name_or_path).subsample(n, random_state=random_state)
    raise TrainfreeError(f"Unknown data set {str(name_or_path)!r}: choose one of {list(DATASETS)} or pass the path "
                         f"of an existing .npz, .csv or .parquet file or image folder.")


# ------------------------------------------------------------------------------------- label noise


def inject_label_noise(y: Any, rate: float, *, n_classes: int | None = None, mode: str = "symmetric",
                       transition: Any = None,
                       random_state: int | np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Flip exactly ``round(rate * n)`` labels (half rounds up), chosen uniformly at random.

    ``mode="symmetric"`` sends each flipped label to one of the other classes uniformly.
    ``mode="class_conditional"`` sends a flipped label of class ``c`` to ``j`` with probability
    ``transition[c, j]``; the matrix has a zero diagonal and rows summing to 1, and defaults to
    "pair" noise ``c -> (c + 1) % n_classes``. A flip never keeps the class, so
    ``flipped == (y_noisy != y)`` exactly.

    Parameters
    ----------
    y : array-like of int, shape (n,)
        Class codes in ``0..n_classes-1``.
    rate : float in [0, 1]
        Fraction of labels to flip.
    n_classes : int, optional
        Number of classes; default ``y.max() + 1``.
    mode : {"symmetric", "class_conditional"}
    transition : array-like of shape (n_classes, n_classes), optional
        Where flipped labels go (class-conditional mode only).
    random_state : int, Generator or None

    Returns
    -------
    y_noisy : ndarray of int64, shape (n,)
    flipped : ndarray of bool, shape (n,)

    Examples
    --------
    >>> y_noisy, flipped = inject_label_noise(np.array([0, 1, 2, 0]), 0.5, mode="class_conditional")
    >>> int(flipped.sum()), bool(np.all(y_noisy[flipped] == (np.array([0, 1, 2, 0])[flipped] + 1) % 3))
    (2, True)
    """
    y, C = _check_codes(y, n_classes)
    check_param("rate", rate, numbers.Real, low=0, high=1)
    check_param("mode", mode, str, choices=("symmetric", "class_conditional"))
    rng = as_seed(random_state)
    if mode == "symmetric" and transition is not None:
        raise TrainfreeError("transition is used only with mode='class_conditional'; drop it or change the mode.")
    n_flip = int(math.floor(rate * len(y) + 0.5))
    idx = rng.choice(len(y), n_flip, replace=False)
    y_noisy = y.copy()
    if mode == "symmetric":
        # A uniform non-zero offset modulo C is a uniform draw among the other classes.
        y_noisy[idx] = (y[idx] + rng.integers(1, C, size=n_flip)) % C
    else:
        T = np.roll(np.eye(C), 1, axis=1) if transition is None else _check_transition(transition, C)
        cdf = np.cumsum(T, axis=1)
        cdf[:, -1] = 1.0  # rounding must not leave a gap above the last class
        # Inverse CDF: the first class whose cumulative mass exceeds u; zero-mass classes are never hit.
        y_noisy[idx] = (cdf[y[idx]] <= rng.random(n_flip)[:, None]).sum(axis=1)
    flipped = np.zeros(len(y), dtype=bool)
    flipped[idx] = True
    return y_noisy, flipped


def _check_codes(y: Any, n_classes: int | None) -> tuple[np.ndarray, int]:
    y = np.asarray(y)
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise TrainfreeError(f"y must be a 1-D array of integer class codes 0..C-1, got dtype {y.dtype} and shape "
                             f"{y.shape}. Encode labels with np.unique(y, return_inverse=True)[1].")
    if len(y) and y.min() < 0:
        raise TrainfreeError("y holds negative class codes. Encode labels with np.unique(y, return_inverse=True)[1].")
    top = int(y.max()) + 1 if len(y) else 0
    if n_classes is None:
        n_classes = top
    check_param("n_classes", n_classes, numbers.Integral, low=2)
    if top > n_classes:
        raise TrainfreeError(f"y holds class code {top - 1} but n_classes={n_classes}. Pass n_classes >= {top}.")
    return y.astype(np.int64), int(n_classes)


def _check_transition(transition: Any, C: int) -> np.ndarray:
    T = check_array(transition, name="transition", ndim=2)
    if T.shape != (C, C):
        raise TrainfreeError(f"transition must have shape ({C}, {C}) for {C} classes, got {T.shape}.")
    if (T < 0).any() or not np.allclose(T.sum(axis=1), 1.0, atol=1e-8) or np.diag(T).any():
        raise TrainfreeError("transition rows must be probabilities over the other classes: non-negative, "
                             "summing to 1, with a zero diagonal (rate already sets how many labels flip). "
                             f"Row sums: {np.round(T.sum(axis=1), 6).tolist()}, diagonal: {np.diag(T).tolist()}.")
    return T


# ------------------------------------------------------------------------------------- contributors


@dataclass(frozen=True, eq=False, repr=False)
class Contributor:
    """One data contributor: its rows of the pooled data and how they were corrupted.

    ``y`` is the label the contributor reports (noisy where ``flipped``); ``indices`` index the
    pooled ``X, y`` it was split from. Unpacks as ``X, y``.
    """

    X: np.ndarray
    y: np.ndarray
    indices: np.ndarray
    name: str
    flipped: np.ndarray
    noise_rate: float = 0.0
    shift: str | None = None

    def __iter__(self) -> Iterator[np.ndarray]:
        yield self.X
        yield self.y

    def __len__(self) -> int:
        return len(self.y)

    def __repr__(self) -> str:
        return (f"Contributor(name={self.name!r}, n={len(self)}, noise_rate={self.noise_rate}, "
                f"n_flipped={int(self.flipped.sum())}, shift={self.shift!r})")


def split_contributors(X: Any, y: Any, n_contributors: int, *, how: str = "random",
                       noise_rates: Sequence[float] | None = None,
                       random_state: int | np.random.Generator | None = None) -> list[Contributor]:
    """Split a pooled data set among contributors (the DAVINZ set-ups).

    Parameters
    ----------
    X : array-like of shape (n, ...)
    y : array-like of shape (n,)
    n_contributors : int
    how : {"random", "class", "sizes", "noisy"}
        ``"random"``: a random split into near-equal parts. ``"class"``: whole classes, class ``c``
        (in sorted order) going to contributor ``c % n_contributors``. ``"sizes"``: random sizes with
        Dirichlet(1) proportions and at least 2 examples each. ``"noisy"``: ``"random"`` with label
        noise, by default rate 0.4 for the first ``round(0.3 * n_contributors)`` contributors.
    noise_rates : sequence of float, optional
        Symmetric label-noise rate per contributor (see :func:`inject_label_noise`); works with any
        ``how``. Labels must then be integer codes and may flip to any class of the pooled ``y``.
    random_state : int, Generator or None

    Returns
    -------
    list of Contributor
        Named ``"c0", "c1", ...``; their ``indices`` partition ``range(n)``.

    Examples
    --------
    >>> X, y = np.zeros((20, 2)), np.arange(20) % 4
    >>> [sorted(set(c.y.tolist())) for c in split_contributors(X, y, 2, how="class")]
    [[0, 2], [1, 3]]
    """
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim == 0 or y.shape != (len(X),):
        raise TrainfreeError(f"X and y must have one row per example: got shapes {X.shape} and {y.shape}.")
    check_param("n_contributors", n_contributors, numbers.Integral, low=1)
    check_param("how", how, str, choices=("random", "class", "sizes", "noisy"))
    rng = as_seed(random_state)
    K, n = int(n_contributors), len(y)
    if how == "noisy" and noise_rates is None:
        noise_rates = [0.4 if k < int(0.3 * K + 0.5) else 0.0 for k in range(K)]
    rates = np.zeros(K) if noise_rates is None else np.asarray(noise_rates, dtype=float)
    if rates.shape != (K,):
        raise TrainfreeError(f"noise_rates must give one rate per contributor ({K}), got {len(np.atleast_1d(rates))}.")
    for r in rates:
        check_param("noise_rates", float(r), numbers.Real, low=0, high=1)
    C = _check_codes(y, None)[1] if rates.any() else 0

    if how == "class":
        if y.dtype.kind == "f" and not np.all(y == np.round(y)):
            raise TrainfreeError("how='class' needs class labels, but y holds non-integer floats (regression). "
                                 "Use how='random' or 'sizes'.")
        classes = np.unique(y)
        if len(classes) < K:
            raise TrainfreeError(f"how='class' gives each contributor whole classes, so it needs at least "
                                 f"{K} classes; y has {len(classes)}. Use fewer contributors or how='random'.")
        parts = [np.flatnonzero(np.isin(y, classes[k::K])) for k in range(K)]
    else:
        low = 2 if how == "sizes" else 1
        if n < low * K:
            raise TrainfreeError(f"Splitting {n} examples among {K} contributors with how={how!r} needs at least "
                                 f"{low * K} examples. Use fewer contributors.")
        sizes = (low + rng.multinomial(n - low * K, rng.dirichlet(np.ones(K)))) if how == "sizes" else \
            np.diff(np.linspace(0, n, K + 1).round().astype(int))
        parts = [np.sort(p) for p in np.split(rng.permutation(n), np.cumsum(sizes)[:-1])]

    contributors = []
    for k, idx in enumerate(parts):
        y_k, flipped = y[idx], np.zeros(len(idx), dtype=bool)
        if rates[k] > 0:
            y_k, flipped = inject_label_noise(y_k, float(rates[k]), n_classes=C, random_state=rng)
        contributors.append(Contributor(X[idx], y_k, idx, f"c{k}", flipped, float(rates[k])))
    return contributors


def domain_shift(X: Any, y: Any, n_contributors: int, *, n_shifted: int | None = None, kind: str = "noise",
                 scale: float = 1.0, how: str = "random", image_shape: tuple[int, ...] | None = None,
                 random_state: int | np.random.Generator | None = None) -> list[Contributor]:
    """Split among contributors (see :func:`split_contributors`), then shift the features of the first few.

    Keep unshifted data (e.g. the test split) as the validation set, so shifted contributors follow
    a distribution that differs from it while their labels stay correct.

    Parameters
    ----------
    n_shifted : int, optional
        How many contributors (the first ones) are shifted; default ``round(0.3 * n_contributors)``.
    kind : {"noise", "invert", "rotate"}
        ``"noise"`` adds Gaussian noise of standard deviation ``scale`` times the overall std of ``X``;
        ``"invert"`` maps ``x -> min(X) + max(X) - x`` (``1 - x`` for images in [0, 1]);
        ``"rotate"`` turns square images by 90 degrees (needs ``image_shape`` or ``X`` of shape (n, ..., H, H)).
    scale : float
        Noise level of ``kind="noise"``.
    how : str
        Split of :func:`split_contributors`.
    image_shape : tuple of int, optional
        Shape of one example when ``X`` is flat, e.g. ``Dataset.image_shape``.
    random_state : int, Generator or None

    Examples
    --------
    >>> X, y = np.random.default_rng(0).random((30, 4)), np.arange(30) % 3
    >>> [c.shift for c in domain_shift(X, y, 3, n_shifted=1, kind="invert", random_state=0)]
    ['invert', None, None]
    """
    X = np.asarray(X)
    X = X if X.dtype.kind == "f" else X.astype(np.float32)
    check_param("kind", kind, str, choices=("noise", "invert", "rotate"))
    check_param("scale", scale, numbers.Real, low=0)
    check_param("n_contributors", n_contributors, numbers.Integral, low=1)
    n_shifted = int(0.3 * n_contributors + 0.5) if n_shifted is None else n_shifted
    check_param("n_shifted", n_shifted, numbers.Integral, low=0, high=n_contributors)
    shape = X.shape[1:] if image_shape is None else tuple(image_shape)
    if kind == "rotate" and (len(shape) < 2 or shape[-1] != shape[-2] or math.prod(shape) != math.prod(X.shape[1:])):
        raise TrainfreeError(f"kind='rotate' needs square images; one example has shape {shape}. Pass "
                             f"image_shape=(C, H, H) for flat X (e.g. Dataset.image_shape).")
    rng = as_seed(random_state)
    contributors = split_contributors(X, y, n_contributors, how=how, random_state=rng)
    lo, hi, std = X.min(), X.max(), X.std()  # pooled statistics: every shifted contributor moves alike
    shifted = []
    for k, c in enumerate(contributors):
        if k < n_shifted:
            if kind == "noise":
                Xs = c.X + (scale * std * rng.standard_normal(c.X.shape)).astype(X.dtype)
            elif kind == "invert":
                Xs = lo + hi - c.X
            else:
                Xs = np.rot90(c.X.reshape(len(c), *shape), axes=(-2, -1)).reshape(c.X.shape)
            c = Contributor(np.ascontiguousarray(Xs), c.y, c.indices, c.name, c.flipped, c.noise_rate, kind)
        shifted.append(c)
    return shifted


# ------------------------------------------------------------------------------------------- Ising


def ising_energy(spins: Any) -> np.ndarray:
    """Energy per spin of 2-D Ising configurations: ``-sum over bonds s_i s_j / L**2`` (J = 1, no field).

    Each nearest-neighbour bond of the periodic ``L x L`` lattice is counted once.

    Parameters
    ----------
    spins : array-like of shape (n, L, L) or (L, L)
        Values ±1.

    Returns
    -------
    ndarray of shape (n,) (or a 0-D array for one lattice)

    Examples
    --------
    >>> float(ising_energy(np.ones((4, 4))))
    -2.0
    """
    s = np.asarray(spins, dtype=np.float64)
    if s.ndim not in (2, 3) or s.shape[-1] != s.shape[-2]:
        raise TrainfreeError(f"spins must have shape (n, L, L) or (L, L), got {s.shape}.")
    bonds = s * (np.roll(s, -1, axis=-1) + np.roll(s, -1, axis=-2))
    return -bonds.sum(axis=(-2, -1)) / (s.shape[-1] ** 2)


def make_ising(n_samples: int, *, size: int = 8, temperatures: tuple[float, float] = (1.5, 3.5),
               sweeps: int = 300, random_state: int | np.random.Generator | None = None) -> Dataset:
    """2-D Ising configurations by Metropolis Monte Carlo, with the energy per spin as regression target.

    Each sample is an independent chain on a periodic ``size x size`` lattice (J = 1, no field) at a
    temperature drawn uniformly from ``temperatures``. Chains start fully ordered with a random sign
    (which avoids metastable stripes below T_c ~ 2.269) and run ``sweeps`` checkerboard sweeps,
    all chains at once in NumPy.

    Parameters
    ----------
    n_samples : int
    size : int
        Even lattice side, at least 4 (the checkerboard update needs an even periodic lattice).
    temperatures : (float, float)
        Range of temperatures, ``0 < low <= high``.
    sweeps : int
        Metropolis sweeps per chain.
    random_state : int, Generator or None

    Returns
    -------
    Dataset
        ``X`` the spins ±1 of shape (n_samples, size**2), ``image_shape=(1, size, size)``, ``y`` the
        float energy per spin, ``extras`` with ``"temperature"`` and ``"magnetisation"`` per spin.

    Examples
    --------
    >>> ds = make_ising(10, size=4, sweeps=20, random_state=0)
    >>> ds.X.shape, ds.task
    ((10, 16), 'regression')
    """
    check_param("n_samples", n_samples, numbers.Integral, low=1)
    check_param("size", size, numbers.Integral, low=4)
    if size % 2:
        raise TrainfreeError(f"size must be even for checkerboard updates on a periodic lattice; got {size}.")
    check_param("sweeps", sweeps, numbers.Integral, low=1)
    if (len(temperatures) != 2 or not all(isinstance(t, numbers.Real) for t in temperatures)
            or not 0 < temperatures[0] <= temperatures[1]):
        raise TrainfreeError(f"temperatures must be a (low, high) pair with 0 < low <= high; got {temperatures!r}.")
    rng = as_seed(random_state)
    T = rng.uniform(temperatures[0], temperatures[1], n_samples)
    beta = (1.0 / T)[:, None, None]
    s = np.where(rng.random(n_samples) < 0.5, -1, 1).astype(np.int8)[:, None, None] * np.ones((size, size), np.int8)
    black = (np.add.outer(np.arange(size), np.arange(size)) % 2 == 0)
    for _ in range(sweeps):
        for sites in (black, ~black):  # same-colour sites share no bond, so they update together exactly
            field_ = (np.roll(s, 1, 1) + np.roll(s, -1, 1) + np.roll(s, 1, 2) + np.roll(s, -1, 2))
            accept = rng.random(s.shape) < np.exp(-2.0 * beta * s * field_)
            s = np.where(sites & accept, -s, s)
    return Dataset(s.reshape(n_samples, -1), ising_energy(s), (), (1, size, size), "ising",
                   {"temperature": T, "magnetisation": s.mean(axis=(1, 2))})
