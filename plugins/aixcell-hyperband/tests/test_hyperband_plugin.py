from pathlib import Path

import pandas as pd

from aixcell_automl.plugins.testing import (
    TinyBackbone,
    check_plugin,
    import_plugin,
    plugin_manager_with,
)

hyperband = import_plugin("aixcell_hyperband",
                          Path(__file__).parents[1] / "src" / "aixcell_hyperband")


def test_conforms():
    check_plugin(hyperband)


def test_the_search_runs_it_starting_from_the_plan_and_the_ranking(tmp_path, fake_clock, conf):
    """``search.strategy=hyperband``: the halving node runs the plugin; its first trials are the
    candidates (the plan and the ranking's top k - 1), then Optuna's own suggestions."""
    from aixcell_automl.core.dataset import load_dataset, make_split
    from aixcell_automl.core.demo_data import write_demo_dataset
    from aixcell_automl.core.search_space import config_id, enumerate_configs
    from aixcell_automl.pipelines.search.nodes import run_strategy
    from aixcell_automl.search.candidates import candidates_with_plan

    space = {"patch_size": [64], "batch_size": [4, 8], "learning_rate": [0.001, 0.01],
             "backbone": ["tiny"], "flip": [0.0], "brightness_blur": [0.0],
             "grid_distortion": [0.0]}
    configs = enumerate_configs(space)
    ranking = pd.DataFrame([{**c, "predicted_score": -i, "rank": i + 1}
                            for i, c in enumerate(configs)])
    plan_cfg = {k: v for k, v in configs[3].items() if k != "config_id"}
    plan = {"configuration": {**plan_cfg, "config_id": config_id(plan_cfg)}}
    params = {**conf["search"], "budget_minutes": 0.1, "min_slice_seconds": 1,
              "keep_in_memory": 0, "seed": 0, "executor": "local"}
    train = {**conf["train"], "eval_every_pixels": 4 * 4 * 64 * 64, "val_pixels": 8 * 64 * 64,
             "precision": "float32"}
    ds = load_dataset(write_demo_dataset(tmp_path / "demo", n_images=8, size=128, seed=1))
    split = make_split(ds, {"split_fractions": [0.8, 0.1, 0.1], "split_seed": 0})
    with plugin_manager_with(hyperband, TinyBackbone()):
        trace = run_strategy(ds, split, ranking, {"k": 2, "strategy": "hyperband"}, plan,
                             pd.DataFrame(), pd.DataFrame(), {}, tmp_path / "s", params, train,
                             space)
    first = [t["config_id"] for t in sorted(trace["rungs"][0]["trials"], key=lambda t: t["rank"])]
    expected = [c["config_id"] for c in candidates_with_plan(ranking, plan, 2)]
    assert trace["strategy"] == "hyperband" and first[:2] == expected
    trained = {t["config_id"] for r in trace["rungs"] for t in r["trials"]}
    assert trace["winner"] in trained
