"""Known-answer tests of the handcrafted, user-given and engineered meta-features (SPEC §4)."""

from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import yaml

from aixcell_automl.core.dataset import load_dataset
from aixcell_automl.metafeatures.engineered import engineered_features
from aixcell_automl.metafeatures.handcrafted import (
    NAMES,
    class_imbalance,
    handcrafted_features,
    roi_stats,
)
from aixcell_automl.metafeatures.user_given import user_given_features


def _known_mask() -> np.ndarray:
    """Class 1: regions of 4 (2x2) and 9 (3x3) pixels; class 2: one 4x4 region of 16 pixels."""
    m = np.zeros((12, 12), np.uint8)
    m[0:2, 0:2] = 1
    m[5:8, 0:3] = 1
    m[0:4, 6:10] = 2
    return m


def test_roi_stats_known_areas():
    # class 1: mean 6.5, std 2.5, min 4, max 9; class 2: 16, 0, 16, 16 -> averaged over classes
    np.testing.assert_allclose(roi_stats(_known_mask(), 3), [11.25, 1.25, 10.0, 12.5])


def test_roi_stats_uses_8_connectivity_and_none_without_foreground():
    m = np.zeros((5, 5), np.uint8)
    m[1, 1] = m[2, 2] = m[3, 3] = 1  # a diagonal line is ONE region under 8-connectivity
    np.testing.assert_allclose(roi_stats(m, 2), [3.0, 0.0, 3.0, 3.0])
    assert roi_stats(np.zeros((4, 4), np.uint8), 3) is None


def test_class_imbalance_known_values():
    assert class_imbalance(np.array([0.5, 0.3, 0.2])) == pytest.approx(0.2)  # (.2 + .3 + .1) / 3
    assert class_imbalance(np.array([0.25] * 4)) == 0.0
    assert class_imbalance(np.array([1.0, 0.0])) == 1.0
    assert class_imbalance(np.array([1.0])) == 0.0


def _write(root: Path, images: list[np.ndarray], masks: list[np.ndarray], meta: dict) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i, (img, m) in enumerate(zip(images, masks, strict=True)):
        iio.imwrite(root / "images" / f"im{i}.png", img)
        iio.imwrite(root / "masks" / f"im{i}.png", m)
    (root / "dataset.yaml").write_text(yaml.safe_dump(meta))
    return root


def test_handcrafted_features_on_a_known_folder(tmp_path):
    m0 = _known_mask()  # 12 x 12: class shares 13/144, 16/144
    m1 = np.zeros((8, 20), np.uint8)  # 8 high, 20 wide: one 2x5 class-1 region
    m1[2:4, 5:10] = 1
    m2 = np.zeros((8, 20), np.uint8)  # no foreground: does not enter the ROI means
    imgs = [np.full(m.shape, 100, np.uint8) for m in (m0, m1, m2)]
    ds = load_dataset(_write(tmp_path / "ds", imgs, [m0, m1, m2],
                             {"class_names": ["bg", "a", "b"]}))
    f = handcrafted_features(ds)
    assert list(f) == list(NAMES)
    assert f["hc_n_images"] == 3 and f["hc_n_classes"] == 3 and f["hc_is_rgb"] == 0.0
    assert f["hc_mean_image_shape"] == pytest.approx(((12 + 20 + 20) / 3 + (12 + 8 + 8) / 3) / 2)
    # pixels: 144 + 160 + 160 = 464; class a 13 + 10 = 23, class b 16, background 425;
    # mean pairwise |share difference|: (|425-23| + |425-16| + |23-16|) / 3 / 464
    #                                  = (402 + 409 + 7) / 1392 = 818 / 1392
    assert f["hc_class_imbalance"] == pytest.approx(818 / 1392)
    # image 0: [11.25, 1.25, 10, 12.5]; image 1: [10, 0, 10, 10]
    assert [f[k] for k in NAMES[5:]] == pytest.approx([10.625, 0.625, 10.0, 11.25])


def test_handcrafted_features_on_the_demo_dataset(demo_path):
    ds = load_dataset(demo_path)
    f = handcrafted_features(ds)
    assert f["hc_n_images"] == len(ds) == 8
    assert f["hc_n_classes"] == 3
    assert f["hc_mean_image_shape"] == 128
    assert 0 < f["hc_class_imbalance"] < 1
    assert f["hc_roi_area_min"] <= f["hc_roi_area_mean"] <= f["hc_roi_area_max"]


def test_engineered_features_hand_computed():
    mf = {"hc_mean_image_shape": 512.0, "hc_n_images": 10.0, "hc_n_classes": 3.0}
    config = {"patch_size": 128, "batch_size": 8, "learning_rate": 0.01, "flip": 0.5,
              "brightness_blur": 0.0, "grid_distortion": 0.5}
    f = engineered_features(mf, config, backbone_factor=2.0, radiomics={"rad_pca_1": 1.5})
    assert f == pytest.approx({
        "en_patches_per_image": 16.0,         # (512 / 128)^2
        "en_batches_per_epoch": 20.0,         # 16 * 10 / 8
        "en_augmentation_batches": 80.0,      # 2 augmentations on * 2 * 20
        "en_learning_rate_batches": 0.2,      # 0.01 * 20
        "en_backbone_classes": 6.0,           # 2 (ResNet-50) * 3
        "en_rad_pca_1_x_lr": 0.015,
        "en_rad_pca_1_x_backbone": 3.0,
        "en_rad_pca_1_x_classes": 4.5,
    })


@pytest.mark.parametrize(("technique", "obj", "tech_key", "obj_key"), [
    ("fluorescence (widefield, Hoechst/DNA stain)", "nuclei", "fluorescence", "nuclei"),
    ("H&E histology (brightfield)", "nuclei (brain tumour tissue)", "histology", "nuclei"),
    ("electron microscopy (serial-section TEM)", "neuronal cell membranes", "electron",
     "ultrastructure"),
    ("mixed: fluorescence, brightfield", "C. elegans worms", "other", "organism"),
    (None, None, "other", "other"),
])
def test_user_given_vocabularies(technique, obj, tech_key, obj_key):
    f = user_given_features({"technique": technique, "object_of_interest": obj,
                             "magnification": "40x"})
    assert f[f"ug_technique_{tech_key}"] == 1.0
    assert sum(v for k, v in f.items() if k.startswith("ug_technique_")) == 1.0
    assert f[f"ug_object_{obj_key}"] == 1.0
    assert sum(v for k, v in f.items() if k.startswith("ug_object_")) == 1.0
    assert f["ug_magnification"] == 40.0 and f["ug_magnification_known"] == 1.0
    g = user_given_features({})
    assert g["ug_magnification"] == 0.0 and g["ug_magnification_known"] == 0.0
