import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from aixcell_automl.metabase.store import read_rows
from aixcell_automl.search.comparison import (
    machine_folder,
    paired_differences,
    run_once,
    summary_table,
    wins_ties_losses,
)
from aixcell_automl.training import hardware
from aixcell_automl.training.loop import Settings

BASE = {"patch_size": 64, "batch_size": 4, "backbone": "resnet18", "flip": 0.0,
        "brightness_blur": 0.0, "grid_distortion": 0.0}
SPACE = {"patch_size": [64], "batch_size": [4, 8], "learning_rate": [0.001, 0.01],
         "backbone": ["resnet18"], "flip": [0.0], "brightness_blur": [0.0],
         "grid_distortion": [0.0]}
FAST = Settings(eval_every_pixels=4 * 4 * 64 * 64, val_pixels=8 * 64 * 64, keep_in_memory=2)


def _row(dataset, method, seed, iou):
    return {"dataset": dataset, "method": method, "seed": seed, "test_iou": iou,
            "val_score": iou, "wall_seconds": 10.0, "winner_config_id": f"{method}{seed % 2}"}


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
    assert wins_ties_losses(table) == {"optuna": {"win": 1, "tie": 1, "loss": 0, "one_seed": {
        "win": 0, "tie": 0, "loss": 0}}}
    paired = paired_differences(rows).set_index("dataset")
    assert list(paired.index) == ["a", "b"] and (paired["seeds"] == 3).all()
    assert paired.loc["a", "diff_mean"] == pytest.approx(0.2)  # 0.80-0.60, 0.82-0.62, ...
    assert paired.loc["b", "diff_std"] == pytest.approx(np.std([-0.05, 0.05, 0.0], ddof=1))
    assert paired.loc["b", "automl_spread"] == pytest.approx(0.2)
    assert paired["machines"].isna().all()  # the rows do not say
    rows = [{**r, "cpu_model": "AMD EPYC"} for r in rows]
    rows[0]["cpu_model"] = "Intel Xeon"  # one run of a pair on another machine: said so
    assert paired_differences(rows).set_index("dataset")["machines"].to_dict() == {"a": 2, "b": 1}


@pytest.mark.parametrize("method, trained_per_trial", [
    ("random_halving", [3.0, 9.0]),  # 2 drawn; rung 1: 2 x 3 s; rung 2: the better 6 s more
    ("rule_default", [12.0]),  # one configuration, the whole budget
    ("optuna", None)])  # chunks of the first rung's 3 s, at most 3 per trial
def test_each_method_trains_its_budget_and_scores_its_winner_on_test(
        method, trained_per_trial, demo_path, demo_trial_data, tmp_path, fake_clock):
    """The budget logic on a fake clock (a step takes 0.25 s): each slice trains until its
    seconds are used up, the step that starts the slice's clock counted as overhead, so a
    method's trials add up to exactly the budget when slices are multiples of a step."""
    from aixcell_automl.core.dataset import load_dataset, split_dataset
    from aixcell_automl.core.search_space import config_id, enumerate_configs
    from aixcell_automl.plugins.testing import TinyBackbone, plugin_manager_with

    base, space = {**BASE, "backbone": "tiny"}, {**SPACE, "backbone": ["tiny"]}
    ds = load_dataset(demo_path)
    split = {**split_dataset(ds, seed=0), "seed": 0}
    plan = {**base, "learning_rate": 0.001}
    plan["config_id"] = config_id(plan)
    budget = 12.0
    settings = replace(FAST, early_stopping=False)  # the budget alone ends every slice
    with plugin_manager_with(TinyBackbone()):
        row = run_once(method, ds, split, demo_trial_data, [plan], plan, space, budget, 2,
                       settings, 0, tmp_path)
    assert 0.0 < row["test_iou"] <= 1.0 and row["method"] == method
    assert row["winner_config_id"] in {c["config_id"] for c in enumerate_configs(space)}
    states = [json.loads(p.read_text()) for p in tmp_path.rglob("state.json")]
    trained = sorted(s["train_seconds"] - s["overhead_seconds"] for s in states)
    assert sum(trained) == pytest.approx(budget)
    if trained_per_trial:
        assert trained == pytest.approx(trained_per_trial)
    else:
        assert all(t in (3.0, 6.0, 9.0) for t in trained) and len(trained) >= 2
    assert row["trials"] == len(states)
    assert row["winner_is_plan"] == (row["winner_config_id"] == plan["config_id"])
    if method == "rule_default":
        assert row["winner_is_plan"] and row["strategy"] == "plan_only"
    winner = next(s for s in states if s["config"]["config_id"] == row["winner_config_id"])
    if trained_per_trial:  # the winner is the configuration that trained longest: the one
        # promoted to rung 2 (3 + 6 = 9 s), or the only one (12 s)
        assert winner["train_seconds"] - winner["overhead_seconds"] == pytest.approx(
            trained_per_trial[-1])
    # the row reports the winner's best evaluation, not its last one nor another trial's
    assert row["val_score"] == max(h["val_score"] for h in winner["history"])


@pytest.mark.slow
def test_evaluate_node_runs_in_fresh_processes_and_resumes(demo_path, tmp_path):
    from aixcell_automl.pipelines.evaluate.nodes import compare_methods, summarise

    params = {"datasets": [demo_path.name], "methods": ["rule_default", "random_halving"],
              "seeds": [0], "budget_minutes": 0.2, "k": 2, "max_runs": None,
              "executor": "isolated"}
    train = {"eval_every_pixels": 4 * 4 * 64 * 64, "val_pixels": 8 * 64 * 64,
             "early_stopping": {"delta": 0.05, "patience": 8}, "init_weights": None,
             "precision": "float32"}
    paths = (demo_path.parent, tmp_path / "runs.jsonl", tmp_path / "runs", tmp_path / "mf")
    args = (*paths, params, {"split_fractions": [0.8, 0.1, 0.1], "split_seed": 0},
            {"keep_in_memory": 2, "min_slice_seconds": 15}, train, SPACE, {"cache": True},
            pd.DataFrame(), pd.DataFrame())
    first = compare_methods(*paths, {**params, "max_runs": 1}, *args[5:])
    assert list(first["method"]) == ["rule_default"]  # one new run, then it stops
    runs = compare_methods(*args)  # the rest: random_halving only, rule_default is not rerun
    assert list(runs["method"]) == ["rule_default", "random_halving"]
    assert runs["finished_utc"].iloc[0] == first["finished_utc"].iloc[0]
    assert runs["test_iou"].between(0, 1).all() and (runs["budget_seconds"] == 12).all()
    assert list(runs["trials"]) == [1, 2] and runs["winner_is_plan"].iloc[0]
    kept = sorted(p.relative_to(tmp_path / "traces").as_posix()
                  for p in (tmp_path / "traces").rglob("*.json"))  # beside runs.jsonl
    here = machine_folder(hardware.cpu_model())
    assert kept == [f"{demo_path.name}/random_halving/12s_random_halving_k2/{here}/seed0.json",
                    f"{demo_path.name}/rule_default/12s_plan_only_k2/{here}/seed0.json"]
    assert json.loads((tmp_path / "traces" / kept[0]).read_text())["k"] == 2
    again = compare_methods(*args)  # everything done: nothing retrained, same rows
    pd.testing.assert_frame_equal(runs, again)
    table, text = summarise(runs)
    assert len(table) == 2 and "automl vs" not in text  # no automl runs, no comparison claimed


def test_one_seed_verdicts_compare_means_and_are_counted_apart():
    rows = [_row("a", "automl", 0, 0.9), _row("a", "optuna", 0, 0.1),
            _row("b", "automl", 0, 0.5), _row("b", "optuna", 0, 0.6),
            _row("c", "automl", 0, 0.7), _row("c", "optuna", 0, 0.7)]
    assert wins_ties_losses(summary_table(rows)) == {"optuna": {"win": 0, "tie": 0, "loss": 0,
                                                                "one_seed": {"win": 1, "tie": 1,
                                                                             "loss": 1}}}
    from aixcell_automl.pipelines.evaluate.nodes import summarise

    meta = {"budget_seconds": 600.0, "k": 4, "hardware": "cpu:2xx86_64"}
    text = summarise(pd.DataFrame([{**r, **meta, "strategy": r["method"]} for r in rows]))[1]
    assert "(automl automl k = 4; optuna optuna k = 4)" in text
    assert "0 wins, 0 ties, 0 losses" in text and "1 ahead, 1 level, 1 behind" in text
    assert "| a         | optuna   |       1 |        nan |       0.800 |" in text


def test_an_automl_run_under_another_split_stands_in_where_this_machine_has_none():
    from aixcell_automl.search.comparison import run_key, runs_for

    def row(ds, method, strategy, seed, k=4):
        return {"dataset_hash": ds, "method": method, "strategy": strategy, "seed": seed,
                "budget_seconds": 600.0, "k": k, "test_iou": 0.5}

    slow = [row("a", "automl", "plan_only", 0), row("a", "rule_default", "plan_only", 0),
            row("a", "automl", "plan_only", 1)]
    fast = [row("a", "automl", "successive_halving", 1), row("b", "automl", "plan_only", 0)]
    keys = {run_key(row(d, "automl", "successive_halving", s)) for d in "ab" for s in (0, 1)}
    keys.add(run_key(row("a", "rule_default", "plan_only", 0)))
    got = runs_for(slow + fast, keys)
    # this machine's own runs first; seed 0 of "a" and of "b" from the other split; seed 1 of
    # "a" has its own run, so the slower machine's is left out; "b" seed 1 was never run
    assert [(r["dataset_hash"], r["method"], r["strategy"], r["seed"]) for r in got] == [
        ("a", "rule_default", "plan_only", 0), ("a", "automl", "successive_halving", 1),
        ("a", "automl", "plan_only", 0), ("b", "automl", "plan_only", 0)]
    assert runs_for(slow, {run_key(row("a", "optuna", "optuna", 0))}) == []
    # one key run on two machines, one stand-in too: this machine's rows, else the latest
    on = [{**r, "cpu_model": cpu, "test_iou": iou} for r, cpu, iou in [
        (row("a", "rule_default", "plan_only", 0), "here", 0.1),
        (row("a", "rule_default", "plan_only", 0), "there", 0.2),
        (row("b", "automl", "plan_only", 0), "there", 0.3),
        (row("b", "automl", "plan_only", 0), "elsewhere", 0.4)]]
    got = runs_for(on, keys, "here")
    assert [(r["dataset_hash"], r["cpu_model"], r["test_iou"]) for r in got] == [
        ("a", "here", 0.1), ("b", "elsewhere", 0.4)]
    assert [r["test_iou"] for r in runs_for(on, keys, "there")] == [0.2, 0.3]


def test_evaluate_runs_automl_as_the_search_is_configured(demo_path, tmp_path, monkeypatch):
    """The automl branch of the evaluate node, its training faked: strategy and k from
    search.split, its own run folder and key; a stale unfinished trace is cleared."""
    from aixcell_automl.core.dataset import load_dataset
    from aixcell_automl.metafeatures import table as mf_table
    from aixcell_automl.metalearning import ranking
    from aixcell_automl.pipelines.evaluate.nodes import compare_methods
    from aixcell_automl.search import candidates as cands
    from aixcell_automl.training import executors

    made = []

    def fake_run(fn, tasks, executor, **kw):
        for i, t in enumerate(tasks):
            method, path, _, candidates, _, _, budget, k, _, seed, run_root, strategy, _ = t[:13]
            made.append((method, strategy, k, len(candidates), run_root, len(t[13]),
                         [c["config_id"] for c in candidates]))
            yield i, {"dataset": demo_path.name, "method": method, "strategy": strategy,
                      "dataset_hash": load_dataset(path).content_hash(), "seed": seed,
                      "budget_seconds": budget, "k": k, "test_iou": 0.5,
                      "cpu_model": hardware.cpu_model()}

    monkeypatch.setattr(executors, "run", fake_run)
    monkeypatch.setattr(mf_table, "extract_dataset_features",
                        lambda ds, params, cache_dir=None: {"dataset": ds.name})
    monkeypatch.setattr(ranking, "rank_for_target", lambda *a: (pd.DataFrame(), {}))
    monkeypatch.setattr(cands, "choose_candidates",
                        lambda ranking, plan, k, *a: ([{**plan["configuration"],
                                                        "config_id": f"c{i}"} for i in range(k)],
                                                      "faked"))
    search = {"keep_in_memory": 2, "k": None, "strategy": None, "k_max": 50, "reserve": 3,
              "min_slice_seconds": 15,
              "split": [{"up_to_log2": None, "strategy": "equal_split", "k": 2, "why": "t"}]}
    params = {"datasets": [demo_path.name], "methods": ["automl", "rule_default"],
              "seeds": [0], "budget_minutes": 1, "k": 4, "max_runs": None,
              "executor": "local"}
    here = machine_folder(hardware.cpu_model())
    stale = tmp_path / "runs" / demo_path.name / "automl" / "60s_equal_split_k2" / here / "seed0"
    stale.mkdir(parents=True)
    (stale / "trace.json").write_text(json.dumps({"rungs": [], "candidate_ids": ["old"]}))
    args = (demo_path.parent, tmp_path / "runs.jsonl", tmp_path / "runs", None, params,
            {"split_fractions": [0.8, 0.1, 0.1], "split_seed": 0}, search,
            {"eval_every_pixels": 4096, "val_pixels": 4096, "precision": "float32",
             "early_stopping": {"delta": 0.05, "patience": 8}, "init_weights": None},
            SPACE, {"cache": False}, pd.DataFrame(), pd.DataFrame())
    runs = compare_methods(*args)
    # no measured speed: search.split's last row; the baselines keep evaluate.k
    assert [m[:4] for m in made] == [("automl", "equal_split", 2, 2), ("rule_default",
                                                                       "plan_only", 4, 1)]
    assert made[0][4] == str(stale) and not stale.exists()  # the stale trace was cleared
    assert [m[5] for m in made] == [3, 0]  # search.reserve for automl, none for the baseline
    assert list(runs["strategy"]) == ["equal_split", "plan_only"]
    # each row records what it chose among and how many meta-base rows it learned from
    assert list(runs["candidate_ids"]) == [m[6] for m in made] and made[0][6] == ["c0", "c1"]
    assert list(runs["metabase_rows"]) == [0, 0] and list(runs["reserve_ids"].map(len)) == [3, 0]
    made.clear()
    assert len(compare_methods(*args)) == 2 and made == []  # both done: nothing re-run
    # on another CPU model both are made again, in folders of their own, and returned
    monkeypatch.setattr(hardware, "cpu_model", lambda: "Other CPU, avx2")
    again = compare_methods(*args)
    assert [m[4].split("/")[-2] for m in made] == ["other-cpu-avx2"] * 2
    assert list(again["cpu_model"]) == ["Other CPU, avx2"] * 2
    assert len(read_rows(tmp_path / "runs.jsonl")) == 4
