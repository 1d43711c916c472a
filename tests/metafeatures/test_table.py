"""The meta-feature table of one dataset: every extractor, flat dict, JSON cache."""

import json

import pandas as pd
import pytest

from aixcell_automl.core.dataset import load_dataset
from aixcell_automl.metafeatures.table import (
    cache_key,
    extract_dataset_features,
    image_radiomics_table,
)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from aixcell_automl.core.demo_data import write_demo_dataset

    return load_dataset(write_demo_dataset(tmp_path_factory.mktemp("tab") / "d", n_images=3,
                                           size=48, seed=5))


def test_runs_every_extractor_and_caches(tiny, tmp_path):
    params = {"sample_size": 2, "seed": 0}
    timings = {}
    f = extract_dataset_features(tiny, params, cache_dir=tmp_path, timings=timings)
    assert f["dataset"] == tiny.name and f["dataset_hash"] == tiny.content_hash()
    assert set(timings) == {"handcrafted", "user_given", "radiomics"}
    assert f["hc_n_images"] == 3 and "ug_magnification_known" in f
    assert any(k.startswith("rad_firstorder_") for k in f)
    files = sorted(tmp_path.glob("*.json"))
    assert len(files) == 3 and all(p.name.startswith(tiny.content_hash()) for p in files)
    # a second call reads the cache: prove it by editing a cached value
    hc = next(p for p in files if "_handcrafted_" in p.name)
    d = json.loads(hc.read_text())
    d["value"]["hc_n_images"] = 99.0
    hc.write_text(json.dumps(d))
    assert extract_dataset_features(tiny, params, cache_dir=tmp_path)["hc_n_images"] == 99.0
    # other values of an extractor's declared parameters -> other keys for that extractor only
    extract_dataset_features(tiny, {"sample_size": 2, "seed": 1}, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*_radiomics_*.json"))) == 2
    assert len(list(tmp_path.glob("*.json"))) == 4
    # cache_dir None (also via params) -> no cache
    g = extract_dataset_features(tiny, {**params, "cache_dir": None}, cache_dir=tmp_path)
    assert g["hc_n_images"] == 3 and len(list(tmp_path.glob("*.json"))) == 4
    assert {k: v for k, v in g.items() if k.startswith("rad_")} == {
        k: v for k, v in f.items() if k.startswith("rad_")}


def test_cache_key_depends_on_everything():
    base = cache_key("abc", "radiomics", "1", {"sample_size": 20, "seed": 0})
    assert base.startswith("abc_radiomics_v1_")
    assert len({base, cache_key("abd", "radiomics", "1", {"sample_size": 20, "seed": 0}),
                cache_key("abc", "handcrafted", "1", {"sample_size": 20, "seed": 0}),
                cache_key("abc", "radiomics", "2", {"sample_size": 20, "seed": 0}),
                cache_key("abc", "radiomics", "1", {"sample_size": 10, "seed": 0})}) == 5


def test_image_table_round_trips_through_the_cache(tiny, tmp_path, monkeypatch):
    from aixcell_automl.metafeatures import radiomics

    a = image_radiomics_table(tiny, {"sample_size": 2}, cache_dir=tmp_path)
    assert len(a) == 2 and a.columns.str.startswith("rad_").all()
    assert len(list(tmp_path.glob("*radiomics_images*.json"))) == 1

    def never(*args):
        raise AssertionError("recomputed although cached")

    monkeypatch.setattr(radiomics, "radiomics_image_table", never)  # the cache must answer
    b = image_radiomics_table(tiny, {"sample_size": 2}, cache_dir=tmp_path)
    pd.testing.assert_frame_equal(a, b)  # NaN, index name and dtypes survive the JSON file
    with pytest.raises(AssertionError, match="recomputed"):
        image_radiomics_table(tiny, {"sample_size": 2}, cache_dir=None)
