"""Nodes of the ``search`` pipeline."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pandas as pd

from aixcell_automl.core.dataset import SegmentationDataset
from aixcell_automl.core.search_space import build_space
from aixcell_automl.search.budget import budget_note
from aixcell_automl.search.candidates import (
    candidates_and_reserve,
    config_of_ranking_row,
    metabase_position,
)
from aixcell_automl.training.data_pipeline import dataset_channels

log = logging.getLogger(__name__)


def measure_dataset(dataset: SegmentationDataset, cache: Path | None, params: dict) -> dict:
    """All meta-features of the target dataset (cached by content hash in ``cache``, the
    catalog's ``meta_feature_cache``, unless ``meta_features.cache`` is false)."""
    from aixcell_automl.metafeatures.table import extract_dataset_features

    t = time.perf_counter()
    features = extract_dataset_features(dataset, params,
                                        cache_dir=cache if params["cache"] else None)
    log.info("meta-features of %s in %.1f s", dataset.name, time.perf_counter() - t)
    return features


def make_plan(dataset: SegmentationDataset, split: dict) -> dict:
    """The dataset's plan (``plans.json``, see :mod:`aixcell_automl.search.plan`): a rule-based
    configuration with the reason for every setting; always a candidate of the search."""
    from aixcell_automl.search.plan import dataset_fingerprint, plan_dataset

    plan = plan_dataset(dataset_fingerprint(dataset, split["train"]))
    log.info("plan of %s: %s", dataset.name, plan["configuration"])
    return plan


def run_strategy(dataset: SegmentationDataset, split: dict, ranking: pd.DataFrame,
                 rank_info: dict, plan: dict, metabase: pd.DataFrame,
                 meta_features: pd.DataFrame, target: dict, run_root: Path, params: dict,
                 train_params: dict, space_params: dict) -> dict:
    """The search strategy over k candidates (both from ``rank_info``: :func:`aixcell_automl.
    search.budget.choose_split`; ``search.candidates``: the
    plan and the ranking's top k - 1, or the plan and the meta-base portfolio, see
    :mod:`aixcell_automl.search.candidates`), then the next ``search.reserve`` candidates on
    the budget the trials left unused; its trials in ``run_root`` (the catalog's
    ``search_run_folder``: the same run name resumes)."""
    from aixcell_automl.search.budget import check_budget
    from aixcell_automl.search.forecast import prior_from_metabase
    from aixcell_automl.search.run import run_search
    from aixcell_automl.training.loop import settings_from
    from aixcell_automl.training.trial_data import make_trial_data

    k = int(rank_info["k"])
    budget = float(params["budget_minutes"]) * 60
    advice = check_budget(budget, k, float(params["min_slice_seconds"]), rank_info["strategy"])
    candidates, reserve, why = candidates_and_reserve(ranking, plan, k, int(params["reserve"]),
                                                      metabase, meta_features, target, params)
    data = make_trial_data(dataset, split, seed=split["seed"], plan=plan)
    t = time.perf_counter()
    settings = settings_from(train_params)
    settings.keep_in_memory = int(params["keep_in_memory"])
    settings.init_weights = params["init_weights"]
    settings.metric = params["metric"]
    trace = run_search(candidates, data, run_root, budget, settings,
                       seed=int(params["seed"]), executor=params["executor"],
                       executor_options=params["executor_options"] or {},
                       dataset_path=str(dataset.root), split=split,
                       strategy=rank_info["strategy"],
                       plan=plan["configuration"], space=build_space(space_params),
                       curve_prior=prior_from_metabase(metabase, dataset.name,
                                                       dataset.content_hash()),
                       reserve=reserve, min_leftover_seconds=float(params["min_slice_seconds"]))
    trace |= {"wall_seconds": time.perf_counter() - t, "run_root": str(run_root),
              "budget_advice": advice, "metric": settings.metric, "candidates_from": why,
              "plan_config_id": plan["configuration"]["config_id"],
              "val_pixels": settings.val_pixels}
    log.info("winner %s after %.0f s", trace["winner"], trace["wall_seconds"])
    return trace


def finalize(dataset: SegmentationDataset, split: dict, ranking: pd.DataFrame, trace: dict,
             plan: dict, metabase: pd.DataFrame):
    """Load the winner's best weights, evaluate on the test split; returns ``((model, info),
    metrics)``, ``info["run"]`` naming this search run (see ``InstalledModelDataset``) and
    the plan's normalisation and inference window recorded for prediction."""
    from aixcell_automl.training.acceptance import check_beats_trivial
    from aixcell_automl.training.data_pipeline import load_images, validation_regions
    from aixcell_automl.training.hardware import hardware
    from aixcell_automl.training.loop import best_model
    from aixcell_automl.training.predict import evaluate_on_test

    channels = dataset_channels(dataset)
    score = max(t["score"] for r in trace["rungs"] for t in r["trials"]
                if t["config_id"] == trace["winner"])  # its best, whatever the strategy
    regions = validation_regions(load_images(dataset, split["val"], channels),
                                 int(trace["val_pixels"]), split["seed"])
    check_beats_trivial(score, regions.masks, dataset.class_names, trace["metric"])
    win = ranking[ranking["config_id"] == trace["winner"]].iloc[0].to_dict()
    cfg = config_of_ranking_row(win)
    model, info = best_model(
        Path(trace["run_root"]) / cfg["config_id"], dataset, plan=plan, config=cfg,
        dataset=dataset.name, dataset_hash=dataset.content_hash(), best_val_score=score,
        metric=trace["metric"], search_run=trace["run_root"],
        run={"pipeline": "search", "run": Path(trace["run_root"]).name,
             "run_folder": trace["run_root"]})  # where installed_model keeps it
    test = evaluate_on_test((model, info), dataset, split, trace["metric"])
    metrics = {"dataset": dataset.name, "test_iou": test["mean_iou"],
               "per_class_iou": test["per_class_iou"], "metric": test["metric"],
               "test_score": test["score"], "per_class_score": test["per_class"],
               "test_images": len(test["images"]), "test_split": test["split"],
               "winner_config": cfg, "winner_rank": int(win["rank"]),
               "winner_val_score": score,
               "hardware": hardware(), "metabase_position": metabase_position(
                   metabase, dataset.name, cfg["config_id"])}
    return (model, info), metrics


def report(dataset: SegmentationDataset, split: dict, target: dict, ranking: pd.DataFrame,
           rank_info: dict, trace: dict, model_and_info, metrics: dict, params: dict):
    """The search's figures and a self-contained HTML report."""
    from aixcell_automl.metabase.store import library_versions
    from aixcell_automl.plugins.registry import augmentations, get
    from aixcell_automl.report.figures import halving_figure, overlay_figure
    from aixcell_automl.report.html import html_report
    from aixcell_automl.search.run import plan_outcome
    from aixcell_automl.training.predict import predict_mask

    model, info = model_and_info
    index = {s: i for i, s in enumerate(dataset.stems)}
    stems = split[metrics["test_split"]][:4]
    imgs = [dataset.image(index[s]) for s in stems]
    truths = [dataset.mask(index[s]) for s in stems]
    preds = [predict_mask(model, im, info) for im in imgs]
    hfig, ofig = halving_figure(trace), overlay_figure(imgs, truths, preds, stems)
    excluded = [d for d in rank_info["excluded_datasets"] if d != dataset.name]
    summary = {
        "dataset": dataset.name, "n_configs": rank_info["n_configs"],
        "augmentations": sorted(augmentations()), "budget_seconds": trace["budget_seconds"],
        "wall_seconds": trace["wall_seconds"], "hardware": metrics["hardware"],
        "model_path": _model_path(info),
        "meta_model": rank_info["meta_model"], "representation": rank_info["representation"],
        "metabase_rows": rank_info["metabase_rows"],
        "metabase_datasets": len(rank_info["metabase_datasets"]),
        "excluded_note": f" (this dataset's own rows excluded: {', '.join(excluded)})"
        if excluded else "",
        "split_note": f"{len(split['train'])} train / {len(split['val'])} val / "
                      f"{len(split['test'])} test images"
                      + (" (predefined)" if split.get("predefined") else f", seed {split['seed']}"),
        "budget_note": budget_note(rank_info.get("budget_suggestion")),
        "plan_note": plan_outcome(trace),
        "k_note": f"{rank_info['k_reason']}; {rank_info['fidelity_note']}.",
        "seed": params["seed"],
        "metric_label": get("metric", metrics["metric"]).label,
        "versions": ", ".join(f"{k} {v}" for k, v in library_versions().items()),
    }
    html = html_report(summary, metrics, ranking, trace, target, hfig, ofig)
    return html, hfig, ofig


def _model_path(info: dict) -> str:
    """The run's own model folder the report describes, and where it was installed."""
    installed = info.get("installed") or {}
    if not installed.get("model"):
        return str(info.get("model_folder", ""))
    return f"{installed['model']} (installed as {info['model_folder']})"


def learn_from_use(dataset: SegmentationDataset, trace: dict, params: dict) -> pd.DataFrame:
    """Opt-in (``search.append_to_metabase``): the search's trials as meta-base rows."""
    from aixcell_automl.search.run import halving_rows

    if not params["append_to_metabase"]:
        return pd.DataFrame()
    rows = halving_rows(trace, Path(trace["run_root"]), dataset.name, dataset.content_hash())
    log.info("appending %d trials of this search to the meta-base", len(rows))
    return pd.DataFrame(rows)
