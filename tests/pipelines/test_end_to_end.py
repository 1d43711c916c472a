"""The search, train and predict pipelines run through a Kedro session, as `kedro run` does, in
a copy of the project's conf/ (so the repository's data/ and current model stay untouched)."""

import json
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("project")
    shutil.copy(REPO / "pyproject.toml", root)
    shutil.copytree(REPO / "conf", root / "conf", ignore=shutil.ignore_patterns("local"))
    (root / "conf" / "local").mkdir()
    (root / "src").mkdir()  # the package itself is installed
    shutil.copy(REPO / "data" / "03_primary" / "metabase.jsonl", root / "metabase.jsonl")
    return root


def _run(project: Path, pipeline: str, params: dict) -> None:
    """``kedro run --pipeline=<pipeline> --params "<dotted key>=<value>,..."``."""
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    nested: dict = {}
    for key, value in params.items():  # the CLI turns "a.b=1" into {"a": {"b": 1}}
        *parents, leaf = key.split(".")
        node = nested
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    bootstrap_project(project)
    with KedroSession.create(project_path=project, runtime_params=nested) as session:
        session.run(pipeline_names=[pipeline])


@pytest.mark.slow
def test_search_then_predict_then_train(project, demo_path, monkeypatch):
    monkeypatch.chdir(project)
    shutil.copytree(REPO / "data" / "04_feature", project / "data" / "04_feature")
    (project / "data" / "03_primary").mkdir(parents=True)
    shutil.copy(project / "metabase.jsonl", project / "data" / "03_primary" / "metabase.jsonl")
    _run(project, "search", {"dataset.path": str(demo_path), "search.budget_minutes": 0.3,
                             "search.k": 2, "search.run_name": "e2e"})
    out = project / "data" / "08_reporting" / "search" / "e2e"
    plan = json.loads((out / "plans.json").read_text())
    trace = json.loads((out / "halving_trace.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    trained = [t["config_id"] for t in trace["rungs"][0]["trials"]]
    assert len(trained) == 2 and plan["configuration"]["config_id"] in trained
    assert trace["winner"] in trained and trace["strategy"] == "successive_halving"
    assert 0.0 <= metrics["test_iou"] <= 1.0
    assert "Candidates: the plan" in (out / "report.html").read_text()
    assert (project / "data" / "06_models" / "model" / "model.json").exists()

    _run(project, "predict", {"predict.input": str(demo_path / "images")})
    masks = list((project / "data" / "07_model_output" / "predictions").rglob("*.png"))
    assert len(masks) >= len(list((demo_path / "images").iterdir()))

    _run(project, "train", {"dataset.path": str(demo_path), "train.budget_seconds": 10,
                            "train.run_root": str(project / "runs")})
    state = json.loads((project / "data" / "06_models" / "train_state.json").read_text())
    train_plan = json.loads((project / "data" / "08_reporting" / "train" / "plans.json")
                            .read_text())
    assert state["config"]["config_id"] == train_plan["configuration"]["config_id"]
    assert state["history"] and state["pixels_seen"] > 0
