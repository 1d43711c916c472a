"""Reading a dataset folder's files: images, label masks (and their encodings), the image
files of a folder, magnifications. See :mod:`.dataset` for the contract."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp")
MASK_ENCODINGS = {"binary_255": "0/255 binary masks (255 = foreground)",
                  "instances": "instance-label masks (every object its own id)"}


def read_image(path: Path | str) -> np.ndarray:
    """Read an image as ``(H, W, C)`` in its original dtype (alpha dropped)."""
    path = Path(path)
    if path.suffix.lower() in (".tif", ".tiff"):
        import tifffile

        arr = tifffile.imread(path)
    else:
        import imageio.v3 as iio

        arr = iio.imread(path)
    arr = np.asarray(arr)
    if arr.ndim == 2:
        arr = arr[..., None]
    elif arr.ndim == 3 and arr.shape[0] <= 4 and arr.shape[-1] > 4:
        arr = np.moveaxis(arr, 0, -1)
    if arr.ndim != 3:
        raise ValueError(f"{path}: expected a 2-D image, got array of shape {arr.shape}")
    if arr.shape[-1] == 4:
        arr = arr[..., :3]
    return arr


def read_mask(path: Path | str, encoding: str | None = None) -> np.ndarray:
    """Read a label mask as ``(H, W)``; a mask stored with identical channels is reduced to one.
    With a ``mask_encoding`` (see :data:`MASK_ENCODINGS`) every non-zero value becomes class 1."""
    arr = read_image(path)
    if arr.shape[-1] > 1 and not all(
            np.array_equal(arr[..., 0], arr[..., c]) for c in range(1, arr.shape[-1])):
        raise ValueError(f"{path}: mask has {arr.shape[-1]} different channels, expected one")
    return decode_mask(arr[..., 0], encoding)


def decode_mask(mask: np.ndarray, encoding: str | None) -> np.ndarray:
    """Class labels of a stored mask: every non-zero value is class 1 under a ``mask_encoding``
    (see :data:`MASK_ENCODINGS`), the mask itself otherwise."""
    return (mask > 0).astype(np.uint8) if encoding in MASK_ENCODINGS else mask


def looks_like_instances(mask: np.ndarray) -> bool:
    """At least two non-zero ids, at least 80 % of them one connected region each (8-connected):
    how instance-label masks look, unlike class maps, whose classes recur across objects."""
    from scipy import ndimage

    ids = np.unique(mask)
    ids = ids[ids > 0]
    if ids.size < 2:
        return False
    boxes = ndimage.find_objects(mask)
    single = sum(ndimage.label(mask[boxes[i - 1]] == i, np.ones((3, 3)))[1] == 1 for i in ids)
    return single >= 0.8 * ids.size


def encoding_hint(mask: np.ndarray, num_classes: int) -> str | None:
    """The :data:`MASK_ENCODINGS` key a 2-class dataset's mask with labels >= 2 seems to use."""
    labels = np.unique(mask)
    if num_classes != 2 or labels.max() < 2:
        return None
    if set(labels.tolist()) <= {0, 255}:
        return "binary_255"
    return "instances" if looks_like_instances(mask) else None


def parse_magnification(value) -> float | None:
    """``'40x'`` -> 40.0, ``20`` -> 20.0, ``None``/unparseable -> None."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    m = re.search(r"(\d+(?:\.\d+)?)", str(value))
    return float(m.group(1)) if m else None


def list_images(folder: Path, problems: list[str], warnings: list[str]) -> dict[str, Path]:
    """The image files of ``folder`` by stem (hidden files skipped); a missing folder and
    duplicate stems are ``problems``, other files ``warnings``."""
    out: dict[str, Path] = {}
    if not folder.is_dir():
        problems.append(f"{folder}: folder is missing")
        return out
    for p in sorted(folder.iterdir()):
        if p.name.startswith("."):
            continue
        if p.is_dir() or p.suffix.lower() not in IMAGE_SUFFIXES:
            warnings.append(f"{p}: not an image file, ignored")
            continue
        if p.stem in out:
            problems.append(f"{p}: duplicate stem '{p.stem}' (also {out[p.stem].name})")
            continue
        out[p.stem] = p
    return out
