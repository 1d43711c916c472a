"""Representations come from the registered extractors' families (plus the derived ones)."""

import numpy as np
import pandas as pd
import pytest

from aixcell_automl import hookimpl
from aixcell_automl.core.search_space import encode_configs, enumerate_configs
from aixcell_automl.metalearning.representation import (
    REPRESENTATIONS,
    build_matrix,
    parse_representation,
    representations,
)
from aixcell_automl.plugins.specs import Augmentation, MetaFeatureExtractor
from aixcell_automl.plugins.testing import plugin_manager_with
from tests.project_conf import SPACE

HC = ["hc_n_images", "hc_n_classes", "hc_mean_image_shape"]


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    cols = [*HC, "ug_a", "rad_x", "rad_y", "rad_pca_1", "rad_pca_2", "radn_x", "radn_y",
            "sim_d0", "sim_d1", "tex_e"]
    return pd.DataFrame(rng.uniform(1, 2, size=(2, len(cols))), index=["d0", "d1"],
                        columns=cols)


def test_builtin_representations_keep_their_columns_in_their_order():
    mf, configs = _frame(), enumerate_configs(SPACE)[:3]
    hp = encode_configs(configs, SPACE)[1]
    en = ["en_patches_per_image", "en_batches_per_epoch", "en_augmentation_batches",
          "en_learning_rate_batches", "en_backbone_classes"]
    en_rad = [f"en_rad_pca_{i}_x_{w}" for i in (1, 2) for w in ("lr", "backbone", "classes")]
    expected = {"hp+hc+en+ug+rad_pca+en_rad": [*hp, *HC, "ug_a", "rad_pca_1", "rad_pca_2", *en,
                                               *en_rad],
                "hp+hc+en+ug+rad_raw": [*hp, *HC, "ug_a", "radn_x", "radn_y", *en],
                "hp+rad_sim": [*hp, "sim_d0", "sim_d1"],
                "hp+rad": [*hp, "rad_x", "rad_y"]}  # raw radiomics: rad_ without rad_pca_
    for rep, cols in expected.items():
        X, got = build_matrix(configs, ["d1"] * 3, mf, SPACE, rep, ["d0", "d1"])
        assert got == cols and X.shape == (3, len(cols)), rep
    assert representations() == REPRESENTATIONS  # no plugin: the thesis's 11


class Texture:
    @hookimpl
    def register_metafeature_extractors(self):
        return [MetaFeatureExtractor("texture", lambda ds: {"tex_e": 1.0}, "tex_")]


def test_a_plugin_family_reaches_the_matrix_and_the_study():
    mf, configs = _frame(), enumerate_configs(SPACE)[:3]
    with pytest.raises(ValueError, match="unknown family 'tex'; known: .*'ug', 'rad'"):
        parse_representation("hp+hc+tex")
    with plugin_manager_with(Texture()):
        X, cols = build_matrix(configs, ["d0", "d1", "d0"], mf, SPACE, "hp+hc+tex")
        assert cols[-4:] == [*HC, "tex_e"]
        np.testing.assert_array_equal(X[:, -1], mf.loc[["d0", "d1", "d0"], "tex_e"])
        added = set(representations()) - set(REPRESENTATIONS)
        assert added == {"hp+tex", "hp+hc+en+ug+rad_pca+en_rad+tex"}


def test_engineered_features_count_the_registered_augmentations():
    from aixcell_automl.metafeatures.engineered import engineered_features
    from aixcell_automl.plugins.builtin.augmentations import _flip

    class Flop:
        @hookimpl
        def register_augmentations(self):
            return [Augmentation("flop", _flip)]

    mf = {"hc_mean_image_shape": 256, "hc_n_images": 10, "hc_n_classes": 2}
    cfg = {"patch_size": 128, "batch_size": 8, "learning_rate": 0.001, "flip": 0.5, "flop": 0.5}
    bpe = 4 * 10 / 8  # (256 / 128)^2 patches per image x 10 images / batch 8
    assert engineered_features(mf, cfg, 1.0)["en_augmentation_batches"] == 1 * 2 * bpe
    with plugin_manager_with(Flop()):
        assert engineered_features(mf, cfg, 1.0)["en_augmentation_batches"] == 2 * 2 * bpe
