"""The dataset contract: a folder with ``images/``, ``masks/`` and ``dataset.yaml``.

* ``images/<stem>.<ext>`` and ``masks/<stem>.<ext>`` are paired by file stem; PNG and TIFF
  (``.png .tif .tiff .jpg .jpeg .bmp``) are read. Images may be 8- or 16-bit, grey, 2-channel,
  RGB or RGBA (alpha is dropped). Channel-first TIFFs (C, H, W with C <= 4) are transposed.
* Masks are single-channel label maps: 0 = background, 1..C-1 = classes, C = ``len(class_names)``,
  unless ``mask_encoding`` says otherwise: ``binary_255`` (0 / 255 masks), ``binary_nonzero``
  (every non-zero value is foreground, e.g. 0 / 65535 masks) or ``instances`` (every object its
  own id, as Cellpose and StarDist write them); all are read as classes 0 / 1. 1-bit masks are
  0 / 1. Z-stacks and time series are refused (one 2-D plane per file).
* ``dataset.yaml`` must hold ``class_names`` (a list of at least two names). Optional fields:
  ``name``, ``technique``, ``object_of_interest``, ``magnification`` (e.g. ``40x`` or ``40``),
  ``split`` (a mapping ``stem -> train|val|test``), ``mask_encoding``.

:func:`validate_dataset` lists *every* problem at once, each naming its file; :func:`load_dataset`
raises :class:`DatasetError` with that list. The folder is only ever read;
:func:`write_starter_yaml` writes a ``dataset.yaml`` guessed from the masks for a new folder.

This module holds the opened dataset, loading and splitting; reading files is
:mod:`.dataset_reading`, validation :mod:`.dataset_validation`, the starter ``dataset.yaml``
:mod:`.dataset_starter`. Every public name of those is importable from here too.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from aixcell_automl.core.dataset_reading import (
    IMAGE_SUFFIXES,
    LOSSY_SUFFIXES,
    MASK_ENCODINGS,
    decode_mask,
    encoding_hint,
    list_images,
    looks_like_instances,
    parse_magnification,
    read_image,
    read_mask,
)
from aixcell_automl.core.dataset_starter import starter_metadata, write_starter_yaml
from aixcell_automl.core.dataset_validation import (
    SPLIT_NAMES,
    DatasetError,
    split_by_stem,
    validate_dataset,
)

log = logging.getLogger(__name__)

__all__ = [
    "IMAGE_SUFFIXES", "LOSSY_SUFFIXES", "MASK_ENCODINGS", "SPLIT_NAMES", "DatasetError", "Sample",
    "SegmentationDataset", "decode_mask", "encoding_hint", "list_images", "load_dataset",
    "looks_like_instances", "make_split", "parse_magnification", "read_image", "read_mask",
    "split_by_stem", "split_dataset", "starter_metadata", "validate_dataset", "write_starter_yaml",
]

_list_images = list_images  # the name before the split


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


def load_dataset(root: Path | str, check_pixels: bool = True) -> SegmentationDataset:
    """Validate and open a dataset folder; raise :class:`DatasetError` listing all problems."""
    root = Path(root).expanduser()
    problems, warnings = validate_dataset(root, check_pixels=check_pixels)
    if problems:
        raise DatasetError(root, problems)
    for w in warnings:
        log.warning(w)
    meta = yaml.safe_load((root / "dataset.yaml").read_text(encoding="utf-8"))
    if meta.get("split"):
        meta["split"] = split_by_stem(meta["split"])
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


def make_split(dataset: SegmentationDataset, params: dict) -> dict:
    """Train/val/test stems (respects a predefined split), with the seed that drew them;
    ``params`` is conf's ``dataset`` (``split_fractions``, ``split_seed``)."""
    parts = split_dataset(dataset, params["split_fractions"], seed=int(params["split_seed"]))
    log.info("%s: %d train / %d val / %d test images", dataset.name, len(parts["train"]),
             len(parts["val"]), len(parts["test"]))
    return {**parts, "seed": int(params["split_seed"]),
            "predefined": bool(dataset.metadata.get("split"))}
