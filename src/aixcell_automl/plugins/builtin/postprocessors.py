"""Built-in post-processor: object counts and areas per class (connected components)."""

from __future__ import annotations

import numpy as np

from aixcell_automl.plugins import hookimpl
from aixcell_automl.plugins.specs import PostProcessor


def object_stats(image: np.ndarray, mask: np.ndarray, class_names: list[str]) -> list[dict]:
    """One row per foreground class: object count and area statistics (8-connectivity, pixels)."""
    from scipy import ndimage

    rows = []
    for c in range(1, len(class_names)):
        labels, n = ndimage.label(mask == c, structure=np.ones((3, 3)))
        areas = np.bincount(labels.ravel())[1:] if n else np.zeros(0)
        rows.append({
            "class": class_names[c],
            "objects": int(n),
            "area_total_px": int(areas.sum()),
            "area_mean_px": float(areas.mean()) if n else 0.0,
            "area_median_px": float(np.median(areas)) if n else 0.0,
            "area_max_px": int(areas.max()) if n else 0,
        })
    return rows


@hookimpl
def register_postprocessors():
    return [PostProcessor("object_stats", object_stats)]
