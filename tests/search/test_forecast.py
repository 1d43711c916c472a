"""Learning-curve forecasts on hand-made curves, the plan's protection, and the forecast
strategy replayed on the hand-made table of test_replay.py."""

from __future__ import annotations

import math

import pytest

from aixcell_automl.search import forecast as fc
from aixcell_automl.search import replay as rp
from tests.search.test_replay import HP, _rows

M = 2**20
PRIOR = fc.CurvePrior(slope=0.03, slope_sd=0.04, noise=0.03)


def test_forecast_blends_the_own_slope_with_the_prior():
    # own slope .1 per doubling over 3 points (m = 2, weight 1/2): .5 x .1 + .5 x .03 = .065
    mean, _ = fc.forecast([(M, .2), (2 * M, .3), (4 * M, .4)], 16 * M, PRIOR)
    assert mean == pytest.approx(.4 + 2 * .065)
    # one evaluation: the prior alone, error from the noise and the prior's spread over 2 doublings
    mean, err = fc.forecast([(M, .5)], 4 * M, PRIOR)
    assert mean == pytest.approx(.56) and err == pytest.approx(math.hypot(.03, .08))
    # best-so-far: a drop is not a trend; no evaluation: nothing known
    assert fc.forecast([(M, .5), (2 * M, .2)], 2 * M, PRIOR)[0] == pytest.approx(.5)
    assert fc.forecast([], 4 * M, PRIOR) == (0.0, 1.0)


def test_prior_is_learned_from_the_second_half_of_recorded_curves():
    prior = fc.learn_prior([[(1, .1), (2, .2), (4, .3), (8, .4)],
                            [(1, .1), (2, .4), (4, .5), (8, .8)], [(1, .9)]])
    assert prior.slope == pytest.approx(.2)  # median of .1 and .3 per doubling
    assert prior.slope_sd == pytest.approx(1.4826 * .1)
    assert prior.noise == pytest.approx(.1)  # median |change| of .1,.1,.1,.3,.1,.3
    assert fc.learn_prior([[(1, .5)]]) == fc.CurvePrior()  # nothing to learn from


def _records(scores):
    return {cid: {"score": s, "curve": [(M, s)], "pixels_seen": M} for cid, s in scores.items()}


def test_the_plan_continues_unless_clearly_behind():
    alive = [{"config_id": c} for c in ("a", "b", "plan")]
    target = dict.fromkeys(("a", "b", "plan"), 4 * M)  # two doublings: error .085 each
    close = fc.forecast_order(alive, _records({"a": .6, "b": .5, "plan": .55}), 1, target,
                              "plan", PRIOR)
    assert [c["config_id"] for c in close] == ["plan", "a", "b"]  # .05 behind < .12
    far = fc.forecast_order(alive, _records({"a": .6, "b": .5, "plan": .45}), 1, target,
                            "plan", PRIOR)
    assert [c["config_id"] for c in far] == ["a", "b", "plan"]  # .15 behind > .12
    failed = fc.forecast_order(alive, _records({"a": -1.0, "b": .5, "plan": .45}), 2, target,
                               "plan", PRIOR)
    assert [c["config_id"] for c in failed] == ["b", "plan", "a"]


def test_forecast_halving_keeps_the_slow_starting_plan():
    # A's plan p starts slower than on the shared table (.3, .4 at 2^22, .7 at 2^24). Rung 0
    # (2^21.415 px each, w = .7075 of the way from 2^20 to 2^22): p .3708, x .4354, y .1708;
    # the forecasts to the winner's 2^23.415 px (3.4 doublings, default prior: B's curves are
    # single points) from each one's recorded points: p .40, x .50, error .14 each, so the plan
    # goes on and reads .4 + .3 x .7075 = .6123 (score-based halving picks x: .4854)
    rows = [{**r, "curve": [(M, .3), (4 * M, .4), (16 * M, .7)]}
            if (r["dataset"], r["candidate"]) == ("A", "p") else r for r in _rows()]
    slow = rp.build_table(rows, dict.fromkeys("AB", {**HP["p"], "flip": 0.5}))
    out = rp.replay(slow, "A", "forecast_halving:plan+steps:3", 16 * M)
    assert out["winner"] == "p" and out["plan_won"]
    assert out["score"] == pytest.approx(.61226, abs=1e-4)
    halving = rp.replay(slow, "A", "successive_halving:plan+steps:3", 16 * M)
    assert halving["winner"] == "x" and halving["score"] == pytest.approx(.48538, abs=1e-4)


def test_the_search_learns_its_prior_from_the_other_datasets_v3_curves():
    import pandas as pd

    from aixcell_automl.search.forecast import CurvePrior, learn_prior, prior_from_metabase

    rising = [[2**20, 0.1], [2**21, 0.2], [2**22, 0.3], [2**23, 0.4]]  # 0.1 per doubling
    flat = [[2**20, 0.5], [2**21, 0.5], [2**22, 0.5], [2**23, 0.5]]
    more = rising + [[2**24, 0.5], [2**25, 0.5]]  # its continuation: flat in its second half

    def row(dataset, digest, curve, protocol="v3"):
        return {"protocol": protocol, "status": "ok", "dataset": dataset, "candidate": "c01",
                "dataset_hash": digest, "curve": curve, "fidelity_pixels": curve[-1][0]}

    rows = pd.DataFrame([row("a", "ha", rising), row("me", "hm", flat),
                         row("copy", "hm", flat),  # the searched dataset under another name
                         row("b", "hb", flat, "v2")])
    prior = prior_from_metabase(rows, "me", "hm")
    assert prior == learn_prior([rising]) and prior.slope == pytest.approx(0.1)
    # a continuation row extends its candidate's curve, as in the replay: one curve, not two
    continued = pd.concat([rows, pd.DataFrame([row("a", "ha", more)])], ignore_index=True)
    assert prior_from_metabase(continued, "me", "hm") == learn_prior([more])
    assert prior_from_metabase(pd.DataFrame(), "me", "hm") == CurvePrior()
