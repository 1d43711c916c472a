import numpy as np
import pytest

from aixcell_automl.core.sampling import (
    class_distribution,
    is_imbalanced,
    patch_factors,
    resample,
    sampling_factors,
)


def test_thesis_example_imbalanced():
    x = np.array([0.1, 0.1, 0.7])
    assert is_imbalanced(x)  # threshold 0.525
    np.testing.assert_allclose(sampling_factors(x), [1.5, 1.5, 0.514], atol=1e-3)


def test_thesis_example_balanced():
    x = np.array([0.8, 0.2])
    assert not is_imbalanced(x)  # threshold 0.875
    np.testing.assert_array_equal(sampling_factors(x), [1.0, 1.0])


def test_upsampling_is_capped_at_two_downsampling_is_not():
    f = sampling_factors(np.array([0.97, 0.02, 0.01]))
    assert f[1] == f[2] == 2.0
    assert f[0] == pytest.approx((1 / 3 * 1.2) / 0.97)


def test_patch_with_several_classes_takes_the_rarest_class_factor():
    x = np.array([0.7, 0.1, 0.2])
    factors = np.array([0.5, 2.0, 1.2])
    present = np.array([[1, 0, 0], [1, 1, 0], [1, 0, 1], [1, 1, 1]], bool)
    np.testing.assert_array_equal(patch_factors(present, x, factors), [0.5, 2.0, 1.2, 2.0])


def test_resample_counts_follow_factors():
    idx = resample(4000, np.r_[np.full(2000, 1.5), np.full(2000, 0.5)], seed=0)
    counts = np.bincount(idx, minlength=4000)
    assert abs(counts[:2000].sum() - 3000) < 100
    assert abs(counts[2000:].sum() - 1000) < 100
    assert set(np.unique(counts[:2000])) == {1, 2}


def test_class_distribution():
    m = np.zeros((10, 10), np.uint8)
    m[:2] = 1
    np.testing.assert_allclose(class_distribution([m], 3), [0.8, 0.2, 0.0])
