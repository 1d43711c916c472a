"""The replay benchmark on a hand-made table: winners, regrets and shares worked out by hand."""

from __future__ import annotations

import pytest

from aixcell_automl.core.errors import UserError
from aixcell_automl.search import replay as rp

M = 2**20
HP = {"p": {"backbone": "resnet18", "patch_size": 128, "batch_size": 8, "learning_rate": 0.001},
      "x": {"backbone": "resnet18", "patch_size": 64, "batch_size": 8, "learning_rate": 0.001},
      "y": {"backbone": "resnet50", "patch_size": 256, "batch_size": 8, "learning_rate": 0.01}}


def _rows():
    curves = {"A": {"p": [(M, .3), (4 * M, .5), (16 * M, .6)],
                    "x": [(M, .4), (4 * M, .45), (16 * M, .5), (64 * M, .55)],
                    "y": [(M, .1), (4 * M, .2), (16 * M, .7)]},
              "B": {"p": [(16 * M, .2)], "x": [(16 * M, .9)], "y": [(16 * M, .5)]}}
    rows = []
    for ds, cands in curves.items():
        for c, curve in cands.items():  # on a machine twice nominal: x 4e5 px/s, p and y 2e5
            pps = 4e5 if c == "x" else 2e5
            rows.append({"protocol": "v3", "dataset": ds, "candidate": c, "status": "ok",
                         "curve": curve, "fidelity_pixels": curve[-1][0],
                         "pixels_seen": curve[-1][0], "train_seconds": curve[-1][0] / pps,
                         "pixels_per_second": pps, "machine_factor": 2.0, "cpu_share": 1.0,
                         "hardware": "cpu:test", **{f"hp_{k}": v for k, v in HP[c].items()}})
    return rows


@pytest.fixture
def table():
    plan = {**HP["p"], "flip": 0.5}
    return rp.build_table(_rows(), {"A": plan, "B": plan})


def test_table_reads_best_so_far_and_normalised_speed(table):
    assert table.plans == {"A": "p", "B": "p"}
    assert table.speeds == pytest.approx({"p": 1e5, "x": 2e5, "y": 1e5})
    assert table.median_speed == pytest.approx(1e5)
    x = table.curves["A"]["x"]
    assert x.recorded == 64 * M and x.score_at(M - 1) is None and table.best("A") == .7
    # linear in log2 pixels between recorded points: 2^21 is halfway from 2^20 (.4) to 2^22
    assert x.score_at(2 * M) == pytest.approx(.425) and x.score_at(4 * M) == .45
    assert x.score_at(128 * M) == .55  # held at the last point
    dip = rp.Curve(((M, .5), (4 * M, .3), (16 * M, .6)))  # read as best so far: .5, .5, .6
    assert dip.score_at(4 * M) == .5 and dip.score_at(8 * M) == pytest.approx(.55)


def test_a_dataset_is_complete_with_failed_rows_and_past_2_24_with_its_continuations():
    rows = [r for r in _rows() if not (r["dataset"] == "B" and r["candidate"] == "y")]
    rows.append({**next(r for r in _rows() if r["dataset"] == "B" and r["candidate"] == "y"),
                 "status": "failed", "curve": []})  # B/y failed at 2^24: B is still complete
    for r in list(rows):
        if r["dataset"] == "A" and r["candidate"] in ("p", "y"):  # A: all 3 continue to 2^26
            rows.append({**r, "curve": r["curve"] + [(64 * M, .8)], "fidelity_pixels": 64 * M})
    table = rp.build_table(rows, {"A": HP["p"], "B": HP["p"]})
    assert rp.complete_datasets(table) == rp.complete_datasets(table, 16 * M) == ["A", "B"]
    assert rp.complete_datasets(table, 32 * M) == ["A"]  # B's continuations are not recorded
    assert table.score_at("B", "y", 16 * M) == -1.0


def test_plan_only_trains_the_plan_for_the_whole_budget(table):
    out = rp.replay(table, "A", "plan_only:plan:1", 16 * M)
    assert (out["winner"], out["score"], out["winner_share"]) == ("p", .6, 1.0)
    assert out["regret"] == pytest.approx(.1) and not out["past_recorded"]
    out = rp.replay(table, "A", "plan_only:plan:1", 64 * M)  # the plan stops at 2**24
    assert out["score"] == .6 and out["winner_past_recorded"]


def test_halving_over_the_plan_and_the_steps_rule(table):
    # candidates: plan p, then most steps first (x: 64^2*8, y: 256^2*8); k = 3 -> two rungs of
    # B/2; rung 0 gives each B/6 = 2^21.415 px, w = .7075 of the way from 2^20 to 2^22:
    # p .3 + .2w = .4415, x .4 + .05w = .4354, y .1 + .1w = .1708 -> p goes on for B/2 more,
    # to 2/3 B = 2^23.415: .5 + .1w = .5708; regret .7 - .5708
    out = rp.replay(table, "A", "successive_halving:plan+steps:3", 16 * M)
    assert out["candidates"] == "p,x,y" and out["winner"] == "p"
    assert out["score"] == pytest.approx(.57075, abs=1e-4)
    assert out["regret"] == pytest.approx(.12925, abs=1e-4)
    assert out["winner_share"] == pytest.approx(2 / 3) and out["plan_won"]


def test_screen_then_train_continues_the_best_of_a_short_look(table):
    # each of p, x, y gets B/4/3 = 2^20.415 px, w = .2075 from 2^20 to 2^22: p .3415,
    # x .4104, y .1208 -> x trains on for 3/4 B, to 2^23.737: .45 + .05 x .8685 = .4934
    out = rp.replay(table, "A", "screen_then_train:plan+steps:3", 16 * M)
    assert out["winner"] == "x" and out["score"] == pytest.approx(.49342, abs=1e-4)
    assert out["winner_share"] == pytest.approx(.75 + .25 / 3) and not out["plan_won"]


def test_equal_split_is_best_of_k(table):
    # each of p, x, y gets B/3 = 2^22.415 px, w = .2075 from 2^22 to 2^24: p .5 + .1w,
    # x .45 + .05w, y .2 + .5w -> p
    out = rp.replay(table, "A", "equal_split:plan+steps:3", 16 * M)
    assert out["winner"] == "p" and out["score"] == pytest.approx(.52075, abs=1e-4)
    assert out["winner_share"] == pytest.approx(1 / 3) and out["plan_won"]


def test_orderings_learn_from_the_other_datasets_only(table):
    # from B alone: x .9 > y .5 > p .2
    assert rp.candidates(table, "A", "average", 3, 0) == ["x", "y", "p"]
    assert rp.candidates(table, "A", "plan+average", 3, 0) == ["p", "x", "y"]
    assert rp.candidates(table, "A", "portfolio", 3, 0) == ["x", "y", "p"]
    assert rp.candidates(table, "A", "plan+portfolio", 2, 0) == ["p", "x"]
    assert rp.candidates(table, "A", "steps", 1, 0) == ["x"]
    drawn = [rp.candidates(table, "A", "random", 3, s) for s in range(6)]
    assert drawn[0] == rp.candidates(table, "A", "random", 3, 0)  # the seed fixes the draw
    assert all(sorted(d) == ["p", "x", "y"] for d in drawn) and len(set(map(tuple, drawn))) > 1
    on_b = [rp.candidates(table, "B", "random", 3, s) for s in range(6)]
    assert on_b != drawn  # another draw on another dataset
    assert rp.greedy_portfolio(table, ["A", "B"], 16 * M, 2) == ["x", "y"]


def test_orderings_ignore_datasets_still_being_collected():
    rows = _rows() + [{**r, "dataset": "C", "curve": [(16 * M, .99)]} for r in _rows()
                      if r["dataset"] == "B" and r["candidate"] == "y"]
    table = rp.build_table(rows, {})
    assert rp.complete_datasets(table) == ["A", "B"]
    assert rp.candidates(table, "A", "average", 3, 0) == ["x", "y", "p"]  # C would put y first
    alone = rp.build_table([r for r in rows if r["dataset"] == "A"], {})
    with pytest.raises(UserError, match="'portfolio' gives no candidate for A .*datasets: 0"):
        rp.candidates(alone, "A", "portfolio", 2, 0)


def test_the_metamodel_ordering_skips_near_copies_as_the_search_does():
    q = [{**r, "candidate": "q", "hp_batch_size": 16} for r in _rows()  # p with batch 16
         if r["dataset"] == "A" and r["candidate"] == "p"]
    table = rp.build_table(_rows() + q, {"A": {**HP["p"], "flip": 0.5}})
    table.learned["metamodel"] = {"A": ["q", "x", "y", "p"]}
    assert rp.candidates(table, "A", "plan+metamodel", 3, 0) == ["p", "x", "y"]
    assert rp.candidates(table, "A", "metamodel", 2, 0) == ["q", "x"]  # p: a copy of q


def test_a_budget_in_seconds_gives_equal_seconds_at_each_candidates_speed(table):
    # 2^24 px at the median speed 1e5 px/s = 167.8 s; x trains at 2e5 px/s: 2^25 px = 1024
    # steps of 2^15 px, and one more (the first, before its clock starts): 2^25.0014 px, .52504
    # (just past halfway from 2^24 to 2^26) where equal pixels give it 2^24, .5
    out = rp.replay(table, "A", "plan_only:steps:1", 16 * M, unit="seconds")
    assert out["winner"] == "x" and out["score"] == pytest.approx(.52504, abs=1e-5)
    assert out["winner_share"] == 1.0
    assert rp.replay(table, "A", "plan_only:steps:1", 16 * M)["score"] == .5
    # p and x get 83.9 s each: p 64 + 1 steps of 2^17 px = 2^23.022, .5511; x 2^24.003, .5001
    # -> p, with half the seconds
    out = rp.replay(table, "A", "equal_split:plan+steps:2", 16 * M, unit="seconds")
    assert out["winner"] == "p" and out["score"] == pytest.approx(.55112, abs=1e-5)
    assert out["winner_share"] == pytest.approx(.5)  # of the seconds, not of the pixels (1/3)
    # building and tracing are not charged to a slice (as in the search): only training
    slow = rp.build_table([{**r, "overhead_seconds": 10.0, "train_seconds": r["train_seconds"]
                            + 10.0} for r in _rows()], {"A": HP["p"]})
    assert slow.speeds == pytest.approx(table.speeds)  # pure training speed
    assert rp.replay(slow, "A", "equal_split:plan+steps:2", 16 * M, unit="seconds") == out
    blind = rp.build_table([{k: v for k, v in r.items() if k != "hardware"} for r in _rows()],
                           {"A": HP["p"]})
    with pytest.raises(UserError, match="no meta-base row records a training speed"):
        rp.replay(blind, "A", "plan_only:plan:1", 16 * M, unit="seconds")


@pytest.mark.parametrize("args, message", [
    (("C", "plan_only:plan:1", 16 * M), "no rows for dataset 'C'"),
    (("A", "nope:plan:1", 16 * M), "search strategy 'nope' is not registered"),
    (("A", "plan_only:plan:1", 128 * M), "reaches a budget of 2^27.0"),
    (("A", "plan_only:what:1", 16 * M), "unknown ordering 'what'"),
    (("A", "plan_only", 16 * M), "is not 'strategy:ordering:k'"),
])
def test_missing_rows_strategy_or_budget_is_one_clear_error(table, args, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace("^", r"\^")):
        rp.replay(table, *args)


def test_metamodel_ordering_is_learned_without_the_held_out_dataset():
    import pandas as pd

    from aixcell_automl.metalearning.ranking import metamodel_orders
    from tests.project_conf import SPACE

    aug = {"flip": 0.5, "brightness_blur": 0.0, "grid_distortion": 0.0}

    def v2(ds, h, lr, score):
        cfg = {**HP["p"], **aug, "learning_rate": lr}
        return {"protocol": "v2", "dataset": ds, "dataset_hash": h, "status": "ok",
                "config_id": f"{ds}{lr}", "fidelity_pixels": 2**23, "val_score": score,
                **{f"hp_{k}": v for k, v in cfg.items()}}

    # elsewhere a higher learning rate scores higher; A and its copy A2 (same content) say the
    # opposite, loudly: if they leaked into the fit, the order would flip
    rows = [v2(d, d, lr, s) for d in "BC" for lr, s in ((5e-4, .2), (1e-3, .4), (1e-2, .8))]
    rows += [v2(d, "hA", lr, s) for d in ("A", "A2") for _ in range(5)
             for lr, s in ((5e-4, .99), (1e-3, .5), (1e-2, .01))]
    rows += [{**r, "protocol": "v3", "dataset_hash": "hA", "fidelity_pixels": 16 * M,
              "hp_flip": .5, "hp_brightness_blur": 0., "hp_grid_distortion": 0.}
             for r in _rows() if r["dataset"] == "A"]
    search = {"meta_model": "linear_regression", "representation": "hp", "target": "iou",
              "metric": "iou", "metabase_protocol": "v2", "seed": 0}
    mf = pd.DataFrame({"dataset": ["A", "A2", "B", "C"], "hc_x": [1., 1., 2., 3.]})
    orders = metamodel_orders(pd.DataFrame(rows), mf, ["A"], search, SPACE)
    assert orders == {"A": ["y", "p", "x"]}  # y: lr 1e-2; p and x at 1e-3, p's larger patch
    table = rp.build_table(_rows(), {"A": {**HP["p"], "flip": 0.5}})
    with pytest.raises(UserError, match="no meta-model ordering for A"):
        rp.candidates(table, "A", "metamodel", 3, 0)
    table.learned["metamodel"] = orders
    assert rp.candidates(table, "A", "plan+metamodel", 2, 0) == ["p", "y"]


def test_search_defaults_are_read_off_the_replay_by_a_fixed_rule():
    import pandas as pd

    from aixcell_automl.pipelines.replay.nodes import summarise_replay

    regrets = {  # method: regret on datasets D1, D2, D3 at 2^24, 2^25, 2^26
        "plan_only:plan:1": ((.10, .10, .10), (.10, .10, .10), (.05, .05, .05)),
        "equal_split:plan+portfolio:2": ((.05, .30, .25), (.06, .15, .10), (.01, .04, .07)),
        "successive_halving:plan+portfolio:4": ((.2, .2, .2), (.12, .12, .12), (0, .03, .06)),
        "successive_halving:plan+portfolio:8": ((.3, .3, .3), (.3, .3, .3), (.02, .02, .02)),
        "forecast_halving:plan+portfolio:4": ((.5,) * 3, (.5,) * 3, (0, .04, .06)),
        "equal_split:plan+portfolio:8": ((0, 0, None),) * 3,  # two datasets of three
        "successive_halving:plan+metamodel:4": ((.28,) * 3, (.15,) * 3, (.06,) * 3),
        "hyperband:plan+portfolio:4": ((0,) * 3,) * 3,  # a strategy the rule leaves out
        "equal_split:portfolio:3": ((.01,) * 3,) * 3,  # not one of the search's options
    }
    results = pd.DataFrame([
        {"method": m, "budget": 2.0 ** b, "dataset": f"D{i}", "regret": r, "winner_share": 1.0,
         "plan_won": False, "past_recorded": False, "winner_past_recorded": False}
        for m, per_budget in regrets.items() for b, rs in zip((24, 25, 26), per_budget, strict=True)
        for i, r in enumerate(rs, start=1) if r is not None])
    summary, _ = summarise_replay(results)
    out = rp.search_defaults(summary, results)
    # 2^24: every split is worse than the plan beyond noise: the plan alone. 2^25: equal_split
    # over 2 is level with the plan (mean .103, paired differences -.04, .05, 0: mean .003 <=
    # one standard error .026): a split is taken where one is level. 2^26: the lowest is
    # k = 8 (.02); k = 4 is level with it (differences -.02, .01, .04: mean .01 <= one
    # standard error .017), equal_split over 2 (mean .02 > .017) and the plan (.03, no
    # spread) are not: the fewest candidates, k = 4; forecast_halving over 4 is level too
    # (mean .033: differences -.02, .02, .04, mean .013 <= .018), but its mean is higher.
    # equal_split over 8, replayed on two datasets of three, never counts
    assert [{k: v for k, v in r.items() if k != "why"} for r in out["split"]] == [
        {"up_to_log2": 24.5, "strategy": "plan_only", "k": 1},
        {"up_to_log2": 25.5, "strategy": "equal_split", "k": 2},
        {"up_to_log2": None, "strategy": "successive_halving", "k": 4}]
    assert out["split"][1]["why"] == (
        "replay: 2^25: equal_split:plan+portfolio:2 (mean regret 0.103, worst 0.150, 3 datasets; "
        "level with the lowest, plan_only:plan:1 0.100, within one standard error)")
    # portfolio: .10, .103, .03 -> .078; ranking (plan+metamodel): the plan at every budget
    # (.06 at 2^26 is .01 above it with no spread) -> .083
    assert out["candidates"] == "portfolio"
    assert "portfolio 0.078" in out["why"][0] and "ranking 0.083" in out["why"][0]
    only_plan = summary[summary["method"] == "plan_only:plan:1"]
    out = rp.search_defaults(only_plan, results)  # rows merged; no option's methods: ranking
    assert out["candidates"] == "ranking" and len(out["split"]) == 1
    assert out["split"][0]["why"].count("plan_only:plan:1") == 3
    assert "portfolio" not in out["why"][0]
    no_portfolio = summary[~summary["method"].str.contains("portfolio")]
    assert rp.search_defaults(no_portfolio, results)["candidates"] == "ranking"
    assert "hyperband" not in str(rp.search_defaults(summary, results))
    with pytest.raises(UserError, match="no method over the search's candidate options"):
        rp.search_defaults(summary[summary["method"] == "equal_split:portfolio:3"], results)
    with pytest.raises(UserError, match=r"\['plan_only:plan:1'\] have no rows in the results"):
        rp.search_defaults(summary, results[results["method"] != "plan_only:plan:1"])
