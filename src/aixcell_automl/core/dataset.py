"""The dataset contract: a folder with ``images/``, ``masks/`` and ``dataset.yaml``.

* ``images/<stem>.<ext>`` and ``masks/<stem>.<ext>`` are paired by file stem; PNG and TIFF
  (``.png .tif .tiff .jpg .jpeg .bmp``) are read. Images may be 8- or 16-bit, grey, 2-channel,
  RGB or RGBA (alpha is dropped). Channel-first TIFFs (C, H, W with C <= 4) are transposed.
* Masks are single-channel label maps: 0 = background, 1..C-1 = classes, C = ``len(class_names)``,
  unless ``mask_encoding`` says otherwise: ``binary_255`` (0 / 255 masks) or ``instances`` (every
  object its own id, as Cellpose and StarDist write them); both are read as classes 0 / 1.
* ``dataset.yaml`` must hold ``class_names`` (a list of at least two names). Optional fields:
  ``name``, ``technique``, ``object_of_interest``, ``magnification`` (e.g. ``40x`` or ``40``),
  ``split`` (a mapping ``stem -> train|val|test``), ``mask_encoding``.

:func:`validate_dataset` lists *every* problem at once, each naming its file; :func:`load_dataset`
raises :class:`DatasetError` with that list. The folder is only ever read;
:func:`write_starter_yaml` writes a ``dataset.yaml`` guessed from the masks for a new folder.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from aixcell_automl.core.atomic import atomic_write_text
from aixcell_automl.core.errors import UserError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp")
SPLIT_NAMES = ("train", "val", "test")
MASK_ENCODINGS = {"binary_255": "0/255 binary masks (255 = foreground)",
                  "instances": "instance-label masks (every object its own id)"}


class DatasetError(UserError):
    """A dataset folder breaks the contract; ``problems`` lists every issue found."""

    def __init__(self, root: Path | str, problems: Sequence[str]):
        self.root = Path(root)
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"dataset {self.root} has {len(self.problems)} problem(s):\n{lines}")


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


@dataclass
class Sample:
    """One image/mask pair of a dataset."""

    stem: str
    image_path: Path
    mask_path: Path


@dataclass
class SegmentationDataset:
    """A validated dataset folder. Pixel data is read on demand."""

    root: Path
    metadata: dict
    samples: list[Sample]
    warnings: list[str] = field(default_factory=list)
    _hash: str | None = field(default=None, repr=False, compare=False)

    @property
    def name(self) -> str:
        return str(self.metadata.get("name") or self.root.name)

    @property
    def class_names(self) -> list[str]:
        return list(self.metadata["class_names"])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def mask_encoding(self) -> str | None:
        return self.metadata.get("mask_encoding")

    @property
    def stems(self) -> list[str]:
        return [s.stem for s in self.samples]

    def image(self, i: int) -> np.ndarray:
        return read_image(self.samples[i].image_path)

    def mask(self, i: int) -> np.ndarray:
        return read_mask(self.samples[i].mask_path, self.mask_encoding)

    def content_hash(self) -> str:
        """SHA-256 (first 16 hex digits) over class names and every image/mask file's bytes;
        computed once per loaded dataset (input folders are read-only)."""
        if self._hash is None:
            h = hashlib.sha256(repr(self.class_names).encode())
            for s in self.samples:
                for p in (s.image_path, s.mask_path):
                    h.update(p.name.encode())
                    h.update(p.read_bytes())
            self._hash = h.hexdigest()[:16]
        return self._hash

    def __len__(self) -> int:
        return len(self.samples)


def _list_images(folder: Path, problems: list[str], warnings: list[str]) -> dict[str, Path]:
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


def _check_metadata(root: Path, problems: list[str]) -> dict:
    meta_path = root / "dataset.yaml"
    if not meta_path.is_file():
        problems.append(f"{meta_path}: missing (needs at least 'class_names')")
        return {}
    try:
        meta = yaml.safe_load(meta_path.read_text()) or {}
    except yaml.YAMLError as exc:
        problems.append(f"{meta_path}: not valid YAML ({exc})")
        return {}
    if not isinstance(meta, dict):
        problems.append(f"{meta_path}: must be a mapping, got {type(meta).__name__}")
        return {}
    names = meta.get("class_names")
    if names is None:
        problems.append(f"{meta_path}: field 'class_names' is missing")
    elif (
        not isinstance(names, list)
        or len(names) < 2
        or not all(isinstance(n, str) and n for n in names)
    ):
        problems.append(f"{meta_path}: 'class_names' must be a list of >= 2 names, got {names!r}")
    split = meta.get("split")
    if split is not None and (
        not isinstance(split, dict) or not all(v in SPLIT_NAMES for v in split.values())
    ):
        problems.append(f"{meta_path}: 'split' must map image stems to one of {SPLIT_NAMES}")
    mag = meta.get("magnification")
    if mag is not None and parse_magnification(mag) is None:
        problems.append(f"{meta_path}: 'magnification' {mag!r} has no number in it")
    enc = meta.get("mask_encoding")
    if enc is not None and enc not in MASK_ENCODINGS:
        problems.append(f"{meta_path}: 'mask_encoding' {enc!r} is not one of "
                        f"{', '.join(MASK_ENCODINGS)}")
    elif enc is not None and isinstance(names, list) and len(names) != 2:
        problems.append(f"{meta_path}: 'mask_encoding: {enc}' gives two classes (background, "
                        f"foreground) but class_names has {len(names)}")
    return meta


def validate_dataset(root: Path | str, check_pixels: bool = True) -> tuple[list[str], list[str]]:
    """Check a dataset folder against the contract; return ``(problems, warnings)``.

    With ``check_pixels`` every image and mask is opened: unreadable files, size mismatches and
    labels outside ``0..C-1`` are reported per file (0/255 and instance-label masks as one line
    that names the fix); a dataset without any foreground pixel is a problem, a class that occurs
    in no mask a warning.
    """
    root = Path(root)
    problems: list[str] = []
    warnings: list[str] = []
    if not root.is_dir():
        return [f"{root}: dataset folder does not exist"], warnings
    meta = _check_metadata(root, problems)
    images = _list_images(root / "images", problems, warnings)
    masks = _list_images(root / "masks", problems, warnings)
    if (root / "images").is_dir() and not images:
        problems.append(f"{root / 'images'}: no images (empty dataset)")
    for stem in sorted(set(images) - set(masks)):
        problems.append(f"{images[stem]}: image has no mask (expected masks/{stem}.*)")
    for stem in sorted(set(masks) - set(images)):
        problems.append(f"{masks[stem]}: mask has no image (expected images/{stem}.*)")
    split = meta.get("split") if isinstance(meta.get("split"), dict) else None
    if split:
        for stem in sorted(set(split) - set(images)):
            problems.append(f"{root / 'dataset.yaml'}: split names '{stem}', which has no image")
    n_classes = len(meta["class_names"]) if isinstance(meta.get("class_names"), list) else None
    if check_pixels:
        _check_pixels(root, meta, images, masks, n_classes, problems, warnings)
    return problems, warnings


def _check_pixels(root: Path, meta: dict, images: dict[str, Path], masks: dict[str, Path],
                  n_classes: int | None, problems: list[str], warnings: list[str]) -> None:
    """Per pair: readable, same size, integer labels in ``0..C-1`` (after ``mask_encoding``);
    over the dataset: some foreground, and every class somewhere."""
    encoding = meta.get("mask_encoding") if meta.get("mask_encoding") in MASK_ENCODINGS else None
    counts = np.zeros(n_classes or 0, np.int64)
    hinted: dict[str, list[Path]] = {}
    all_valid = True
    for stem in sorted(set(images) & set(masks)):
        try:
            img = read_image(images[stem])
        except Exception as exc:  # noqa: BLE001 - any decoder error means "unreadable"
            problems.append(f"{images[stem]}: unreadable image ({exc})")
            img = None
        try:
            mask = read_mask(masks[stem])
        except Exception as exc:  # noqa: BLE001
            problems.append(f"{masks[stem]}: unreadable mask ({exc})")
            all_valid = False
            continue
        if img is not None and img.shape[:2] != mask.shape:
            problems.append(
                f"{masks[stem]}: size {mask.shape[1]}x{mask.shape[0]} (WxH) does not match "
                f"image {images[stem].name} {img.shape[1]}x{img.shape[0]}"
            )
        if not np.issubdtype(mask.dtype, np.integer):
            problems.append(f"{masks[stem]}: mask dtype {mask.dtype} is not an integer type")
            all_valid = False
            continue
        if n_classes is None:
            continue
        other = sorted(set(np.unique(mask).tolist()) - {0, 255}) if (
            encoding == "binary_255") else []
        if other:
            problems.append(f"{masks[stem]}: values {other[:10]} besides 0 and 255 "
                            f"(mask_encoding: binary_255)")
            all_valid = False
            continue
        labels = decode_mask(mask, encoding)
        bad = np.unique(labels[(labels < 0) | (labels >= n_classes)])
        if bad.size:
            all_valid = False
            hint = encoding_hint(mask, n_classes)
            if hint:
                hinted.setdefault(hint, []).append(masks[stem])
            else:
                problems.append(f"{masks[stem]}: labels {bad.tolist()[:10]} outside "
                                f"0..{n_classes - 1} ({n_classes} class_names)")
            continue
        counts += np.bincount(labels.ravel(), minlength=n_classes)[:n_classes]
    for hint, paths in hinted.items():
        problems.append(
            f"{root / 'masks'}: {len(paths)} mask(s) have labels outside 0..1 and look like "
            f"{MASK_ENCODINGS[hint]} (e.g. {', '.join(p.name for p in paths[:3])}); fix: add "
            f"'mask_encoding: {hint}' to {root / 'dataset.yaml'}")
    if n_classes is None or not all_valid or not counts.sum():
        return
    names = meta["class_names"]
    if not counts[1:].any():
        problems.append(
            f"{root / 'masks'}: no mask has a foreground pixel (every label is 0, "
            f"'{names[0]}'), so there is nothing to learn; the classes to segment "
            f"({', '.join(names[1:])}) need labels 1..{n_classes - 1}")
        return
    for c in np.flatnonzero(counts == 0):
        warnings.append(f"{root / 'dataset.yaml'}: class '{names[c]}' (label {c}) occurs in no "
                        f"mask; a model cannot learn it")


def load_dataset(root: Path | str, check_pixels: bool = True) -> SegmentationDataset:
    """Validate and open a dataset folder; raise :class:`DatasetError` listing all problems."""
    root = Path(root).expanduser()
    problems, warnings = validate_dataset(root, check_pixels=check_pixels)
    if problems:
        raise DatasetError(root, problems)
    for w in warnings:
        log.warning(w)
    meta = yaml.safe_load((root / "dataset.yaml").read_text())
    images = {p.stem: p for p in (root / "images").iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}
    masks = {p.stem: p for p in (root / "masks").iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}
    samples = [Sample(s, images[s], masks[s]) for s in sorted(images)]
    return SegmentationDataset(root=root, metadata=meta, samples=samples, warnings=warnings)


def split_dataset(
    ds: SegmentationDataset, fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0
) -> dict[str, list[str]]:
    """Split stems into train/val/test.

    A ``split`` in ``dataset.yaml`` is respected (stems it does not name go to train); when it has
    no ``val`` part, a seeded share ``fractions[1] / (fractions[0] + fractions[1])`` of its train
    part becomes validation. Otherwise a seeded split by ``fractions`` is drawn. Every part gets at
    least one image when the dataset has three or more.
    """
    rng = np.random.default_rng(seed)
    given = ds.metadata.get("split") or {}
    if given:
        parts = {k: [s for s in ds.stems if given.get(s, "train") == k] for k in SPLIT_NAMES}
        if not parts["val"]:
            train = list(rng.permutation(parts["train"]))
            n_val = max(1, round(len(train) * fractions[1] / (fractions[0] + fractions[1])))
            parts = {"train": sorted(train[n_val:]), "val": sorted(train[:n_val]),
                     "test": parts["test"]}
        return parts
    stems = list(rng.permutation(ds.stems))
    n = len(stems)
    n_test = max(1 if n >= 3 else 0, round(n * fractions[2]))
    n_val = max(1 if n >= 2 else 0, round(n * fractions[1]))
    return {
        "train": sorted(stems[n_val + n_test:]),
        "val": sorted(stems[:n_val]),
        "test": sorted(stems[n_val:n_val + n_test]),
    }


def starter_metadata(root: Path | str) -> tuple[dict, list[str]]:
    """``dataset.yaml`` fields guessed from a folder's ``masks/`` (class count and encoding),
    and notes saying how. 0/255 masks -> ``binary_255``; masks with more than 10 ids or ids
    above 255 that look like instances (see :func:`looks_like_instances`) -> ``instances``;
    otherwise label maps with classes 0..max label."""
    root = Path(root)
    problems: list[str] = []
    files = _list_images(root / "masks", problems, [])
    if not (root / "images").is_dir():
        problems.append(f"{root / 'images'}: folder is missing")
    if (root / "masks").is_dir() and not files:
        problems.append(f"{root / 'masks'}: no masks")
    masks = {}
    for stem, path in files.items():
        try:
            masks[stem] = read_mask(path)
        except Exception as exc:  # noqa: BLE001 - any decoder error means "unreadable"
            problems.append(f"{path}: unreadable mask ({exc})")
    if problems:
        raise DatasetError(root, problems)
    values = {stem: np.unique(m) for stem, m in masks.items()}
    labels = sorted(set().union(*(v.tolist() for v in values.values())))
    if labels[-1] == 0:
        raise DatasetError(root, [f"{root / 'masks'}: no mask has a non-zero pixel, so there "
                                  f"are no classes to read from them"])
    ids_per_mask = max(np.count_nonzero(v) for v in values.values())
    instance_like = [looks_like_instances(masks[stem]) for stem, v in values.items()
                     if np.count_nonzero(v) >= 2]
    mostly_instances = bool(instance_like) and np.mean(instance_like) >= 0.8
    meta: dict = {"name": root.name}
    notes = []
    if set(labels) <= {0, 255}:
        meta |= {"class_names": ["background", "foreground"], "mask_encoding": "binary_255"}
        notes.append("masks hold only 0 and 255: read as background / foreground")
    elif (ids_per_mask > 10 or labels[-1] > 255) and mostly_instances:
        meta |= {"class_names": ["background", "foreground"], "mask_encoding": "instances"}
        notes.append(f"masks hold up to {ids_per_mask} ids, each one connected object: read as "
                     f"instance labels (every object is 'foreground')")
    else:
        n = int(labels[-1]) + 1
        meta["class_names"] = (["background", "foreground"] if n == 2 else
                               ["background"] + [f"class_{c}" for c in range(1, n)])
        notes.append(f"labels {labels[:12]}{' ...' if len(labels) > 12 else ''}: {n} classes; "
                     f"rename them in class_names (index = label)")
        if n > 2 and mostly_instances:
            notes.append("each label is one connected object in most masks: if these are "
                         "object ids, use class_names [background, foreground] and "
                         "'mask_encoding: instances' instead")
    return meta, notes


def write_starter_yaml(root: Path | str, force: bool = False) -> tuple[Path, dict, list[str]]:
    """Write ``root/dataset.yaml`` from :func:`starter_metadata` (never over an existing one
    unless ``force``); returns the path, the fields and the notes."""
    root = Path(root)
    path = root / "dataset.yaml"
    if path.exists() and not force:
        raise UserError(f"{path} exists; not overwriting it (use --force to replace it)")
    meta, notes = starter_metadata(root)
    header = "".join(f"# {n}\n" for n in ["written by `aixcell-automl init-dataset`; check it",
                                           *notes])
    atomic_write_text(path, header + yaml.safe_dump(meta, sort_keys=False))
    return path, meta, notes


def make_split(dataset: SegmentationDataset, params: dict) -> dict:
    """Train/val/test stems (respects a predefined split), with the seed that drew them."""
    parts = split_dataset(dataset, params.get("split_fractions", (0.8, 0.1, 0.1)),
                          seed=int(params.get("split_seed", 0)))
    log.info("%s: %d train / %d val / %d test images", dataset.name, len(parts["train"]),
             len(parts["val"]), len(parts["test"]))
    return {**parts, "seed": int(params.get("split_seed", 0)),
            "predefined": bool(dataset.metadata.get("split"))}
