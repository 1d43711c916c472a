"""The search's run (docs/method.md §0, §7): a registered search strategy (successive halving by
default) over the candidates (the plan and the ranking's top k - 1) on the user's dataset, each
rung's trials run through an executor, resumable from its trace; and the trace as meta-base
rows."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

from tqdm.auto import tqdm

from aixcell_automl.core.atomic import atomic_write_json
from aixcell_automl.plugins.specs import SearchContext  # re-exported: its home before the API
from aixcell_automl.search.halving import (
    SCHEDULED,
    slice_spent,
    spend_leftover,
    strategy_schedule,
)
from aixcell_automl.training.loop import (
    Budget,
    Settings,
    read_state,
    release_models,
    train_trial,
)
from aixcell_automl.training.trial_data import TrialData

log = logging.getLogger(__name__)

__all__ = ["SearchContext", "check_resumable", "halving_rows", "plan_outcome", "run_search",
           "run_setting", "winner_config"]


def leftover_note(trace: dict) -> str:
    """One sentence on the reserve candidates that trained with budget left unused, if any."""
    extra = [t for r in trace["rungs"] if r.get("leftover") for t in r["trials"]]
    if not extra:
        return ""
    def used(t: dict) -> str:  # a reserve trial trains from scratch: train_seconds is its own
        spent = min(t.get("train_seconds") or t["seconds"], t["seconds"])
        return f"{spent:.0f} s" if spent >= t["seconds"] else f"{spent:.0f} of {t['seconds']:.0f} s"

    done = ", ".join(f"{t['config_id']} ({used(t)}, {t['score']:.3f})" for t in extra)
    failed = any(t.get("status") == "failed" for r in trace["rungs"] for t in r["trials"])
    return (f" Budget the trials did not need (they converged early"
            f"{' or failed' * failed}) trained {len(extra)} more "
            f"candidate{'s' * (len(extra) > 1)}: {done}.")


def plan_outcome(trace: dict) -> str:
    """One sentence: did the plan (the rule-based configuration) win, and by how much (and
    :func:`leftover_note`)."""
    return _plan_outcome(trace) + leftover_note(trace)


def _plan_outcome(trace: dict) -> str:
    pid, win = trace.get("plan_config_id"), trace.get("winner")
    scores = [{t["config_id"]: t["score"] for t in r["trials"]} for r in trace["rungs"]
              if not r.get("leftover")]  # the strategy's rungs
    if not pid or not any(pid in r for r in scores):
        return ""
    last = max(i for i, r in enumerate(scores) if pid in r)
    rung = scores[last]
    if not any(win in r for r in scores):  # a reserve candidate won
        won = max(t["score"] for r in trace["rungs"] for t in r["trials"]
                  if t["config_id"] == win)
        plan = max(r[pid] for r in scores if pid in r)
        return (f"A reserve candidate won with validation score {won:.3f}, against the plan's "
                f"best {plan:.3f} ({won - plan:+.3f}).")
    if pid == win:
        others = [v for c, v in rung.items() if c != pid]
        if not others:
            return (f"The plan's configuration won (validation score {rung[pid]:.3f}; no other "
                    f"candidate reached the last rung).")
        return (f"The plan's configuration won: validation score {rung[pid]:.3f} in the last "
                f"rung against {max(others):.3f} for the runner-up "
                f"({rung[pid] - max(others):+.3f}).")
    if win not in rung:  # e.g. a protected plan trained on, below the leader it displaced
        best = {c: max(r[c] for r in scores if c in r) for c in (win, pid)}
        return (f"Another candidate won with its best validation score {best[win]:.3f}; the "
                f"plan's configuration trained on to rung {last + 1} and reached "
                f"{best[pid]:.3f} ({best[win] - best[pid]:+.3f}).")
    return (f"Another candidate won: in rung {last + 1}, where the "
            f"plan's configuration {'stopped' if last + 1 < len(scores) else 'finished'}, it "
            f"scored {rung[win]:.3f} against the plan's {rung[pid]:.3f} "
            f"({rung[win] - rung[pid]:+.3f}).")


def _ray_trial(dataset_path: str, split: dict, seed: int, config: dict, run_dir: str,
               seconds: float, settings: Settings, plan=None) -> dict:
    """A rung trial on a Ray worker: loads the dataset there (shared filesystem assumed), with
    the search data's plan settings (:class:`~aixcell_automl.training.plan_settings.
    PlanSettings`)."""
    from aixcell_automl.core.dataset import load_dataset
    from aixcell_automl.training.trial_data import make_trial_data

    data = make_trial_data(load_dataset(dataset_path, check_pixels=False), split, seed, plan)
    return train_trial(config, data, run_dir, Budget(seconds=seconds), settings, seed)


def run_search(candidates: list[dict], data: TrialData, run_root: Path, budget_seconds: float,
               settings: Settings, space: dict, seed: int = 0, executor: str = "local",
               executor_options: dict | None = None, dataset_path: str | None = None,
               split: dict | None = None, strategy: str = "successive_halving",
               plan: dict | None = None, k: int | None = None, curve_prior=None,
               reserve: list[dict] | None = None, min_leftover_seconds: float = 15.0
               ) -> dict:
    """Run the registered search ``strategy`` (default successive halving over ``candidates``,
    in rank order; ``k`` defaults to their number; ``curve_prior``: the forecast's prior for
    strategies that forecast); resumes from ``run_root/trace.json`` where the strategy replays
    a trace; a slice trained before the search stopped but not yet in the trace is not trained
    again (only what is left of it). Budget the strategy's trials left unused (they converged
    early or failed) trains the ``reserve`` candidates, the next in order
    (:func:`~aixcell_automl.search.halving.spend_leftover`, at least ``min_leftover_seconds``
    each); a trace resumes only with a reserve that starts with the ones it trained.

    Checkpoints of configurations that did not win are deleted (their ``state.json`` stays).
    """
    from aixcell_automl.plugins.registry import get
    from aixcell_automl.training import executors

    run_root.mkdir(parents=True, exist_ok=True)
    trace_path = run_root / "trace.json"
    trace = json.loads(trace_path.read_text()) if trace_path.exists() else None
    setting = run_setting(candidates, budget_seconds, strategy, k, reserve or [])
    if trace:
        check_resumable(trace, setting, trace_path)
    replayed = sum(len(r["trials"]) for r in trace["rungs"]) if trace else 0
    replayed_leftover = sum(len(r["trials"]) for r in trace["rungs"]
                            if r.get("leftover")) if trace else 0
    trials = (sum(strategy_schedule(strategy, 1.0, k or len(candidates))[1])
              if strategy in SCHEDULED else None)  # a plugin's count is unknown
    bar = tqdm(total=None if trials is None else trials + replayed_leftover, initial=replayed,
               desc=strategy, unit="trial")  # a resumed search counts replayed trials
    # each trial's train_seconds after its last slice in the trace (None: the record does not say)
    recorded = {t["config_id"]: t.get("train_seconds")
                for r in (trace or {"rungs": []})["rungs"] for t in r["trials"]}
    seen: set[str] = set()  # trials this process trained: their state.json holds nothing new

    def persist(partial: dict) -> None:
        atomic_write_json(trace_path, partial | setting)

    def still_to_train(cfg: dict, secs: float) -> tuple[float, dict | None]:
        """``secs`` less what the trial trained since its last recorded slice, and its state
        where that leaves nothing: a search stopped between a trial and the trace's record of
        it (e.g. within a rung) does not train the trial's slice twice."""
        path, before = run_root / cfg["config_id"] / "state.json", recorded.get(
            cfg["config_id"], 0.0)
        if cfg["config_id"] in seen or before is None or not path.exists():
            return secs, None
        state = read_state(path)
        if state.get("train_seconds") is None:
            return secs, None
        left = secs - slice_spent(float(state["train_seconds"]), float(before))
        return left, state if left <= 0 else None

    def trained(cfg: dict, state: dict) -> dict:
        seen.add(cfg["config_id"])
        bar.update(1)
        return state

    def run_rung(jobs: list[tuple[dict, float]]) -> list[dict]:
        log.info("rung: %d configurations x %.1f s", len(jobs), jobs[0][1])
        left = [still_to_train(cfg, secs) for cfg, secs in jobs]
        out = [None if state is None else trained(cfg, state)
               for (cfg, _), (_, state) in zip(jobs, left, strict=True)]
        todo = [i for i, state in enumerate(out) if state is None]
        if not todo:
            return out
        if executor == "local":
            for i in todo:
                cfg = jobs[i][0]
                bar.set_postfix_str(f"{cfg['config_id']} {cfg['backbone']} p{cfg['patch_size']}")
                out[i] = trained(cfg, train_trial(cfg, data, run_root / cfg["config_id"],
                                                  Budget(seconds=left[i][0]), settings, seed))
            return out
        tasks = [(dataset_path, split, seed, jobs[i][0], str(run_root / jobs[i][0]["config_id"]),
                  left[i][0], settings, data.plan) for i in todo]
        for j, state in executors.run(_ray_trial, tasks, executor, **(executor_options or {})):
            out[todo[j]] = trained(jobs[todo[j]][0], state)
        return out

    ctx = SearchContext(candidates, plan or candidates[0], dict(space),
                        budget_seconds, k or len(candidates), seed, run_rung, trace, persist,
                        curve_prior)
    from aixcell_automl.training.machine import recorded_factor

    result = get("strategy", strategy).run(ctx)
    if reserve:
        def run_leftover(jobs: list[tuple[dict, float]]) -> list[dict]:
            if bar.total is not None:  # a trial beyond the strategy's count
                bar.total += len(jobs)
            return run_rung(jobs)

        result = spend_leftover(result, reserve, budget_seconds, run_leftover,
                                min_leftover_seconds, first_rank=len(candidates) + 1,
                                replayed=trace, on_trial=persist)
    result = result | setting | {
        "precision": settings.precision,
        "machine_factor": recorded_factor(settings.precision)}
    bar.close()
    release_models()
    for cid in {t["config_id"] for r in result["rungs"] for t in r["trials"]}:
        if cid != result["winner"]:
            shutil.rmtree(run_root / cid / "ckpt", ignore_errors=True)
    atomic_write_json(trace_path, result)
    return result


def run_setting(candidates: list[dict], budget_seconds: float, strategy: str,
                k: int | None, reserve: list[dict] | None = None) -> dict:
    """What a search trace records of its search, so that it resumes only that search
    (``reserve``: its reserve candidates, see :func:`run_search`; None: not checked)."""
    out = {"budget_seconds": float(budget_seconds), "strategy": strategy,
           "candidate_ids": [c["config_id"] for c in candidates], "k": k or len(candidates)}
    if reserve is not None:
        out["reserve_ids"] = [c["config_id"] for c in reserve]
    return out


def check_resumable(trace: dict, setting: dict, trace_path: Path) -> None:
    """A trace resumes only the search it was written by: the same budget, strategy, k and
    candidates (a trace of before these were recorded is taken as it is), and reserve
    candidates it trained that are the first of the reserve now (their budget is spent)."""
    from aixcell_automl.core.errors import UserError

    differ = [f"{k} {trace[k]!r} there, {v!r} now" for k, v in setting.items()
              if k != "reserve_ids" and k in trace and trace[k] != v]
    spent = [t["config_id"] for r in trace.get("rungs", []) if r.get("leftover")
             for t in r["trials"]]
    if "reserve_ids" in setting and spent != setting["reserve_ids"][:len(spent)]:
        differ.append(f"reserve candidates trained {spent!r} there, reserve "
                      f"{setting['reserve_ids']!r} now")
    if differ:
        raise UserError(f"{trace_path} is another search's trace ({'; '.join(differ)}): resume "
                        f"it with its own settings, or give this search another run name "
                        f"(search.run_name) or folder")


def winner_config(trace: dict, candidates: list[dict]) -> dict:
    """The winning configuration of a search trace."""
    known = {c["config_id"]: c for c in candidates} | trace.get("configs", {})
    return known[trace["winner"]]


def halving_rows(trace: dict, run_root: Path, dataset: str, dataset_hash: str) -> list[dict]:
    """Meta-base rows for every configuration a search trained (fidelity ``"halving"``: the
    pixels it saw before it was dropped or won), so each search can improve the next ranking."""
    from aixcell_automl.metabase.store import state_row

    rows = []
    for cid in {t["config_id"] for r in trace["rungs"] for t in r["trials"]}:
        state = read_state(run_root / cid / "state.json")
        rows.append({"dataset": dataset, "dataset_hash": dataset_hash, **state_row(state),
                     "fidelity": "halving", "fidelity_pixels": int(state["pixels_seen"])})
    return sorted(rows, key=lambda r: r["config_id"])
