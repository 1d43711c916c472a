"""Successive halving (docs/method.md §7) over the top-k of a predicted ranking, under a time
budget.

``n_steps = floor(log2 k) + 1`` rungs share the budget equally. In rung ``i`` every surviving
configuration trains for ``(B / n_steps) / survivors`` seconds, continuing from its checkpoint;
then the better half - ``floor(n / 2)`` of them - goes on. With k = 50 the survivors are
50, 25, 12, 6, 3, 1 and the winner trains for 27.38 % of B in total.

Scores are the trials' best validation IoU (see :mod:`.training`); a failed trial scores -1 and is
dropped first; ties go to the configuration ranked higher by the meta-model. Every finished call
is recorded in the trace, and a trace passed back in is replayed, so an interrupted search resumes
where it stopped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence


def n_steps(k: int) -> int:
    return int(math.floor(math.log2(k))) + 1 if k >= 1 else 0


def survivors_per_rung(k: int) -> list[int]:
    """Number of configurations trained in each rung: k, floor(k/2), ..."""
    out, n = [], k
    for _ in range(n_steps(k)):
        out.append(n)
        n = max(1, n // 2)
    return out


def slice_seconds(budget: float, k: int) -> list[float]:
    """Seconds each configuration gets in each rung."""
    steps = n_steps(k)
    return [budget / steps / n for n in survivors_per_rung(k)]


def winner_share(k: int, strategy: str = "successive_halving") -> float:
    """Fraction of the total budget the winner of ``strategy`` over ``k`` trains for (0.2738
    for successive halving over k = 50)."""
    return sum(strategy_schedule(strategy, 1.0, k)[0])


SCREEN_SHARE = 0.25  # screen_schedule: the budget's part the screening rung takes


def screen_schedule(budget: float, k: int, screen: float = SCREEN_SHARE
                    ) -> tuple[list[float], list[int]]:
    """``(seconds per trial per rung, trials per rung)`` of screening then training: every
    candidate trains for ``screen x budget / k``, then the best one alone for the rest (its
    share ``1 - screen + screen / k``); k = 1 trains for the whole budget."""
    if k <= 1:
        return [budget], [1]
    return [screen * budget / k, (1 - screen) * budget], [k, 1]


# the built-in strategies whose rungs follow strategy_schedule (optuna_tpe and plugins: their own)
SCHEDULED = ("successive_halving", "random_halving", "forecast_halving", "plan_only",
             "equal_split", "screen_then_train")


def strategy_schedule(strategy: str, budget: float, k: int) -> tuple[list[float], list[int]]:
    """``(seconds per trial, trials)`` per rung of a built-in strategy over ``k`` candidates
    (``plan_only``, ``equal_split``, ``screen_then_train``; successive halving's for any other,
    the halving variants and, as an estimate, plugins)."""
    if strategy == "plan_only" or k <= 1:
        return [budget], [1]
    if strategy == "equal_split":
        return [budget / k], [k]
    if strategy == "screen_then_train":
        return screen_schedule(budget, k)
    return slice_seconds(budget, k), survivors_per_rung(k)


def score_of(state: dict) -> float:
    if state.get("status") == "failed" or state.get("best_score") is None:
        return -1.0
    return float(state["best_score"])


def trial_record(rung: int, config: dict, rank: int, seconds: float, state: dict) -> dict:
    """A trace's record of one trained slice."""
    return {"rung": rung, "config_id": config["config_id"], "rank": rank, "seconds": seconds,
            "score": score_of(state), "status": state.get("status"),
            "reason": state.get("reason"), "train_seconds": state.get("train_seconds"),
            "pixels_seen": state.get("pixels_seen"), "stopped_by": state.get("stopped_by"),
            "curve": [[h["pixels"], h["val_score"]] for h in state.get("history") or []]}


def slice_spent(train_seconds: float, before: float) -> float:
    """Training seconds a trial spent in its latest slice: its ``train_seconds`` now less
    ``before``, its ``train_seconds`` before the slice; all of them where it started afresh
    within the slice (a diverged 16-bit trial retrained in float32 counts from 0 again)."""
    return train_seconds - before if train_seconds >= before else train_seconds


def unused_seconds(record: dict, seconds: float, before: float) -> float:
    """Seconds of its ``seconds`` slice a trial did not need: it converged (early stopping) or
    failed. ``before`` is its ``train_seconds`` before the slice."""
    if record.get("train_seconds") is None or not (
            record.get("stopped_by") == "early_stopping" or record.get("status") == "failed"):
        return 0.0
    return max(0.0, seconds - slice_spent(record["train_seconds"], before))


def successive_halving(candidates: Sequence[dict], budget_seconds: float,
                       run_rung: Callable[[list[tuple[dict, float]]], list[dict]],
                       trace: dict | None = None,
                       on_trial: Callable[[dict], None] | None = None,
                       rank: Callable[[list[dict], dict, int, float], list[dict]] | None = None,
                       schedule: tuple[list[float], list[int]] | None = None) -> dict:
    """Run successive halving; return the trace ``{"rungs": [...], "winner": config_id}``.

    ``candidates`` are configurations (with ``config_id``) in predicted-rank order.
    ``run_rung([(config, seconds), ...])`` trains them (resuming) and returns their states in the
    same order. ``trace`` from an interrupted run is replayed: recorded trials are not re-run.
    ``on_trial(record)`` is called after each recorded trial (to persist the trace).
    ``rank(alive, records, keep, growth)`` orders a rung's trials for promotion (default: by
    score, ties to the higher rank); ``growth`` is how many times its training so far a trial
    would have trained if it won. ``schedule``: ``(seconds per trial, trials)`` per rung instead
    of halving's (e.g. :func:`screen_schedule`).

    Budget a trial does not need (it converged or failed within its slice) is not lost: it is
    shared out over the later rungs' trials (:func:`unused_seconds`).
    """
    trace = trace or {"rungs": []}
    done = {(r["rung"], r["config_id"]): r for rung in trace["rungs"] for r in rung["trials"]}
    order = {c["config_id"]: i for i, c in enumerate(candidates)}
    alive = list(candidates)
    slices, survivors = schedule or (slice_seconds(budget_seconds, len(candidates)),
                                     survivors_per_rung(len(candidates)))
    rungs, spare, before = [], 0.0, {}
    for i, base in enumerate(slices):
        share = spare / (len(slices) - i)  # this rung's part of the budget earlier ones left
        seconds = base + share / survivors[i]
        todo = [c for c in alive if (i, c["config_id"]) not in done]
        if todo:
            for cfg, state in zip(todo, run_rung([(c, seconds) for c in todo]), strict=True):
                rec = trial_record(i, cfg, order[cfg["config_id"]] + 1, seconds, state)
                done[(i, cfg["config_id"])] = rec
                if on_trial:
                    rungs_now = rungs + [{"rung": i, "seconds_per_trial": seconds,
                                          "trials": [done[(i, c["config_id"])] for c in alive
                                                     if (i, c["config_id"]) in done]}]
                    on_trial({"rungs": rungs_now})
        records = [done[(i, c["config_id"])] for c in alive]
        rungs.append({"rung": i, "seconds_per_trial": seconds, "trials": records})
        spare += -share + sum(unused_seconds(r, seconds, before.get(r["config_id"], 0.0))
                              for r in records)
        before.update({r["config_id"]: r["train_seconds"] for r in records
                       if r.get("train_seconds") is not None})
        keep = survivors[i + 1] if i + 1 < len(slices) else 1
        if rank is not None and i + 1 < len(slices):
            ranked = rank(alive, {c["config_id"]: done[(i, c["config_id"])] for c in alive},
                          keep, sum(slices) / sum(slices[:i + 1]))
        else:
            ranked = sorted(alive, key=lambda c: (-done[(i, c["config_id"])]["score"],
                                                  order[c["config_id"]]))
        alive = ranked[:keep]
    return {"rungs": rungs, "winner": alive[0]["config_id"] if alive else None,
            "budget_seconds": budget_seconds, "k": len(candidates)}


def equal_split(candidates: Sequence[dict], budget_seconds: float,
                run_rung: Callable[[list[tuple[dict, float]]], list[dict]],
                trace: dict | None = None) -> dict:
    """Every candidate trains for ``budget / k``; the best score wins (ties: the higher rank).
    A best-of-k portfolio without halving; a trace passed back in is replayed."""
    seconds = budget_seconds / max(1, len(candidates))
    done = {t["config_id"]: t for r in (trace or {"rungs": []})["rungs"] for t in r["trials"]}
    todo = [c for c in candidates if c["config_id"] not in done]
    for rank, (cfg, state) in enumerate(zip(todo, run_rung([(c, seconds) for c in todo])
                                            if todo else [], strict=True)):
        done[cfg["config_id"]] = trial_record(0, cfg, rank + 1, seconds, state)
    records = [done[c["config_id"]] for c in candidates]
    best = max(range(len(records)), key=lambda i: (records[i]["score"], -i)) if records else None
    return {"rungs": [{"rung": 0, "seconds_per_trial": seconds, "trials": records}],
            "winner": records[best]["config_id"] if records else None,
            "budget_seconds": budget_seconds, "k": len(candidates)}


def leftover_seconds(trace: dict, budget_seconds: float) -> float:
    """Budget the trace's trials left unused: slices cut short by convergence or failure
    (:func:`unused_seconds`) that no later slice took up (0 for a trace whose trials do not
    record their slices, e.g. a plugin strategy's)."""
    used, before = 0.0, {}
    for rung in trace["rungs"]:
        for t in rung["trials"]:
            if t.get("seconds") is None:
                return 0.0
            cid = t["config_id"]
            used += t["seconds"] - unused_seconds(t, t["seconds"], before.get(cid, 0.0))
            if t.get("train_seconds") is not None:
                before[cid] = t["train_seconds"]
    return max(0.0, budget_seconds - used)


def spend_leftover(trace: dict, reserve: Sequence[dict], budget_seconds: float,
                   run_rung: Callable[[list[tuple[dict, float]]], list[dict]],
                   min_seconds: float, first_rank: int = 1, replayed: dict | None = None,
                   on_trial: Callable[[dict], None] | None = None) -> dict:
    """Train the ``reserve`` candidates (the next in the search's order, ranks from
    ``first_rank``) with the budget a strategy's trials left unused (:func:`leftover_seconds`),
    one at a time with all that is left, while at least ``min_seconds`` is; one that scores
    above the winner's best wins. Each is a rung marked ``leftover``; leftover trials of
    ``replayed`` (an interrupted search's trace) are not re-run."""
    done = {t["config_id"]: t for r in (replayed or {"rungs": []})["rungs"] if r.get("leftover")
            for t in r["trials"]}
    trace = dict(trace, rungs=list(trace["rungs"]))
    best: dict[str, float] = {}
    for rung in trace["rungs"]:
        for t in rung["trials"]:
            best[t["config_id"]] = max(best.get(t["config_id"], -1.0), t["score"])
    for rank, cfg in enumerate(reserve, start=first_rank):
        seconds = leftover_seconds(trace, budget_seconds)
        if seconds < min_seconds:
            break
        rec = done.get(cfg["config_id"])
        if rec is None:
            (state,) = run_rung([(cfg, seconds)])
            rec = trial_record(len(trace["rungs"]), cfg, rank, seconds, state)
        trace["rungs"].append({"rung": len(trace["rungs"]), "leftover": True,
                               "seconds_per_trial": rec["seconds"], "trials": [rec]})
        if rec["score"] > best.get(trace["winner"], -1.0):
            trace["winner"] = rec["config_id"]
        best[rec["config_id"]] = rec["score"]
        if on_trial:
            on_trial(trace)
    return trace


def suggest_k(budget_seconds: float, min_slice_seconds: float, k_max: int = 50,
              strategy: str = "successive_halving") -> int:
    """Largest k <= k_max whose first-rung slice is at least ``min_slice_seconds``."""
    for k in range(k_max, 0, -1):
        if strategy_schedule(strategy, budget_seconds, k)[0][0] >= min_slice_seconds:
            return k
    return 1
