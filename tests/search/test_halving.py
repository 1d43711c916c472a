import json

import pytest

from aixcell_automl.search.halving import (
    n_steps,
    screen_schedule,
    slice_seconds,
    successive_halving,
    suggest_k,
    survivors_per_rung,
    winner_share,
)


def test_k50_winner_gets_27_38_percent_of_the_budget():
    assert n_steps(50) == 6
    assert survivors_per_rung(50) == [50, 25, 12, 6, 3, 1]
    assert winner_share(50) == pytest.approx(0.2738, abs=2e-4)
    assert sum(n * s for n, s in zip(survivors_per_rung(50), slice_seconds(600, 50),
                                     strict=True)) == pytest.approx(600)


class FakeTrainer:
    """Score grows with accumulated training time at a configuration-specific rate."""

    def __init__(self, rates, fail=()):
        self.rates, self.fail, self.seconds, self.calls = rates, set(fail), {}, []

    def __call__(self, jobs):
        out = []
        for cfg, secs in jobs:
            cid = cfg["config_id"]
            self.calls.append((cid, secs))
            self.seconds[cid] = self.seconds.get(cid, 0) + secs  # resumes: time accumulates
            if cid in self.fail:
                out.append({"status": "failed", "reason": "NaN loss", "best_score": None})
            else:
                out.append({"status": "paused", "best_score": min(1, self.rates[cid] *
                                                                self.seconds[cid])})
        return out


def _cands(n):
    return [{"config_id": f"c{i}"} for i in range(n)]


def test_best_survives_and_resumes_with_accumulated_budget():
    rates = {f"c{i}": 0.0001 * (i + 1) for i in range(8)}
    trainer = FakeTrainer(rates)
    trace = successive_halving(_cands(8), 800, trainer)
    assert trace["winner"] == "c7"
    assert [len(r["trials"]) for r in trace["rungs"]] == [8, 4, 2, 1]
    assert trainer.seconds["c7"] == pytest.approx(800 * winner_share(8))
    assert [c for c, _ in trainer.calls].count("c7") == 4  # one continuing trial, four calls


def test_screening_then_training_gives_the_best_three_quarters_plus_its_screen():
    assert screen_schedule(800, 4) == ([50.0, 600.0], [4, 1]) and screen_schedule(800, 1) == (
        [800], [1])
    rates = {"c0": 0.0002, "c1": 0.0005, "c2": 0.0001, "c3": 0.0003}
    trainer = FakeTrainer(rates)
    trace = successive_halving(_cands(4), 800, trainer, schedule=screen_schedule(800, 4))
    assert trace["winner"] == "c1" and [len(r["trials"]) for r in trace["rungs"]] == [4, 1]
    assert trainer.calls == [("c0", 50), ("c1", 50), ("c2", 50), ("c3", 50), ("c1", 600)]
    assert trainer.seconds["c1"] == 650  # 3/4 of the budget + its quarter of the screen
    assert winner_share(4, "screen_then_train") == .8125 and winner_share(4) == pytest.approx(
        7 / 12)
    assert winner_share(4, "equal_split") == .25 and winner_share(4, "plan_only") == 1.0
    assert suggest_k(800, 50, 8, "screen_then_train") == 4  # 200 / k >= 50
    assert suggest_k(800, 50, 8) == 5  # halving: 800 / 3 rungs / k >= 50


def test_failed_trials_are_dropped_first_and_ties_go_to_the_higher_rank():
    rates = {f"c{i}": 0.0 for i in range(4)}  # all score 0: a tie
    trainer = FakeTrainer(rates, fail={"c0"})
    trace = successive_halving(_cands(4), 100, trainer)
    first = trace["rungs"][0]["trials"]
    assert first[0]["status"] == "failed" and first[0]["score"] == -1
    assert [t["config_id"] for t in trace["rungs"][1]["trials"]] == ["c1", "c2"]
    assert trace["winner"] == "c1"


def test_an_interrupted_search_replays_its_trace_without_rerunning(tmp_path):
    rates = {f"c{i}": 0.001 * (i + 1) for i in range(4)}
    saved = []
    full = successive_halving(_cands(4), 400, FakeTrainer(rates),
                              on_trial=lambda t: saved.append(json.loads(json.dumps(t))))
    partial = saved[4]  # crashed after rung 1 and the first trial of rung 2
    trainer = FakeTrainer(rates)
    trainer.seconds = {f"c{i}": 400 / 3 / 4 for i in range(4)}
    trainer.seconds["c3"] += 400 / 3 / 2
    resumed = successive_halving(_cands(4), 400, trainer, trace=partial)
    assert [c for c, _ in trainer.calls] == ["c2", "c3"]
    assert resumed["winner"] == full["winner"] == "c3"


def test_budget_advice():
    assert suggest_k(300, 20) == 5
    assert slice_seconds(300, suggest_k(300, 20)) == [20.0, 50.0, 100.0]
