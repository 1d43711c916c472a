"""Budget a converged or failed trial does not need goes to the later rungs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aixcell_automl.search.halving import (
    leftover_seconds,
    spend_leftover,
    successive_halving,
    unused_seconds,
)
from aixcell_automl.search.run import leftover_note, plan_outcome


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
        "candidates: r1 (20 of 60 s, 0.750), r2 (40 s, 0.720).")


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


def test_a_trial_that_started_afresh_within_its_slice_leaves_no_more_than_the_slice():
    # a diverged 16-bit trial retrained in float32: train_seconds counts from 0 again
    record = {"train_seconds": 3.0, "stopped_by": "early_stopping", "status": "finished"}
    assert unused_seconds(record, 10.0, before=50.0) == 7.0


def test_the_note_says_when_the_budget_came_from_a_failed_trial():
    trace = {"rungs": [
        {"rung": 0, "trials": [{"config_id": "plan", "status": "failed", "score": -1.0}]},
        {"rung": 1, "leftover": True, "trials": [{"config_id": "r1", "status": "paused",
                                                  "seconds": 90.0, "score": .6}]}]}
    assert "(they converged early or failed)" in leftover_note(trace)


class _Crash(Exception):
    """The search's process stopped (killed, the machine went down)."""


def _fake_search(monkeypatch, behaviour: dict[str, tuple[float, float | None]]):
    """run_search's trials on a fake clock, each state in its state.json as train_trial keeps
    it: a configuration's score and the training seconds after which it converges (None: it
    uses all it is given). Records the calls; ``crash["after"]`` stops the search right after
    that call saved its state, before the trace records it."""
    from aixcell_automl.search import run as search

    calls, crash = [], {"after": None}

    def train_trial(cfg, data, run_dir, budget, settings, seed):
        path = Path(run_dir) / "state.json"
        state = (json.loads(path.read_text()) if path.exists()
                 else {"status": "running", "train_seconds": 0.0})
        if state["status"] in ("finished", "failed"):
            return state
        calls.append((cfg["config_id"], budget.seconds))
        score, converges = behaviour[cfg["config_id"]]
        t = state["train_seconds"] + budget.seconds
        stop = converges is not None and t > converges
        state.update(status="finished" if stop else "paused", best_score=score,
                     stopped_by="early_stopping" if stop else "seconds",
                     train_seconds=converges if stop else t)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(state))
        if len(calls) == crash["after"]:
            raise _Crash
        return state

    monkeypatch.setattr(search, "train_trial", train_trial)
    monkeypatch.setattr(search, "release_models", lambda: None)
    monkeypatch.setenv("AIXCELL_AUTOML_MACHINE_FACTOR", "1")
    return calls, crash


def _cfgs(ids):
    return [{"config_id": c, "backbone": "resnet18", "patch_size": 64} for c in ids]


def test_a_search_stopped_between_a_trial_and_its_record_trains_no_slice_twice(
        tmp_path, monkeypatch, search_bars):
    from aixcell_automl.core.errors import UserError
    from aixcell_automl.search.run import run_search
    from aixcell_automl.training.loop import Settings

    calls, crash = _fake_search(monkeypatch, {"a": (.9, 6.0), "b": (.5, None),
                                              "r1": (.6, None), "r2": (.99, None)})

    def search(root, reserve=("r1", "r2")):
        return run_search(_cfgs("ab"), None, root, 16.0, Settings(), {},
                          reserve=_cfgs(reserve), min_leftover_seconds=1.0)

    # uninterrupted: rung 0 2 x 4 s, rung 1 a for 8 s (it converges after 2 of them), and the
    # 6 s it left train r1, which uses them all
    whole = search(tmp_path / "whole")
    assert calls == [("a", 4.0), ("b", 4.0), ("a", 8.0), ("r1", 6.0)]
    calls.clear()
    root = tmp_path / "stopped"
    crash["after"] = 1  # a trained its rung-0 slice; the rung's record was not written
    with pytest.raises(_Crash):
        search(root)
    crash["after"] = 4  # r1 trained its leftover slice; the trace does not record it yet
    with pytest.raises(_Crash):
        search(root)
    crash["after"] = None
    resumed = search(root)
    assert calls == [("a", 4.0), ("b", 4.0), ("a", 8.0), ("r1", 6.0)]  # each slice once
    assert resumed["rungs"] == whole["rungs"] and resumed["winner"] == whole["winner"] == "a"
    spent = {c: json.loads((root / c / "state.json").read_text())["train_seconds"]
             for c in ("a", "b", "r1")}
    assert spent == {"a": 6.0, "b": 4.0, "r1": 6.0} and not (root / "r2").exists()
    # a finished search replays everything, its leftover trial counted by the progress bar
    assert search(root)["rungs"] == whole["rungs"] and len(calls) == 4
    assert (search_bars[-1].total, search_bars[-1].n) == (4, 4)
    # another reserve would spend r1's budget again: that is another search's trace
    assert search(root, ("r1", "r3"))["rungs"] == whole["rungs"]  # r1 first: the same
    with pytest.raises(UserError, match="reserve candidates trained"):
        search(root, ("r2", "r1"))
