"""Image folders: one sub-folder of images per class; rows are identified by their relative paths."""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import TrainfreeError
from .dataset import Dataset

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
_GRAY_MODES = {"1", "L", "LA", "I", "I;16", "F"}


def load_image_folder(folder: Path) -> Dataset:
    """Read ``folder`` into a Dataset; see :func:`trainfree.data.load_file`."""
    try:
        from PIL import Image
    except ImportError:
        raise TrainfreeError("Reading an image folder needs Pillow: pip install pillow.") from None
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
    size, gray = None, True
    for f in files:
        with _open(Image, f) as img:
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
        with _open(Image, f) as img:
            arr = np.asarray(_decode(Image, img, f, mode), dtype=np.float32) / np.float32(255)
        pixels.append(arr[None] if gray else arr.transpose(2, 0, 1))
    X = np.stack(pixels)
    ids = np.array([f.relative_to(folder).as_posix() for f in files], dtype=object)
    return Dataset(X.reshape(len(X), -1), np.array(labels), tuple(d.name for d in class_dirs), X.shape[1:],
                   folder.name, ids=ids)


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
