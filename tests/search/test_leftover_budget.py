"""Budget a converged or failed trial does not need goes to the later rungs."""

from __future__ import annotations

from aixcell_automl.search.halving import successive_halving


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
