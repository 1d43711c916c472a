import logging

import numpy as np
import pytest

from aixcell_automl.core.dataset import make_split
from aixcell_automl.core.errors import UserError
from aixcell_automl.core.metrics import trivial_score
from aixcell_automl.pipelines.train.nodes import check_config, train_model
from aixcell_automl.training.acceptance import check_beats_trivial
from tests.project_conf import SPACE

# the training keys every train-style parameter block has (conf/base/parameters_train.yml)
SETTINGS = {"eval_every_pixels": 4 * 4 * 64 * 64, "val_pixels": 16 * 64 * 64,
            "early_stopping": {"delta": 0.05, "patience": 8}, "init_weights": None,
            "precision": "float32"}
CFG = {"patch_size": 64, "batch_size": 4, "learning_rate": 0.001, "backbone": "resnet18",
       "flip": 0.0, "brightness_blur": 0.0, "grid_distortion": 0.0}


def test_values_outside_the_space_warn_with_the_range_and_unusable_ones_are_errors():
    assert check_config(CFG, SPACE) == []
    warnings = check_config({**CFG, "learning_rate": 1000, "batch_size": 2}, SPACE)
    assert warnings == [
        "train.config.batch_size=2 is outside the search space (4...32); the meta-base holds "
        "no evidence for it",
        "train.config.learning_rate=1000 is outside the search space (0.0005...0.01); the "
        "meta-base holds no evidence for it"]
    with pytest.raises(UserError) as err:
        check_config({**CFG, "patch_size": 100, "learning_rate": float("nan"),
                      "backbone": "vgg99", "flip": 2}, SPACE)
    for part in ("patch_size=100 must be a multiple of 32", "learning_rate=nan must be a "
                 "positive number", "backbone='vgg99' is not registered", "flip=2 must be a "
                 "probability"):
        assert part in str(err.value)


def test_trivial_predictor_is_the_best_constant_class():
    m = np.zeros((10, 10), np.uint8)
    m[:3], m[3:4] = 1, 2  # 70 % background, 30 % class 1, 10 % class 2
    iou, c = trivial_score([m], 3)
    assert c == 1 and iou == pytest.approx((30 / 100 + 0.0) / 2)  # class 2 scores 0
    names = ["bg", "a", "b"]
    check_beats_trivial(0.16, [m], names)  # passes
    with pytest.raises(UserError, match=r"0\.150 does not beat predicting 'a' everywhere"):
        check_beats_trivial(0.15, [m], names)
    with pytest.raises(UserError, match="hold no foreground"):
        check_beats_trivial(0.9, [np.zeros((4, 4), np.uint8)], names)


@pytest.mark.slow
def test_a_collapsed_model_is_not_installed_and_its_range_is_named(demo_path, tmp_path, caplog):
    """Kedro saves a node's outputs only when it returns, so raising keeps the current model."""
    from aixcell_automl.core.dataset import load_dataset
    from aixcell_automl.plugins.testing import TinyBackbone, plugin_manager_with

    ds = load_dataset(demo_path)
    split = make_split(ds, {"split_fractions": [0.8, 0.1, 0.1], "split_seed": 0})
    params = {**SETTINGS, "config": {**CFG, "backbone": "tiny", "learning_rate": 1000},
              "budget_seconds": None, "max_pixels": 12 * 4 * 64 * 64,
              "eval_every_pixels": 4 * 4 * 64 * 64, "val_pixels": 16 * 64 * 64, "seed": 0}
    with (plugin_manager_with(TinyBackbone()), caplog.at_level(logging.WARNING),
          pytest.raises(UserError) as err):
        train_model(ds, split, None, tmp_path, params, SPACE)
    assert "learning_rate=1000 is outside the search space (0.0005...0.01)" in caplog.text
    # everything predicted as one class scores exactly what that constant predictor scores
    assert str(err.value).startswith("model not installed: its best validation IoU")
    assert "does not beat predicting" in str(err.value)


@pytest.mark.slow
def test_images_smaller_than_the_smallest_patch_are_learnable(tmp_path):
    """40 x 50 px images, mirror-padded to the 64 px patch: after 24 steps the model beats the
    best constant predictor on whole validation images (docs/dataset_format.md, small images)."""
    import imageio.v3 as iio
    import yaml

    from aixcell_automl.core.dataset import load_dataset
    from aixcell_automl.core.demo_data import CLASS_NAMES, synth_image
    from aixcell_automl.training.loop import Budget, Settings, best_model, train_trial
    from aixcell_automl.training.predict import evaluate
    from aixcell_automl.training.trial_data import make_trial_data

    root = tmp_path / "small"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    rng = np.random.default_rng(0)
    for i in range(30):
        img, mask = synth_image(64, rng, n_cells=3)
        iio.imwrite(root / "images" / f"s{i:02d}.png", img[12:52, 7:57])
        iio.imwrite(root / "masks" / f"s{i:02d}.png", mask[12:52, 7:57])
    (root / "dataset.yaml").write_text(yaml.safe_dump({"class_names": CLASS_NAMES}))
    ds = load_dataset(root)
    split = make_split(ds, {"split_fractions": [0.8, 0.1, 0.1], "split_seed": 0})
    data = make_trial_data(ds, split, seed=0)
    assert max(m.shape[0] for m in data.train.masks) == 40  # smaller than every patch size
    cfg = {**CFG, "batch_size": 8, "flip": 0.5, "config_id": "small"}
    state = train_trial(cfg, data, tmp_path / "run", Budget(pixels=24 * 8 * 64 * 64),
                        Settings(eval_every_pixels=8 * 8 * 64 * 64, early_stopping=False))
    val = [ds.mask(ds.stems.index(s)) for s in split["val"]]
    model, info = best_model(tmp_path / "run", data)
    whole = evaluate(model, info, [ds.image(ds.stems.index(s)) for s in split["val"]], val)
    triv, _ = trivial_score(val, 3)
    assert state["best_score"] > triv + 0.2 and whole["mean_iou"] > triv + 0.2, (state["history"],
                                                                               whole, triv)


def test_a_model_that_beats_the_constant_predictor_is_returned_for_install(demo_path, tmp_path,
                                                                          caplog):
    """The success path with real training (the two-layer ``tiny`` backbone, 16 steps): the
    node returns the run's best model with what ``installed_model`` records about it."""
    import json
    from pathlib import Path

    from aixcell_automl.core.dataset import load_dataset
    from aixcell_automl.core.metrics import confusion, score
    from aixcell_automl.core.search_space import config_id
    from aixcell_automl.plugins.testing import TinyBackbone, plugin_manager_with
    from aixcell_automl.training.predict import predict_probabilities
    from aixcell_automl.training.trial_data import make_trial_data

    ds = load_dataset(demo_path)
    split = make_split(ds, {"split_fractions": [0.8, 0.1, 0.1], "split_seed": 0})
    config = {**CFG, "backbone": "tiny", "learning_rate": 0.01}
    params = {"config": config, "budget_seconds": None, "max_pixels": 16 * 4 * 64 * 64,
              "eval_every_pixels": 4 * 4 * 64 * 64, "val_pixels": 8 * 64 * 64,
              "early_stopping": {"delta": 0.0, "patience": 1000}, "seed": 0,
              "init_weights": None, "precision": "float32"}
    with plugin_manager_with(TinyBackbone()), caplog.at_level(logging.WARNING):
        (model, info), state = train_model(ds, split, None, tmp_path, params, SPACE)
    assert "backbone='tiny' is not in the search space" in caplog.text
    # 16 steps of 4 patches of 64 x 64 px = 262144 px, evaluated every 4 steps (65536 px)
    assert state["status"] == "finished" and state["stopped_by"] == "pixels"
    assert state["steps"] == 16 and state["pixels_seen"] == 262144
    assert [h["pixels"] for h in state["history"]] == [65536, 131072, 196608, 262144]
    assert state["best_score"] == max(h["val_score"] for h in state["history"])
    data = make_trial_data(ds, split, seed=split["seed"])
    regions = data.validation(params["val_pixels"])
    assert state["best_score"] > trivial_score(regions.masks, 3)[0]  # why it was accepted
    assert info["config"] == {**config, "config_id": config_id(config)}
    assert {k: info[k] for k in ("backbone", "channels", "num_classes", "class_names",
                                 "patch_size", "dataset", "dataset_hash", "seed",
                                 "best_val_score")} == {
        "backbone": "tiny", "channels": 1, "num_classes": 3, "class_names": ds.class_names,
        "patch_size": 64, "dataset": ds.name, "dataset_hash": ds.content_hash(), "seed": 0,
        "best_val_score": state["best_score"]}
    # the run it names holds this trial (the installer keeps the model there)
    run = info["run"]
    assert run["pipeline"] == "train" and run["run"] == f"{ds.name}/{info['config']['config_id']}"
    assert json.loads((Path(run["run_folder"]) / "state.json").read_text())["steps"] == 16
    # the returned model is the trained one with the best weights: it scores the best
    # validation IoU on the same validation regions (an untrained or other model would not)
    cm = np.zeros((3, 3), np.int64)
    for image, truth in zip(regions.images, regions.masks, strict=True):
        cm += confusion(truth, predict_probabilities(model, image, 64, batch_size=8).argmax(-1), 3)
    assert score("iou", cm)[0] == pytest.approx(state["best_score"], abs=1e-3)


def test_train_trains_the_plan_when_no_configuration_is_given(demo_path, tmp_path, monkeypatch):
    """``train.config: null`` trains the plan's configuration; ``train.plan`` reads an edited
    plans.json (the trainer is stubbed: the configuration it is handed is what matters)."""
    import json

    from aixcell_automl.core.dataset import load_dataset
    from aixcell_automl.pipelines.train import nodes

    ds = load_dataset(demo_path)
    split = make_split(ds, {"split_fractions": [0.8, 0.1, 0.1], "split_seed": 0})
    handed = []

    def stub(config, *args, **kwargs):
        handed.append(config)
        return {"status": "failed", "reason": "stub"}

    monkeypatch.setattr(nodes, "train_trial", stub)
    params = {**SETTINGS, "config": None, "plan": None, "budget_seconds": None,
              "max_pixels": None, "seed": 0}
    plan = nodes.train_plan(ds, split, params)
    assert plan["settings"]["patch_size"]["reason"]
    with pytest.raises(UserError, match="training failed: stub"):
        nodes.train_model(ds, split, plan, tmp_path, params, SPACE)
    assert handed[-1] == plan["configuration"]
    edited = json.loads(json.dumps(plan))
    edited["configuration"]["learning_rate"] = 0.01
    (tmp_path / "plans.json").write_text(json.dumps(edited))
    mine = nodes.train_plan(ds, split, {**params, "plan": str(tmp_path / "plans.json")})
    with pytest.raises(UserError):
        nodes.train_model(ds, split, mine, tmp_path, params, SPACE)
    assert handed[-1]["learning_rate"] == 0.01
    assert handed[-1]["config_id"] != plan["configuration"]["config_id"]
    with pytest.raises(UserError):  # a given configuration wins over the plan
        nodes.train_model(ds, split, plan, tmp_path, {**params, "config": dict(CFG)},
                          SPACE)
    assert {k: handed[-1][k] for k in CFG} == CFG
