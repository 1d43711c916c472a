import numpy as np
import pytest

from aixcell_automl.core.dataset import load_dataset
from aixcell_automl.core.demo_data import synth_image, write_demo_dataset


def test_demo_dataset_is_valid_and_has_all_classes(demo_path):
    ds = load_dataset(demo_path)
    assert ds.class_names == ["background", "cytoplasm", "nucleus"]
    counts = np.bincount(np.concatenate([ds.mask(i).ravel() for i in range(len(ds))]), minlength=3)
    assert (counts > 0).all()
    assert counts[2] < counts[1] < counts[0]


def test_generator_is_deterministic_and_noisy():
    a, ma = synth_image(96, np.random.default_rng(3))
    b, mb = synth_image(96, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ma, mb)
    bg = a[ma == 0].astype(float)
    assert bg.std() > 1  # noise and uneven illumination, not a flat background
    assert a[ma == 2].mean() > a[ma == 1].mean() > bg.mean()


def test_never_overwrites(demo_path):
    with pytest.raises(FileExistsError):
        write_demo_dataset(demo_path)
