"""The embedded default dataset: synthetic fluorescence images of cells with nuclei.

Deterministic for a given seed. Each image shows blob-shaped cells (class 1, cytoplasm) with an
off-centre nucleus (class 2) of brighter, textured signal, under uneven illumination, optical blur
and shot + read noise. Written as 8-bit PNGs in the dataset contract layout; an existing folder is
never overwritten.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

CLASS_NAMES = ["background", "cytoplasm", "nucleus"]


def _blob(shape, cy, cx, radius, rng, wobble=0.25, angle=None, elong=1.0):
    """Mask of a star-shaped blob with a smooth random boundary."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    dy, dx = yy - cy, xx - cx
    a = rng.uniform(0, np.pi) if angle is None else angle
    ry = dy * np.cos(a) - dx * np.sin(a)
    rx = (dy * np.sin(a) + dx * np.cos(a)) / elong
    theta = np.arctan2(ry, rx)
    r = np.hypot(ry, rx)
    bound = np.ones_like(theta)
    for k in (2, 3, 5):
        bound += wobble / k * rng.uniform(-1, 1) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    return r <= radius * bound


def _smooth_noise(shape, scale, rng):
    from scipy import ndimage

    return ndimage.gaussian_filter(rng.normal(size=shape), scale)


def synth_image(size: int, rng: np.random.Generator, n_cells: int | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """One ``(image uint8, mask uint8)`` pair."""
    from scipy import ndimage

    h = w = size
    mask = np.zeros((h, w), np.uint8)
    signal = np.zeros((h, w), np.float32)
    n_cells = n_cells or int(rng.integers(4, 9))
    for _ in range(n_cells):
        r = rng.uniform(0.08, 0.14) * size
        cy, cx = rng.uniform(r, h - r), rng.uniform(r, w - r)
        angle = rng.uniform(0, np.pi)
        cell = _blob((h, w), cy, cx, r, rng, wobble=0.35, angle=angle, elong=rng.uniform(1, 1.5))
        cell &= mask == 0  # earlier cells stay on top
        off = rng.uniform(0, 0.3 * r, 2)
        nuc = _blob((h, w), cy + off[0], cx + off[1], r * rng.uniform(0.35, 0.5), rng,
                    wobble=0.15) & cell
        mask[cell] = 1
        mask[nuc] = 2
        signal[cell] = rng.uniform(0.25, 0.4)
        tex = 0.5 + 0.5 * _smooth_noise((h, w), 1.5, rng)
        signal[nuc] = (rng.uniform(0.7, 0.9) * (0.8 + 0.4 * tex))[nuc]
    yy, xx = np.mgrid[0:h, 0:w] / size
    gy, gx = rng.uniform(-0.5, 0.5, 2)
    illumination = 0.7 + 0.3 * (gy * (yy - 0.5) + gx * (xx - 0.5)) + 0.1 * _smooth_noise(
        (h, w), size / 6, rng) * 8
    img = ndimage.gaussian_filter(signal * illumination + 0.06, rng.uniform(0.8, 1.6))
    img = rng.poisson(np.clip(img, 0, None) * 200) / 200 + rng.normal(0, 0.02, (h, w))
    return np.clip(img * 255, 0, 255).astype(np.uint8), mask


def write_demo_dataset(out: Path | str, n_images: int = 24, size: int = 256, seed: int = 0) -> Path:
    """Write the demo dataset to ``out`` (which must not exist yet)."""
    import imageio.v3 as iio

    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} exists and is not empty; not overwriting it")
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n_images):
        img, mask = synth_image(size, rng)
        iio.imwrite(out / "images" / f"demo_{i:03d}.png", img)
        iio.imwrite(out / "masks" / f"demo_{i:03d}.png", mask)
    meta = {
        "name": "demo_synthetic_cells",
        "technique": "fluorescence (synthetic)",
        "object_of_interest": "cells and nuclei",
        "magnification": None,
        "class_names": CLASS_NAMES,
        "generator": f"aixcell_automl.core.demo_data.write_demo_dataset(n_images={n_images}, "
                     f"size={size}, seed={seed})",
    }
    (out / "dataset.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
    return out


def ensure_demo_dataset(out: Path | str, n_images: int = 24, size: int = 256, seed: int = 0
                        ) -> Path:
    """Create the demo dataset at ``out`` unless it is already there."""
    out = Path(out)
    if (out / "dataset.yaml").exists():
        return out
    return write_demo_dataset(out, n_images, size, seed)
