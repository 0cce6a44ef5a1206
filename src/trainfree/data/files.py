"""User data: .npz, .csv, .parquet files and image folders (one sub-folder per class)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .._errors import TrainfreeError
from .._validation import check_array, check_labels
from .dataset import Dataset

_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
_GRAY_MODES = {"1", "L", "LA", "I", "I;16", "F"}

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


def _from_arrays(X: Any, y: Any, name: str, *, image_shape: tuple[int, ...] | None = None,
                 ids: Any = None) -> Dataset:
    X = check_array(X, name=f"X of {name}", dtype=np.float32)
    if X.ndim < 2:
        raise TrainfreeError(f"X of {name} must have one row per example (2-D or more), got shape {X.shape}.")
    if X.ndim > 2 and image_shape is None:
        image_shape = X.shape[1:]
    X = X.reshape(len(X), -1)
    y = np.asarray(y)
    if y.dtype.kind == "f" and y.shape == (len(X),) and np.isfinite(y).all() and not np.all(y == np.round(y)):
        return Dataset(X, y, (), image_shape, name, ids=ids)
    codes, classes = check_labels(y, len(X), name=f"y of {name}", min_classes=1)
    return Dataset(X, codes, tuple(str(c) for c in classes), image_shape, name, ids=ids)


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
    return _from_arrays(features.to_numpy(dtype=np.float64), df[label_column].to_numpy(), path.name,
                        ids=df.index.to_numpy())


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
    ids = np.array([f.relative_to(folder).as_posix() for f in files], dtype=object)
    return Dataset(X.reshape(len(X), -1), np.array(labels), tuple(d.name for d in class_dirs), X.shape[1:],
                   folder.name, ids=ids)
