"""bioimage.io export and the ONNX Runtime engine, on a small model trained on the demo data."""

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from aixcell_automl.export.model_card import dataset_citation

CFG = {"config_id": "export", "patch_size": 64, "batch_size": 4, "learning_rate": 0.001,
       "backbone": "resnet18", "flip": 0.0, "brightness_blur": 0.0, "grid_distortion": 0.0}
PARAMS = {"output_dir": None, "search_reports": None, "check": True, "license": "CC-BY-4.0",
          "authors": [{"name": "Test Author"}]}


@pytest.fixture(scope="module")
def demo_model(demo_trial_data, tmp_path_factory):
    """ResNet-18 U-Net trained for 16 steps of 4 demo patches: enough for masks with every class."""
    from aixcell_automl.training.loop import Budget, Settings, best_model, train_trial

    fast = Settings(eval_every_pixels=8 * 4 * 64 * 64, val_pixels=16 * 64 * 64)
    run = tmp_path_factory.mktemp("export_run")
    train_trial(CFG, demo_trial_data, run, Budget(pixels=2 * fast.eval_every_pixels), fast)
    return best_model(run, demo_trial_data, dataset="demo_synthetic_cells", dataset_hash="h")


@pytest.fixture(scope="module")
def exported(demo_model, demo_path, tmp_path_factory):
    """The export node's work on the demo model: package written and checked."""
    from aixcell_automl.core.dataset import load_dataset, split_dataset
    from aixcell_automl.pipelines.export.nodes import evaluated_facts, package_and_check

    dataset = load_dataset(demo_path)
    split = split_dataset(dataset, seed=0)
    model, info = demo_model
    facts = evaluated_facts(model, info, dataset, split)
    params = {**PARAMS, "output_dir": str(tmp_path_factory.mktemp("packages"))}
    with pytest.MonkeyPatch.context() as mp:  # any web request of the checks fails, visibly
        for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
            mp.setenv(var, "http://127.0.0.1:9")
        for var in ("NO_PROXY", "no_proxy"):
            mp.delenv(var, raising=False)
        summary, onnx = package_and_check(demo_model, dataset, facts, Path(params["output_dir"]),
                                          params)
    return dataset, split, facts, summary, onnx


@pytest.mark.slow
def test_package_validates_and_passes_the_model_test_offline(exported):
    from pathlib import Path

    dataset, split, facts, summary, _ = exported
    check = summary["check"]
    assert check["status"] == "passed" and check["format_status"] == "valid-format"
    assert check["weight_formats"] == ["onnx", "tensorflow_saved_model_bundle"]
    tested = {d["loc"][1] for d in check["details"] if d["loc"][:1] == ["weights"]
              and d["status"] == "passed"}
    assert tested == {"onnx", "tensorflow_saved_model_bundle"}
    messages = [m for d in check["details"] for m in d["errors"] + d["warnings"]]
    assert not [m for m in messages if "URL" in m or "http" in m]  # no web request was made

    folder = Path(summary["package"])
    rdf = yaml.safe_load((folder / "rdf.yaml").read_text())
    assert rdf["format_version"].startswith("0.5.")
    pre = {p["id"]: p.get("kwargs") for p in rdf["inputs"][0]["preprocessing"]}
    assert pre["scale_range"] == {"axes": ["y", "x"], "min_percentile": 1.0,
                                  "max_percentile": 99.8}
    assert pre["clip"] == {"min": 0.0, "max": 1.0}
    assert [a.get("size") for a in rdf["inputs"][0]["axes"][1:3]] == [64, 64]
    assert [a.get("halo") for a in rdf["outputs"][0]["axes"][1:3]] == [8, 8]
    assert rdf["outputs"][0]["axes"][3]["channel_names"] == ["background", "cytoplasm",
                                                             "nucleus"]
    assert [c.get("doi") for c in rdf["cite"]][2:] == ["10.1007/978-3-319-24574-4_28",
                                                      "10.1109/CVPR.2016.90"]
    x = np.load(folder / "test_input.npy")
    assert x.shape == (1, 64, 64, 1) and x.max() > 1  # raw intensities, before preprocessing
    assert facts["test"]["images"] == split["test"]
    readme = (folder / "README.md").read_text()
    assert f"mean IoU {facts['test']['mean_iou']:.3f}" in readme and "| nucleus |" in readme
    import imageio.v3 as iio

    cover = iio.imread(folder / "cover.png")
    assert cover.shape == (256, 512, 3)
    assert Path(summary["zip"]).stat().st_size > 0.9 * sum(
        f.stat().st_size for f in folder.iterdir() if f.suffix in (".onnx", ".zip"))


@pytest.mark.slow
def test_onnx_engine_gives_the_same_masks_as_tensorflow(exported, demo_model, tmp_path):
    from aixcell_automl.core.metrics import confusion, per_class_iou
    from aixcell_automl.training.engines import OnnxModel, OnnxModelDataset, inference_model
    from aixcell_automl.training.predict import predict_mask

    dataset, split, _, _, onnx = exported
    model, info = demo_model
    store = OnnxModelDataset(str(tmp_path / "model" / "model.onnx"))
    assert store.load() is None
    store.save(onnx)
    engine = inference_model(model, store.load(), "onnx")
    assert isinstance(engine, OnnxModel)
    index = {s: i for i, s in enumerate(dataset.stems)}
    for stem in split["test"] + split["val"]:
        image = dataset.image(index[stem])
        tf_mask, onnx_mask = predict_mask(model, image, info), predict_mask(engine, image, info)
        present = np.union1d(np.unique(tf_mask), np.unique(onnx_mask))
        assert len(present) >= 2  # a trained model, not an all-background one
        iou = per_class_iou(confusion(tf_mask, onnx_mask, 3))[present]
        assert iou.min() >= 0.999, (stem, iou)


@pytest.mark.slow
def test_engine_choice_and_stale_onnx_weights(exported, demo_model):
    from aixcell_automl.training.engines import AUTO_ENGINE, OnnxModel, inference_model
    from aixcell_automl.training.model import build_model

    *_, onnx = exported
    model, info = demo_model
    fresh = OnnxModel(onnx)
    assert inference_model(model, fresh, "tf") is model
    assert inference_model(model, fresh, "auto") is (fresh if AUTO_ENGINE == "onnx" else model)
    other = build_model("resnet18", 1, 3)  # other weights: the ONNX file is stale for it
    assert inference_model(other, fresh, "auto") is other
    with pytest.raises(ValueError, match="other weights"):
        inference_model(other, fresh, "onnx")
    with pytest.raises(ValueError, match="no model.onnx"):
        inference_model(model, None, "onnx")
    with pytest.raises(ValueError, match="predict.engine must be one of"):
        inference_model(model, fresh, "torch")


def test_dataset_citation_uses_the_doi_else_the_source_repository():
    coelho = {"citation": "Coelho L.P. et al. (2009) Nuclear segmentation. ISBI 2009, pp. "
                          "518-521. doi:10.1109/ISBI.2009.5193098",
              "source": {"repository": "luispedro/Coelho2009"}}
    assert dataset_citation(coelho)["doi"] == "10.1109/ISBI.2009.5193098"
    ctc = {"citation": "Ulman V. et al. (2017) Nat. Methods 14:1141",
           "source": {"repository": "owner/repo"}}
    assert dataset_citation(ctc)["url"] == "https://github.com/owner/repo"
    assert dataset_citation({"citation": "a paper"}) is None
    assert dataset_citation({"name": "demo"}) is None


def test_report_facts_come_from_the_search_that_made_the_model(tmp_path):
    from aixcell_automl.pipelines.export.nodes import report_facts

    run = tmp_path / "run1"
    run.mkdir()
    metrics = {"test_split": "test", "test_iou": 0.9, "per_class_iou": {"a": 0.9},
               "winner_config": {"config_id": "c1"}, "winner_rank": 2, "hardware": "cpu:2x"}
    files = {"metrics": metrics,
             "ranking_info": {"n_configs": 576, "meta_model": "m", "representation": "r",
                              "metabase_rows": 154, "metabase_datasets": ["d1", "d2"]},
             "halving_trace": {"budget_seconds": 150, "wall_seconds": 160, "k": 3},
             "split": {"train": ["t"], "val": ["v"], "test": ["x", "y"]}}
    for name, data in files.items():
        (run / f"{name}.json").write_text(json.dumps(data))
    info = {"search_run": "data/06_models/runs/search/run1", "config": {"config_id": "c1"}}
    facts = report_facts(info, tmp_path)
    assert facts["test"] == {"split": "test", "images": ["x", "y"], "mean_iou": 0.9,
                             "per_class_iou": {"a": 0.9}}
    assert facts["search"]["metabase_rows"] == 154 and facts["search"]["metabase_datasets"] == 2
    assert report_facts({**info, "config": {"config_id": "other"}}, tmp_path) is None
    assert report_facts({"config": {"config_id": "c1"}}, tmp_path) is None  # a train model


def test_search_export_is_off_by_default_and_then_writes_nothing(tmp_path):
    from pathlib import Path

    from aixcell_automl.pipelines.export.nodes import export_search_winner
    from aixcell_automl.training.engines import OnnxModelDataset

    conf = Path(__file__).parents[2] / "conf" / "base" / "parameters_search.yml"
    search_params = yaml.safe_load(conf.read_text())["search"]
    summary, onnx = export_search_winner(None, None, {}, {}, {}, {}, None, search_params, {})
    assert summary["exported"] is False and onnx == b""
    store = OnnxModelDataset(str(tmp_path / "model" / "model.onnx"))
    store.save(onnx)
    assert not (tmp_path / "model").exists() and store.load() is None


def test_test_tensor_window_and_channels_follow_the_models_input():
    from aixcell_automl.export.package import centre_window, with_channels

    grey = np.arange(40 * 50, dtype=np.uint16).reshape(40, 50, 1)
    rgb = np.stack([grey[..., 0] % 256] * 3, axis=-1).astype(np.uint8)
    assert with_channels(grey, 3).shape == (40, 50, 3) and with_channels(grey, 3).dtype == np.uint16
    assert with_channels(rgb, 1).shape == (40, 50, 1)
    assert with_channels(rgb, 2).shape == (40, 50, 2)
    x = centre_window(grey, 64)  # smaller than the window: symmetric padding
    assert x.shape == (1, 64, 64, 1) and x.dtype == np.float32
    np.testing.assert_array_equal(x[0, 12:52, 7:57, 0], grey[..., 0])
    y = centre_window(np.pad(grey, ((0, 100), (0, 100), (0, 0))), 32)
    assert y.shape == (1, 32, 32, 1)


def test_package_normalises_as_the_models_plan_says(demo_path):
    """A model trained with a plan's percentiles is described with them, not the defaults."""
    from aixcell_automl.core.dataset import load_dataset
    from aixcell_automl.export.model_card import model_card
    from aixcell_automl.export.package import ONNX_FILE, SAVED_MODEL_FILE, description

    dataset = load_dataset(demo_path)
    info = {"patch_size": 64, "channels": 1, "num_classes": 3, "backbone": "resnet18",
            "normalisation": {"low_percentile": 2.5, "high_percentile": 97.0}}
    facts = {"source": "train", "test": {"split": "test", "images": ["img0"], "mean_iou": 0.5,
                                         "per_class_iou": {"background": 0.9, "cytoplasm": 0.4,
                                                           "nucleus": 0.3}}}
    sha = dict.fromkeys(["README.md", "cover.png", "test_input.npy", "sample_input.tif",
                         "test_output.npy", "sample_output.tif", SAVED_MODEL_FILE, ONNX_FILE],
                        "0" * 64)
    rdf = description(info, dataset, facts, PARAMS, sha)
    scale = next(p for p in rdf["inputs"][0]["preprocessing"] if p["id"] == "scale_range")
    assert (scale["kwargs"]["min_percentile"], scale["kwargs"]["max_percentile"]) == (2.5, 97.0)
    default = description({k: v for k, v in info.items() if k != "normalisation"}, dataset,
                          facts, PARAMS, sha)["inputs"][0]["preprocessing"][1]["kwargs"]
    assert (default["min_percentile"], default["max_percentile"]) == (1.0, 99.8)
    assert "percentile 2.5 to percentile 97" in model_card(info, dataset, facts, "img0")


def test_export_refuses_a_dataset_the_model_was_not_trained_on(demo_path):
    from aixcell_automl.core.dataset import load_dataset
    from aixcell_automl.core.errors import UserError
    from aixcell_automl.pipelines.export.nodes import export_model

    info = {"dataset": "other_set", "dataset_hash": "0" * 16}
    with pytest.raises(UserError, match="trained on 'other_set'.*set dataset.path"):
        export_model((None, info), load_dataset(demo_path), {}, None, None, {})
