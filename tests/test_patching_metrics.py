import numpy as np

from aixcell_automl.metrics import confusion, mean_iou, per_class_iou
from aixcell_automl.patching import axis_positions, pad_to, patch_grid


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
