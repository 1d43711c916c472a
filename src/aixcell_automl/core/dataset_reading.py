"""Reading a dataset folder's files: images, label masks (and their encodings), the image
files of a folder, magnifications. See :mod:`.dataset` for the contract."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp")
LOSSY_SUFFIXES = (".jpg", ".jpeg")  # fine for images; they change a mask's labels
MASK_ENCODINGS = {"binary_255": "0/255 binary masks (255 = foreground)",
                  "binary_nonzero": "binary masks (any non-zero value = foreground, e.g. 65535)",
                  "instances": "instance-label masks (every object its own id)"}


def read_image(path: Path | str) -> np.ndarray:
    """Read an image as ``(H, W, C)`` in its original dtype (alpha dropped; ``(C, H, W)`` with
    C <= 4 is moved to channels last). Empty files, z-stacks and time series (a TIFF's Z or T
    axis, or a 3-D array whose last axis is neither channels nor small), arrays without pixels
    and float images with NaN or infinite pixels raise ``ValueError`` saying so."""
    path = Path(path)
    if path.is_file() and path.stat().st_size == 0:
        raise ValueError(f"{path}: empty file (0 bytes)")
    if path.suffix.lower() in (".tif", ".tiff"):
        import tifffile

        with tifffile.TiffFile(path) as tif:
            axes = tif.series[0].axes if tif.series else ""
            if {"Z", "T"} & set(axes):
                raise ValueError(f"{path}: a z-stack or time series (axes {axes}); save one 2-D "
                                 f"plane (with its channels) per file")
            arr = tif.asarray()
    else:
        import imageio.v3 as iio

        try:
            arr = iio.imread(path)
        except Exception as exc:  # noqa: BLE001 - the plugins' messages name no cause a user sees
            raise ValueError(f"{path}: {_unreadable(path)}") from exc
    arr = np.asarray(arr)
    if arr.size == 0:
        raise ValueError(f"{path}: no pixel data (array of shape {arr.shape})")
    if arr.ndim == 2:
        arr = arr[..., None]
    elif arr.ndim == 3 and arr.shape[0] <= 4 and arr.shape[-1] > 4:
        arr = np.moveaxis(arr, 0, -1)
    if arr.ndim != 3 or (arr.shape[-1] > 4 and arr.shape[-1] > min(arr.shape[:2])):
        raise ValueError(f"{path}: expected a 2-D image, (H, W, C) or (C, H, W) with C <= 4, "
                         f"got an array of shape {arr.shape} (a stack of planes?); save one "
                         f"2-D plane per file")
    if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
        raise ValueError(f"{path}: {int((~np.isfinite(arr)).sum())} NaN or infinite pixel "
                         f"value(s)")
    if arr.shape[-1] == 4:
        arr = arr[..., :3]
    return arr


def _unreadable(path: Path) -> str:
    """Why Pillow cannot read a PNG/JPEG/BMP file, in words (e.g. truncated, not an image)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.load()
    except Exception as exc:  # noqa: BLE001
        text = str(exc).replace(f"'{path}'", "").strip()
        return f"not a readable {path.suffix.lstrip('.').upper()} image ({text})"
    return f"not a readable {path.suffix.lstrip('.').upper()} image"


def read_mask(path: Path | str, encoding: str | None = None) -> np.ndarray:
    """Read a label mask as ``(H, W)``; a mask stored with identical channels is reduced to one.
    With a ``mask_encoding`` (see :data:`MASK_ENCODINGS`) every non-zero value becomes class 1."""
    arr = read_image(path)
    if arr.shape[-1] > 1 and not all(
            np.array_equal(arr[..., 0], arr[..., c]) for c in range(1, arr.shape[-1])):
        raise ValueError(f"{path}: mask has {arr.shape[-1]} different channels, expected one")
    mask = arr[..., 0]
    return decode_mask(mask.astype(np.uint8) if mask.dtype == bool else mask, encoding)


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
    if labels.size == 2:
        return "binary_nonzero"
    return "instances" if looks_like_instances(mask) else None


def parse_magnification(value) -> float | None:
    """``'40x'`` -> 40.0, ``20`` -> 20.0, ``None``/unparseable (``yes``, a list) -> None."""
    if value is None or isinstance(value, bool) or not isinstance(value, int | float | str):
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
