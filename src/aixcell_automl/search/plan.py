"""The plan: one sensible configuration and every derived setting for a dataset, with reasons.

In the spirit of nnU-Net's fingerprint -> plan step, :func:`plan_dataset` turns a dataset's
fingerprint (its handcrafted meta-features and class shares) into a fixed configuration of the
search space by rules, and records why each value was chosen. The plan is written as
``plans.json`` by ``search`` and ``train``; it is always a candidate of the search's successive
halving (so the search can fall back to it), and ``train`` trains it when no configuration is
given. A user can edit ``plans.json`` and train from it (``train.plan``).

The rules (the rule-based default of the evaluation; nothing here is fitted to data):

* patch size: the largest of 64/128/256 not above half the mean image side (64 at least), so an
  image holds several patches and a patch still shows whole cells;
* batch size: 16 at 64 px, else 8 (about the same pixels per step at 64 and 128 px);
* backbone: ResNet-18 below 50 images, else ResNet-50 (a deeper encoder needs more data);
* learning rate: 1e-3 (Adam's usual default; the middle of the space);
* augmentation: flips always (microscopy has no preferred orientation), brightness/blur for RGB
  (stain and focus vary between slides), no grid distortion (it bends thin structures).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from aixcell_automl.core.plan_rules import planned_configuration
from aixcell_automl.core.sampling import is_imbalanced, sampling_factors

__all__ = ["dataset_fingerprint", "plan_dataset", "planned_configuration", "read_plan"]

PLAN_VERSION = 1


def dataset_fingerprint(ds, stems: list[str] | None = None) -> dict:
    """What the plan is derived from: a dataset's handcrafted meta-features, its class shares
    over the masks named by ``stems`` (the training split; default all) and its channels."""
    from aixcell_automl.core.sampling import class_distribution
    from aixcell_automl.metafeatures.handcrafted import handcrafted_features
    from aixcell_automl.training.data_pipeline import dataset_channels

    index = {s: i for i, s in enumerate(ds.stems)}
    masks = (ds.mask(index[s]) for s in (stems if stems is not None else ds.stems))
    shares = class_distribution(masks, ds.num_classes)
    return {"dataset": ds.name, "dataset_hash": ds.content_hash(),
            **{k: float(v) for k, v in handcrafted_features(ds).items()},
            "class_shares": [round(float(x), 6) for x in shares],
            "channels": int(dataset_channels(ds))}


def _value(value, reason: str) -> dict:
    return {"value": value, "reason": reason}


def plan_dataset(fp: Mapping) -> dict:
    """The plan of a dataset fingerprint (see module doc): ``configuration`` (a point of the
    search space with its ``config_id``) and ``settings`` (each ``{"value", "reason"}``)."""
    from aixcell_automl.core.search_space import config_id

    side, n_images = float(fp["hc_mean_image_shape"]), int(fp["hc_n_images"])
    rgb = bool(fp["hc_is_rgb"])
    config = planned_configuration(fp)
    patch, batch, backbone = config["patch_size"], config["batch_size"], config["backbone"]
    shares = np.asarray(fp["class_shares"], float)
    factors = sampling_factors(shares)
    settings = {
        "patch_size": _value(patch, f"largest of 64/128/256 not above half the mean image side "
                                    f"({side:.0f} px / 2 = {side / 2:.0f} px), at least 64"),
        "batch_size": _value(batch, "16 at 64 px, else 8: similar pixels per optimizer step"),
        "backbone": _value(backbone, f"{n_images} images: ResNet-18 below 50, else ResNet-50"),
        "learning_rate": _value(0.001, "Adam's usual 1e-3, the middle of the search space"),
        "flip": _value(0.5, "microscopy has no preferred orientation"),
        "brightness_blur": _value(config["brightness_blur"], "RGB: stain and focus vary" if rgb
                                  else "grey images: intensities are normalised per image"),
        "grid_distortion": _value(0.0, "off: it bends thin structures"),
        "class_sampling_factors": _value(
            [round(float(f), 4) for f in factors],
            f"class shares {np.round(shares, 4).tolist()} are "
            + ("imbalanced (a share above 1.75 x their mean): rare classes up to 2x, common "
               "ones down (docs/training.md)" if is_imbalanced(shares)
               else "balanced enough (no share above 1.75 x their mean): no resampling")),
        "normalisation": _value("per image and channel, 1st..99.8th percentile to [0, 1]",
                                f"{int(fp['channels'])} input channel(s); 8/16-bit and offsets "
                                f"land on one range"),
        "inference_window": _value({"size": patch, "stride": patch * 3 // 4},
                                   "the training patch, overlapping by a quarter, blended"),
    }
    return {"version": PLAN_VERSION, "fingerprint": dict(fp),
            "configuration": {**config, "config_id": config_id(config)}, "settings": settings}


def read_plan(path: Path | str) -> dict:
    """A ``plans.json`` (possibly edited by hand): its configuration must be a full one."""
    from aixcell_automl.core.errors import UserError
    from aixcell_automl.core.search_space import config_id

    path = Path(path)
    try:
        plan = json.loads(path.read_text())
        config = {k: v for k, v in plan["configuration"].items() if k != "config_id"}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UserError(f"{path}: not a readable plans.json ({type(exc).__name__}: {exc})"
                        ) from exc
    missing = [k for k in ("patch_size", "batch_size", "learning_rate", "backbone")
               if k not in config]
    if missing:
        raise UserError(f"{path}: configuration lacks {', '.join(missing)}")
    plan["configuration"] = {**config, "config_id": config_id(config)}  # edits change the id
    return plan
