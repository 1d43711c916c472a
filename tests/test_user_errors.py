"""Errors the user can fix end with a short message and exit status 1; unreadable files never sink
a prediction batch (issue 18)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pandas as pd
import pytest
import yaml

from aixcell_automl.core.errors import UserError, find_user_error

REPO = Path(__file__).resolve().parents[1]


def test_cli_user_error_is_one_message_and_exit_1_and_verbose_keeps_the_traceback(
        tmp_path, capsys):
    from aixcell_automl.__main__ import main

    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    (tmp_path / "dataset.yaml").write_text("class_names: [a, b]\n")
    assert main(["init-dataset", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err == f"error: {tmp_path / 'dataset.yaml'} exists; not overwriting it (use --force " \
                  f"to replace it)\n"
    with pytest.raises(UserError):
        main(["--verbose", "init-dataset", str(tmp_path)])


def test_init_dataset_writes_a_yaml_that_validates(tmp_path, capsys):
    from aixcell_automl.__main__ import main

    for sub in ("images", "masks"):
        (tmp_path / sub).mkdir()
    for i in range(2):
        iio.imwrite(tmp_path / "images" / f"a{i}.png", np.full((16, 16), 9 * i, np.uint8))
        m = np.zeros((16, 16), np.uint8)
        m[4:8, 4:8] = 255
        iio.imwrite(tmp_path / "masks" / f"a{i}.png", m)
    assert main(["init-dataset", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    meta = yaml.safe_load((tmp_path / "dataset.yaml").read_text())
    assert meta["mask_encoding"] == "binary_255" and meta["class_names"] == ["background",
                                                                             "foreground"]
    assert out.rstrip().endswith(f"{tmp_path}: OK")


def test_kedro_hook_replaces_the_traceback_only_for_user_errors(monkeypatch, capsys):
    from kedro.io import DatasetError as KedroDatasetError

    from aixcell_automl.kedro_hooks import TRACEBACK_ENV, UserErrorHooks

    seen = []
    monkeypatch.setattr(sys, "excepthook", lambda *a: seen.append(a[1]))
    monkeypatch.delenv(TRACEBACK_ENV, raising=False)
    hooks = UserErrorHooks()
    bug = RuntimeError("a bug")
    hooks.on_pipeline_error(bug, {}, None, None)
    sys.excepthook(RuntimeError, bug, None)
    assert seen == [bug]  # unexpected errors keep the usual (rich) traceback

    try:  # Kedro wraps a dataset's load error in its own DatasetError, "raise ... from"
        try:
            raise UserError("bad/dataset: no images")
        except UserError as exc:
            raise KedroDatasetError("Failed while loading data from dataset ...") from exc
    except KedroDatasetError as exc:
        wrapped = exc
    assert str(find_user_error(wrapped)) == "bad/dataset: no images"
    hooks.on_pipeline_error(wrapped, {}, None, None)
    sys.excepthook(KedroDatasetError, wrapped, None)
    assert capsys.readouterr().err == "error: bad/dataset: no images\n" and seen == [bug]
    sys.excepthook(RuntimeError, bug, None)  # still only user errors are shortened
    assert seen == [bug, bug]

    monkeypatch.setattr(sys, "excepthook", lambda *a: seen.append(a[1]))
    monkeypatch.setenv(TRACEBACK_ENV, "1")  # the bug-report path keeps the traceback
    hooks.on_pipeline_error(wrapped, {}, None, None)
    sys.excepthook(KedroDatasetError, wrapped, None)
    assert seen[-1] is wrapped


def test_predict_node_skips_unreadable_and_unusable_files_and_fails_only_if_none_is_left(
        tmp_path, caplog):
    import tifffile

    from aixcell_automl.pipelines.predict.nodes import (
        check_skipped,
        postprocess,
        predict_images,
        summarise_prediction,
    )

    def model(x, training=False):  # a stand-in model: foreground where the image is bright
        return np.concatenate([1 - x[..., :1], x[..., :1]], -1)

    info = {"channels": 3, "patch_size": 64, "num_classes": 2, "backbone": "fake"}
    ramp = np.tile(np.arange(50, dtype=np.uint8) * 5, (40, 1))
    iio.imwrite(tmp_path / "good.png", ramp)
    data = (tmp_path / "good.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[:len(data) // 2])
    tifffile.imwrite(tmp_path / "two.tif", np.zeros((40, 50, 2), np.uint8))
    paths = {p.stem: p for p in tmp_path.iterdir()}
    masks, previews, skipped = predict_images((model, info), paths)
    assert list(masks) == list(previews) == ["good"]
    assert masks["good"][:, -1].all() and not masks["good"][:, 0].any()
    assert list(skipped["file"]) == [str(tmp_path / "cut.png"), str(tmp_path / "two.tif")]
    assert skipped["reason"][0].startswith("unreadable (")
    assert skipped["reason"][1] == "ValueError: image has 2 channels, the model expects 3"
    assert f"skipped {tmp_path / 'cut.png'}: unreadable (" in caplog.text
    summary = summarise_prediction(paths, skipped, pd.DataFrame({"image": ["good", "good"]}))
    assert (summary["images"], summary["images_predicted"], summary["images_postprocessed"],
            summary["object_table_rows"], summary["skipped"]) == (3, 1, 1, 2, 2)
    check_skipped(summary, {"strict": False})
    with pytest.raises(UserError, match="predict.strict: 2 file"):
        check_skipped(summary, {"strict": True})
    del paths["good"]  # none left: the outputs say so, then the run fails
    masks, _, skipped = predict_images((model, info), paths)
    assert not masks and len(skipped) == 2
    summary = summarise_prediction(paths, skipped, postprocess((model, info), paths, masks,
                                                               skipped, {"postprocessors": []}))
    assert (summary["images"], summary["images_predicted"], summary["skipped"]) == (2, 0, 2)
    with pytest.raises(UserError, match=r"none of the 2 image\(s\) could be predicted \(cut.png: "
                                        r"unreadable .*\); see skipped.csv"):
        check_skipped(summary, {"strict": False})


def _kedro_run(tmp: Path, params: dict, pipeline: str) -> subprocess.CompletedProcess:
    """``kedro run`` in a copy of the project's configuration, so outputs land under ``tmp``."""
    if not (tmp / "conf").exists():
        shutil.copy(REPO / "pyproject.toml", tmp)
        shutil.copytree(REPO / "conf" / "base", tmp / "conf" / "base")
        (tmp / "src").mkdir()  # the package itself is installed
        (tmp / "conf" / "local").mkdir()
    env = {**os.environ, "COLUMNS": "400", "AIXCELL_AUTOML_NO_ENTRYPOINTS": "1"}
    env.pop("AIXCELL_AUTOML_TRACEBACK", None)
    args = ",".join(f"{k}={v}" for k, v in params.items())
    return subprocess.run([sys.executable, "-m", "kedro", "run", f"--pipelines={pipeline}",
                           "--params", args], cwd=tmp, env=env, capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """An untrained 1-channel, 3-class model folder (predictions need not be good here)."""
    from aixcell_automl.training.model import build_model, save_model

    folder = tmp_path_factory.mktemp("model") / "model"
    info = {"backbone": "resnet18", "channels": 1, "num_classes": 3, "patch_size": 64,
            "class_names": ["background", "cytoplasm", "nucleus"], "config": {}}
    save_model(build_model("resnet18", 1, 3), folder, info)
    return folder


@pytest.mark.slow
def test_predict_skips_a_truncated_file_and_strict_fails_after_writing(demo_path, tiny_model,
                                                                        tmp_path):
    folder = tmp_path / "new_images"
    folder.mkdir()
    good = sorted((demo_path / "images").iterdir())[:3]
    for p in good:
        shutil.copy(p, folder)
    data = good[0].read_bytes()
    (folder / "broken.png").write_bytes(data[:len(data) // 2])  # a truncated PNG
    params = {"predict.input": folder, "predict.model": tiny_model, "dataset.path": demo_path}
    run = _kedro_run(tmp_path, params, "predict")
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-3000:]
    assert f"skipped {folder / 'broken.png'}: unreadable (" in out
    pred = tmp_path / "data" / "07_model_output" / "predictions"
    assert sorted(p.stem for p in (pred / "masks").iterdir()) == sorted(p.stem for p in good)
    skipped = pd.read_csv(pred / "skipped.csv")
    assert list(skipped["file"]) == [str(folder / "broken.png")]
    assert "truncated" in skipped["reason"][0]
    assert set(pd.read_csv(pred / "objects.csv")["image"]) <= {p.stem for p in good}

    shutil.rmtree(pred)
    run = _kedro_run(tmp_path, {**params, "predict.strict": "true"}, "predict")
    out = run.stdout + run.stderr
    assert run.returncode == 1
    assert "error: predict.strict: 1 file(s) skipped" in run.stderr
    assert "Traceback" not in out and "│" not in out
    assert len(list((pred / "masks").iterdir())) == 3 and (pred / "objects.csv").exists()


@pytest.mark.slow
def test_search_refuses_a_dataset_without_foreground_in_a_few_lines(demo_path, tmp_path):
    root = tmp_path / "all_background"
    shutil.copytree(demo_path, root)
    for p in (root / "masks").iterdir():
        iio.imwrite(p, np.zeros_like(iio.imread(p)))
    model = tmp_path / "data" / "06_models" / "model"  # model_dir in the copied project
    model.mkdir(parents=True)
    (model / "model.json").write_text("{}")  # the installed model, which must stay
    run = _kedro_run(tmp_path, {"dataset.path": root}, "search")
    assert run.returncode == 1
    assert run.stderr.splitlines()[-2:] == [
        f"error: dataset {root} has 1 problem(s):",
        f"  - {root / 'masks'}: no mask has a foreground pixel (every label is 0, 'background'), "
        f"so there is nothing to learn; the classes to segment (cytoplasm, nucleus) need labels "
        f"1..2"]
    assert "Traceback" not in run.stdout + run.stderr
    assert [p.name for p in model.iterdir()] == ["model.json"]


def test_predict_refuses_files_that_share_a_stem(tmp_path):
    from aixcell_automl.kedro_datasets import ImageFolderDataset

    for name in ("a.png", "a.tif", "b.png"):
        iio.imwrite(tmp_path / name, np.zeros((8, 8), np.uint8))
    with pytest.raises(Exception) as raised:  # Kedro wraps what a dataset's load raises
        ImageFolderDataset(str(tmp_path), paths=True).load()
    assert str(find_user_error(raised.value)) == (
        f"{tmp_path}: outputs are named by stem, so no two files may share one: "
        f"{tmp_path / 'a.tif'}: duplicate stem 'a' (also a.png)")


def test_an_image_named_na_keeps_its_name_in_the_object_table(tmp_path):
    """pandas reads NA, null, nan ... as missing unless the catalog says otherwise."""
    from kedro.io import DataCatalog

    entry = yaml.safe_load((REPO / "conf" / "base" / "catalog.yml").read_text())[
        "prediction_table"]
    catalog = DataCatalog.from_config(
        {"prediction_table": {**entry, "filepath": str(tmp_path / "objects.csv")}})
    catalog.save("prediction_table", pd.DataFrame({"image": ["NA", "null", "001"],
                                                   "objects": [1, 2, 3]}))
    assert catalog.load("prediction_table")["image"].tolist() == ["NA", "null", "001"]


def test_predict_names_the_files_it_does_not_read(tmp_path, caplog):
    from aixcell_automl.kedro_datasets import ImageFolderDataset

    iio.imwrite(tmp_path / "a.png", np.zeros((8, 8), np.uint8))
    (tmp_path / "notes.txt").write_text("x")
    assert list(ImageFolderDataset(str(tmp_path), paths=True).load()) == ["a"]
    assert f"{tmp_path / 'notes.txt'}: not an image file, ignored" in caplog.text
