import logging

import numpy as np
import pytest

from aixcell_automl.errors import UserError
from aixcell_automl.pipelines.train.nodes import (
    check_beats_trivial,
    check_config,
    make_split,
    train_model,
    trivial_iou,
)
from aixcell_automl.search_space import DEFAULT_SPACE

CFG = {"patch_size": 64, "batch_size": 4, "learning_rate": 0.001, "backbone": "resnet18",
       "flip": 0.0, "brightness_blur": 0.0, "grid_distortion": 0.0}


def test_values_outside_the_space_warn_with_the_range_and_unusable_ones_are_errors():
    assert check_config(CFG, DEFAULT_SPACE) == []
    warnings = check_config({**CFG, "learning_rate": 1000, "batch_size": 2}, DEFAULT_SPACE)
    assert warnings == [
        "train.config.batch_size=2 is outside the search space (4...32); the meta-base holds "
        "no evidence for it",
        "train.config.learning_rate=1000 is outside the search space (0.0005...0.01); the "
        "meta-base holds no evidence for it"]
    with pytest.raises(UserError) as err:
        check_config({**CFG, "patch_size": 100, "learning_rate": float("nan"),
                      "backbone": "vgg99", "flip": 2}, DEFAULT_SPACE)
    for part in ("patch_size=100 must be a multiple of 32", "learning_rate=nan must be a "
                 "positive number", "backbone='vgg99' is not registered", "flip=2 must be a "
                 "probability"):
        assert part in str(err.value)


def test_trivial_predictor_is_the_best_constant_class():
    m = np.zeros((10, 10), np.uint8)
    m[:3], m[3:4] = 1, 2  # 70 % background, 30 % class 1, 10 % class 2
    iou, c = trivial_iou([m], 3)
    assert c == 1 and iou == pytest.approx((30 / 100 + 0.0) / 2)  # class 2 scores 0
    names = ["bg", "a", "b"]
    check_beats_trivial(0.16, [m], names)  # passes
    with pytest.raises(UserError, match=r"0\.150 does not beat predicting 'a' everywhere"):
        check_beats_trivial(0.15, [m], names)
    with pytest.raises(UserError, match="hold no foreground"):
        check_beats_trivial(0.9, [np.zeros((4, 4), np.uint8)], names)


@pytest.mark.slow
def test_a_collapsed_model_is_not_installed_and_its_range_is_named(demo_path, tmp_path, caplog):
    """Kedro saves a node's outputs only when it returns, so raising keeps the current model."""
    from aixcell_automl.dataset import load_dataset

    ds = load_dataset(demo_path)
    split = make_split(ds, {"split_seed": 0})
    params = {"config": {**CFG, "learning_rate": 1000}, "budget_seconds": None,
              "max_pixels": 12 * 4 * 64 * 64, "eval_every_pixels": 4 * 4 * 64 * 64,
              "val_pixels": 16 * 64 * 64, "run_root": str(tmp_path), "seed": 0}
    with caplog.at_level(logging.WARNING), pytest.raises(UserError) as err:
        train_model(ds, split, params, DEFAULT_SPACE)
    assert "learning_rate=1000 is outside the search space (0.0005...0.01)" in caplog.text
    # everything predicted as one class scores exactly what that constant predictor scores
    assert str(err.value).startswith("model not installed: its best validation IoU")
    assert "does not beat predicting" in str(err.value)
