"""Models never overwrite each other silently (issue #41, item 7): every search and train run keeps
its model in its run folder, the installed model (``model_dir``) is a copy with ``installed.json``
naming the run, and ``predict`` says which model it uses and runs any run's model on request.

Real (tiny-backbone) training through Kedro sessions, in a copy of the project's conf/ (outputs
land under tmp_path, the repository's data/ stays untouched)."""

import json
import logging
from pathlib import Path

import pandas as pd
import pytest

from tests.pipelines.kedro_project import copy_project
from tests.pipelines.kedro_project import run as _run

TINY = {"patch_size": 64, "batch_size": 4, "backbone": "tiny", "flip": 0.0,
        "brightness_blur": 0.0, "grid_distortion": 0.0}
FAST_TRAIN = {"budget_seconds": None, "eval_every_pixels": 4 * 4 * 64 * 64,
              "val_pixels": 8 * 64 * 64, "early_stopping": {"delta": 0.05, "patience": 100}}


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    root = copy_project(tmp_path / "project")
    monkeypatch.chdir(root)
    return root


def _search_inputs(project: Path, demo_path: Path, run: str) -> None:
    """What the search's nodes before its strategy write: split, plan, the dataset's
    meta-features and a ranking of two tiny-backbone configurations (the meta-model is not
    under test here), and an empty meta-features table (the ranking's candidates are used)."""
    from aixcell_automl.core.dataset import load_dataset, make_split

    out = project / "data" / "08_reporting" / "search" / run
    out.mkdir(parents=True)
    split = make_split(load_dataset(demo_path),
                       {"split_fractions": [0.8, 0.1, 0.1], "split_seed": 0})
    (out / "split.json").write_text(json.dumps(split))
    configs = [{**TINY, "learning_rate": lr, "config_id": f"tiny-{i}"}
               for i, lr in enumerate((0.01, 0.005))]
    pd.DataFrame([{"rank": i + 1, "predicted_score": 0.5 - i / 10, **c}
                  for i, c in enumerate(configs)]).to_csv(out / "ranking.csv", index=False)
    (out / "ranking_info.json").write_text(json.dumps({"k": 2, "strategy": "successive_halving"}))
    (out / "plans.json").write_text(json.dumps({"configuration": configs[0]}))
    (out / "meta_features.json").write_text(json.dumps({"dataset": "demo", "dataset_hash": "h"}))
    (project / "data" / "04_feature").mkdir(parents=True, exist_ok=True)
    (project / "data" / "04_feature" / "meta_features.csv").write_text("dataset\n")


@pytest.mark.slow
def test_train_after_search_keeps_both_models_and_predict_runs_either(project, demo_path,
                                                                      fake_clock):
    from aixcell_automl.plugins.testing import TinyBackbone, plugin_manager_with

    models = project / "data" / "06_models"
    messages: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    with plugin_manager_with(TinyBackbone()):
        _search_inputs(project, demo_path, "s1")
        _run(project, "search", {"dataset.path": str(demo_path), "search.run_name": "s1",
                                 "search.budget_minutes": 0.4, "search.min_slice_seconds": 1,
                                 "train.val_pixels": FAST_TRAIN["val_pixels"],
                                 "train.eval_every_pixels": FAST_TRAIN["eval_every_pixels"]},
             node_names=["run_strategy", "evaluate_winner"])
        search_model = models / "runs" / "search" / "s1" / "model"
        searched = json.loads((search_model / "model.json").read_text())
        installed = json.loads((models / "model" / "installed.json").read_text())
        assert installed["pipeline"] == "search" and installed["run"] == "s1"
        assert Path(installed["model"]) == Path("data/06_models/runs/search/s1/model")
        assert installed["config_id"] == searched["config"]["config_id"]

        config = {**TINY, "learning_rate": 0.01, "flip": 0.5}  # not a search candidate
        train_params = {f"train.{k}": v for k, v in FAST_TRAIN.items()}
        _run(project, "train", {"dataset.path": str(demo_path), "train.config": config,
                                "train.max_pixels": 24 * 4 * 64 * 64, **train_params})

    # both runs' models are kept; the installed one is the train run's, and says so
    trained = json.loads((models / "model" / "model.json").read_text())
    cid, ds = trained["config"]["config_id"], trained["dataset"]
    train_model = models / "runs" / "train" / ds / cid / "model"
    assert json.loads((train_model / "model.json").read_text()) == trained
    assert json.loads((search_model / "model.json").read_text()) == searched
    assert cid != searched["config"]["config_id"]
    installed = json.loads((models / "model" / "installed.json").read_text())
    assert {k: installed[k] for k in ("pipeline", "run", "dataset", "config_id")} == {
        "pipeline": "train", "run": f"{ds}/{cid}", "dataset": ds, "config_id": cid}
    assert Path(installed["model"]) == Path(f"data/06_models/runs/train/{ds}/{cid}/model")
    assert installed["installed_at"].endswith("+00:00")
    assert installed["score"] == trained["best_val_score"]
    assert not list(models.glob("*.replaced-*"))  # the search's copy lives in its run folder
    assert sorted(p.name for p in models.iterdir() if p.name.startswith(".")) == []

    # predict with the first run's model, then with the installed one; the log says which
    log = logging.getLogger("aixcell_automl.pipelines.predict.nodes")
    handler = Collect(level=logging.INFO)
    log.addHandler(handler)
    try:
        images = str(demo_path / "images")
        with plugin_manager_with(TinyBackbone()):
            _run(project, "predict", {"predict.input": images,
                                      "predict.model": str(search_model)})
            _run(project, "predict", {"predict.input": images})
    finally:
        log.removeHandler(handler)
    used = [m for m in messages if m.startswith("predicting with")]
    assert used == [f"predicting with {search_model} (the model of search run s1, not "
                    f"installed)",
                    f"predicting with {models / 'model'} (installed by train run {ds}/{cid})"]
    masks = project / "data" / "07_model_output" / "predictions" / "masks"
    assert len(list(masks.iterdir())) == len(list((demo_path / "images").iterdir()))


class _StubModel:
    """Stands in for a Keras model: ``save_weights`` writes a marker file."""

    def __init__(self, name: str):
        self.name = name

    def save_weights(self, path: str) -> None:
        Path(path).write_text(self.name)


def _info(run_folder: Path, run: str) -> dict:
    return {"backbone": "tiny", "channels": 1, "num_classes": 3, "dataset": "d",
            "config": {"config_id": run}, "best_val_score": 0.5,
            "run": {"pipeline": "train", "run": run, "run_folder": str(run_folder)}}


def test_installing_keeps_every_runs_model_and_an_unrecorded_installed_one(tmp_path):
    from kedro.io import DatasetError

    from aixcell_automl.kedro_datasets import InstalledModelDataset

    installed = tmp_path / "model"
    installed.mkdir()
    (installed / "model.json").write_text("{}")  # installed before runs kept their models
    store = InstalledModelDataset(str(installed))
    store.save((_StubModel("a"), _info(tmp_path / "runs" / "a", "a")))
    kept = list(tmp_path.glob("model.replaced-*"))
    assert len(kept) == 1 and (kept[0] / "model.json").read_text() == "{}"
    assert json.loads((installed / "installed.json").read_text())["run"] == "a"

    store.save((_StubModel("b"), _info(tmp_path / "runs" / "b", "b")))
    # a's installed copy is dropped (its run folder holds it); nothing else is
    assert list(tmp_path.glob("model.replaced-*")) == kept
    assert (tmp_path / "runs" / "a" / "model" / "weights.h5").read_text() == "a"
    assert (installed / "weights.h5").read_text() == "b"
    record = json.loads((installed / "installed.json").read_text())
    assert record["run"] == "b" and record["model"] == str(tmp_path / "runs" / "b" / "model")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    info = {k: v for k, v in _info(tmp_path, "c").items() if k != "run"}
    with pytest.raises(DatasetError, match="names no run"):
        store.save((_StubModel("c"), info))
    assert (installed / "weights.h5").read_text() == "b"


def test_the_search_report_names_the_runs_model_folder():
    from aixcell_automl.pipelines.search.nodes import _model_path

    info = {"model_folder": "data/06_models/model",
            "installed": {"model": "data/06_models/runs/search/s1/model"}}
    assert _model_path(info) == ("data/06_models/runs/search/s1/model (installed as "
                                 "data/06_models/model)")
