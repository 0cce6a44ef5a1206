"""Image folders: one sub-folder of images per class; rows are identified by their relative paths."""

from __future__ import annotations

import numbers
import re
import warnings
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import TrainfreeError
from .dataset import Dataset

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
_GRAY_MODES = {"1", "L", "LA", "I", "I;16", "F"}


def load_image_folder(folder: Path, *, image_size: tuple[int, int] | None = None) -> Dataset:
    """Read ``folder`` into a Dataset; see :func:`trainfree.data.load_file`.

    Every image becomes ``image_size`` (height, width), or, when None, the folder's most common size
    (the larger one among equally common sizes); images of another size are resized with Pillow's
    Lanczos filter and one warning says how many. Images keep their pixels exactly when no resize is
    needed. All are read as grayscale ("L") when all are grayscale, else as RGB.
    """
    try:
        from PIL import Image
    except ImportError:
        raise TrainfreeError("Reading an image folder needs Pillow: pip install pillow.") from None
    target = None if image_size is None else check_image_size(image_size)
    root = folder.resolve()
    # Hidden entries (.git, .DS_Store, macOS "._x.png" forks) are never data.
    class_dirs = sorted(p for p in folder.iterdir() if not p.name.startswith(".") and p.is_dir()
                        and _inside(p, root, folder))
    if not class_dirs:
        raise TrainfreeError(f"{folder} has no sub-folders: put the images of each class in its own sub-folder, "
                             f"e.g. {folder}/cat/1.png and {folder}/dog/2.png.")
    files, labels = [], []
    for code, d in enumerate(class_dirs):
        found = sorted(f for f in d.iterdir() if not f.name.startswith(".") and f.suffix.lower() in IMAGE_SUFFIXES
                       and _inside(f, root, folder).is_file())  # a broken link is refused, not skipped
        if not found:
            raise TrainfreeError(f"Class folder {d} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))}).")
        files += found
        labels += [code] * len(found)

    # First pass reads headers only: sizes and modes decide before any pixel is decoded.
    sizes, gray = [], True
    for f in files:
        with _open(Image, f) as img:
            sizes.append((img.size[1], img.size[0]))  # (height, width); Pillow says (width, height)
            gray &= img.mode in _GRAY_MODES
    target = common_size(sizes, target)
    mode = "L" if gray else "RGB"
    pixels = []
    for f, size in zip(files, sizes):
        with _open(Image, f) as img:
            img = _decode(Image, img, f, mode)
            if size != target:
                img = img.resize((target[1], target[0]), Image.Resampling.LANCZOS)
            arr = np.asarray(img, dtype=np.float32) / np.float32(255)
        pixels.append(arr[None] if gray else arr.transpose(2, 0, 1))
    X = np.stack(pixels)
    ids = np.array([f.relative_to(folder).as_posix() for f in files], dtype=object)
    extras = _say_resized(folder.name, sizes, target, mode, asked=image_size is not None)
    return Dataset(X.reshape(len(X), -1), np.array(labels), tuple(d.name for d in class_dirs), X.shape[1:],
                   folder.name, extras, ids=ids)


def images_to_array(images: Sequence[Any], *, image_size: tuple[int, int] | None = None,
                    name: str = "the images") -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Pillow images → float32 array (n, channels, height, width) in [0, 1], by the image folder's rules.

    One size (``image_size``, else the most common) and one mode (L when all are grayscale, else
    RGB), with the same warning; returns the array and the extras (``original_size`` if any image
    was resized).

    Examples
    --------
    >>> from PIL import Image
    >>> X, extras = images_to_array([Image.new("L", (4, 3)), Image.new("L", (4, 3))])
    >>> X.shape, extras
    ((2, 1, 3, 4), {})
    """
    from PIL import Image

    target = None if image_size is None else check_image_size(image_size)
    sizes = [(img.size[1], img.size[0]) for img in images]
    target = common_size(sizes, target)
    gray = all(img.mode in _GRAY_MODES for img in images)
    mode = "L" if gray else "RGB"
    pixels = []
    for img, size in zip(images, sizes):
        img = img.convert(mode)
        if size != target:
            img = img.resize((target[1], target[0]), Image.Resampling.LANCZOS)
        arr = np.asarray(img, dtype=np.float32) / np.float32(255)
        pixels.append(arr[None] if gray else arr.transpose(2, 0, 1))
    return np.stack(pixels), _say_resized(name, sizes, target, mode, asked=image_size is not None)


def common_size(sizes: Sequence[tuple[int, int]], image_size: tuple[int, int] | None) -> tuple[int, int]:
    """``image_size``, or else the most common (height, width) of ``sizes`` (the larger among equally common)."""
    if image_size is not None:
        return image_size
    counts = Counter(sizes)
    return max(counts, key=lambda hw: (counts[hw], hw[0] * hw[1], hw))


def _say_resized(name: str, sizes: Sequence[tuple[int, int]], target: tuple[int, int], mode: str, *,
                 asked: bool) -> dict[str, np.ndarray]:
    """One warning when images were resized; their original sizes as ``extras["original_size"]``."""
    resized = sum(size != target for size in sizes)
    if not resized:
        return {}
    why = ("as asked" if asked else
           "the most common size; pass --image-size H W, in Python image_size=(H, W), to choose")
    warnings.warn(f"{name}: resized {resized} of {len(sizes)} images to {target[0]}x{target[1]} "
                  f"(height x width, {why}), mode {mode}.", stacklevel=4)
    return {"original_size": np.array([f"{h}x{w}" for h, w in sizes])}


MAX_SIDE = 4096  # pixels: one 4096 x 4096 RGB image is already 200 MB of float32 features


def check_image_size(image_size: Any) -> tuple[int, int]:
    """``image_size`` as (height, width): two whole numbers from 1 to :data:`MAX_SIDE`.

    Examples
    --------
    >>> check_image_size([32, 48])
    (32, 48)
    """
    try:
        h, w = image_size
        ok = all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and 1 <= v <= MAX_SIDE for v in (h, w))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise TrainfreeError(f"The 'image_size' parameter must be two whole numbers (height, width), each from 1 to "
                             f"{MAX_SIDE}; got {image_size!r}. Pass e.g. 28 and 28, or leave it out for the folder's "
                             f"most common size.")
    return int(h), int(w)


def _inside(path: Path, root: Path, folder: Path) -> Path:
    """``path`` resolved; a link leading out of the data folder is refused, so a folder never exposes other files."""
    try:
        target = path.resolve(strict=True)
    except (OSError, RuntimeError) as exc:  # broken link, or a loop (RuntimeError before Python 3.13)
        if path.is_symlink():
            raise TrainfreeError(f"{path} is a broken or looping link; remove it or point it at a file inside "
                                 f"{folder}.") from None
        raise TrainfreeError(f"Could not access {path} ({_short(exc)}); check that it is readable.") from None
    if not target.is_relative_to(root):
        raise TrainfreeError(f"{path} is a link to {target}, outside the data folder {folder}, and links out of "
                             f"the data folder are not followed; copy those files into {folder} instead.")
    return target


def _open(Image: Any, f: Path) -> Any:
    """Open one image (header only), turning Pillow's errors and its decompression-bomb guard into clear ones."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", Image.DecompressionBombWarning)
        try:
            img = Image.open(f)
        except Image.DecompressionBombError as exc:
            raise _too_big(Image, f, exc) from None
        except MemoryError:
            raise
        except Exception as exc:  # UnidentifiedImageError, OSError, SyntaxError from damaged headers...
            raise TrainfreeError(f"Could not read image {f} ({_short(exc)}). Remove or replace it.") from None
    for w in caught:  # recording swallowed every warning: hand back the ones that are not ours
        if not issubclass(w.category, Image.DecompressionBombWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    # Above MAX_IMAGE_PIXELS Pillow only warns (it raises above twice that); both mean the same here.
    if any(issubclass(w.category, Image.DecompressionBombWarning) for w in caught):
        width, height = img.size
        img.close()
        raise _too_big(Image, f, None, f"is {width}x{height} pixels ({width * height:,} in all)")
    return img


def _decode(Image: Any, img: Any, f: Path, mode: str) -> Any:
    try:
        return img.convert(mode)
    except Image.DecompressionBombError as exc:
        raise _too_big(Image, f, exc) from None
    except MemoryError:
        raise
    except Exception as exc:  # truncated or corrupt pixel data shows up only when decoding
        raise TrainfreeError(f"Could not decode image {f} ({_short(exc)}). Remove or replace it.") from None


def _too_big(Image: Any, f: Path, exc: Exception | None, size: str = "") -> TrainfreeError:
    if not size:  # Pillow raised before returning the image: its size is only in the message
        found = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"has {int(found.group(1)):,} pixels" if found else "has too many pixels"
    return TrainfreeError(f"Image {f} {size}, more than Pillow's decompression-bomb limit of "
                          f"{Image.MAX_IMAGE_PIXELS:,} pixels; resize it (e.g. with PIL.Image.resize) or, if you "
                          f"trust the file, raise PIL.Image.MAX_IMAGE_PIXELS.")


def _short(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__
