"""The images a trial trains and validates on: one dataset's split, or several pooled
(pre-training)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from aixcell_automl.training.data_pipeline import (
    ImageSet,
    PatchIndex,
    class_sampled_patches,
    validation_regions,
)
from aixcell_automl.training.plan_settings import PlanSettings, default_stride


@dataclass
class TrialData:
    """Everything a trial trains and validates on; patch indices are cached per patch size.
    ``plan`` holds the plan's settings (class-sampling factors, normalisation, inference window;
    see :mod:`.plan_settings`); without one they are computed as always."""

    train: ImageSet
    val: ImageSet
    num_classes: int
    class_names: list[str]
    seed: int = 0
    plan: PlanSettings | None = None
    _patches: dict = field(default_factory=dict, repr=False)
    _val: dict = field(default_factory=dict, repr=False)

    def patches(self, patch: int) -> tuple[PatchIndex, dict, ImageSet]:
        """Class-sampled patch index, its sampling summary and the training images it indexes
        (those smaller than the patch padded up to it, see :mod:`.patching`)."""
        if patch not in self._patches:
            images = self.train.padded(patch)
            factors = self.plan.class_sampling_factors if self.plan else None
            index, summary = class_sampled_patches(images, patch, self.num_classes, self.seed,
                                                   factors)
            self._patches[patch] = (index, summary, images)
        return self._patches[patch]

    def validation(self, max_pixels: int) -> ImageSet:
        """The fixed validation regions (the same for every patch size)."""
        if max_pixels not in self._val:
            self._val[max_pixels] = validation_regions(self.val, max_pixels, self.seed)
        return self._val[max_pixels]

    def inference_stride(self, patch: int) -> int:
        """The sliding-window stride validation (and prediction) uses at ``patch``."""
        return self.plan.stride(patch) if self.plan else default_stride(patch)

    def plan_info(self, patch: int) -> dict:
        """What a model trained on this data records of the plan in its ``info`` (nothing
        without a plan)."""
        return self.plan.info(patch) if self.plan else {}


def make_trial_data(ds, split: dict[str, list[str]], seed: int = 0,
                    plan: Mapping | PlanSettings | None = None) -> TrialData:
    """Load and normalise a dataset's train and val images for trials. With ``plan`` (a
    ``plans.json`` dict, its ``settings`` or a :class:`PlanSettings`) the images are normalised,
    patches class-sampled and validation windows strided as the plan says."""
    from aixcell_automl.training.data_pipeline import dataset_channels, load_images

    settings = PlanSettings.from_plan(plan)
    percentiles = settings.percentiles if settings else None
    ch = dataset_channels(ds)
    return TrialData(load_images(ds, split["train"], ch, percentiles),
                     load_images(ds, split["val"], ch, percentiles),
                     ds.num_classes, ds.class_names, seed=seed, plan=settings)


def pooled_trial_data(datasets: list, channels: int | None = None, seed: int = 0) -> TrialData:
    """The train and val images of several datasets as one trial's data (pre-training).

    Each dataset is split as on its own (seeded; its test part stays unused). Images get
    ``channels`` channels (default: the largest of the datasets). Classes are kept when every
    dataset has the same class names; otherwise masks are binarised (any class > 0 is
    ``foreground``), which makes mixed-domain pre-training possible.
    """
    from aixcell_automl.core.dataset import split_dataset
    from aixcell_automl.training.data_pipeline import dataset_channels, load_images

    ch = channels or max(dataset_channels(ds) for ds in datasets)
    same = len({tuple(ds.class_names) for ds in datasets}) == 1
    parts = {"train": [], "val": []}
    for ds in datasets:
        split = split_dataset(ds, seed=seed)
        for part, pooled in parts.items():
            images = load_images(ds, split[part], ch)
            masks = images.masks if same else [(m > 0).astype(np.uint8) for m in images.masks]
            pooled.append(ImageSet(images.images, masks, [f"{ds.name}/{s}" for s in images.stems]))

    def concat(sets: list[ImageSet]) -> ImageSet:
        return ImageSet(*(sum((getattr(s, f) for s in sets), []) for f in ("images", "masks",
                                                                              "stems")))

    names = datasets[0].class_names if same else ["background", "foreground"]
    return TrialData(concat(parts["train"]), concat(parts["val"]), len(names), list(names),
                     seed=seed)
