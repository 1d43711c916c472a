"""Every registered pipeline that the other pipeline tests do not run (metabase, meta_features,
meta_learning, evaluate, export, pretrain, transfer_experiment) through a KedroSession, as
``kedro run`` does, on tiny data in a copy of the project (tests/pipelines/kedro_project.py):
the catalog, the parameters and the nodes' wiring are under test, with the ``tiny`` backbone
and the fake clock where a model trains."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.pipelines.kedro_project import REPO, copy_project, run

TINY = {"patch_size": 64, "batch_size": 4, "learning_rate": 0.001, "backbone": "tiny",
        "flip": 0.0, "brightness_blur": 0.0, "grid_distortion": 0.0}
STEP_PIXELS = 4 * 64 * 64  # one step of TINY


@pytest.fixture(scope="module")
def sets(demo_path, tmp_path_factory) -> Path:
    """Two tiny datasets: the demo set and another draw of it ('target')."""
    from aixcell_automl.core.demo_data import write_demo_dataset

    root = tmp_path_factory.mktemp("sets")
    shutil.copytree(demo_path, root / "demo")
    write_demo_dataset(root / "target", n_images=8, size=128, seed=2)
    meta = yaml.safe_load((root / "target" / "dataset.yaml").read_text())
    (root / "target" / "dataset.yaml").write_text(yaml.safe_dump({**meta, "name": "target"}))
    return root


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    root = copy_project(tmp_path / "project")
    monkeypatch.chdir(root)
    return root


@pytest.fixture
def tiny():
    from aixcell_automl.plugins.testing import TinyBackbone, plugin_manager_with

    with plugin_manager_with(TinyBackbone()):
        yield


def _committed_inputs(project: Path) -> None:
    """The committed meta-base rows and meta-features (read-only) into the copy."""
    (project / "data" / "03_primary").mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "data" / "03_primary" / "metabase.jsonl",
                project / "data" / "03_primary" / "metabase.jsonl")
    shutil.copytree(REPO / "data" / "04_feature", project / "data" / "04_feature",
                    dirs_exist_ok=True)


@pytest.mark.slow
def test_metabase_pipeline_collects_v3_rows_and_summarises_them(project, sets, tiny,
                                                                monkeypatch):
    """Protocol v3 with one tiny candidate on the demo set, fidelities 2^16 then 2^17: two rows
    (the candidate, then its continuation), the summary, the stats and the figure."""
    from aixcell_automl.metabase import dense
    from aixcell_automl.training import machine

    monkeypatch.setattr(dense, "FIRST", 2**16)
    monkeypatch.setattr(dense, "TOP", 2**17)
    monkeypatch.setattr(machine, "machine_factor", lambda *a, **k: None)  # no benchmark
    monkeypatch.setenv("AIXCELL_AUTOML_MACHINE_CACHE", str(project / "machine.json"))
    run(project, "metabase", {
        "metabase.protocol": "v3", "datasets_root": str(sets),
        "metabase.v3_datasets": ["demo"], "metabase.executor": "local",
        "metabase.candidates": [{"name": "t1", **{k: TINY[k] for k in (
            "backbone", "patch_size", "batch_size", "learning_rate")}}]})
    out = project / "data" / "03_primary"
    rows = [json.loads(line) for line in (out / "metabase.jsonl").read_text().splitlines()]
    assert [(r["protocol"], r["fidelity_pixels"], r["candidate"]) for r in rows] == [
        ("v3", 2**16, "t1"), ("v3", 2**17, "t1")]
    assert rows[1]["steps"] == 2**17 // STEP_PIXELS  # continued from the checkpoint
    assert json.loads((out / "metabase_collection.json").read_text())["rows_written"] == 2
    stats = json.loads((project / "data" / "08_reporting" / "metabase" / "stats.json")
                       .read_text())
    assert (stats["rows"], stats["ok_rows"], stats["datasets"]) == (2, 2, 1)
    summary = pd.read_csv(project / "data" / "08_reporting" / "metabase" / "summary.csv")
    assert list(summary["fidelity_pixels"]) == [2**16, 2**17]
    assert list(summary["score_mean"]) == pytest.approx([r["val_score"] for r in rows])
    assert (project / "data" / "08_reporting" / "metabase" / "iou_per_dataset.png").stat(
    ).st_size > 0


@pytest.mark.slow
def test_meta_features_pipeline_writes_one_row_per_dataset(project, sets):
    run(project, "meta_features", {
        "datasets_root": str(sets), "meta_features.datasets": ["demo", "target"],
        "meta_features.sample_size": 3, "meta_features.n_components": 2})
    table = pd.read_csv(project / "data" / "04_feature" / "meta_features.csv")
    assert len(table) == 2 and table["dataset"].nunique() == 2
    assert table["hc_n_images"].tolist() == [8, 8]
    sim = table.filter(like="sim_").to_numpy()
    np.testing.assert_allclose(np.diag(sim), 1.0)
    assert {"rad_pca_1", "rad_pca_2"} <= set(table.columns)
    assert (project / "data" / "02_intermediate" / "meta_feature_cache").is_dir()


@pytest.mark.slow
def test_meta_learning_pipeline_on_the_committed_metabase(project):
    """One model and representation on the committed v2 rows and meta-features: a result per
    held-out dataset, the chosen model fitted on every row, and the three figures."""
    _committed_inputs(project)
    run(project, "meta_learning", {
        "meta_learning.models": ["linear_regression"], "meta_learning.representations": ["hp"],
        "meta_learning.targets": ["iou"], "meta_learning.seeds": 1, "meta_learning.n_jobs": 1,
        "meta_learning.fidelity_pixels": 2**23})
    rows = pd.read_json(REPO / "data" / "03_primary" / "metabase.jsonl", lines=True)
    v2 = rows[(rows["protocol"] == "v2") & (rows["status"] == "ok")
              & (rows["fidelity_pixels"] == 2**23)]
    per_dataset = v2.groupby("dataset").size()
    mf = pd.read_csv(REPO / "data" / "04_feature" / "meta_features.csv")
    held_out = set(per_dataset[per_dataset >= 10].index) & set(mf["dataset"])
    results = pd.read_csv(project / "data" / "08_reporting" / "meta_learning"
                          / "results_per_dataset.csv")
    mine = results[results["model"] == "linear_regression"]
    assert set(mine["dataset"]) == held_out and len(held_out) >= 5
    choice = json.loads((project / "data" / "06_models" / "meta_model_choice.json").read_text())
    assert (choice["meta_model"], choice["representation"]) == ("linear_regression", "hp")
    plots = project / "data" / "08_reporting" / "meta_learning"
    for name in ("z_scores.png", "feature_importance.png", "predicted_vs_true.png"):
        assert (plots / name).stat().st_size > 0


@pytest.mark.slow
def test_pretrain_then_transfer_experiment_pipelines(project, sets, tiny):
    from aixcell_automl.core.dataset import load_dataset

    run(project, "pretrain", {
        "pretrain.name": "nuclei", "pretrain.sets.nuclei": ["demo"],
        "datasets_root": str(sets), "pretrain.config": TINY,
        "pretrain.max_pixels": 6 * STEP_PIXELS, "pretrain.eval_every_pixels": 3 * STEP_PIXELS,
        "pretrain.val_pixels": 2 * STEP_PIXELS})
    assert (project / "data" / "06_models" / "runs" / "pretrain" / "nuclei").is_dir()
    pre = project / "data" / "06_models" / "pretrained" / "nuclei"
    state = json.loads((pre / "state.json").read_text())
    assert state["pixels_seen"] == 6 * STEP_PIXELS and len(state["history"]) == 2
    info = json.loads((pre / "model.json").read_text())
    assert info["pretrained_on"] == {  # name and content hash of each dataset learned from
        "demo_synthetic_cells": load_dataset(sets / "demo").content_hash()}
    assert (project / "data" / "08_reporting" / "pretrain" / "nuclei_curve.png").exists()

    run(project, "transfer_experiment", {
        "datasets_root": str(sets), "transfer.targets": ["target"],
        "transfer.starts": {"scratch": None, "nuclei": "nuclei", "mixed": str(pre)},
        "transfer.config": TINY, "transfer.max_pixels": 4 * STEP_PIXELS,
        "transfer.eval_every_pixels": 2 * STEP_PIXELS, "transfer.val_pixels": 2 * STEP_PIXELS,
        "transfer.seeds": [0]})
    out = project / "data" / "08_reporting" / "transfer"
    curves = json.loads((out / "curves.json").read_text())
    runs = curves["results"]["target"]
    assert set(runs) == {"scratch", "nuclei", "mixed"}
    assert runs["scratch"][0]["init_weights"] is None and runs["nuclei"][0]["init_weights"]
    starts = {k: Path(v).resolve() for k, v in curves["starts"].items() if v}
    assert starts == {"nuclei": pre.resolve(), "mixed": pre.resolve()}  # by name, by path
    assert (project / "data" / "06_models" / "runs" / "transfer" / "target" / "nuclei").is_dir()
    assert all(len(r[0]["history"]) == 2 for r in runs.values())
    table = pd.read_csv(out / "table.csv")
    assert sorted(table["start"]) == ["mixed", "nuclei", "scratch"]
    assert "target, nuclei: best IoU" in (out / "transfer.md").read_text()
    assert (out / "learning_curves.png").stat().st_size > 0


@pytest.mark.slow
def test_evaluate_pipeline_runs_the_plan_on_the_demo_set(project, sets, fake_clock):
    """One method (the plan trained for the whole budget: 3 s, i.e. 13 steps of the fake clock)
    on one dataset and seed, in this process."""
    _committed_inputs(project)
    run(project, "evaluate", {
        "datasets_root": str(sets), "evaluate.datasets": ["demo"],
        "evaluate.methods": ["rule_default"], "evaluate.seeds": [0],
        "evaluate.budget_minutes": 0.05, "evaluate.k": 2, "evaluate.executor": "local",
        "evaluate.dir": "elsewhere"})
    assert not (project / "data" / "08_reporting" / "evaluation").exists()  # all in evaluate.dir
    out = project / "elsewhere"
    runs = pd.read_csv(out / "runs.csv")
    assert list(runs["method"]) == ["rule_default"] and list(runs["seed"]) == [0]
    assert 0.0 <= float(runs["test_iou"].iloc[0]) <= 1.0
    row = runs.iloc[0]
    assert (row["budget_seconds"], row["strategy"], row["trials"]) == (3, "plan_only", 1)
    assert row["winner_is_plan"]
    assert len((out / "runs.jsonl").read_text().splitlines()) == 1
    assert "rule_default" in (out / "evaluation.md").read_text()
    assert (out / "test_iou.png").stat().st_size > 0


@pytest.mark.slow
def test_export_pipeline_packages_the_installed_model(project, sets, tiny):
    from aixcell_automl.core.dataset import load_dataset
    from aixcell_automl.training.model import build_model, save_model

    ds = load_dataset(sets / "demo")
    model = build_model("tiny", 3, ds.num_classes)
    save_model(model, project / "data" / "06_models" / "model", {
        "backbone": "tiny", "channels": 3, "num_classes": ds.num_classes,
        "class_names": ds.class_names, "patch_size": 64, "config": TINY,
        "dataset": ds.name, "dataset_hash": ds.content_hash(), "best_val_score": 0.5})
    run(project, "export", {"dataset.path": str(sets / "demo"), "export.check": False})
    summary = json.loads((project / "data" / "08_reporting" / "export" / "model_package.json")
                         .read_text())
    assert summary["exported"] is True and summary["source"] == "train"
    package = Path(summary["package"])
    assert package.parent.resolve() == (project / "data" / "06_models" / "bioimageio").resolve()
    assert (package / "rdf.yaml").exists() and Path(summary["zip"]).exists()
    assert (project / "data" / "06_models" / "model" / "model.onnx").stat().st_size > 0
