"""Engineered meta-features (docs/method.md §4), one set per (dataset, configuration)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def engineered_features(mf: Mapping[str, float], config: Mapping, backbone_factor: float,
                        augmentation_names: Iterable[str] | None = None,
                        radiomics: Mapping[str, float] | None = None) -> dict[str, float]:
    """The five formulas of docs/method.md §4 plus radiomics x (learning rate, backbone, classes).

    ``mf`` needs ``hc_mean_image_shape``, ``hc_n_images`` and ``hc_n_classes``;
    ``backbone_factor`` is the backbone's size factor (0.5 ResNet-18, 2 ResNet-50);
    ``augmentation_names`` are the configuration's augmentation dimensions (default: every
    registered augmentation); ``radiomics`` holds the dataset's radiomics PCA components or
    similarity scores.
    """
    if augmentation_names is None:
        from aixcell_automl.plugins.registry import augmentations

        augmentation_names = augmentations()
    patch, batch, lr = float(config["patch_size"]), float(config["batch_size"]), float(
        config["learning_rate"])
    ppi = (mf["hc_mean_image_shape"] / patch) ** 2
    bpe = ppi * mf["hc_n_images"] / batch
    n_aug = sum(float(config.get(a, 0)) > 0 for a in augmentation_names)
    out = {
        "en_patches_per_image": ppi,
        "en_batches_per_epoch": bpe,
        "en_augmentation_batches": n_aug * 2 * bpe,
        "en_learning_rate_batches": lr * bpe,
        "en_backbone_classes": backbone_factor * mf["hc_n_classes"],
    }
    for name, v in (radiomics or {}).items():
        out[f"en_{name}_x_lr"] = v * lr
        out[f"en_{name}_x_backbone"] = v * backbone_factor
        out[f"en_{name}_x_classes"] = v * mf["hc_n_classes"]
    return out
