"""Patching (docs/method.md §2): square patches with stride = patch size / 2.

Positions along each axis are ``0, s, 2s, ...`` plus a last one flush with the far edge, so every
pixel is covered. An image smaller than the patch along an axis is first reflect-padded (image and
mask alike, symmetric mode) up to the patch size; see :func:`pad_to`.
"""

from __future__ import annotations

import numpy as np


def axis_positions(length: int, patch: int, stride: int | None = None) -> list[int]:
    """Start offsets covering ``length`` with windows of ``patch`` at ``stride`` (default p/2)."""
    stride = stride or max(1, patch // 2)
    if length <= patch:
        return [0]
    pos = list(range(0, length - patch + 1, stride))
    if pos[-1] != length - patch:
        pos.append(length - patch)
    return pos


def pad_to(array: np.ndarray, min_h: int, min_w: int) -> np.ndarray:
    """Symmetric-pad the first two axes up to at least ``(min_h, min_w)``."""
    ph, pw = max(0, min_h - array.shape[0]), max(0, min_w - array.shape[1])
    if not ph and not pw:
        return array
    widths = [(ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2)] + [(0, 0)] * (array.ndim - 2)
    while any(a > array.shape[i] or b > array.shape[i] for i, (a, b) in enumerate(widths[:2])):
        # symmetric padding cannot exceed the axis length: pad in steps
        step = [(min(a, array.shape[i]), min(b, array.shape[i])) for i, (a, b) in
                enumerate(widths[:2])] + widths[2:]
        array = np.pad(array, step, mode="symmetric")
        widths = [(a - s[0], b - s[1])
                  for (a, b), s in zip(widths[:2], step, strict=False)] + widths[2:]
    return np.pad(array, widths, mode="symmetric")


def patch_grid(height: int, width: int, patch: int, stride: int | None = None) -> np.ndarray:
    """``(N, 2)`` array of ``(y, x)`` patch origins for an image of at least patch size."""
    ys = axis_positions(height, patch, stride)
    xs = axis_positions(width, patch, stride)
    return np.array([(y, x) for y in ys for x in xs], dtype=np.int32)
