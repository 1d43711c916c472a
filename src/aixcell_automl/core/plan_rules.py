"""The plan's configuration rules (see :mod:`aixcell_automl.search.plan` for the rules in
words and the derived settings); here, low in the package, so that the meta-base's candidate
design can use them."""

from __future__ import annotations

from collections.abc import Mapping


def planned_configuration(meta_features: Mapping) -> dict:
    """The plan's configuration from handcrafted meta-features alone (the rules listed in
    :mod:`aixcell_automl.search.plan`): ``hc_mean_image_shape``, ``hc_n_images``,
    ``hc_is_rgb``."""
    side, rgb = float(meta_features["hc_mean_image_shape"]), bool(meta_features["hc_is_rgb"])
    patch = max(p for p in (64, 128, 256) if p <= max(64.0, side / 2))
    return {"patch_size": patch, "batch_size": 16 if patch == 64 else 8, "learning_rate": 0.001,
            "backbone": "resnet18" if int(meta_features["hc_n_images"]) < 50 else "resnet50",
            "flip": 0.5, "brightness_blur": 0.5 if rgb else 0.0, "grid_distortion": 0.0}
