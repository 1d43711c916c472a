"""The study's greedy best-of-k portfolio baseline (rows that name their v3 candidate)."""

from __future__ import annotations

import pandas as pd
import pytest

from aixcell_automl.core.search_space import enumerate_configs
from aixcell_automl.metalearning.evaluation import lodo_baselines
from aixcell_automl.search.replay import greedy_order
from tests.metalearning.test_evaluation import _synthetic_metabase
from tests.project_conf import SPACE


def test_greedy_order_by_hand():
    scores = pd.DataFrame({"a": [.9, .1], "b": [.5, .5], "c": [.1, .8]}, index=["d1", "d2"])
    # alone: a regret (0 + .7)/2 = .35, b (.4 + .3)/2 = .35, c .4 -> a (tie: the name);
    # then with a: b -> max(.9,.5), max(.1,.5): regret (0 + .3)/2 = .15; c -> (0 + 0)/2 = 0
    assert greedy_order(scores, 3) == ["a", "c", "b"]
    # starting from .9 / .1: c closes the gap; then a and b add nothing: tie, the name
    assert greedy_order(scores, 2, have={"d1": .9, "d2": .1}) == ["c", "a"]


def test_portfolio_baseline_ranks_by_the_order_learned_on_the_other_datasets():
    _, mf = _synthetic_metabase()
    configs = enumerate_configs(SPACE)[:6]
    rows = []
    for d in mf.index:
        for i, c in enumerate(configs):  # the same order on every dataset: c0 best
            rows.append({"dataset": d, "candidate": f"c{i}", "config_id": c["config_id"],
                         **{f"hp_{k}": v for k, v in c.items() if k != "config_id"},
                         "val_score": 0.9 - 0.1 * i, "fidelity_pixels": 1, "status": "ok",
                         "steps": 2**23 // (c["batch_size"] * c["patch_size"] ** 2)})
    base = pd.DataFrame(lodo_baselines(pd.DataFrame(rows), mf, SPACE))
    port = base[base["model"] == "baseline:portfolio_greedy"].set_index("dataset")
    assert list(port.index) == list(mf.index)
    assert port["kendall"].tolist() == pytest.approx([1.0] * 4)
    # without candidate names (v1/v2 rows) there is no portfolio baseline
    plain = pd.DataFrame(lodo_baselines(pd.DataFrame(rows).drop(columns="candidate"), mf,
                                        SPACE))
    assert "baseline:portfolio_greedy" not in set(plain["model"])
