"""core/dataset.py is split into reading, validation and starter-yaml modules; every public
name stays importable from ``aixcell_automl.core.dataset`` (callers do not change)."""

import types

import pytest

from aixcell_automl.core import dataset, dataset_reading, dataset_starter, dataset_validation
from aixcell_automl.core.errors import UserError


def test_every_public_name_is_reexported_as_the_same_object():
    for module in (dataset_reading, dataset_validation, dataset_starter):
        public = [n for n, obj in vars(module).items() if not n.startswith("_")
                  and not isinstance(obj, types.ModuleType)
                  and getattr(obj, "__module__", module.__name__) == module.__name__
                  and n not in ("annotations", "log")]
        assert public, module
        for name in public:
            assert getattr(dataset, name) is getattr(module, name), name
            assert name in dataset.__all__, name


def test_the_names_callers_import_still_work():
    from aixcell_automl.core.dataset import (  # noqa: F401 - the imports are the test
        IMAGE_SUFFIXES,
        MASK_ENCODINGS,
        SPLIT_NAMES,
        DatasetError,
        SegmentationDataset,
        load_dataset,
        make_split,
        parse_magnification,
        read_image,
        read_mask,
        split_dataset,
        starter_metadata,
        validate_dataset,
        write_starter_yaml,
    )

    assert issubclass(DatasetError, UserError)


def test_the_modules_each_do_one_thing(demo_path):
    problems, warnings = dataset_validation.validate_dataset(demo_path)
    assert problems == []
    images = dataset_reading.list_images(demo_path / "images", [], [])
    assert len(images) == 8
    assert dataset_reading.read_image(next(iter(images.values()))).ndim == 3
    with pytest.raises(UserError, match="exists; not overwriting"):
        dataset_starter.write_starter_yaml(demo_path)
