import numpy as np
import pytest

from aixcell_automl.core.metrics import confusion, mean_iou, per_class_iou
from aixcell_automl.core.patching import axis_positions, pad_to, patch_grid


def test_stride_is_half_the_patch_and_edges_are_covered():
    assert axis_positions(256, 128) == [0, 64, 128]
    assert axis_positions(300, 128) == [0, 64, 128, 172]
    grid = patch_grid(300, 128, 128)
    covered = np.zeros((300, 128), bool)
    for y, x in grid:
        covered[y:y + 128, x:x + 128] = True
    assert covered.all()


def test_small_images_are_padded_symmetrically():
    a = np.arange(12).reshape(3, 4)
    out = pad_to(a, 9, 4)
    assert out.shape == (9, 4)
    np.testing.assert_array_equal(out[3:6], a)  # centred
    big = pad_to(np.ones((5, 5, 2)), 64, 64)  # pad larger than the image
    assert big.shape == (64, 64, 2)


def test_iou_averages_foreground_classes_present():
    truth = np.array([0, 0, 1, 1, 2, 2])
    pred = np.array([0, 1, 1, 1, 2, 0])
    cm = confusion(truth, pred, 4)
    iou = per_class_iou(cm)
    np.testing.assert_allclose(iou[:3], [1 / 3, 2 / 3, 1 / 2])
    assert np.isnan(iou[3])  # absent from truth and prediction: left out
    assert mean_iou(cm) == (2 / 3 + 1 / 2) / 2


def test_dice_is_a_registered_metric_with_the_same_averaging_rule():
    from aixcell_automl.core.metrics import per_class_dice, score

    cm = confusion(np.array([0, 0, 1, 1, 2, 2]), np.array([0, 1, 1, 1, 2, 0]), 4)
    dice = per_class_dice(cm)
    np.testing.assert_allclose(dice[:3], [2 / 4, 4 / 5, 2 / 3])  # 2TP / (2TP + FP + FN)
    assert np.isnan(dice[3])
    iou = per_class_iou(cm)
    np.testing.assert_allclose(dice[:3], 2 * iou[:3] / (1 + iou[:3]))  # Dice = 2 IoU / (1 + IoU)
    value, per_class = score("dice", cm)
    assert value == pytest.approx((4 / 5 + 2 / 3) / 2)  # foreground classes present
    np.testing.assert_array_equal(per_class, dice)
    assert score("iou", cm)[0] == mean_iou(cm)
    with pytest.raises(KeyError, match=r"no metric named 'f2'; registered: \['dice', 'iou'\]"):
        score("f2", cm)
