from pathlib import Path

import pandas as pd

from aixcell_automl.plugins.testing import (
    TEST_SPACE,
    TinyBackbone,
    check_plugin,
    import_plugin,
    plugin_manager_with,
)

gamma = import_plugin("aixcell_gamma", Path(__file__).parents[1] / "src" / "aixcell_gamma")


def test_conforms():
    check_plugin(gamma)


def test_the_space_doubles_with_the_new_dimension():
    from aixcell_automl.core.search_space import build_space, enumerate_configs

    base = len(enumerate_configs(build_space(TEST_SPACE)))
    with plugin_manager_with(gamma):
        space = build_space(TEST_SPACE)
        assert space["gamma"] == [0.0, 0.5]
        assert len(enumerate_configs(space)) == 2 * base


def test_the_search_trains_with_it(tmp_path, monkeypatch, fake_clock, conf):
    """A candidate with ``gamma=0.5`` trains through the halving node, and the plugin's transform
    is applied to some of its patches (counted by a subclass of it). The 3-s budget is 13 steps
    of the fake clock (the first, then 12 of 0.25 s) on any machine."""
    import albumentations as A

    from aixcell_automl.core.dataset import load_dataset, make_split
    from aixcell_automl.core.demo_data import write_demo_dataset
    from aixcell_automl.core.search_space import enumerate_configs
    from aixcell_automl.pipelines.search.nodes import run_strategy

    calls = {"made": [], "applied": 0}

    class Counting(A.RandomGamma):
        def apply(self, img, *args, **params):
            calls["applied"] += 1
            return super().apply(img, *args, **params)

    def spy(p):
        calls["made"].append(p)
        return Counting(gamma_limit=gamma.GAMMA_LIMIT, p=p)

    monkeypatch.setattr(gamma, "random_gamma", spy)
    space = {"patch_size": [64], "batch_size": [4], "learning_rate": [0.001],
             "backbone": ["tiny"], "flip": [0.0], "brightness_blur": [0.0],
             "grid_distortion": [0.0], "gamma": [0.5]}
    with plugin_manager_with(gamma, TinyBackbone()):
        configs = enumerate_configs(space)
        ranking = pd.DataFrame([{**c, "predicted_score": 0.0, "rank": 1} for c in configs])
        plan = {"configuration": dict(configs[0])}
        ds = load_dataset(write_demo_dataset(tmp_path / "demo", n_images=6, size=96, seed=1))
        split = make_split(ds, {"split_fractions": [0.8, 0.1, 0.1], "split_seed": 0})
        params = {**conf["search"], "budget_minutes": 0.05, "min_slice_seconds": 1,
                  "keep_in_memory": 0, "seed": 0, "executor": "local"}
        train = {**conf["train"], "eval_every_pixels": 4 * 4 * 64 * 64,
                 "val_pixels": 4 * 64 * 64, "precision": "float32"}
        trace = run_strategy(ds, split, ranking, {"k": 1, "strategy": "successive_halving"},
                             plan, pd.DataFrame(), pd.DataFrame(), {}, tmp_path / "s",
                             params, train, space)
    assert trace["winner"] == configs[0]["config_id"]
    assert calls["made"] and set(calls["made"]) == {0.5}
    patches = max(t["pixels_seen"] for r in trace["rungs"] for t in r["trials"]) // (64 * 64)
    assert patches == 13 * 4
    assert 0 < calls["applied"] < patches  # p = 0.5: some patches, not all
