"""Validating a dataset folder against the contract of :mod:`.dataset`: every problem at once,
each naming its file (:func:`validate_dataset`), raised together as :class:`DatasetError`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import yaml

from aixcell_automl.core.dataset_reading import (
    LOSSY_SUFFIXES,
    MASK_ENCODINGS,
    decode_mask,
    encoding_hint,
    list_images,
    parse_magnification,
    read_image,
    read_mask,
)
from aixcell_automl.core.errors import UserError

SPLIT_NAMES = ("train", "val", "test")


class DatasetError(UserError):
    """A dataset folder breaks the contract; ``problems`` lists every issue found."""

    def __init__(self, root: Path | str, problems: Sequence[str]):
        self.root = Path(root)
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"dataset {self.root} has {len(self.problems)} problem(s):\n{lines}")


def _check_metadata(root: Path, problems: list[str]) -> dict:
    meta_path = root / "dataset.yaml"
    if meta_path.is_dir():
        problems.append(f"{meta_path}: is a folder; it must be a YAML file")
        return {}
    if not meta_path.is_file():
        problems.append(f"{meta_path}: missing (needs at least 'class_names')")
        return {}
    try:
        meta = yaml.safe_load(meta_path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError as exc:
        problems.append(f"{meta_path}: not UTF-8 text ({exc.reason} at byte {exc.start}); "
                        f"save it as UTF-8")
        return {}
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
    elif len(set(names)) < len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        problems.append(f"{meta_path}: 'class_names' names {', '.join(twice)} more than once; "
                        f"each label needs its own name")
    split = meta.get("split")
    if split is not None and (
        not isinstance(split, dict) or not all(v in SPLIT_NAMES for v in split.values())
    ):
        problems.append(f"{meta_path}: 'split' must map image stems to one of {SPLIT_NAMES}")
    elif isinstance(split, dict):
        meta["split"] = split_by_stem(split)
    mag = meta.get("magnification")
    if mag is not None and parse_magnification(mag) is None:
        problems.append(f"{meta_path}: 'magnification' {mag!r} has no number in it")
    enc = meta.get("mask_encoding")
    if enc is not None and (not isinstance(enc, str) or enc not in MASK_ENCODINGS):
        problems.append(f"{meta_path}: 'mask_encoding' {enc!r} is not one of "
                        f"{', '.join(MASK_ENCODINGS)}")
    elif enc is not None and isinstance(names, list) and len(names) != 2:
        problems.append(f"{meta_path}: 'mask_encoding: {enc}' gives two classes (background, "
                        f"foreground) but class_names has {len(names)}")
    return meta


def split_by_stem(split: dict) -> dict[str, str]:
    """``dataset.yaml``'s split with its keys as text: YAML reads ``1: test`` as the number 1."""
    return {str(k): v for k, v in split.items()}


def _check_split(meta_path: Path, split: dict[str, str], images: dict[str, Path],
                 problems: list[str]) -> None:
    """Every stem the split names has an image (a zero-padded stem YAML read as a number is
    pointed out), and the split leaves images to train on."""
    for stem in sorted(set(split) - set(images)):
        padded = [s for s in images if s.lstrip("0") == stem and s != stem]
        hint = (f" (did you mean '{padded[0]}'? YAML reads {padded[0]} unquoted as the number "
                f"{stem}: quote it)" if padded else "")
        problems.append(f"{meta_path}: split names '{stem}', which has no image{hint}")
    parts = {k: sum(split.get(s, "train") == k for s in images) for k in SPLIT_NAMES}
    if images and parts["train"] < (1 if parts["val"] else 2):
        problems.append(f"{meta_path}: the split leaves {parts['train']} image(s) to train on "
                        f"({parts['val']} val, {parts['test']} test; without val images, one of "
                        f"train's becomes validation): name more images 'train' or none")


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
    images = list_images(root / "images", problems, warnings)
    masks = list_images(root / "masks", problems, warnings)
    if (root / "images").is_dir() and not images:
        problems.append(f"{root / 'images'}: no images (empty dataset)")
    for stem in sorted(set(images) - set(masks)):
        problems.append(f"{images[stem]}: image has no mask (expected masks/{stem}.*)")
    for stem in sorted(set(masks) - set(images)):
        problems.append(f"{masks[stem]}: mask has no image (expected images/{stem}.*)")
    if isinstance(meta.get("split"), dict) and meta["split"]:
        _check_split(root / "dataset.yaml", meta["split"], images, problems)
    for path in masks.values():
        if path.suffix.lower() in LOSSY_SUFFIXES:
            warnings.append(f"{path}: a JPEG mask; JPEG is lossy and changes label values near "
                            f"edges: save masks as PNG or TIFF")
    n_classes = len(meta["class_names"]) if isinstance(meta.get("class_names"), list) else None
    if check_pixels:
        _check_pixels(root, meta, images, masks, n_classes, problems, warnings)
    return problems, warnings


def _check_pixels(root: Path, meta: dict, images: dict[str, Path], masks: dict[str, Path],
                  n_classes: int | None, problems: list[str], warnings: list[str]) -> None:
    """Per pair: readable, same size, integer labels in ``0..C-1`` (after ``mask_encoding``);
    over the dataset: some foreground, and every class somewhere."""
    enc = meta.get("mask_encoding")
    encoding = enc if isinstance(enc, str) and enc in MASK_ENCODINGS else None
    counts = np.zeros(n_classes or 0, np.int64)
    hinted: dict[str, list[Path]] = {}
    all_valid = True
    for stem in sorted(set(images) & set(masks)):
        try:
            img = read_image(images[stem])
        except Exception as exc:  # noqa: BLE001 - any decoder error means "unreadable"
            problems.append(f"{images[stem]}: unreadable image ({_reason(exc, images[stem])})")
            img = None
        try:
            mask = read_mask(masks[stem])
        except Exception as exc:  # noqa: BLE001
            problems.append(f"{masks[stem]}: unreadable mask ({_reason(exc, masks[stem])})")
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
    absent = np.flatnonzero(counts == 0)
    if len(absent) > 5:
        warnings.append(f"{root / 'dataset.yaml'}: {len(absent)} of {n_classes} classes occur in "
                        f"no mask (labels {absent[:5].tolist()} ...); a model cannot learn them")
        return
    for c in absent:
        warnings.append(f"{root / 'dataset.yaml'}: class '{names[c]}' (label {c}) occurs in no "
                        f"mask; a model cannot learn it")


def _reason(exc: Exception, path: Path) -> str:
    """A reader's message without the path it starts with (the line names the file)."""
    return str(exc).removeprefix(f"{path}: ")
