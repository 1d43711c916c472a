"""Automatic class-based sampling (docs/method.md §3).

``x`` is the pixel share of each class (background included) over the training masks.
The set is imbalanced when some ``x_i > 1.75 * mean(x)``. Then each class gets a factor:
``a_low / x_i`` below ``a_low = 0.5 * mean(x)`` (capped at 2), ``a_high / x_i`` above
``a_high = 1.2 * mean(x)`` (not capped), else 1.

**Patches with several classes**: a patch takes the factor of the *rarest* class it contains
(smallest ``x_i``), so a patch showing a rare class is never dropped because it also shows
background. A factor ``f`` keeps ``floor(f)`` copies of the patch plus one more with probability
``f - floor(f)`` (seeded), so ``f = 1.5`` duplicates half the patches and ``f = 0.5`` drops half.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

UPSAMPLING_CAP = 2.0


def class_distribution(masks: Iterable[np.ndarray], num_classes: int) -> np.ndarray:
    """Pixel share of each class over all masks."""
    counts = np.zeros(num_classes, dtype=np.int64)
    for m in masks:
        counts += np.bincount(m.ravel(), minlength=num_classes)[:num_classes]
    total = counts.sum()
    return counts / total if total else np.full(num_classes, 1.0 / num_classes)


def is_imbalanced(x: np.ndarray) -> bool:
    m = float(np.mean(x))
    return bool(np.any(np.asarray(x) > m + 0.75 * m))


def sampling_factors(x: np.ndarray) -> np.ndarray:
    """Per-class sampling factors; all ones when the distribution is not imbalanced."""
    x = np.asarray(x, dtype=float)
    if not is_imbalanced(x):
        return np.ones_like(x)
    m = x.mean()
    a_low, a_high = m - 0.5 * m, m + 0.2 * m
    f = np.ones_like(x)
    with np.errstate(divide="ignore"):
        low = x < a_low
        f[low] = np.minimum(a_low / np.maximum(x[low], 1e-12), UPSAMPLING_CAP)
        high = x > a_high
        f[high] = a_high / x[high]
    return f


def patch_factors(present: np.ndarray, x: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Factor of each patch from its ``present`` class flags ``(N, C)``: the rarest class wins."""
    share = np.where(present, x[None, :], np.inf)
    rarest = share.argmin(axis=1)
    return factors[rarest]


def resample(n_patches: int, factors: np.ndarray, seed: int) -> np.ndarray:
    """Indices of the patches to keep (with repeats) for per-patch ``factors``."""
    rng = np.random.default_rng(seed)
    base = np.floor(factors).astype(int)
    extra = rng.random(n_patches) < (factors - base)
    counts = base + extra
    return np.repeat(np.arange(n_patches), counts)
