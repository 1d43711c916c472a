"""The search against baselines at an equal budget: one *run* is one method on one dataset with
one seed. A method is a registered search strategy (:mod:`aixcell_automl.plugins.builtin.
strategies`, or a plugin's); the four of the study have names of their own:

* ``automl`` - this system: the meta-model, trained without the dataset's own meta-base rows,
  ranks every configuration; ``successive_halving`` over the plan and the ranking's top k - 1.
* ``random_halving`` - k configurations drawn at random (seeded); the same successive halving.
* ``rule_default`` - ``plan_only``: the dataset's plan (:mod:`aixcell_automl.search.plan`) trained
  for
  the whole budget.
* ``optuna`` - ``optuna_tpe``: Optuna's TPE sampler with its successive-halving pruner.

Any other registered strategy name is a method too; it gets the automl candidates. Every method
has the same ``budget_seconds`` of training time (building and tracing models is overhead and
shows in the wall time each run records) and ends with a winner (best validation score) whose
kept weights are scored on the test split. Runs are appended to a JSON-lines file as they
finish and skipped when re-run.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from pathlib import Path

from aixcell_automl.core.dataset import SegmentationDataset
from aixcell_automl.core.search_space import hyperparameters
from aixcell_automl.training.loop import Settings, release_models
from aixcell_automl.training.trial_data import TrialData

log = logging.getLogger(__name__)

STRATEGY_OF = {"automl": "successive_halving", "random_halving": "random_halving",
               "rule_default": "plan_only", "optuna": "optuna_tpe"}
METHODS = tuple(STRATEGY_OF)
RUN_KEY = ("dataset_hash", "method", "seed", "budget_seconds", "k")


def run_key(row: dict) -> tuple:
    return tuple(row[k] for k in RUN_KEY)


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
             settings: Settings, seed: int, run_root: Path) -> dict:
    """One method on one dataset with one seed; returns its result row."""
    from aixcell_automl.metabase.store import library_versions
    from aixcell_automl.search.run import run_search, winner_config
    from aixcell_automl.training.hardware import hardware
    from aixcell_automl.training.loop import best_model
    from aixcell_automl.training.predict import evaluate_on_test

    strategy = STRATEGY_OF.get(method, method)
    t0 = time.perf_counter()
    if strategy == "optuna_tpe":  # an interrupted Optuna run cannot be resumed exactly
        import shutil

        shutil.rmtree(run_root, ignore_errors=True)
    trace = run_search(candidates, data, run_root, budget, settings, seed=seed,
                       strategy=strategy, plan=plan, space=space, k=k)
    cfg = winner_config(trace, candidates)
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
           "versions": library_versions(),
           "finished_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    log.info("%s / %s / seed %d: test IoU %.3f (winner %s, %d trials, %.0f s)", dataset.name,
             method, seed, row["test_iou"], cfg["config_id"], n_trials, wall)
    return row


def run_once_from_path(method: str, dataset_path: str, split: dict, candidates: list[dict],
                       plan: dict, space: dict, budget: float, k: int, settings: Settings,
                       seed: int, run_root: str) -> dict:
    """:func:`run_once` for a dataset folder (for a fresh worker process, see
    :mod:`.executors`)."""
    from aixcell_automl.core.dataset import load_dataset
    from aixcell_automl.training.trial_data import make_trial_data

    ds = load_dataset(dataset_path, check_pixels=False)
    data = make_trial_data(ds, split, seed=split["seed"])
    return run_once(method, ds, split, data, candidates, plan, space, budget, k, settings, seed,
                    Path(run_root))


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
    of the two standard deviations), tied, or worse. Datasets where either method has fewer
    than two runs are not counted: one seed gives no noise estimate."""
    out = {}
    if summary.empty or reference not in set(summary["method"]):
        return out
    for method in summary["method"].unique():
        if method == reference:
            continue
        tally = {"win": 0, "tie": 0, "loss": 0}
        for _, g in summary.groupby("dataset"):
            a, b = g[g["method"] == reference], g[g["method"] == method]
            if a.empty or b.empty or min(a["runs"].iloc[0], b["runs"].iloc[0]) < 2:
                continue
            diff = a["test_iou_mean"].iloc[0] - b["test_iou_mean"].iloc[0]
            noise = max(a["test_iou_std"].iloc[0], b["test_iou_std"].iloc[0])
            tally["tie" if abs(diff) <= noise or math.isclose(diff, 0) else
                  "win" if diff > 0 else "loss"] += 1
        out[method] = tally
    return out
