"""Handcrafted meta-features (docs/method.md §4, 9 per dataset).

ROI statistics: connected regions (8-connectivity) of each foreground class; per image, the
mean/std/min/max region area (pixels) is computed per class present and averaged over those
classes; the per-image values are then averaged over the images that have foreground.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from aixcell_automl.core.dataset import SegmentationDataset

NAMES = ("hc_n_images", "hc_n_classes", "hc_class_imbalance", "hc_mean_image_shape", "hc_is_rgb",
         "hc_roi_area_mean", "hc_roi_area_std", "hc_roi_area_min", "hc_roi_area_max")


def class_imbalance(shares: np.ndarray) -> float:
    """Mean absolute pairwise difference between class shares (0 = perfectly balanced)."""
    s = np.asarray(shares, dtype=float)
    if len(s) < 2:
        return 0.0
    diff = np.abs(s[:, None] - s[None, :])
    return float(diff[np.triu_indices(len(s), 1)].mean())


def roi_stats(mask: np.ndarray, num_classes: int) -> np.ndarray | None:
    """``[mean, std, min, max]`` region area of one mask, averaged over foreground classes
    present; ``None`` if the mask has no foreground."""
    per_class = []
    for c in range(1, num_classes):
        labels, n = ndimage.label(mask == c, structure=np.ones((3, 3)))
        if n:
            areas = np.bincount(labels.ravel())[1:].astype(float)
            per_class.append([areas.mean(), areas.std(), areas.min(), areas.max()])
    return np.mean(per_class, axis=0) if per_class else None


def handcrafted_features(ds: SegmentationDataset) -> dict[str, float]:
    """The 9 handcrafted meta-features of a dataset."""
    counts = np.zeros(ds.num_classes, np.int64)
    widths, heights, rgb, rois = [], [], [], []
    for i in range(len(ds)):
        img, mask = ds.image(i), ds.mask(i)
        heights.append(img.shape[0])
        widths.append(img.shape[1])
        rgb.append(img.shape[-1] >= 3)
        counts += np.bincount(mask.ravel(), minlength=ds.num_classes)[:ds.num_classes]
        r = roi_stats(mask, ds.num_classes)
        if r is not None:
            rois.append(r)
    shares = counts / max(counts.sum(), 1)
    roi = np.mean(rois, axis=0) if rois else np.zeros(4)
    return dict(zip(NAMES, [
        float(len(ds)), float(ds.num_classes), class_imbalance(shares),
        float((np.mean(widths) + np.mean(heights)) / 2), float(np.mean(rgb) >= 0.5),
        *map(float, roi)], strict=True))
