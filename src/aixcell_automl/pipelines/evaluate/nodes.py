"""Nodes of the ``evaluate`` pipeline."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from aixcell_automl import executors
from aixcell_automl.comparison import (
    METHODS,
    check_methods,
    comparison_figure,
    run_key,
    run_once_from_path,
    summary_table,
    wins_ties_losses,
)
from aixcell_automl.dataset import load_dataset
from aixcell_automl.metabase import append_row, read_rows
from aixcell_automl.search_space import build_space

log = logging.getLogger(__name__)


def compare_methods(params: dict, search_params: dict, train_params: dict, space_params: dict,
                    mf_params: dict, metabase: pd.DataFrame,
                    meta_features_table: pd.DataFrame) -> pd.DataFrame:
    """Every method x dataset x seed at ``params['budget_minutes']``; finished runs (in
    ``params['out']``) are skipped, so an interrupted evaluation resumes. Each run trains in a
    fresh process (``params['executor']``, default ``isolated``, see :mod:`.executors`).
    Returns this evaluation's rows."""
    from aixcell_automl.pipelines.search.nodes import (
        candidates_with_plan,
        make_plan,
        measure_dataset,
        rank,
    )
    from aixcell_automl.pipelines.train.nodes import make_split, settings_from

    methods = list(params.get("methods") or METHODS)
    check_methods(methods)
    budget, k = float(params["budget_minutes"]) * 60, int(params["k"])
    seeds = [int(s) for s in params["seeds"]]
    space = build_space(space_params)
    settings = settings_from(train_params)
    settings.keep_in_memory = int(search_params.get("keep_in_memory", 4))
    out, root = Path(params["out"]), Path(params["datasets_root"])
    done = {run_key(r) for r in read_rows(out)}
    keys = set()
    for name in params["datasets"]:
        ds = load_dataset(root / name)
        split = make_split(ds, {"split_seed": 0})
        target = measure_dataset(ds, mf_params)
        plan = make_plan(ds, split)["configuration"]
        for seed in seeds:
            ranked = None
            for method in methods:
                key = (ds.content_hash(), method, seed, budget, k)
                keys.add(key)
                if key in done:
                    log.info("%s / %s / seed %d: done, skipped", name, method, seed)
                    continue
                candidates = [plan]  # the baselines choose their own configurations
                if method not in ("random_halving", "rule_default", "optuna"):
                    if ranked is None:  # the plan + the meta-model's top k - 1
                        ranking, _ = rank(target, metabase, meta_features_table, space_params,
                                          {**search_params, "seed": seed, "k": k,
                                           "budget_minutes": params["budget_minutes"]})
                        ranked = candidates_with_plan(ranking, {"configuration": plan}, k)
                    candidates = ranked
                run_root = Path(params["run_root"]) / name / method / f"seed{seed}"
                task = (method, str(ds.root), split, candidates, plan, space, budget, k,
                        settings, seed, str(run_root))
                for _, row in executors.run(run_once_from_path, [task],
                                            params.get("executor", "isolated")):
                    append_row(out, row)
    return pd.DataFrame([r for r in read_rows(out) if run_key(r) in keys])


def summarise(runs: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Per dataset and method: mean +- std test IoU, wall time, winner; plus a Markdown text
    with the wins/ties/losses of ``automl`` against each baseline."""
    rows = runs.to_dict("records")
    table = summary_table(rows)
    lines = ["# Evaluation: the search against baselines at equal budget", ""]
    if table.empty:
        return table, "\n".join(lines + ["No runs yet.", ""])
    meta = runs.iloc[0]
    lines += [f"Budget {meta['budget_seconds'] / 60:g} min of training per run, k = {meta['k']}, "
              f"seeds {sorted(runs['seed'].unique().tolist())}, {meta['hardware']}.", "",
              table.to_markdown(index=False, floatfmt=".3f"), ""]
    for method, t in wins_ties_losses(table).items():
        lines.append(f"- automl vs {method}: {t['win']} wins, {t['tie']} ties, {t['loss']} "
                     "losses (a tie: means closer than the larger standard deviation)")
    return table, "\n".join(lines) + "\n"


def plot_comparison(runs: pd.DataFrame):
    return comparison_figure(runs.to_dict("records"))
