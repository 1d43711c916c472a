"""The search against baselines at an equal budget (issue #8): one *run* is one method on one
dataset with one seed.

Methods, all given the same ``budget_seconds`` of training time (building and tracing models
is overhead and shows in the wall time each run records):

* ``automl`` - this system: the meta-model, trained without the dataset's own meta-base rows,
  ranks every configuration; successive halving over its top-k.
* ``random_halving`` - k configurations drawn at random (seeded); the same successive halving.
* ``rule_default`` - the nnU-Net-style fixed configuration
  (:func:`aixcell_automl.plan.planned_configuration`) trained for the whole budget.
* ``optuna`` - Optuna's TPE sampler with its successive-halving pruner over the same space. A
  trial trains in chunks of the first halving rung's slice, reporting its best validation IoU
  after each; a trial gets at most as many chunks as the halving winner gets.

Every method ends with a winner (best validation IoU) whose kept weights are scored on the test
split. Runs are appended to a JSON-lines file as they finish and skipped when re-run.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from pathlib import Path

import numpy as np

from aixcell_automl.dataset import SegmentationDataset
from aixcell_automl.halving import slice_seconds, winner_share
from aixcell_automl.search_space import config_id, hyperparameters
from aixcell_automl.training import Budget, Settings, TrialData, release_models, train_trial

log = logging.getLogger(__name__)

METHODS = ("automl", "random_halving", "rule_default", "optuna")
RUN_KEY = ("dataset_hash", "method", "seed", "budget_seconds", "k")


def run_key(row: dict) -> tuple:
    return tuple(row[k] for k in RUN_KEY)


def halving_winner(candidates: list[dict], data: TrialData, run_root: Path, budget: float,
                   settings: Settings, seed: int) -> tuple[dict, int]:
    """Successive halving over ``candidates``; returns the winner's config and trials run."""
    from aixcell_automl.search import run_search

    trace = run_search(candidates, data, run_root, budget, settings, seed=seed)
    winner = next(c for c in candidates if c["config_id"] == trace["winner"])
    return winner, len(candidates)


def rule_winner(config: dict, data: TrialData, run_root: Path, budget: float,
                settings: Settings, seed: int) -> tuple[dict, int]:
    """The fixed configuration trained for the whole budget."""
    config = {**config, "config_id": config_id(config)}
    state = train_trial(config, data, run_root / config["config_id"], Budget(seconds=budget),
                        settings, seed)
    release_models()
    if state["status"] == "failed":
        raise RuntimeError(f"rule-based default failed: {state['reason']}")
    return config, 1


def optuna_winner(space: dict, data: TrialData, run_root: Path, budget: float, k: int,
                  settings: Settings, seed: int) -> tuple[dict, int]:
    """TPE + successive-halving pruning within ``budget`` seconds of training (see module doc).
    Starts afresh: an interrupted Optuna run cannot be resumed exactly."""
    import shutil

    import optuna

    shutil.rmtree(run_root, ignore_errors=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    chunk = slice_seconds(budget, k)[0]
    max_chunks = max(1, round(winner_share(k) * budget / chunk))
    spent = {"seconds": 0.0}
    scores: dict[str, float] = {}
    configs: dict[str, dict] = {}

    def objective(trial):
        cfg = {name: trial.suggest_categorical(name, values) for name, values in space.items()}
        cfg["config_id"] = config_id(cfg)
        run_dir = run_root / f"{trial.number:03d}_{cfg['config_id']}"
        configs[str(run_dir)] = cfg
        best = float("nan")
        for step in range(1, max_chunks + 1):
            left = budget - spent["seconds"]
            if left <= 0.5:
                break
            secs = min(chunk, left)
            state = train_trial(cfg, data, run_dir, Budget(seconds=secs), settings, seed)
            spent["seconds"] += secs
            if state["status"] == "failed":
                raise optuna.TrialPruned(state["reason"])
            best = float(state["best_iou"])
            scores[str(run_dir)] = best
            trial.report(best, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        release_models()
        return best

    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=seed),
                                pruner=optuna.pruners.SuccessiveHalvingPruner(
                                    min_resource=1, reduction_factor=2))
    while spent["seconds"] < budget - 0.5:
        study.optimize(objective, n_trials=1)
    release_models()
    if not scores:
        raise RuntimeError("optuna: no trial trained")
    best_dir = max(scores, key=scores.get)
    return configs[best_dir] | {"run_dir": best_dir}, len(study.trials)


def run_once(method: str, dataset: SegmentationDataset, split: dict, data: TrialData,
             candidates: dict, space: dict, budget: float, k: int, settings: Settings,
             seed: int, run_root: Path) -> dict:
    """One method on one dataset with one seed; returns its result row."""
    from aixcell_automl.metabase import library_versions
    from aixcell_automl.pipelines.train.nodes import evaluate_on_test
    from aixcell_automl.training import best_model, hardware

    t0 = time.perf_counter()
    if method in ("automl", "random_halving"):
        cfg, n_trials = halving_winner(candidates[method], data, run_root, budget, settings, seed)
    elif method == "rule_default":
        cfg, n_trials = rule_winner(candidates[method], data, run_root, budget, settings, seed)
    elif method == "optuna":
        cfg, n_trials = optuna_winner(space, data, run_root, budget, k, settings, seed)
    else:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    wall = time.perf_counter() - t0
    run_dir = Path(cfg.pop("run_dir", run_root / cfg["config_id"]))
    model, info = best_model(run_dir, data)
    test = evaluate_on_test((model, info), dataset, split)
    release_models()
    row = {"dataset": dataset.name, "dataset_hash": dataset.content_hash(), "method": method,
           "seed": seed, "budget_seconds": budget, "k": k, "test_iou": test["mean_iou"],
           "per_class_iou": test["per_class_iou"], "test_split": test["split"],
           "val_iou": info["best_val_iou"], "winner_config_id": cfg["config_id"],
           **{f"hp_{n}": v for n, v in hyperparameters(cfg).items()}, "trials": n_trials,
           "wall_seconds": round(wall, 1), "hardware": hardware(),
           "versions": library_versions(),
           "finished_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    log.info("%s / %s / seed %d: test IoU %.3f (winner %s, %d trials, %.0f s)", dataset.name,
             method, seed, row["test_iou"], cfg["config_id"], n_trials, wall)
    return row


def run_once_from_path(method: str, dataset_path: str, split: dict, candidates: dict,
                       space: dict, budget: float, k: int, settings: Settings, seed: int,
                       run_root: str) -> dict:
    """:func:`run_once` for a dataset folder (for a fresh worker process, see
    :mod:`.executors`)."""
    from aixcell_automl.dataset import load_dataset
    from aixcell_automl.training import make_trial_data

    ds = load_dataset(dataset_path, check_pixels=False)
    data = make_trial_data(ds, split, seed=split["seed"])
    return run_once(method, ds, split, data, candidates, space, budget, k, settings, seed,
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
        test_iou_std=("test_iou", "std"), val_iou_mean=("val_iou", "mean"),
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


def comparison_figure(rows: list[dict]):
    """Test IoU per dataset and method (dots: seeds; bar: mean)."""
    import pandas as pd

    from aixcell_automl.report import pyplot

    plt = pyplot()
    df = pd.DataFrame(rows)
    datasets = list(dict.fromkeys(df["dataset"])) if len(df) else []
    methods = [m for m in METHODS if len(df) and m in set(df["method"])]
    fig, ax = plt.subplots(figsize=(max(5.0, 1.6 * len(datasets) + 2), 3.6))
    width = 0.8 / max(1, len(methods))
    for j, m in enumerate(methods):
        for i, d in enumerate(datasets):
            vals = df[(df["dataset"] == d) & (df["method"] == m)]["test_iou"].to_numpy(float)
            if not len(vals):
                continue
            x = i + (j - (len(methods) - 1) / 2) * width
            ax.bar(x, vals.mean(), width * 0.9, color=f"C{j}", alpha=0.5,
                   label=m if i == 0 else None)
            ax.plot(np.full(len(vals), x), vals, "k.", ms=4)
    ax.set_xticks(range(len(datasets)), datasets, rotation=20, ha="right")
    ax.set_ylabel("test IoU")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8, ncol=len(methods), loc="lower center")
    fig.tight_layout()
    return fig
