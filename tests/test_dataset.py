from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile
import yaml

from aixcell_automl.dataset import (
    DatasetError,
    load_dataset,
    parse_magnification,
    read_image,
    split_dataset,
    validate_dataset,
)

ALL_SHARED = ["bbbc010_worms", "coelho_nih3t3", "coelho_u2os", "ctc_gowt1", "ctc_hela",
              "drosophila_vnc_em", "dsb2018_stage1test", "glioma_he", "isbi14_cervical_synth",
              "isbi2012_em", "monusac_he", "sperm_parsing", "wbc1_blood"]


@pytest.mark.shared_data
@pytest.mark.parametrize("name", ALL_SHARED)
def test_every_shared_dataset_loads_and_validates(shared_datasets, name):
    ds = load_dataset(shared_datasets / name)
    meta = yaml.safe_load((shared_datasets / name / "dataset.yaml").read_text())
    assert len(ds) == meta["number_of_images"]
    assert ds.num_classes == meta["number_of_classes"]
    img, mask = ds.image(0), ds.mask(0)
    assert img.ndim == 3 and img.shape[:2] == mask.shape
    assert img.dtype.name == meta["image_dtype"]
    parts = split_dataset(ds, seed=0)
    assert sorted(parts["train"] + parts["val"] + parts["test"]) == sorted(ds.stems)
    assert parts["train"] and parts["val"] and parts["test"]


@pytest.mark.shared_data
def test_predefined_split_is_respected(shared_datasets):
    ds = load_dataset(shared_datasets / "sperm_parsing", check_pixels=False)
    parts = split_dataset(ds, seed=3)
    given = ds.metadata["split"]
    assert sorted(parts["test"]) == sorted(s for s, v in given.items() if v == "test")
    assert not set(parts["val"]) & set(parts["test"])


def _write(root: Path, n=3, classes=("background", "cell"), size=(20, 30)) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i in range(n):
        iio.imwrite(root / "images" / f"im{i}.png", np.full(size, (50 * i) % 256, np.uint8))
        m = np.zeros(size, np.uint8)
        m[2:5, 2:5] = 1
        iio.imwrite(root / "masks" / f"im{i}.png", m)
    (root / "dataset.yaml").write_text(yaml.safe_dump({"class_names": list(classes)}))
    return root


def _problems(root) -> list[str]:
    problems, _ = validate_dataset(root)
    return problems


def test_valid_dataset_has_no_problems(tmp_path):
    root = _write(tmp_path / "ok")
    assert _problems(root) == []
    assert len(load_dataset(root)) == 3


@pytest.mark.parametrize("case, expected", [
    ("image_without_mask", "im0.png: image has no mask"),
    ("mask_without_image", "im0.png: mask has no image"),
    ("size_mismatch", "does not match image im1.png"),
    ("labels_out_of_range", "labels [7] outside 0..1"),
    ("unreadable_image", "im2.png: unreadable image"),
    ("empty_folder", "no images (empty dataset)"),
    ("missing_yaml", "dataset.yaml: missing"),
    ("missing_class_names", "field 'class_names' is missing"),
    ("malformed_class_names", "'class_names' must be a list of >= 2 names"),
    ("malformed_yaml", "not valid YAML"),
    ("bad_split", "'split' must map image stems"),
])
def test_each_broken_dataset_gives_its_own_error(tmp_path, case, expected):
    root = _write(tmp_path / case)
    if case == "image_without_mask":
        (root / "masks" / "im0.png").unlink()
    elif case == "mask_without_image":
        (root / "images" / "im0.png").unlink()
    elif case == "size_mismatch":
        iio.imwrite(root / "masks" / "im1.png", np.zeros((21, 30), np.uint8))
    elif case == "labels_out_of_range":
        iio.imwrite(root / "masks" / "im1.png", np.full((20, 30), 7, np.uint8))
    elif case == "unreadable_image":
        (root / "images" / "im2.png").write_bytes(b"not a png at all")
    elif case == "empty_folder":
        for p in [*(root / "images").iterdir(), *(root / "masks").iterdir()]:
            p.unlink()
    elif case == "missing_yaml":
        (root / "dataset.yaml").unlink()
    elif case == "missing_class_names":
        (root / "dataset.yaml").write_text("name: x\n")
    elif case == "malformed_class_names":
        (root / "dataset.yaml").write_text("class_names: background\n")
    elif case == "malformed_yaml":
        (root / "dataset.yaml").write_text("class_names: [a, b\n")
    elif case == "bad_split":
        (root / "dataset.yaml").write_text("class_names: [a, b]\nsplit: {im0: holdout}\n")
    problems = _problems(root)
    assert any(expected in p for p in problems), problems
    with pytest.raises(DatasetError, match="problem"):
        load_dataset(root)


def test_all_problems_are_reported_at_once_and_nothing_is_modified(tmp_path):
    root = _write(tmp_path / "many")
    (root / "masks" / "im0.png").unlink()
    iio.imwrite(root / "masks" / "im1.png", np.full((20, 30), 9, np.uint8))
    (root / "images" / "notes.txt").write_text("hello")
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    problems, warnings = validate_dataset(root)
    assert len(problems) == 2
    assert any("notes.txt: not an image file, ignored" in w for w in warnings)
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before


def test_image_formats(tmp_path):
    rgba = np.random.default_rng(0).integers(0, 255, (8, 9, 4), dtype=np.uint8)
    iio.imwrite(tmp_path / "a.png", rgba)
    assert read_image(tmp_path / "a.png").shape == (8, 9, 3)
    u16 = np.arange(72, dtype=np.uint16).reshape(8, 9) * 900
    tifffile.imwrite(tmp_path / "b.tif", u16)
    out = read_image(tmp_path / "b.tif")
    assert out.dtype == np.uint16 and out.shape == (8, 9, 1) and out.max() == u16.max()
    tifffile.imwrite(tmp_path / "c.tif", np.zeros((2, 8, 9), np.uint16))  # channel-first
    assert read_image(tmp_path / "c.tif").shape == (8, 9, 2)


def test_seeded_split_is_reproducible(tmp_path):
    ds = load_dataset(_write(tmp_path / "s", n=20))
    a, b = split_dataset(ds, seed=5), split_dataset(ds, seed=5)
    assert a == b
    assert (len(a["train"]), len(a["val"]), len(a["test"])) == (16, 2, 2)
    assert split_dataset(ds, seed=6) != a


def test_magnification_parsing():
    assert parse_magnification("40x") == 40.0
    assert parse_magnification(20) == 20.0
    assert parse_magnification(None) is None
