"""Nodes of the ``predict`` pipeline."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from aixcell_automl.predict import overlay, predict_mask

log = logging.getLogger(__name__)


def predict_images(model_and_info, images: dict[str, np.ndarray]
                   ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """A label mask and an overlay preview per image."""
    model, info = model_and_info
    masks, previews = {}, {}
    for stem, img in tqdm(sorted(images.items()), desc="predict", unit="image"):
        masks[stem] = predict_mask(model, img, info)
        previews[stem] = overlay(img, masks[stem])
    log.info("predicted %d images with %s (%d classes)", len(masks), info["backbone"],
             info["num_classes"])
    return masks, previews


def postprocess(model_and_info, images: dict[str, np.ndarray], masks: dict[str, np.ndarray],
                params: dict) -> pd.DataFrame:
    """Run the configured post-processors (plugin registry) and stack their rows per image."""
    from aixcell_automl.plugins.registry import get

    _, info = model_and_info
    names = info.get("class_names") or [str(i) for i in range(info["num_classes"])]
    rows = []
    for pp in params.get("postprocessors", ["object_stats"]):
        run = get("postprocessor", pp).run
        for stem in sorted(masks):
            rows += [{"image": stem, "postprocessor": pp, **r}
                     for r in run(images[stem], masks[stem], names)]
    return pd.DataFrame(rows)
