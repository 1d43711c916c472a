"""Nodes of the ``evaluate`` pipeline."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from aixcell_automl.core.dataset import load_dataset
from aixcell_automl.core.search_space import build_space, enumerate_configs
from aixcell_automl.metabase.store import append_row, read_rows
from aixcell_automl.search.comparison import (
    METHODS,
    STRATEGY_OF,
    check_methods,
    machine_folder,
    paired_differences,
    run_key,
    run_once_from_path,
    runs_for,
    summary_table,
    wins_ties_losses,
)
from aixcell_automl.search.run import run_setting
from aixcell_automl.training import executors

log = logging.getLogger(__name__)
BASELINES = {"random_halving", "rule_default", "optuna"}  # they choose their own configurations


def compare_methods(datasets_root: Path, log_path: Path, run_folders: Path, cache: Path | None,
                    params: dict, dataset_params: dict, search_params: dict, train_params: dict,
                    space_params: dict, mf_params: dict, metabase: pd.DataFrame,
                    meta_features: pd.DataFrame) -> pd.DataFrame:
    """Every method x dataset x seed at ``params['budget_minutes']``, on the datasets (folders
    of ``datasets_root``, the catalog's ``shared_datasets``). Each finished run is a row
    appended to ``log_path`` (``evaluation_log``, runs.jsonl); runs already there are skipped,
    so an interrupted evaluation resumes; on another CPU model (:func:`~aixcell_automl.
    training.hardware.cpu_model`) they are made again, and the rows returned are this
    machine's where it has them. A run's trials are in ``<run_folders>/<dataset>/<method>/
    <budget>s_<strategy>_k<k>/<machine>/seed<seed>`` (``evaluation_run_folders``), its trace
    also in ``traces/`` beside ``log_path``, on the same path (:func:`keep_trace`);
    meta-features are cached in ``cache`` (``meta_feature_cache``, unless
    ``meta_features.cache`` is false). Each run trains in a fresh process with
    ``params['executor']`` ``isolated`` (see :mod:`.executors`); at most
    ``params['max_runs']`` new runs are made (null: all; 0 only summarises). Each dataset is
    split as conf's ``dataset`` parameters say (``dataset_params``). ``automl`` (and any
    other registered strategy) runs as the search would with ``search_params`` (its strategy
    and k from ``search.split``, ``search.reserve`` candidates for budget left unused);
    ``params['k']`` is the baselines' k.
    Returns this evaluation's finished rows."""
    from aixcell_automl.core.dataset import make_split
    from aixcell_automl.metafeatures.table import extract_dataset_features
    from aixcell_automl.metalearning.ranking import rank_for_target
    from aixcell_automl.search.budget import choose_split, config_speeds
    from aixcell_automl.search.candidates import candidates_and_reserve
    from aixcell_automl.search.forecast import prior_from_metabase
    from aixcell_automl.search.plan import dataset_fingerprint, plan_dataset
    from aixcell_automl.training.hardware import cpu_model, hardware
    from aixcell_automl.training.loop import settings_from

    methods = list(params["methods"] or METHODS)
    check_methods(methods)
    budget, k = float(params["budget_minutes"]) * 60, int(params["k"])
    seeds = [int(s) for s in params["seeds"]]
    space = build_space(space_params)
    settings = settings_from(train_params)
    settings.keep_in_memory = int(search_params["keep_in_memory"])
    out, root = Path(log_path), Path(datasets_root)
    traces = out.parent / "traces"
    cache_dir = cache if mf_params["cache"] else None
    machine = cpu_model()
    done = {(run_key(r), r.get("cpu_model")) for r in read_rows(out)}
    keys, left = set(), params["max_runs"]
    if set(methods) - BASELINES:  # the search's strategy and k at this budget, known before
        searched_as, searched_k, _ = choose_split(  # any ranking (search.split)
            budget, config_speeds(enumerate_configs(space), metabase, hardware()), search_params)
    for name in params["datasets"]:
        ds = load_dataset(root / name)
        split = make_split(ds, dataset_params)
        plan = plan_dataset(dataset_fingerprint(ds, split["train"]))["configuration"]
        prior = prior_from_metabase(metabase, name, ds.content_hash())  # forecast_halving's
        target = None  # the meta-features, measured only if an automl run needs them
        for seed in seeds:
            searched = None  # the candidates, as the search chooses them
            for method in methods:
                reserve = []
                if method in BASELINES:
                    candidates, strategy, mk = [plan], STRATEGY_OF[method], k
                else:
                    candidates = None  # chosen below, only if the run is made
                    strategy = searched_as if method == "automl" else method
                    mk = searched_k
                key = (ds.content_hash(), method, strategy, seed, budget, mk)
                keys.add(key)
                run = (Path(name) / method / f"{budget:g}s_{strategy}_k{mk}"
                       / machine_folder(machine) / f"seed{seed}")
                run_root = Path(run_folders) / run
                if (key, machine) in done:  # its trace copied too (made before traces were kept)
                    log.info("%s / %s / seed %d: done, skipped", name, method, seed)
                    keep_trace(run_root, traces / f"{run}.json")
                    continue
                if left is not None and left <= 0:
                    log.info("%s / %s / seed %d: not run (max_runs reached)", name, method, seed)
                    continue
                if candidates is None:
                    if searched is None:  # as the search chooses them (search.candidates)
                        target = target or extract_dataset_features(
                            ds, mf_params, cache_dir=cache_dir)
                        ranking, _ = rank_for_target(
                            target, metabase, meta_features, space_params,
                            {**search_params, "seed": seed, "k": mk, "strategy": searched_as,
                             "budget_minutes": params["budget_minutes"]})
                        searched = candidates_and_reserve(
                            ranking, {"configuration": plan}, mk, int(search_params["reserve"]),
                            metabase, meta_features, target, search_params)[:2]
                    candidates, reserve = searched
                setting = run_setting(candidates, budget, strategy, mk, reserve)
                restart_if_changed(run_root, setting)
                task = (method, str(ds.root), split, candidates, plan, space, budget, mk,
                        settings, seed, str(run_root), strategy, prior, reserve,
                        float(search_params["min_slice_seconds"]))
                for _, row in executors.run(run_once_from_path, [task],
                                            params["executor"]):  # what it chose among
                    append_row(out, {**row, "metabase_rows": len(metabase),
                                     "candidate_ids": setting["candidate_ids"],
                                     "reserve_ids": setting["reserve_ids"]})
                keep_trace(run_root, traces / f"{run}.json")
                left = None if left is None else left - 1
    return pd.DataFrame(runs_for(read_rows(out), keys, machine))


def keep_trace(run_root: Path, target: Path) -> None:
    """A finished run's trace (its rungs, trials and winner) copied to ``target`` beside
    runs.jsonl: the run folders hold models and stay out of version control, the traces are
    small and explain the rows."""
    import shutil

    trace = run_root / "trace.json"
    if trace.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(trace, target)


def restart_if_changed(run_root: Path, setting: dict) -> None:
    """An unfinished run's folder whose trace was written with other settings (e.g. other
    candidates, the meta-base having grown since) is cleared: the run starts afresh."""
    import json
    import shutil

    from aixcell_automl.core.errors import UserError
    from aixcell_automl.search.run import check_resumable

    trace = run_root / "trace.json"
    if trace.exists():
        try:
            check_resumable(json.loads(trace.read_text()), setting, trace)
        except UserError as e:
            log.warning("%s: starting afresh", e)
            shutil.rmtree(run_root)


def summarise(runs: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Per dataset and method: mean +- std test IoU, wall time, winner; plus a Markdown text
    with the wins/ties/losses of ``automl`` against each baseline."""
    rows = runs.to_dict("records")
    table = summary_table(rows)
    lines = ["# Evaluation: the search against baselines at equal budget", ""]
    if table.empty:
        return table, "\n".join(lines + ["No runs yet.", ""])
    meta = runs.iloc[0]
    how = "; ".join(f"{m} {', '.join(sorted(set(g['strategy'])))} k = "
                    f"{', '.join(str(k) for k in sorted(set(g['k'])))}"
                    for m, g in runs.groupby("method", sort=False))
    lines += [f"Budget {meta['budget_seconds'] / 60:g} min of training per run ({how}), "
              f"seeds {sorted(runs['seed'].unique().tolist())}, {meta['hardware']}.", "",
              table.to_markdown(index=False, floatfmt=".3f"), ""]
    for method, t in wins_ties_losses(table).items():
        one = t["one_seed"]
        lines.append(f"- automl vs {method}: {t['win']} wins, {t['tie']} ties, {t['loss']} "
                     "losses (a tie: means closer than the larger standard deviation)"
                     + (f"; on one-seed datasets, no noise estimate: {one['win']} ahead, "
                        f"{one['tie']} level, {one['loss']} behind" if sum(one.values()) else ""))
    paired = paired_differences(rows)
    if not paired.empty:
        lines += ["", "Paired by seed (automl's test IoU minus the method's; spreads: max - min "
                  "over the seeds; machines: the CPU models the pairs ran on, 1 for a fair "
                  "wall-clock comparison, nan where the runs did not record it):", "",
                  paired.to_markdown(index=False, floatfmt=".3f")]
    return table, "\n".join(lines) + "\n"


def plot_comparison(runs: pd.DataFrame):
    from aixcell_automl.report.figures import comparison_figure

    return comparison_figure(runs.to_dict("records"))
