"""Named data sets read or generated locally (nothing here ever downloads), and :func:`load`."""

from __future__ import annotations

import gzip
import math
import os
import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .._errors import TrainfreeError
from .._random import SeedLike, check_random_state, child, int_seed
from .._random import rng as make_rng
from .._validation import check_param
from .dataset import Dataset, check_n, stratified_indices
from .files import load_file

FMNIST_ENV = "TRAINFREE_FMNIST_DIR"
FMNIST_DEFAULT_DIR = Path("/usr/share/datasets/fashion-mnist")
FMNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                  "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
DATASETS = ("fmnist", "digits", "mnist1d")

_IDX_DTYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

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
                       random_state: SeedLike = None,
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
    random_state : None, int, Generator or SeedSequence
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
        check_n(n, len(labels))
        idx = stratified_indices(labels, n, make_rng(check_random_state(random_state)))
    # Subsample before converting, so a small n never materialises 60,000 float images.
    X = images[idx].reshape(len(idx), -1).astype(np.float32) / np.float32(255)
    return Dataset(X, labels[idx], FMNIST_CLASSES, (1, *images.shape[1:]), f"fmnist-{split}", ids=idx)


def _find_idx(folder: Path, source: str, stem: str) -> Path:
    for path in (folder / f"{stem}.gz", folder / stem):
        if path.is_file():
            return path
    raise TrainfreeError(
        f"Fashion-MNIST file {stem}.gz not found in {folder} (from {source}). Install the data with "
        f"`apt-get install -y dataset-fashion-mnist` (it puts the files in {FMNIST_DEFAULT_DIR}), or set "
        f"{FMNIST_ENV} (or root=) to a folder holding the four IDX .gz files. trainfree never downloads data.")


def load_digits_dataset(*, n: int | None = None, random_state: SeedLike = None) -> Dataset:
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


def load_mnist1d(*, n: int | None = None, random_state: SeedLike = None) -> Dataset:
    """MNIST-1D signals (length 40, ten classes) generated locally with the ``mnist1d`` package.

    Calls the package's generator directly, never its downloading/caching ``get_dataset``, so
    nothing touches the network or writes a file. The generator reseeds NumPy's and Python's global
    random state; both are restored afterwards.

    Parameters
    ----------
    n : int, optional
        Number of signals; default 5000. The generator makes ``10 * ceil(n / 10)`` class-balanced
        signals, then a stratified subsample keeps ``n``.
    random_state : None, int, Generator or SeedSequence
        Generator seed. 42 is the published seed: ``load_mnist1d(random_state=42)`` returns the
        standard 5000 signals in order, the first 4000 being the standard training set.

    Examples
    --------
    >>> ds = load_mnist1d(n=50, random_state=0)
    >>> ds.X.shape, ds.image_shape
    ((50, 40), (1, 40))
    """
    n_total = 5000 if n is None else n
    check_n(n_total, n_total)
    seed = int_seed(check_random_state(random_state), bits=32)
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



_LOADERS = {"fmnist": load_fashion_mnist, "digits": load_digits_dataset, "mnist1d": load_mnist1d}


def load(name_or_path: str | Path, *, n: int | None = None, label_column: str = "label",
         id_column: str | None = None, ignore_columns: Sequence[str] | str = (), standardize: bool = True,
         random_state: SeedLike = None, image_size: tuple[int, int] | None = None) -> Dataset:
    """Load a named data set (``"fmnist"``, ``"digits"``, ``"mnist1d"``) or a file/folder (see :func:`load_file`).

    ``n`` takes a class-stratified random subsample seeded by ``random_state``; rows keep their
    identity in ``Dataset.ids``. ``label_column``, ``id_column``, ``ignore_columns`` and
    ``standardize`` are a table's (see :func:`load_file`); a table is standardised before the
    subsample is drawn. ``image_size`` (height, width) resizes the images of an image folder (see
    :func:`load_file`). A PyTorch ``Dataset``/``DataLoader`` or a Hugging Face ``datasets.Dataset``
    object is read by :func:`~trainfree.data.from_torch` or :func:`~trainfree.data.from_huggingface`,
    with ``label_column`` as its label key.

    Examples
    --------
    >>> X, y = load("digits", n=200, random_state=0)
    >>> X.shape
    (200, 64)
    """
    # The subsample draws from its own child, so a workflow can hand the same root seed to later steps.
    random_state = child(check_random_state(random_state), "subsample")
    if not isinstance(name_or_path, (str, Path)):  # a PyTorch or Hugging Face data set object
        from .huggingface import from_huggingface
        from .torch_inputs import from_torch

        if hasattr(name_or_path, "column_names"):
            data = from_huggingface(name_or_path, label_column=label_column, image_size=image_size)
        else:
            data = from_torch(name_or_path, label=label_column)
        return data.subsample(n, random_state=random_state)
    if isinstance(name_or_path, str) and name_or_path.lower() in _LOADERS:
        if image_size is not None:
            raise TrainfreeError(f"The 'image_size' parameter resizes the images of an image folder; "
                                 f"{name_or_path!r} is a built-in data set of fixed size. Leave it out.")
        if id_column is not None or ignore_columns or label_column != "label":
            given = "id_column" if id_column is not None else "ignore_columns" if ignore_columns else "label_column"
            raise TrainfreeError(f"{name_or_path} is a built-in data set without columns: the {given!r} parameter is "
                                 f"for .csv and .parquet tables; drop it.")
        return _LOADERS[name_or_path.lower()](n=n, random_state=random_state)
    path = Path(name_or_path)
    looks_like_path = path.suffix or "/" in str(name_or_path) or "\\" in str(name_or_path)
    if path.exists() or looks_like_path:
        return load_file(path, label_column=label_column, id_column=id_column, ignore_columns=ignore_columns,
                         standardize=standardize, image_size=image_size).subsample(n, random_state=random_state)
    raise TrainfreeError(f"Unknown data set {str(name_or_path)!r}: choose one of {list(DATASETS)} or pass the path "
                         f"of an existing .npz, .csv or .parquet file or image folder.")
