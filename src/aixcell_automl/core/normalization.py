"""Input normalisation shared by training and prediction.

Each image is scaled per channel from its own 1st..99.8th percentile to [0, 1] and clipped, so
8- and 16-bit images (and any intensity offset) land on the same range. Channel counts are
unified to the dataset's maximum: a grey image in a mixed grey/RGB set is repeated across
channels; 2-channel images stay 2-channel. Where fewer channels are asked for (a 1-channel model,
e.g. one pre-trained on pooled datasets), colour becomes the mean of the channels. The model's
input channel count is recorded with it.
"""

from __future__ import annotations

import numpy as np

LOW_PERCENTILE = 1.0
HIGH_PERCENTILE = 99.8


def normalize_image(image: np.ndarray, channels: int | None = None,
                    percentiles: tuple[float, float] | None = None) -> np.ndarray:
    """``(H, W, C)`` of any dtype -> float32 ``(H, W, channels)`` in [0, 1]; ``percentiles``
    (a plan's normalisation) replaces the default 1st..99.8th."""
    img = image.astype(np.float32, copy=False)
    if img.ndim == 2:
        img = img[..., None]
    flat = img.reshape(-1, img.shape[-1])
    lo, hi = np.percentile(flat, list(percentiles or (LOW_PERCENTILE, HIGH_PERCENTILE)), axis=0)
    scale = np.where(hi > lo, hi - lo, 1.0)
    out = np.clip((img - lo) / scale, 0.0, 1.0).astype(np.float32)
    if channels is not None and out.shape[-1] != channels:
        if out.shape[-1] == 1:
            out = np.repeat(out, channels, axis=-1)
        elif channels == 1:
            out = out.mean(axis=-1, keepdims=True)
        elif out.shape[-1] > channels:
            out = out[..., :channels]
        else:
            raise ValueError(f"image has {out.shape[-1]} channels, the model expects {channels}")
    return out
