import numpy as np
import pandas as pd
import pytest
from kedro.io import DatasetError

from aixcell_automl.kedro_datasets import (
    ImageFolderDataset,
    MetaBaseDataset,
    MicroscopyDataset,
    PathDataset,
)


def test_masks_are_png_up_to_255_classes_and_tiff_beyond(tmp_path):
    out = ImageFolderDataset(str(tmp_path / "masks"), labels=True)
    small = np.arange(12, dtype=np.uint8).reshape(3, 4)
    big = (np.arange(12, dtype=np.uint16) * 100).reshape(3, 4)
    out.save({"a": small, "b": big})
    assert (tmp_path / "masks/a.png").exists() and (tmp_path / "masks/b.tif").exists()
    back = out.load()
    np.testing.assert_array_equal(back["a"], small)
    np.testing.assert_array_equal(back["b"], big)


def test_input_datasets_are_read_only(demo_path):
    ds = MicroscopyDataset(str(demo_path))
    assert len(ds.load()) == 8
    with pytest.raises(DatasetError, match="read-only"):
        ds.save({"a": 1})


def test_missing_prediction_folder_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        ImageFolderDataset(str(tmp_path / "nope")).load()


def test_metabase_dataset_appends_only_new_rows(tmp_path):
    ds = MetaBaseDataset(str(tmp_path / "mb.jsonl"))
    row = {"dataset_hash": "h", "config_id": "c", "fidelity_pixels": 1, "val_score": 0.5}
    ds.save(pd.DataFrame([row]))
    ds.save(pd.DataFrame([row, {**row, "config_id": "d"}]))
    assert list(ds.load()["config_id"]) == ["c", "d"]


def test_metabase_dataset_appends_only_new_keys_per_protocol(tmp_path):
    import pandas as pd

    ds = MetaBaseDataset(str(tmp_path / "mb.jsonl"))
    row = {"dataset": "d", "dataset_hash": "h", "config_id": "c", "fidelity_pixels": 8,
           "val_score": 0.5, "status": "ok"}
    ds.save(pd.DataFrame([row]))
    ds.save(pd.DataFrame([row, {**row, "protocol": "v2"}]))  # v1 again: skipped; v2: new
    assert len(ds.load()) == 2
    ds.save(pd.DataFrame())  # a search that does not learn from use saves nothing
    assert len(ds.load()) == 2


def test_path_dataset_hands_the_node_its_place_as_written(tmp_path):
    """A run root, log or cache: loaded as a ``Path`` (relative stays relative), never saved."""
    from pathlib import Path

    ds = PathDataset(location="data/06_models/runs/search/r1")
    assert ds.load() == Path("data/06_models/runs/search/r1") and not ds.exists()
    assert PathDataset(location=None).load() is None
    assert PathDataset(location=str(tmp_path)).exists()
    with pytest.raises(DatasetError, match="written by the node"):
        ds.save("anything")
