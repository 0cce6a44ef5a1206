"""User data: .npz, .csv, .parquet files and image folders (one sub-folder per class)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .._errors import TrainfreeError
from ._arrays import HOW_TO_SAVE, from_arrays, unreadable
from .dataset import Dataset
from .images import IMAGE_SUFFIXES, load_image_folder
from .tables import load_table


def load_file(path: str | Path, *, label_column: str = "label", group_column: str | None = None,
              id_column: str | None = None, ignore_columns: Sequence[str] | str = (),
              standardize: bool = True, image_size: tuple[int, int] | None = None) -> Dataset:
    """Load a data set from a file or an image folder.

    * ``.npz``: arrays ``X`` (n, ...) and ``y`` (n,), and optionally ``ids`` (n,): unique integers
      or strings naming each row (default: the row number); ``X`` with more than two dimensions is
      flattened and its trailing shape kept as ``image_shape``. Nothing is ever unpickled: object
      arrays are refused.
    * ``.csv`` / ``.parquet``: one row per example; ``label_column`` holds the labels. Columns
      named in ``ignore_columns`` are dropped first. A row's id is the value of its ``id_column``
      (unique, kept out of the features), else its row number (0-based, header not counted); a
      Parquet file keeps the pandas index it was written with. An unnamed first column, as
      ``DataFrame.to_csv()`` writes by default, is taken as that index, with a warning. A
      ``group_column`` (any type) is left out of the features and kept as strings in ``extras``.
      Categorical columns (text or category dtypes) are one-hot encoded, with a warning naming
      them; a missing value is a level of its own, and a column with more than 100 levels, or
      more than one level per two rows (10 levels are always accepted), is refused as an id or
      free text. Booleans are 0/1. With ``standardize`` (the default) every feature column is
      then scaled to mean 0 and population standard deviation 1 (a constant column becomes 0),
      so that no column dominates a kernel by its units; the means and scales are recorded in
      ``Dataset.preprocessing``. The same as :func:`~trainfree.data.from_frame` on the table.
    * a folder with one sub-folder of images per class (class names are the sorted folder names;
      hidden files and folders are skipped). A row's id is the image's path relative to the folder.
      Images are read as grayscale when all are grayscale, else all as RGB (channels first), and
      8-bit values are scaled to [0, 1]. Images of different sizes are resized (Lanczos) to
      ``image_size`` (height, width) or, by default, to the folder's most common size, with a
      warning that says how many; the original sizes are kept in ``extras["original_size"]``.
      Links that lead out of the folder are refused.
    * a folder written by Hugging Face's ``Dataset.save_to_disk`` (it holds ``state.json``): see
      :func:`~trainfree.data.from_huggingface`; ``label_column`` names its label column.

    Values of ``.npz`` files (and of tables with ``standardize=False``) are kept as stored, in
    float64 where float32 cannot hold them; ``id_column``, ``ignore_columns`` and ``standardize``
    are for tables only. Labels are encoded as codes of the sorted
    unique labels; float labels that are not all whole numbers are regression targets. Missing
    labels, NaN or infinite features, empty and damaged files raise a :class:`TrainfreeError`
    that names the file, the first offending row and the fix.

    Examples
    --------
    >>> np.savez("toy.npz", X=np.eye(2), y=np.array(["cat", "dog"]))  # doctest: +SKIP
    >>> load_file("toy.npz").classes  # doctest: +SKIP
    ('cat', 'dog')
    """
    path = Path(path).expanduser()
    table_only = {"group_column": group_column, "id_column": id_column, "ignore_columns": ignore_columns or None}
    if not path.exists():
        raise TrainfreeError(f"No such file or folder: {path}. Pass an existing .npz, .csv or .parquet file "
                             f"or a folder with one sub-folder of images per class.")
    if path.is_dir():
        _refuse_table_options(path, table_only, "image folder")
        try:
            if (path / "state.json").is_file() or (path / "dataset_dict.json").is_file():
                from .huggingface import from_huggingface  # a folder written by datasets' save_to_disk

                return from_huggingface(path, label_column=label_column, image_size=image_size)
            _refuse_label_column(path, label_column, "image folder", "its sub-folder names")
            return load_image_folder(path, image_size=image_size)
        except PermissionError as exc:
            raise TrainfreeError(f"Permission denied reading {exc.filename or path}; make it readable (e.g. "
                                 f"chmod -R u+rX) or copy the images.") from None
    if image_size is not None:
        raise TrainfreeError(f"The 'image_size' parameter resizes the images of an image folder; {path.name} is a "
                             f"file. Leave it out, or pass a folder with one sub-folder of images per class.")
    suffix = path.suffix.lower()
    if suffix not in HOW_TO_SAVE:
        hint = " (a single image: put it in a class sub-folder of an image folder)" if suffix in IMAGE_SUFFIXES else ""
        if suffix == ".npy":  # e.g. embeddings: one array, without the labels
            hint = "; a .npy file holds one array, without labels: save both with numpy.savez(path, X=X, y=y)"
        raise TrainfreeError(f"Cannot load {path.name!r}: supported are .npz, .csv, .parquet files and image "
                             f"folders{hint}.")
    if path.stat().st_size == 0:
        raise TrainfreeError(f"{path} is empty (0 bytes); write the data again, e.g. with {HOW_TO_SAVE[suffix]}.")
    if suffix == ".npz":
        _refuse_table_options(path, table_only, ".npz file")
        _refuse_label_column(path, label_column, ".npz file", "its array y")
        return _load_npz(path)
    return load_table(path, label_column, group_column=group_column, id_column=id_column,
                      ignore_columns=ignore_columns, standardize=standardize)


def _refuse_table_options(path: Path, options: dict, kind: str) -> None:
    """A table's options (a group, id or ignored column) given for data that has no columns."""
    given = [k for k, v in options.items() if v is not None]
    if given:
        raise TrainfreeError(f"{path.name} is an {kind}, which has no columns: the {given[0]!r} parameter is for "
                             f".csv and .parquet tables; drop it (or give each group its own file or folder).")


def _refuse_label_column(path: Path, label_column: str, kind: str, labels: str) -> None:
    """A label column named for data whose labels have a fixed place (an .npz file's y, a folder's sub-folders)."""
    if label_column != "label":
        raise TrainfreeError(f"{path.name} is an {kind}, whose labels are {labels}: the 'label_column' parameter "
                             f"(here {label_column!r}) is for .csv and .parquet tables and save_to_disk folders; "
                             f"drop it.")


def _load_npz(path: Path) -> Dataset:
    try:
        npz = np.load(path, allow_pickle=False)
    except ValueError:
        # Neither a zip archive nor a .npy array: NumPy would fall back to pickle, which is refused.
        raise unreadable(path, "not a zip archive of arrays") from None
    except MemoryError:
        raise
    except Exception as exc:  # zipfile, zlib, struct, EOF...: whatever the damage, the file is at fault
        raise unreadable(path, exc) from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise TrainfreeError(f"{path} holds a single array ({npz.shape}), not named arrays X and y; save them "
                             f"together with np.savez(path, X=X, y=y).")
    with npz:
        keys = sorted(npz.files)
        if "X" not in keys or "y" not in keys:
            raise TrainfreeError(f"{path.name} must hold arrays named 'X' and 'y'; found keys {keys}. "
                                 f"Save it with np.savez(path, X=X, y=y).")
        arrays = {key: _member(npz, key, path) for key in ("X", "y", "ids") if key in keys}
    ids = _npz_ids(arrays.get("ids"), len(arrays["X"]) if arrays["X"].ndim else 0, path)
    return from_arrays(arrays["X"], arrays["y"], path.name, ids=ids)


def _member(npz: np.lib.npyio.NpzFile, key: str, path: Path) -> np.ndarray:
    """One array of the archive; members are read lazily, so damage can surface only here."""
    try:
        return npz[key]
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise TrainfreeError(f"Array {key!r} of {path} is an object array, which trainfree refuses to "
                                 f"unpickle; save numbers or strings instead (e.g. {key}.astype(str)).") from None
        raise unreadable(path, exc) from None
    except MemoryError:
        raise
    except Exception as exc:
        raise unreadable(path, exc) from None


def _npz_ids(ids: np.ndarray | None, n: int, path: Path) -> np.ndarray | None:
    if ids is None:
        return None
    if ids.shape != (n,) or ids.dtype.kind not in "iuU":
        raise TrainfreeError(f"Array 'ids' of {path} must hold one integer or string per row of X ({n},), got "
                             f"{ids.dtype} of shape {ids.shape}; fix it or save the file without ids.")
    if len(np.unique(ids)) != n:
        raise TrainfreeError(f"Array 'ids' of {path} repeats values, so it cannot identify rows; make them "
                             f"unique or save the file without ids.")
    return ids
