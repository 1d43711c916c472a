import json

import pandas as pd
import pytest

from aixcell_automl.comparison import run_once, summary_table, wins_ties_losses
from aixcell_automl.training import Settings

BASE = {"patch_size": 64, "batch_size": 4, "backbone": "resnet18", "flip": 0.0,
        "brightness_blur": 0.0, "grid_distortion": 0.0}
SPACE = {"patch_size": [64], "batch_size": [4, 8], "learning_rate": [0.001, 0.01],
         "backbone": ["resnet18"], "flip": [0.0], "brightness_blur": [0.0],
         "grid_distortion": [0.0]}
FAST = Settings(eval_every_pixels=4 * 4 * 64 * 64, val_pixels=8 * 64 * 64, keep_in_memory=2)


def _row(dataset, method, seed, iou):
    return {"dataset": dataset, "method": method, "seed": seed, "test_iou": iou,
            "val_iou": iou, "wall_seconds": 10.0, "winner_config_id": f"{method}{seed % 2}"}


def test_summary_and_wins_ties_losses():
    rows = ([_row("a", "automl", s, v) for s, v in enumerate([0.80, 0.82, 0.81])]
            + [_row("a", "optuna", s, v) for s, v in enumerate([0.60, 0.62, 0.61])]
            + [_row("b", "automl", s, v) for s, v in enumerate([0.50, 0.70, 0.60])]
            + [_row("b", "optuna", s, v) for s, v in enumerate([0.55, 0.65, 0.60])]
            + [_row("c", "automl", s, v) for s, v in enumerate([0.30, 0.31, 0.32])])
    table = summary_table(rows)
    a = table[(table["dataset"] == "a") & (table["method"] == "automl")].iloc[0]
    assert a["runs"] == 3 and a["test_iou_mean"] == pytest.approx(0.81)
    assert a["test_iou_std"] == pytest.approx(0.01) and a["winner"] == "automl0"
    # a: 0.81 vs 0.61 -> win; b: equal means within noise -> tie; c: no optuna runs -> not counted
    assert wins_ties_losses(table) == {"optuna": {"win": 1, "tie": 1, "loss": 0}}


@pytest.mark.slow
@pytest.mark.parametrize("method", ["random_halving", "rule_default", "optuna"])
def test_each_method_trains_within_budget_and_scores_its_winner_on_test(
        method, demo_path, demo_trial_data, tmp_path):
    from aixcell_automl.dataset import load_dataset, split_dataset
    from aixcell_automl.search_space import config_id, enumerate_configs

    ds = load_dataset(demo_path)
    split = {**split_dataset(ds, seed=0), "seed": 0}
    cands = [{**BASE, "learning_rate": lr} for lr in (0.001, 0.01)]
    cands = [{**c, "config_id": config_id(c)} for c in cands]
    candidates = {"random_halving": cands, "rule_default": {**BASE, "learning_rate": 0.001}}
    budget = 12.0
    row = run_once(method, ds, split, demo_trial_data, candidates, SPACE, budget, 2, FAST, 0,
                   tmp_path)
    assert 0.0 < row["test_iou"] <= 1.0 and row["method"] == method
    assert row["winner_config_id"] in {c["config_id"] for c in enumerate_configs(SPACE)}
    states = [json.loads(p.read_text()) for p in tmp_path.rglob("state.json")]
    trained = sum(s["train_seconds"] - s.get("overhead_seconds", 0) for s in states)
    evals = sum(len(s["history"]) for s in states)
    assert trained <= budget + evals * 3.0  # slices overrun by at most one evaluation each
    assert row["trials"] == len(states) >= (1 if method == "rule_default" else 2)
    assert row["val_iou"] == max(s["best_iou"] for s in states
                                 if s["config"]["config_id"] == row["winner_config_id"])


@pytest.mark.slow
def test_evaluate_node_runs_in_fresh_processes_and_resumes(demo_path, tmp_path):
    from aixcell_automl.pipelines.evaluate.nodes import compare_methods, summarise

    params = {"datasets_root": str(demo_path.parent), "datasets": [demo_path.name],
              "methods": ["rule_default", "random_halving"], "seeds": [0],
              "budget_minutes": 0.2, "k": 2, "out": str(tmp_path / "runs.jsonl"),
              "run_root": str(tmp_path / "runs")}
    train = {"eval_every_pixels": 4 * 4 * 64 * 64, "val_pixels": 8 * 64 * 64}
    args = (params, {"keep_in_memory": 2}, train, SPACE, {"cache_dir": str(tmp_path / "mf")},
            pd.DataFrame(), pd.DataFrame())
    runs = compare_methods(*args)
    assert list(runs["method"]) == ["rule_default", "random_halving"]
    assert runs["test_iou"].between(0, 1).all() and (runs["budget_seconds"] == 12).all()
    again = compare_methods(*args)  # everything done: nothing retrained, same rows
    pd.testing.assert_frame_equal(runs, again)
    table, text = summarise(runs)
    assert len(table) == 2 and "automl vs" not in text  # no automl runs, no comparison claimed


def test_one_seed_claims_no_win():
    rows = [_row("a", "automl", 0, 0.9), _row("a", "optuna", 0, 0.1)]
    assert wins_ties_losses(summary_table(rows)) == {"optuna": {"win": 0, "tie": 0, "loss": 0}}
