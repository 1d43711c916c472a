"""The search, train and predict pipelines run through a Kedro session, as `kedro run` does, in
a copy of the project's conf/ (so the repository's data/ and current model stay untouched)."""

import json
import re
import shutil
from pathlib import Path

import pytest

from tests.pipelines.kedro_project import REPO, copy_project
from tests.pipelines.kedro_project import run as _run


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = copy_project(tmp_path_factory.mktemp("project"))
    shutil.copy(REPO / "data" / "03_primary" / "metabase.jsonl", root / "metabase.jsonl")
    return root


@pytest.mark.slow
def test_search_then_predict_then_train(project, demo_path, monkeypatch, fake_clock):
    """The search's 0.3-minute budget is counted on the fake clock (0.5 s per optimisation
    step), and train gets a pixel budget: the same number of steps on any machine, enough for
    both models to beat the best constant predictor."""
    import imageio.v3 as iio
    import numpy as np

    from aixcell_automl.core.dataset import load_dataset, make_split
    from aixcell_automl.core.metrics import trivial_score
    from aixcell_automl.training.model import load_model
    from aixcell_automl.training.predict import predict_mask

    fake_clock.step = 0.5
    monkeypatch.chdir(project)
    shutil.copytree(REPO / "data" / "04_feature", project / "data" / "04_feature")
    (project / "data" / "03_primary").mkdir(parents=True)
    shutil.copy(project / "metabase.jsonl", project / "data" / "03_primary" / "metabase.jsonl")
    _run(project, "search", {"dataset.path": str(demo_path), "search.budget_minutes": 0.3,
                             "search.strategy": "successive_halving",  # whatever search.split
                             "search.k": 2, "search.run_name": "e2e",
                             "search.export": True, "export.check": False})
    out = project / "data" / "08_reporting" / "search" / "e2e"
    plan = json.loads((out / "plans.json").read_text())
    trace = json.loads((out / "halving_trace.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    trained = [t["config_id"] for t in trace["rungs"][0]["trials"]]
    assert len(trained) == 2 and plan["configuration"]["config_id"] in trained
    assert trace["winner"] in trained and trace["strategy"] == "successive_halving"
    # 18 s, k = 2: two rungs of 9 s; rung 0 gives each 4.5 s: the first step, then 9 of 0.5 s
    assert [r["seconds_per_trial"] for r in trace["rungs"]] == [4.5, 9.0]
    ds = load_dataset(demo_path)
    split = make_split(ds, {"split_fractions": [0.8, 0.1, 0.1], "split_seed": 0})
    for t in trace["rungs"][0]["trials"]:
        cfg = json.loads((project / "data" / "06_models" / "runs" / "search" / "e2e"
                          / t["config_id"] / "state.json").read_text())["config"]
        assert t["pixels_seen"] == 10 * cfg["batch_size"] * cfg["patch_size"] ** 2
    test_masks = [ds.mask(ds.stems.index(s)) for s in split[metrics["test_split"]]]
    assert metrics["test_images"] == len(test_masks) > 0
    assert metrics["test_iou"] > trivial_score(test_masks, ds.num_classes)[0]
    assert metrics["winner_config"]["config_id"] == trace["winner"]
    report = (out / "report.html").read_text()
    # search.candidates: portfolio (conf), learned on the committed meta-base's complete datasets
    assert re.search(r"Candidates \(2\):\nthe plan and the portfolio c\d\d, learned on \d+ "
                     r"datasets", report)
    assert "s for successive_halving\nover 2 candidates" in report
    package = json.loads((out / "model_package.json").read_text())  # search.export: true
    assert package["exported"] is True and package["test_iou"] == metrics["test_iou"]
    assert (Path(package["package"]) / "rdf.yaml").exists()
    assert Path(package["package"]).parent.resolve() == (
        project / "data" / "06_models" / "bioimageio").resolve()
    model, info = load_model(project / "data" / "06_models" / "model")
    assert info["config"]["config_id"] == trace["winner"]

    _run(project, "predict", {"predict.input": str(demo_path / "images")})
    images = sorted(p.stem for p in (demo_path / "images").iterdir())
    pred = project / "data" / "07_model_output" / "predictions"
    assert sorted(p.stem for p in (pred / "masks").iterdir()) == images
    assert sorted(p.stem for p in (pred / "overlays").iterdir()) == images
    first = ds.stems.index(images[0])  # the file is the installed model's prediction
    saved = iio.imread(next((pred / "masks").glob(images[0] + ".*")))
    np.testing.assert_array_equal(saved, predict_mask(model, ds.image(first), info))

    p, bs = plan["configuration"]["patch_size"], plan["configuration"]["batch_size"]
    _run(project, "train", {"dataset.path": str(demo_path), "train.budget_seconds": None,
                            "train.max_pixels": 24 * bs * p * p})
    state = json.loads((project / "data" / "06_models" / "train_state.json").read_text())
    train_plan = json.loads((project / "data" / "08_reporting" / "train" / "plans.json")
                            .read_text())
    assert state["config"]["config_id"] == train_plan["configuration"]["config_id"]
    assert state["pixels_seen"] == 24 * bs * p * p and state["stopped_by"] == "pixels"
    assert state["steps"] == 24 and state["history"]
    val = [ds.mask(ds.stems.index(s)) for s in split["val"]]
    assert state["best_score"] > trivial_score(val, ds.num_classes)[0]
    _, installed = load_model(project / "data" / "06_models" / "model")
    assert installed["config"]["config_id"] == state["config"]["config_id"]
