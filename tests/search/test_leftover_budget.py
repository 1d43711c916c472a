"""Budget a converged or failed trial does not need goes to the later rungs."""

from __future__ import annotations

from aixcell_automl.search.halving import leftover_seconds, spend_leftover, successive_halving
from aixcell_automl.search.run import plan_outcome


def test_unused_seconds_are_shared_out_over_later_rungs():
    cands = [{"config_id": c} for c in "abcd"]
    clock = dict.fromkeys("abcd", 0.0)
    seen = []

    def run_rung(jobs):
        seen.append([(c["config_id"], s) for c, s in jobs])
        out = []
        for c, s in jobs:
            cid = c["config_id"]
            if cid == "a":  # converged after 1 s of its first slice; later slices: nothing
                clock[cid] = 1.0
                out.append({"status": "finished", "stopped_by": "early_stopping",
                            "best_score": .9, "train_seconds": clock[cid]})
            else:
                clock[cid] += s
                out.append({"status": "paused", "stopped_by": "seconds",
                            "best_score": {"b": .8, "c": .7, "d": .6}[cid],
                            "train_seconds": clock[cid]})
        return out

    trace = successive_halving(cands, 60.0, run_rung)
    # k = 4: rungs of 20 s: 4 x 5 s, 2 x 10 s, 1 x 20 s. a leaves 4 s in rung 0: rung 1 gets
    # half of it (2 s over 2 trials: 11 s each); a leaves all 11 s of rung 1, so the last rung
    # gets 4 - 2 + 11 = 13 s more: 33 s
    assert [[s for _, s in r] for r in seen] == [[5.0] * 4, [11.0, 11.0], [33.0]]
    assert trace["winner"] == "a"


def test_without_early_stops_the_slices_are_unchanged():
    cands = [{"config_id": c} for c in "ab"]
    used = dict.fromkeys("ab", 0.0)

    def run_rung(jobs):
        for c, s in jobs:
            used[c["config_id"]] += s
        return [{"status": "paused", "stopped_by": "seconds", "best_score": .5,
                 "train_seconds": used[c["config_id"]]} for c, _ in jobs]

    trace = successive_halving(cands, 24.0, run_rung)
    assert [r["seconds_per_trial"] for r in trace["rungs"]] == [6.0, 12.0]


def _converging(plan_scores: dict[str, tuple[float, float | None]]):
    """A trainer: each configuration's score, and the training seconds after which it
    converges (None: it uses all it is given); records its calls."""
    calls, clock = [], {}

    def run_rung(jobs):
        out = []
        for c, s in jobs:
            cid = c["config_id"]
            calls.append((cid, s))
            score, converges = plan_scores[cid]
            stop = converges is not None and clock.get(cid, 0.0) + s > converges
            clock[cid] = converges if stop else clock.get(cid, 0.0) + s
            out.append({"status": "finished" if stop else "paused",
                        "stopped_by": "early_stopping" if stop else "seconds",
                        "best_score": score, "train_seconds": clock[cid]})
        return out
    return run_rung, calls


def test_budget_the_plan_alone_did_not_need_trains_the_reserve_in_order():
    run_rung, calls = _converging({"plan": (.70, 40.0), "r1": (.75, 20.0), "r2": (.72, None),
                                   "r3": (.99, None)})
    trace = successive_halving([{"config_id": "plan"}], 100.0, run_rung)  # plan_only
    assert leftover_seconds(trace, 100.0) == 60.0
    trace = spend_leftover(trace, [{"config_id": c} for c in ("r1", "r2", "r3")], 100.0,
                           run_rung, min_seconds=10.0, first_rank=2)
    # the plan used 40 s of 100: r1 gets 60 and converges after 20; r2 gets the other 40 and
    # uses them all, so nothing is left for r3
    assert calls == [("plan", 100.0), ("r1", 60.0), ("r2", 40.0)]
    assert [r.get("leftover", False) for r in trace["rungs"]] == [False, True, True]
    assert [r["trials"][0]["rank"] for r in trace["rungs"]] == [1, 2, 3]
    assert trace["winner"] == "r1"  # the best validation score
    assert plan_outcome({**trace, "plan_config_id": "plan"}) == (
        "A reserve candidate won with validation score 0.750, against the plan's best 0.700 "
        "(+0.050). Budget the trials did not need (they converged early) trained 2 more "
        "candidates: r1 (60 s, 0.750), r2 (40 s, 0.720).")


def test_the_halving_winners_unused_last_slice_goes_to_the_reserve_and_resumes():
    scores = {"a": (.9, 1.0), "b": (.8, None), "c": (.7, None), "d": (.6, None),
              "e": (.5, None)}
    run_rung, calls = _converging(scores)
    halving = successive_halving([{"config_id": c} for c in "abcd"], 60.0, run_rung)
    saved = []
    full = spend_leftover(halving, [{"config_id": "e"}], 60.0, run_rung, 10.0,
                          on_trial=saved.append)
    # a converges after 1 s (the slices of the first test): the later rungs took up what it
    # left in rungs 0 and 1, but nothing takes up its 33-s last slice: e trains it
    assert calls[-1] == ("e", 33.0) and full["winner"] == "a"
    again, calls_again = _converging(scores)
    resumed = spend_leftover(halving, [{"config_id": "e"}], 60.0, again, 10.0,
                             replayed=saved[-1])
    assert calls_again == [] and resumed["rungs"] == full["rungs"]


def test_no_reserve_trial_without_enough_unused_budget():
    run_rung, calls = _converging({"plan": (.7, 95.0), "r1": (.9, None)})
    trace = successive_halving([{"config_id": "plan"}], 100.0, run_rung)
    assert spend_leftover(trace, [{"config_id": "r1"}], 100.0, run_rung, 10.0) == trace
    assert calls == [("plan", 100.0)]


def test_a_trace_without_slices_leaves_nothing_to_spend():
    trace = {"rungs": [{"rung": 0, "trials": [{"config_id": "x", "score": .5}]}], "winner": "x"}
    assert leftover_seconds(trace, 100.0) == 0.0
