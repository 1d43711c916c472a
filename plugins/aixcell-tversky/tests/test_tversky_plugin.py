import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aixcell_automl.core.metrics import mean_foreground, mean_iou
from aixcell_automl.plugins.testing import (
    TinyBackbone,
    check_plugin,
    import_plugin,
    plugin_manager_with,
)

tversky = import_plugin("aixcell_tversky", Path(__file__).parents[1] / "src" / "aixcell_tversky")


def test_conforms():
    check_plugin(tversky)


def test_weighs_misses_more_than_false_alarms():
    cm = np.array([[50, 5], [10, 35]])  # class 1: TP 35, FP 5, FN 10
    assert tversky.per_class_tversky(cm)[1] == pytest.approx(35 / (35 + 0.3 * 5 + 0.7 * 10))
    more_misses = np.array([[50, 10], [5, 35]])  # FP 10, FN 5: the same IoU, a higher Tversky
    assert mean_iou(cm) == mean_iou(more_misses)
    assert tversky.per_class_tversky(more_misses)[1] > tversky.per_class_tversky(cm)[1]


def test_the_search_scores_halving_and_test_with_it(tmp_path, monkeypatch, fake_clock, conf):
    """``search.metric=tversky``: every validation score of the halving trial and the test score
    are the plugin's values for the confusion matrices evaluated. The 3-s budget is 13 steps of
    4 patches on the fake clock, evaluated every 4 steps."""
    from aixcell_automl.core.dataset import load_dataset, make_split
    from aixcell_automl.core.demo_data import write_demo_dataset
    from aixcell_automl.core.search_space import config_id
    from aixcell_automl.pipelines.search.nodes import finalize, run_strategy

    original, seen = tversky.per_class_tversky, []

    def spy(cm):
        seen.append(np.array(cm))
        return original(cm)

    monkeypatch.setattr(tversky, "per_class_tversky", spy)  # what register_metrics hands over
    cfg = {"patch_size": 64, "batch_size": 4, "learning_rate": 0.01, "backbone": "tiny",
           "flip": 0.0, "brightness_blur": 0.0, "grid_distortion": 0.0}
    cid = config_id(cfg)
    ranking = pd.DataFrame([{"config_id": cid, **cfg, "predicted_score": 1.0, "rank": 1}])
    params = {**conf["search"], "k": 1, "budget_minutes": 0.05, "min_slice_seconds": 1,
              "metric": "tversky", "keep_in_memory": 0, "seed": 0, "executor": "local"}
    train = {**conf["train"], "eval_every_pixels": 4 * 4 * 64 * 64, "val_pixels": 8 * 64 * 64,
             "precision": "float32"}
    ds = load_dataset(write_demo_dataset(tmp_path / "demo", n_images=8, size=128, seed=1))
    split = make_split(ds, {"split_fractions": [0.8, 0.1, 0.1], "split_seed": 0})
    with plugin_manager_with(tversky, TinyBackbone()):
        plan = {"configuration": ranking.iloc[0][["config_id", *cfg]].to_dict()}
        trace = run_strategy(ds, split, ranking, {"k": 1, "strategy": "successive_halving"},
                             plan, pd.DataFrame(), pd.DataFrame(), {}, tmp_path / "s",
                             params, train, {k: [v] for k, v in cfg.items()})  # the plan alone
        n_val = len(seen)
        _, metrics = finalize(ds, split, ranking, trace, plan, pd.DataFrame())
    state = json.loads((tmp_path / "s" / cid / "state.json").read_text())
    assert trace["metric"] == state["metric"] == metrics["metric"] == "tversky"
    # + one matrix per constant predictor (the bar a winner must clear, scored by the same
    # metric) + the test split
    assert state["steps"] == 13
    assert n_val == len(state["history"]) >= 3 and len(seen) == n_val + ds.num_classes + 1
    val = [mean_foreground(original(cm)) for cm in seen[:n_val]]
    assert [h["val_score"] for h in state["history"]] == val
    assert trace["rungs"][0]["trials"][0]["score"] == max(val)
    assert metrics["test_score"] == mean_foreground(original(seen[-1]))
    assert metrics["test_score"] != metrics["test_iou"]
