"""Training and validation data: normalised images in memory, patch indices, a batch stream.

Images are loaded and normalised once; a patch is a ``(image, y, x)`` index into them, so the
overlapping stride-p/2 grid costs no memory. Batches are cut by NumPy slicing in a generator
just before each step, and augmented there, per sample, through albumentations. One "epoch" is
one pass over the (class-resampled) patch index in a seeded order; ``(epoch, batch)`` fully
determines the stream position, so resume is exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from aixcell_automl.core.dataset import SegmentationDataset
from aixcell_automl.core.errors import UserError
from aixcell_automl.core.normalization import normalize_image
from aixcell_automl.core.patching import pad_to, patch_grid
from aixcell_automl.core.sampling import (
    class_distribution,
    patch_factors,
    resample,
    sampling_factors,
)


@dataclass
class ImageSet:
    """Normalised images ``(H, W, C)`` float32 and their masks ``(H, W)`` uint8."""

    images: list[np.ndarray]
    masks: list[np.ndarray]
    stems: list[str]

    @property
    def channels(self) -> int:
        return self.images[0].shape[-1]

    def padded(self, size: int) -> ImageSet:
        """The same images, those smaller than ``size`` padded up to it (others not copied)."""
        return ImageSet([pad_to(i, size, size) for i in self.images],
                        [pad_to(m, size, size) for m in self.masks], self.stems)


def dataset_channels(ds: SegmentationDataset) -> int:
    """Model input channels for a dataset: the largest channel count of its images."""
    return max(ds.image(i).shape[-1] for i in range(len(ds)))


def load_images(ds: SegmentationDataset, stems: list[str], channels: int,
                percentiles: tuple[float, float] | None = None) -> ImageSet:
    """Read and normalise the images named by ``stems`` (``percentiles``: a plan's
    normalisation, see :mod:`.plan_settings`)."""
    index = {s: i for i, s in enumerate(ds.stems)}
    images = [normalize_image(ds.image(index[s]), channels, percentiles) for s in stems]
    masks = [ds.mask(index[s]).astype(np.uint8) for s in stems]
    return ImageSet(images, masks, list(stems))


@dataclass
class PatchIndex:
    """Patches of an :class:`ImageSet` as rows ``(image, y, x)``."""

    rows: np.ndarray
    patch_size: int


def grid_patches(images: ImageSet, patch: int) -> PatchIndex:
    """All stride-p/2 patches of every image."""
    rows = [np.column_stack([np.full(len(g), i, np.int32), g])
            for i, m in enumerate(images.masks) for g in [patch_grid(*m.shape, patch)]]
    return PatchIndex(np.concatenate(rows), patch)


def class_presence(images: ImageSet, index: PatchIndex, num_classes: int) -> np.ndarray:
    """``(N, C)`` flags: which classes each patch contains."""
    p = index.patch_size
    out = np.zeros((len(index.rows), num_classes), dtype=bool)
    for n, (i, y, x) in enumerate(index.rows):
        counts = np.bincount(images.masks[i][y:y + p, x:x + p].ravel(), minlength=num_classes)
        out[n] = counts[:num_classes] > 0
    return out


def class_sampled_patches(images: ImageSet, patch: int, num_classes: int, seed: int,
                          factors: Sequence[float] | None = None) -> tuple[PatchIndex, dict]:
    """Grid patches resampled by docs/method.md §3; returns the index and a summary for the
    record. ``factors`` (a plan's ``class_sampling_factors``, one per class) replace the ones
    computed from the masks."""
    grid = grid_patches(images, patch)
    x = class_distribution(images.masks, num_classes)
    if factors is None:
        factors = sampling_factors(x)
    else:
        factors = np.asarray(factors, dtype=float)
        if factors.shape != (num_classes,):
            raise UserError(f"plans.json: settings.class_sampling_factors has {factors.size} "
                            f"value(s); the dataset has {num_classes} classes")
    if np.allclose(factors, 1.0):
        return grid, {"class_distribution": x.tolist(), "factors": factors.tolist(),
                      "patches_before": len(grid.rows), "patches_after": len(grid.rows)}
    keep = resample(len(grid.rows), patch_factors(class_presence(images, grid, num_classes), x,
                                                  factors), seed)
    return PatchIndex(grid.rows[keep], patch), {
        "class_distribution": x.tolist(), "factors": factors.tolist(),
        "patches_before": len(grid.rows), "patches_after": int(len(keep))}


def cut(images: ImageSet, rows: np.ndarray, patch: int) -> tuple[np.ndarray, np.ndarray]:
    """Stack the patches named by ``rows`` into ``(B, p, p, C)`` float32 and ``(B, p, p)`` uint8."""
    x = np.stack([images.images[i][y:y + patch, x0:x0 + patch] for i, y, x0 in rows])
    y = np.stack([images.masks[i][y:y + patch, x0:x0 + patch] for i, y, x0 in rows])
    return x, y


VALIDATION_CROP = 384  # side of a validation region: 1.5x the largest patch of the space


def validation_regions(images: ImageSet, max_pixels: int, seed: int,
                       crop: int = VALIDATION_CROP) -> ImageSet:
    """A fixed, seeded set of validation regions, the same for every configuration.

    Images are visited in a seeded order, repeatedly if needed; from each, one square crop of
    side ``crop`` (the whole image along an axis shorter than that) at a seeded random position,
    until ``max_pixels`` are reached (at least one region; the same crop is never taken twice).
    Regions are predicted by sliding windows of each configuration's patch size, as
    :mod:`.predict` does, so every score of a dataset is "IoU on these pixels"."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(images.images))
    taken: set[tuple[int, int, int]] = set()
    out = ImageSet([], [], [])
    total, misses = 0, 0
    while total < max_pixels and misses < 2 * len(order):
        for i in order:
            h, w = images.masks[i].shape
            ch, cw = min(crop, h), min(crop, w)
            y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
            if (i, y, x) in taken:
                misses += 1
                continue
            taken.add((i, y, x))
            out.images.append(images.images[i][y:y + ch, x:x + cw])
            out.masks.append(images.masks[i][y:y + ch, x:x + cw])
            out.stems.append(f"{images.stems[i]}@{y},{x}")
            total += ch * cw
            if total >= max_pixels:
                break
    return out


class Augmenter:
    """Applies the configured augmentations identically to image and mask.

    Re-seeded for every batch from ``(seed, epoch, batch)``, so a resumed stream augments
    exactly as an uninterrupted one would."""

    def __init__(self, probabilities: dict[str, float], seed: int):
        from aixcell_automl.plugins.registry import augmentations

        registry = augmentations()
        active = [registry[name].make(p) for name, p in sorted(probabilities.items()) if p > 0]
        self.enabled = bool(active)
        self.seed = seed
        if self.enabled:
            import albumentations as A

            self.compose = A.Compose(active, seed=int(seed))

    def __call__(self, x: np.ndarray, y: np.ndarray, epoch: int = 0, batch: int = 0
                 ) -> tuple[np.ndarray, np.ndarray]:
        if not self.enabled:
            return x, y
        self.compose.set_random_seed(
            int(np.random.default_rng([self.seed, epoch, batch]).integers(2**31)))
        for b in range(len(x)):
            out = self.compose(image=x[b], mask=y[b])
            x[b], y[b] = out["image"], out["mask"]
        return x, y


class PatchStream:
    """Endless, seeded, resumable batches over a patch index."""

    def __init__(self, images: ImageSet, index: PatchIndex, batch_size: int, seed: int,
                 augment: dict[str, float] | None = None):
        self.images, self.index, self.batch_size, self.seed = images, index, batch_size, seed
        self.augment = augment or {}
        self.batches_per_epoch = max(1, len(index.rows) // batch_size)

    def order(self, epoch: int) -> np.ndarray:
        rows = self.index.rows
        perm = np.random.default_rng([self.seed, epoch]).permutation(len(rows))
        if len(perm) < self.batch_size:  # tiny sets: repeat to fill one batch
            perm = np.resize(perm, self.batch_size)
        return perm

    def batches(self, epoch: int = 0, batch: int = 0):
        """Yield ``(x, y)`` batches starting at position ``(epoch, batch)``."""
        augmenter = Augmenter(self.augment, seed=self.seed)
        p = self.index.patch_size
        while True:
            perm = self.order(epoch)
            for b in range(batch, self.batches_per_epoch):
                rows = self.index.rows[perm[b * self.batch_size:(b + 1) * self.batch_size]]
                x, y = cut(self.images, rows, p)
                yield augmenter(x, y, epoch, b)
            epoch, batch = epoch + 1, 0

    def tensors(self, num_classes: int, epoch: int = 0, batch: int = 0):
        """:meth:`batches` as tensors ``(x, one_hot(y))``, each cut and augmented just before
        its step, in this thread. Not through tf.data: a tf.data iterator running beside the
        training step slowed it 1.4-1.8x on 2 CPU cores, where a batch costs milliseconds to
        cut against a step's second (benchmarks/trial_speed.py, docs/performance.md)."""
        from aixcell_automl._env import tensorflow

        tf, _, _ = tensorflow()
        for x, y in self.batches(epoch, batch):
            yield tf.constant(x), tf.one_hot(tf.cast(y, tf.int32), num_classes)
