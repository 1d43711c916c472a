"""The search against baselines at an equal budget: one *run* is one method on one dataset with
one seed. A method is a registered search strategy (:mod:`aixcell_automl.plugins.builtin.
strategies`, or a plugin's); the four of the study have names of their own:

* ``automl`` - this system as ``kedro run --pipeline=search`` runs it with the search's
  parameters: the meta-model, trained without the dataset's own meta-base rows, ranks every
  configuration; the strategy and k follow the budget (``search.split``), over the plan and
  the candidates ``search.candidates`` gives.
* ``random_halving`` - k configurations drawn at random (seeded); the same successive halving.
* ``rule_default`` - ``plan_only``: the dataset's plan (:mod:`aixcell_automl.search.plan`) trained
  for
  the whole budget.
* ``optuna`` - ``optuna_tpe``: Optuna's TPE sampler with its successive-halving pruner.

Any other registered strategy name is a method too; it gets the automl candidates. Every method
has the same ``budget_seconds`` of training time (building and tracing models is overhead and
shows in the wall time each run records) and ends with a winner (best validation score) whose
kept weights are scored on the test split. Runs are appended to a JSON-lines file as they
finish and skipped when re-run on the same CPU model; on another one they are made again (a
wall-clock budget buys different training there, and methods are compared on one machine).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
import time
from pathlib import Path

import numpy as np

from aixcell_automl.core.dataset import SegmentationDataset
from aixcell_automl.core.search_space import hyperparameters
from aixcell_automl.training.loop import Settings, release_models
from aixcell_automl.training.trial_data import TrialData

log = logging.getLogger(__name__)

STRATEGY_OF = {"automl": "successive_halving", "random_halving": "random_halving",
               "rule_default": "plan_only", "optuna": "optuna_tpe"}
METHODS = tuple(STRATEGY_OF)
RUN_KEY = ("dataset_hash", "method", "strategy", "seed", "budget_seconds", "k")


def run_key(row: dict) -> tuple:
    return tuple(row[k] for k in RUN_KEY)


def runs_for(rows: list[dict], keys: set[tuple], machine: str | None = None) -> list[dict]:
    """The rows of ``keys`` (run keys), and for an ``automl`` key without a row, the latest
    automl row of the same dataset, seed and budget under another strategy or k: the split
    follows the machine's speed (``search.split``), so a run made on a slower or faster
    machine stands for the search there. Where a key or a stand-in was run on several
    machines, the row made on ``machine`` (a :func:`~aixcell_automl.training.hardware.
    cpu_model`) is taken, else the latest."""
    def pick(found: dict, key, row: dict) -> None:
        if key not in found or found[key].get("cpu_model") != machine:
            found[key] = row

    chosen: dict = {}
    for r in rows:
        if run_key(r) in keys:
            pick(chosen, run_key(r), r)
    picked = list(chosen.values())
    loose = {(k[0], k[3], k[4]) for k in keys if k[1] == "automl"} - {
        (r["dataset_hash"], r["seed"], r["budget_seconds"]) for r in picked
        if r["method"] == "automl"}
    stand_in: dict = {}
    for r in rows:
        if r["method"] == "automl":
            pick(stand_in, (r["dataset_hash"], r["seed"], r["budget_seconds"]), r)
    return picked + [stand_in[k] for k in sorted(loose) if k in stand_in]


def machine_folder(cpu: str) -> str:
    """A CPU model as a folder name: ``"AMD EPYC, avx512"`` -> ``"amd-epyc-avx512"``."""
    return re.sub(r"[^a-z0-9]+", "-", cpu.lower()).strip("-") or "unknown"


def check_methods(methods: list[str]) -> None:
    """Every method is one of :data:`METHODS` or a registered strategy."""
    from aixcell_automl.core.errors import UserError
    from aixcell_automl.plugins.registry import strategies

    unknown = sorted(set(methods) - set(METHODS) - set(strategies()))
    if unknown:
        raise UserError(f"unknown evaluate.methods {unknown}; choose from {list(METHODS)} or a "
                        f"registered strategy {sorted(strategies())}")


def run_once(method: str, dataset: SegmentationDataset, split: dict, data: TrialData,
             candidates: list[dict], plan: dict, space: dict, budget: float, k: int,
             settings: Settings, seed: int, run_root: Path, strategy: str | None = None,
             curve_prior=None, reserve: list[dict] | None = None,
             min_leftover_seconds: float = 15.0) -> dict:
    """One method on one dataset with one seed (``strategy``: default the method's;
    ``curve_prior``: the forecast's, see :func:`~aixcell_automl.search.forecast.
    prior_from_metabase`; ``reserve``: candidates for budget left unused, see
    :func:`~aixcell_automl.search.run.run_search`); returns its result row."""
    from aixcell_automl.metabase.store import library_versions
    from aixcell_automl.search.run import run_search, winner_config
    from aixcell_automl.training.hardware import cpu_model, hardware
    from aixcell_automl.training.loop import best_model
    from aixcell_automl.training.machine import recorded_factor
    from aixcell_automl.training.predict import evaluate_on_test

    strategy = strategy or STRATEGY_OF.get(method, method)
    t0 = time.perf_counter()
    if strategy == "optuna_tpe":  # an interrupted Optuna run cannot be resumed exactly
        import shutil

        shutil.rmtree(run_root, ignore_errors=True)
    trace = run_search(candidates, data, run_root, budget, settings, seed=seed,
                       strategy=strategy, plan=plan, space=space, k=k, curve_prior=curve_prior,
                       reserve=reserve, min_leftover_seconds=min_leftover_seconds)
    cfg = winner_config(trace, candidates + list(reserve or []))
    n_trials = len({t["config_id"] for r in trace["rungs"] for t in r["trials"]})
    wall = time.perf_counter() - t0
    model, info = best_model(run_root / cfg["config_id"], data)
    test = evaluate_on_test((model, info), dataset, split)
    release_models()
    row = {"dataset": dataset.name, "dataset_hash": dataset.content_hash(), "method": method,
           "strategy": strategy, "seed": seed, "budget_seconds": budget, "k": k,
           "test_iou": test["mean_iou"], "per_class_iou": test["per_class_iou"],
           "test_split": test["split"], "val_score": info["best_val_score"],
           "winner_config_id": cfg["config_id"], "winner_is_plan": cfg["config_id"] == plan[
               "config_id"], **{f"hp_{n}": v for n, v in hyperparameters(cfg).items()},
           "trials": n_trials, "wall_seconds": round(wall, 1), "hardware": hardware(),
           "cpu_model": cpu_model(), "precision": settings.precision,
           "machine_factor": recorded_factor(settings.precision),
           "versions": library_versions(),
           "finished_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    log.info("%s / %s / seed %d: test IoU %.3f (winner %s, %d trials, %.0f s)", dataset.name,
             method, seed, row["test_iou"], cfg["config_id"], n_trials, wall)
    return row


def run_once_from_path(method: str, dataset_path: str, split: dict, candidates: list[dict],
                       plan: dict, space: dict, budget: float, k: int, settings: Settings,
                       seed: int, run_root: str, strategy: str | None = None,
                       curve_prior=None, reserve: list[dict] | None = None,
                       min_leftover_seconds: float = 15.0) -> dict:
    """:func:`run_once` for a dataset folder (for a fresh worker process, see
    :mod:`.executors`)."""
    from aixcell_automl.core.dataset import load_dataset
    from aixcell_automl.training.trial_data import make_trial_data

    ds = load_dataset(dataset_path, check_pixels=False)
    data = make_trial_data(ds, split, seed=split["seed"])
    return run_once(method, ds, split, data, candidates, plan, space, budget, k, settings, seed,
                    Path(run_root), strategy, curve_prior, reserve, min_leftover_seconds)


def summary_table(rows: list[dict]):
    """Mean and standard deviation of test IoU and wall time per dataset and method, with the
    most frequent winning configuration."""
    import pandas as pd

    df = pd.DataFrame(rows)
    if df.empty:
        return df
    agg = df.groupby(["dataset", "method"], sort=False).agg(
        runs=("seed", "size"), test_iou_mean=("test_iou", "mean"),
        test_iou_std=("test_iou", "std"), val_score_mean=("val_score", "mean"),
        wall_seconds_mean=("wall_seconds", "mean"),
        winner=("winner_config_id", lambda s: s.mode().iloc[0])).reset_index()
    agg["test_iou_std"] = agg["test_iou_std"].fillna(0.0)
    return agg


def wins_ties_losses(summary, reference: str = "automl") -> dict:
    """Per other method: on how many datasets ``reference`` is better (by more than the larger
    of the two standard deviations), tied, or worse. Where either method has one run, there is
    no noise estimate: the means are compared and the verdict counted apart, under
    ``one_seed`` (ahead, level or behind)."""
    out = {}
    if summary.empty or reference not in set(summary["method"]):
        return out
    for method in summary["method"].unique():
        if method == reference:
            continue
        tally = {"win": 0, "tie": 0, "loss": 0, "one_seed": {"win": 0, "tie": 0, "loss": 0}}
        for _, g in summary.groupby("dataset"):
            a, b = g[g["method"] == reference], g[g["method"] == method]
            if a.empty or b.empty:
                continue
            diff = a["test_iou_mean"].iloc[0] - b["test_iou_mean"].iloc[0]
            one_seed = min(a["runs"].iloc[0], b["runs"].iloc[0]) < 2
            noise = 0.0 if one_seed else max(a["test_iou_std"].iloc[0],
                                              b["test_iou_std"].iloc[0])
            verdict = ("tie" if abs(diff) <= noise or math.isclose(diff, 0, abs_tol=1e-9)
                       else "win" if diff > 0 else "loss")
            (tally["one_seed"] if one_seed else tally)[verdict] += 1
        out[method] = tally
    return out


def paired_differences(rows: list[dict], reference: str = "automl"):
    """Per dataset and other method: ``reference``'s test IoU minus the method's, paired by
    seed (mean and standard deviation over the seeds both ran), each side's spread over its
    seeds, and on how many CPU models the pairs ran (``machines``: 1 = a fair comparison of
    wall-clock budgets; NaN where a row does not say)."""
    import pandas as pd

    df = pd.DataFrame(rows)
    if df.empty or reference not in set(df["method"]):
        return pd.DataFrame()
    df["cpu_model"] = df["cpu_model"].fillna("?") if "cpu_model" in df else "?"
    ref = df[df["method"] == reference].set_index(["dataset", "seed"])
    out = []
    for (dataset, method), g in df[df["method"] != reference].groupby(["dataset", "method"],
                                                                       sort=False):
        both = [(ref.loc[(dataset, r.seed)], r) for r in g.itertuples()
                if (dataset, r.seed) in ref.index]
        if not both:
            continue
        pairs = [(a["test_iou"], b.test_iou) for a, b in both]
        cpus = {m for a, b in both for m in (a["cpu_model"], b.cpu_model)}
        diffs = np.array([a - b for a, b in pairs])
        out.append({"dataset": dataset, "method": method, "seeds": len(pairs),
                    "machines": len(cpus) if "?" not in cpus else float("nan"),
                    "diff_mean": diffs.mean(), "diff_std": diffs.std(ddof=1) if len(diffs) > 1
                    else float("nan"),
                    f"{reference}_spread": np.ptp([a for a, _ in pairs]),
                    "method_spread": np.ptp([b for _, b in pairs])})
    return pd.DataFrame(out)
