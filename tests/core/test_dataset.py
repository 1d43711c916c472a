import re
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile
import yaml

from aixcell_automl.core.dataset import (
    DatasetError,
    load_dataset,
    parse_magnification,
    read_image,
    split_dataset,
    validate_dataset,
)
from aixcell_automl.core.errors import UserError
from tests.conftest import SHARED_DATASETS

# every shared dataset folder there is (17 on 2026-12-05), so one added later is tested too
ALL_SHARED = sorted(d.name for d in SHARED_DATASETS.iterdir() if (d / "dataset.yaml").is_file()
                    ) if SHARED_DATASETS.is_dir() else ["shared datasets not found"]


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
    ("unreadable_image", "im2.png: unreadable image (not a readable PNG image (cannot identify "
                         "image file))"),
    ("empty_folder", "no images (empty dataset)"),
    ("missing_yaml", "dataset.yaml: missing"),
    ("missing_class_names", "field 'class_names' is missing"),
    ("malformed_class_names", "'class_names' must be a list of >= 2 names"),
    ("malformed_yaml", "not valid YAML"),
    ("bad_split", "'split' must map image stems"),
    ("yaml_not_utf8", "dataset.yaml: not UTF-8 text"),
    ("class_named_twice", "'class_names' names cell more than once"),
    ("yaml_is_a_folder", "dataset.yaml: is a folder"),
    ("encoding_a_list", "'mask_encoding' ['a'] is not one of"),
    ("empty_image_file", "im2.png: unreadable image (empty file (0 bytes))"),
    ("nan_pixels", "im2.tif: unreadable image (2 NaN or infinite pixel value(s))"),
    ("z_stack", "im2.tif: unreadable image (a z-stack or time series (axes ZYX)"),
    ("stack_of_planes", "got an array of shape (5, 20, 30) (a stack of planes?)"),
    ("split_leaves_no_train", "the split leaves 0 image(s) to train on (1 val, 2 test"),
    ("split_leaves_one_without_val", "the split leaves 1 image(s) to train on (0 val, 2 test"),
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
    elif case == "yaml_not_utf8":
        (root / "dataset.yaml").write_bytes("class_names: [a, b]\nname: caf\u00e9\n"
                                            .encode("cp1252"))
    elif case == "class_named_twice":
        (root / "dataset.yaml").write_text("class_names: [background, cell, cell]\n")
    elif case == "yaml_is_a_folder":
        (root / "dataset.yaml").unlink()
        (root / "dataset.yaml").mkdir()
    elif case == "encoding_a_list":
        (root / "dataset.yaml").write_text("class_names: [a, b]\nmask_encoding: [a]\n")
    elif case == "empty_image_file":
        (root / "images" / "im2.png").write_bytes(b"")
    elif case in ("nan_pixels", "z_stack", "stack_of_planes"):
        (root / "images" / "im2.png").unlink()
        img = np.ones((20, 30), np.float32)
        img[0, :2] = np.nan, np.inf
        tifffile.imwrite(root / "images" / "im2.tif", {
            "nan_pixels": img, "z_stack": np.zeros((3, 20, 30), np.uint8),
            "stack_of_planes": np.zeros((5, 20, 30), np.uint8)}[case],
            **({"imagej": True, "metadata": {"axes": "ZYX"}} if case == "z_stack" else {}))
    elif case == "split_leaves_no_train":
        (root / "dataset.yaml").write_text(
            "class_names: [a, b]\nsplit: {im0: val, im1: test, im2: test}\n")
    elif case == "split_leaves_one_without_val":  # one of train's would become validation
        (root / "dataset.yaml").write_text("class_names: [a, b]\nsplit: {im1: test, im2: test}\n")
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
    assert parse_magnification(True) is None and parse_magnification([40, 60]) is None  # yes


def test_a_dataset_without_foreground_is_refused_and_an_absent_class_warned(tmp_path):
    root = _write(tmp_path / "bg", classes=("background", "cell", "nucleus"))
    problems, warnings = validate_dataset(root)
    assert problems == []
    assert any("class 'nucleus' (label 2) occurs in no mask" in w for w in warnings), warnings
    for p in (root / "masks").iterdir():
        iio.imwrite(p, np.zeros((20, 30), np.uint8))
    problems, _ = validate_dataset(root)
    assert len(problems) == 1 and "no mask has a foreground pixel" in problems[0]
    with pytest.raises(DatasetError, match="nothing to learn"):
        load_dataset(root)


def test_split_keys_yaml_reads_as_numbers_are_stems(tmp_path):
    root = _write(tmp_path / "numbers")
    for sub in ("images", "masks"):
        for i in range(3):
            (root / sub / f"im{i}.png").rename(root / sub / f"00{i + 1}.png")
    (root / "dataset.yaml").write_text("class_names: [a, b]\nsplit: {001: test}\n")
    assert _problems(root) == [f"{root / 'dataset.yaml'}: split names '1', which has no image "
                               f"(did you mean '001'? YAML reads 001 unquoted as the number 1: "
                               f"quote it)"]
    for sub in ("images", "masks"):
        for i in range(3):
            (root / sub / f"00{i + 1}.png").rename(root / sub / f"{i + 1}.png")
    assert _problems(root) == []  # 1: test names the image 1.png
    assert split_dataset(load_dataset(root), seed=0)["test"] == ["1"]


def test_one_bit_and_16_bit_binary_masks(tmp_path):
    from aixcell_automl.core.dataset import write_starter_yaml

    root = _write(tmp_path / "bits")
    for p in (root / "masks").iterdir():
        iio.imwrite(p, iio.imread(p).astype(bool))  # a 1-bit PNG
    assert iio.imread(root / "masks" / "im0.png").dtype == bool
    assert _problems(root) == [] and load_dataset(root).mask(0).max() == 1
    for p in (root / "masks").iterdir():
        p.unlink()
        tifffile.imwrite(root / "masks" / f"{p.stem}.tif", (_write_mask() > 0) * np.uint16(65535))
    (root / "dataset.yaml").unlink()
    _, meta, notes = write_starter_yaml(root)
    assert meta["mask_encoding"] == "binary_nonzero" and "only 0 and 65535" in notes[0]
    assert _problems(root) == []
    np.testing.assert_array_equal(load_dataset(root).mask(0), _write_mask())


def _write_mask() -> np.ndarray:
    m = np.zeros((20, 30), np.uint8)
    m[2:5, 2:5] = 1
    return m


@pytest.mark.parametrize("case, expected", [
    ("jpeg", "im0.jpg: a JPEG mask; JPEG is lossy"),
    ("float", "im0.tif: mask dtype float32 is not an integer type"),
    ("too_many_labels", "labels up to 300 (3 distinct values) read as neither class labels"),
])
def test_starter_yaml_refuses_masks_it_cannot_guess(tmp_path, case, expected):
    from aixcell_automl.core.dataset import write_starter_yaml

    root = _write(tmp_path / case)
    (root / "dataset.yaml").unlink()
    (root / "masks" / "im0.png").unlink()
    if case == "jpeg":
        iio.imwrite(root / "masks" / "im0.jpg", _write_mask() * np.uint8(255))
    elif case == "float":
        tifffile.imwrite(root / "masks" / "im0.tif", _write_mask().astype(np.float32))
    else:
        m = _write_mask().astype(np.uint16)
        m[10:12, 10:12] = m[15:, 25:] = 300  # two regions: not an instance id
        tifffile.imwrite(root / "masks" / "im0.tif", m)
    with pytest.raises(DatasetError, match=re.escape(expected)):
        write_starter_yaml(root)
    assert not (root / "dataset.yaml").exists()
    with pytest.raises(DatasetError, match="dataset folder does not exist"):
        write_starter_yaml(tmp_path / "nowhere")


def _instances(size=(40, 50), n=5) -> np.ndarray:
    m = np.zeros(size, np.uint16)
    for i in range(n):  # separate squares, ids 1..n (as Cellpose writes them)
        m[5:12, 2 + 9 * i:8 + 9 * i] = i + 1
    return m


def test_binary_255_and_instance_masks_are_recognised_with_the_fix(tmp_path):
    root = _write(tmp_path / "b255")
    for p in (root / "masks").iterdir():
        iio.imwrite(p, iio.imread(p) * 255)
    problems, _ = validate_dataset(root)
    assert len(problems) == 1, problems  # one line for all three masks, naming the fix
    assert "3 mask(s) have labels outside 0..1" in problems[0]
    assert "fix: add 'mask_encoding: binary_255'" in problems[0]

    inst = _write(tmp_path / "inst", size=(40, 50))
    for p in (inst / "masks").iterdir():
        p.unlink()
        tifffile.imwrite(inst / "masks" / f"{p.stem}.tif", _instances())
    problems, _ = validate_dataset(inst)
    assert len(problems) == 1 and "fix: add 'mask_encoding: instances'" in problems[0], problems

    # a class map with too few class_names is not mistaken for either
    many = _write(tmp_path / "many")
    m = np.zeros((20, 30), np.uint8)
    m[:, :10], m[:, 10:20], m[:5, 20:], m[10:, 20:] = 1, 2, 3, 3  # label 3 in two regions
    iio.imwrite(many / "masks" / "im0.png", m)
    problems, _ = validate_dataset(many)
    assert problems == [f"{many / 'masks' / 'im0.png'}: labels [2, 3] outside 0..1 "
                        f"(2 class_names)"]


@pytest.mark.parametrize("encoding", ["binary_255", "instances"])
def test_declared_mask_encoding_is_mapped_by_the_loader(tmp_path, encoding):
    root = _write(tmp_path / encoding, size=(40, 50))
    for p in (root / "masks").iterdir():
        p.unlink()
        stored = _instances() if encoding == "instances" else (_instances() > 0) * np.uint8(255)
        tifffile.imwrite(root / "masks" / f"{p.stem}.tif", stored)
    (root / "dataset.yaml").write_text(
        yaml.safe_dump({"class_names": ["background", "cell"], "mask_encoding": encoding}))
    ds = load_dataset(root)
    mask = ds.mask(0)
    np.testing.assert_array_equal(mask, (_instances() > 0).astype(np.uint8))
    assert ds.num_classes == 2 and mask.dtype == np.uint8


def test_mask_encoding_errors(tmp_path):
    root = _write(tmp_path / "e")
    (root / "dataset.yaml").write_text("class_names: [a, b, c]\nmask_encoding: instances\n")
    assert any("gives two classes" in p for p in _problems(root))
    (root / "dataset.yaml").write_text("class_names: [a, b]\nmask_encoding: rle\n")
    assert any("'mask_encoding' 'rle' is not one of" in p for p in _problems(root))
    (root / "dataset.yaml").write_text("class_names: [a, b]\nmask_encoding: binary_255\n")
    problems = _problems(root)  # the masks hold 0/1, not 0/255
    assert len(problems) == 3 and all("values [1] besides 0 and 255" in p for p in problems)


@pytest.mark.parametrize("kind, expected", [
    ("labels", {"class_names": ["background", "class_1", "class_2"]}),
    ("binary_255", {"class_names": ["background", "foreground"], "mask_encoding": "binary_255"}),
    ("instances", {"class_names": ["background", "foreground"], "mask_encoding": "instances"}),
])
def test_starter_yaml_reads_classes_and_encoding_from_the_masks(tmp_path, kind, expected):
    from aixcell_automl.core.dataset import write_starter_yaml

    root = _write(tmp_path / kind, size=(40, 120))
    (root / "dataset.yaml").unlink()
    for i, p in enumerate(sorted((root / "masks").iterdir())):
        m = _instances((40, 120), n=12).astype(np.uint8)
        if kind == "labels":
            m = np.minimum(m, 1 + i % 2)
        elif kind == "binary_255":
            m = (m > 0) * np.uint8(255)
        iio.imwrite(p, m)
    path, meta, notes = write_starter_yaml(root)
    assert {k: v for k, v in meta.items() if k != "name"} == expected and notes
    assert yaml.safe_load(path.read_text()) == meta
    problems, _ = validate_dataset(root)
    assert problems == []
    with pytest.raises(UserError, match="exists; not overwriting"):
        write_starter_yaml(root)


@pytest.mark.shared_data
def test_starter_yaml_matches_every_shared_dataset(shared_datasets, tmp_path):
    """The guess reproduces each real dataset's class count and finds no encoding (the folders
    are read; the starter is computed without writing)."""
    from aixcell_automl.core.dataset import starter_metadata

    for name in ALL_SHARED:
        meta, _ = starter_metadata(shared_datasets / name)
        given = yaml.safe_load((shared_datasets / name / "dataset.yaml").read_text())
        assert len(meta["class_names"]) == len(given["class_names"]), name
        assert "mask_encoding" not in meta, name
