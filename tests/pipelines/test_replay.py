"""The replay pipeline's nodes on the hand-made table of tests/search/test_replay.py."""

from __future__ import annotations

import pandas as pd
import pytest

from aixcell_automl.core.errors import UserError
from aixcell_automl.pipelines.replay.nodes import (
    forecast_report,
    replay_table,
    run_replay,
    suggest_search_defaults,
    summarise_replay,
)
from tests.project_conf import SPACE
from tests.search.test_replay import _rows

# handcrafted meta-features whose plan is candidate p (ResNet-18, patch 128, batch 8, lr 1e-3)
MF = pd.DataFrame([{"dataset": d, "hc_mean_image_shape": 300.0, "hc_n_images": 20,
                    "hc_is_rgb": 0.0} for d in ("A", "B")])
PARAMS = {"protocol": "v3", "datasets": None, "budgets_log2": [24], "unit": "pixels",
          "seeds": 3, "methods": ["plan_only:plan:1", "equal_split:portfolio:3"],
          "forecast_horizons_log2": [[21, 24]], "min_other_datasets": 1}
SEARCH = {"meta_model": "svm", "representation": "hp", "target": "iou",
          "metric": "iou", "metabase_protocol": "v2", "seed": 0}


def test_replay_nodes_leave_one_dataset_out_and_summarise():
    table = replay_table(pd.DataFrame(_rows()), MF, PARAMS, SEARCH, SPACE)
    results = run_replay(table, PARAMS)
    assert len(results) == 2 * 2 * 1 * 3  # datasets x methods x budgets x seeds
    summary, md = summarise_replay(results)
    plan = summary.set_index("method").loc["plan_only:plan:1"]
    # A: best .7 - plan .6; B: best .9 - plan .2
    assert plan["mean_regret"] == pytest.approx(.4) and plan["worst_regret"] == pytest.approx(.7)
    assert plan["plan_won"] == 1.0 and plan["winner_share"] == 1.0
    # equal split over all three: each gets 2^24/3 -> A: p .52075, x .46, y .30 -> regret
    # .17925 (tests/search/test_replay.py); B: only 2^24 recorded, nothing at 2^24/3 -> every
    # candidate scores -1 (unevaluated)
    eq = results[(results["method"] == "equal_split:portfolio:3") & (results["dataset"] == "A")]
    assert set(eq["winner"]) == {"p"}
    assert eq["regret"].iloc[0] == pytest.approx(.17925, abs=1e-4)
    assert "| 2^24 | `plan_only:plan:1` | 2 | 0.400 | 0.700 | 1.00 | 1.00 | 0.00 | 0.00 |" in md
    # equal_split:portfolio:3 is none of the search's options: the plan alone; the split is
    # read off a replay in seconds only (as the search spends a budget)
    (row,) = suggest_search_defaults(summary, results, {**PARAMS, "unit": "seconds"})["split"]
    assert "note" in suggest_search_defaults(summary, results, PARAMS)
    assert (row["up_to_log2"], row["strategy"], row["k"]) == (None, "plan_only", 1)


def test_replay_without_rows_names_what_is_missing():
    with pytest.raises(UserError, match="no protocol-v3 rows"):
        replay_table(pd.DataFrame([]), MF, PARAMS, SEARCH, SPACE)


def test_learned_orderings_need_enough_other_complete_datasets():
    table = replay_table(pd.DataFrame(_rows()), MF, PARAMS, SEARCH, SPACE)
    with pytest.raises(UserError, match=r"equal_split:portfolio:3 learn from the other complete "
                                        r"datasets, and a held-out dataset has 1"):
        run_replay(table, {**PARAMS, "min_other_datasets": 2})


def test_a_metamodel_ordering_needs_rows_of_other_datasets():
    rows = [{**r, "dataset_hash": r["dataset"]} for r in _rows()]  # v3 rows only
    params = {**PARAMS, "methods": ["plan_only:metamodel:1"]}
    with pytest.raises(UserError, match="no protocol-v2 rows of other datasets than A"):
        replay_table(pd.DataFrame(rows), MF, params, SEARCH, SPACE)


def test_forecast_report_ranks_against_the_score_so_far():
    table = replay_table(pd.DataFrame(_rows()), MF, PARAMS, SEARCH, SPACE)
    (acc,) = forecast_report(table, PARAMS)
    # only A has curves to 2^24 (three); at 2^21 the scores so far are p .3, x .4, y .1 and at
    # 2^24 the best-so-far is p .6, x .5, y .7: every pair discordant, tau -1; the forecast
    # (one point each, so the prior alone: the same gain for all) keeps the order. B's curves
    # have no evaluation by 2^21 and do not count.
    assert list(acc["datasets"]) == ["A"] and acc["datasets"]["A"]["n"] == 3
    assert acc["tau_score_so_far"] == pytest.approx(-1.0)
    assert acc["tau_forecast"] == pytest.approx(-1.0)


def test_seed_free_methods_are_replayed_once_and_give_the_same_rows(monkeypatch):
    from aixcell_automl.pipelines.replay.nodes import seeded
    from aixcell_automl.search import replay as rp

    assert not seeded("successive_halving:plan+portfolio:4") and seeded("equal_split:random:2")
    assert seeded("random_halving:plan:4")  # a strategy that draws with the seed
    table = replay_table(pd.DataFrame(_rows()), MF, PARAMS, SEARCH, SPACE)
    params = {**PARAMS, "methods": ["successive_halving:plan+average:3"]}
    from aixcell_automl.pipelines.replay import nodes

    calls = []
    monkeypatch.setattr(nodes, "replay", lambda *a: calls.append(a) or rp.replay(*a))
    results = run_replay(table, params)
    assert len(calls) == 2  # once per dataset, not once per seed
    direct = [rp.replay(table, d, params["methods"][0], 2.0**24, s)
              for d in ("A", "B") for s in range(3)]
    assert results.to_dict("records") == direct


def test_budgets_past_2_24_replay_only_datasets_with_their_continuations(caplog):
    table = replay_table(pd.DataFrame(_rows()), MF, PARAMS, SEARCH, SPACE)
    out = run_replay(table, {**PARAMS, "budgets_log2": [24, 26], "seeds": 1})
    # A continued only x (of 3) to 2^26 and B none: 2^26 is not replayed, and the log says so
    assert sorted(out["budget"].unique()) == [2.0 ** 24]
    assert "budget 2^26: 0 of 2 datasets" in caplog.text and "not replayed" in caplog.text
    with pytest.raises(UserError, match="no dataset has its continuations to 2\\^26"):
        run_replay(table, {**PARAMS, "budgets_log2": [26], "seeds": 1})
