"""Radiomics meta-features: ROI selection, known orderings, determinism, PCA and similarity."""

import numpy as np
import pandas as pd
import pytest

from aixcell_automl.core.dataset import load_dataset
from aixcell_automl.metafeatures import radiomics as R


def _squares_image(rng, levels=(200.0, 50.0), size=48):
    """Grey image with a bright square (class 1) and a dim one (class 2), mild noise."""
    img = rng.normal(20.0, 3.0, (size, size))
    mask = np.zeros((size, size), np.uint8)
    img[4:20, 4:20] += levels[0] - 20 + rng.normal(0, 10, (16, 16))
    mask[4:20, 4:20] = 1
    img[26:44, 26:44] += levels[1] - 20 + rng.normal(0, 10, (18, 18))
    mask[26:44, 26:44] = 2
    return np.clip(img, 0, 255).astype(np.uint8), mask


def test_to_grey_255_rescales_per_image():
    g = R.to_grey_255(np.dstack([np.full((4, 4), 10, np.uint16), np.full((4, 4), 30, np.uint16)]))
    assert g.shape == (4, 4) and (g == 0).all()  # constant after channel mean -> zeros
    ramp = np.arange(1001, dtype=np.uint16).reshape(1, -1)  # 1st..99.8th percentile = 10..998
    g = R.to_grey_255(ramp)
    assert g.min() == 0 and g.max() == 255
    np.testing.assert_allclose(g[0, [10, 504, 998]], [0, 127.5, 255])
    # a few saturated pixels do not squash the rest into a couple of grey levels
    img = np.full((50, 50), 20, np.uint8)
    img[10:20, 10:20] = 40
    img[0, :4] = 255
    assert R.to_grey_255(img)[15, 15] == 255.0


def test_select_rois_caps_round_robin_over_classes():
    m = np.zeros((40, 40), np.uint8)
    for k, side in enumerate((2, 3, 4, 5, 6)):  # class 1: areas 4, 9, 16, 25, 36
        m[1:1 + side, 1 + 8 * k:1 + 8 * k + side] = 1
    m[20:27, 1:8] = 2   # class 2: areas 49 and 1 (the 1-pixel one is below MIN_ROI_PIXELS)
    m[30, 30] = 2
    rois = R.select_rois(m, 3, max_rois=4)
    assert [(c, int(r.sum())) for c, _, r in rois] == [(1, 36), (2, 49), (1, 25), (1, 16)]
    rois = R.select_rois(m, 3, max_rois=30)
    assert sorted(int(r.sum()) for _, _, r in rois) == [4, 9, 16, 25, 36, 49]
    for _, box, region in rois:
        assert region.shape == m[box].shape


def test_limit_box_keeps_the_centre_within_the_budget():
    box = R._limit_box((slice(0, 1000), slice(10, 30)), 256 * 256)
    h, w = box[0].stop - box[0].start, box[1].stop - box[1].start
    assert w == 20 and h * w <= 256 * 256 and h > 256  # thin box: the long side keeps more
    assert R._limit_box((slice(0, 10), slice(0, 10)), 400) == (slice(0, 10), slice(0, 10))


def test_bright_roi_has_higher_mean_than_dim_roi():
    img, mask = _squares_image(np.random.default_rng(0))
    grey = R.to_grey_255(img)
    rois = {c: R.roi_features(grey[box], region) for c, box, region in R.select_rois(mask, 3)}
    assert set(rois[1]) == set(rois[2])
    assert all(k.startswith("rad_") for k in rois[1])
    assert {k.split("_")[1] for k in rois[1]} == set(R.FEATURE_CLASSES)
    assert rois[1]["rad_firstorder_Mean"] > rois[2]["rad_firstorder_Mean"] + 100
    assert rois[1]["rad_shape2D_PixelSurface"] == 256 and rois[2]["rad_shape2D_PixelSurface"] == 324
    both = R.image_radiomics(img, mask, 3)
    assert both["rad_firstorder_Mean"] == pytest.approx(
        (rois[1]["rad_firstorder_Mean"] + rois[2]["rad_firstorder_Mean"]) / 2)
    assert R.image_radiomics(img, np.zeros_like(mask), 3) is None


@pytest.fixture(scope="module")
def tiny_demo(tmp_path_factory):
    from aixcell_automl.core.demo_data import write_demo_dataset

    return load_dataset(write_demo_dataset(tmp_path_factory.mktemp("rad") / "d", n_images=4,
                                           size=64, seed=3))


def test_radiomics_features_are_deterministic_and_sampled(tiny_demo):
    R._MEMO.clear()
    a = R.radiomics_features(tiny_demo, sample_size=3, seed=0)
    R._MEMO.clear()
    b = R.radiomics_features(tiny_demo, sample_size=3, seed=0)
    assert a == b and len(a) > 60
    assert all(k.startswith("rad_") and np.isfinite(v) for k, v in a.items())
    table = R.radiomics_image_table(tiny_demo, sample_size=3, seed=0)
    assert list(table.index) == [tiny_demo.stems[i] for i in R.sample_indices(4, 3, 0)]
    R._MEMO.clear()
    serial = R.radiomics_image_table(tiny_demo, sample_size=3, seed=0, n_jobs=1)
    pd.testing.assert_frame_equal(table, serial)
    assert R.sample_indices(4, 20) == [0, 1, 2, 3]
    assert R.sample_indices(10, 3, seed=1) == R.sample_indices(10, 3, seed=1)
    assert len(set(R.sample_indices(10, 3, seed=1))) == 3


def test_dataset_vector_drops_non_finite_features():
    t = pd.DataFrame({"rad_a": [1.0, np.nan], "rad_b": [np.nan, np.nan]})
    assert R.dataset_vector(t) == {"rad_a": 1.0}
    assert R.dataset_vector(pd.DataFrame()) == {}


def test_normalize_table_zscore_constant_and_missing():
    df = pd.DataFrame({"rad_a": [1.0, 2.0, 3.0], "rad_c": [5.0, 5.0, 5.0],
                       "rad_n": [1.0, np.nan, 3.0]}, index=["x", "y", "z"])
    z, stats = R.normalize_table(df)
    np.testing.assert_allclose(z["rad_a"], [-np.sqrt(1.5), 0, np.sqrt(1.5)])
    assert (z["rad_c"] == 0).all() and stats.loc["std", "rad_c"] == 0
    np.testing.assert_allclose(z["rad_n"], [-1, 0, 1])  # missing -> the mean -> 0
    z2, _ = R.normalize_table(pd.DataFrame({"rad_a": [2.0], "rad_c": [9.0]}), stats)
    assert list(z2.columns) == list(stats.columns)
    np.testing.assert_allclose(z2.to_numpy(), [[0.0, 0.0, 0.0]])


def _random_table(n=6, f=10, seed=0):
    rng = np.random.default_rng(seed)
    names = [f"ds{i}" for i in range(n)]
    cols = [f"rad_glcm_F{i}" for i in range(f)]
    t = pd.DataFrame(rng.normal(size=(n, f)) * np.logspace(0, 4, f), index=names, columns=cols)
    t["hc_n_images"] = 5.0  # non-radiomics columns are ignored
    return t


def _pca_and_similarity(table: pd.DataFrame):
    space = R.RadiomicsSpace.fit(table)
    raw = table[R.raw_radiomics_columns(table.columns)]
    return space.pca(raw), space.similarity(raw)


def test_pca_and_similarity_shapes_and_self_similarity():
    t = _random_table()
    pca, sim = _pca_and_similarity(t)
    assert list(pca.columns) == ["rad_pca_1", "rad_pca_2", "rad_pca_3", "rad_pca_4"]
    assert list(pca.index) == list(t.index) and pca.shape == (6, 4)
    assert list(sim.columns) == [f"sim_{n}" for n in t.index] and sim.shape == (6, 6)
    np.testing.assert_allclose(np.diag(sim.to_numpy()), 1.0)
    np.testing.assert_allclose(sim.to_numpy(), sim.to_numpy().T)
    assert (sim.to_numpy() <= 1 + 1e-12).all() and (sim.to_numpy() >= -1 - 1e-12).all()
    np.testing.assert_allclose(pca.mean(), 0, atol=1e-9)  # centred scores
    v = pca.var().to_numpy()
    assert (np.diff(v) <= 1e-9).all()  # ordered by explained variance


def test_pca_pads_when_rank_deficient():
    pca, sim = _pca_and_similarity(_random_table(n=3))
    assert pca.shape == (3, 4)
    assert (pca["rad_pca_3"] == 0).all() and (pca["rad_pca_4"] == 0).all()


def test_space_transforms_a_new_vector_like_the_table():
    t = _random_table()
    pca, sim = _pca_and_similarity(t)
    space = R.RadiomicsSpace.fit(t)
    p, s = space.transform(t.loc["ds2"].to_dict())
    assert p == pytest.approx(pca.loc["ds2"].to_dict())
    assert s == pytest.approx(sim.loc["ds2"].to_dict())
    assert s["sim_ds2"] == pytest.approx(1.0)
    p, s = space.transform({"rad_glcm_F0": 1e6})  # unseen vector with missing features
    assert set(s) == set(sim.columns) and all(-1 <= x <= 1 for x in s.values())
    meta = t.reset_index().rename(columns={"index": "dataset"})
    meta["rad_pca_1"] = 123.0  # derived columns are not fitted on
    again = R.RadiomicsSpace.from_meta_features(meta)
    assert again.transform(t.loc["ds2"].to_dict())[0] == pytest.approx(pca.loc["ds2"].to_dict())


def test_cosine_similarity_of_zero_vector_is_zero():
    s = R.cosine_similarity_matrix(np.array([[0.0, 0.0], [1.0, 0.0]]), np.array([[1.0, 1.0]]))
    np.testing.assert_allclose(s, [[0.0], [np.sqrt(0.5)]])


def test_sample_is_stratified_by_channel_count_in_mixed_datasets():
    strata = [1] * 53 + [3] * 12
    idx = R.sample_indices(65, 20, seed=0, strata=strata)
    assert len(idx) == 20 and sum(strata[i] == 3 for i in idx) == 4
    assert R.sample_indices(48, 20, 0, [1] * 48) == R.sample_indices(48, 20, 0)
