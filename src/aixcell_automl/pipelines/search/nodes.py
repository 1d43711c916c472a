"""Nodes of the ``search`` pipeline."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from aixcell_automl.data_pipeline import dataset_channels
from aixcell_automl.dataset import SegmentationDataset
from aixcell_automl.errors import UserError
from aixcell_automl.metalearning.ranking import fit_meta_model, rank_configurations, training_rows
from aixcell_automl.search_space import build_space, enumerate_configs

log = logging.getLogger(__name__)


def measure_dataset(dataset: SegmentationDataset, params: dict) -> dict:
    """All meta-features of the target dataset (cached by content hash)."""
    from aixcell_automl.metafeatures.table import extract_dataset_features

    t = time.perf_counter()
    features = extract_dataset_features(dataset, params)
    log.info("meta-features of %s in %.1f s", dataset.name, time.perf_counter() - t)
    return features


def make_plan(dataset: SegmentationDataset, split: dict) -> dict:
    """The dataset's plan (``plans.json``, see :mod:`aixcell_automl.plan`): a rule-based
    configuration with the reason for every setting; always a candidate of the search."""
    from aixcell_automl.plan import dataset_fingerprint, plan_dataset

    plan = plan_dataset(dataset_fingerprint(dataset, split["train"]))
    log.info("plan of %s: %s", dataset.name, plan["configuration"])
    return plan


def rank(target: dict, metabase: pd.DataFrame, meta_features: pd.DataFrame, space_params: dict,
         params: dict) -> tuple[pd.DataFrame, dict]:
    """Train the meta-model on the other datasets' meta-base rows; rank every configuration.

    Without ``search.k`` the search chooses k (:func:`aixcell_automl.search.choose_k`). A
    fidelity-aware meta-model (rows of several fidelities) scores each configuration at the
    training pixels it would reach if it won within the budget: its measured speed on this kind
    of device times the winner's share of the budget, within the meta-base's fidelities."""
    from aixcell_automl.metalearning.representation import meta_feature_frame
    from aixcell_automl.search import choose_k, config_speeds, suggest_budget, winner_fidelity
    from aixcell_automl.training import hardware

    space = build_space(space_params)
    configs = enumerate_configs(space)
    same = set(metabase.loc[metabase["dataset_hash"] == target["dataset_hash"], "dataset"]) if len(
        metabase) else set()
    exclude = sorted(same | {target["dataset"]})
    metric = params.get("metric", "iou")
    rows = training_rows(metabase, exclude=exclude, metric=metric,
                         protocol=params.get("metabase_protocol"))
    if rows.empty:
        raise UserError(f"the meta-base has no usable rows scored by {metric!r} from other "
                           f"datasets: run `kedro run --pipeline=metabase` (see "
                           f"docs/metabase.md)")
    mf = meta_feature_frame(meta_features, target)
    fitted = fit_meta_model(rows, mf, space, params["meta_model"], params["representation"],
                            params.get("target", "iou"), seed=int(params.get("seed", 0)))
    budget = float(params["budget_minutes"]) * 60
    speeds = config_speeds(configs, metabase, hardware())
    if params.get("k"):
        k, k_reason = int(params["k"]), f"k = {int(params['k'])}: set by search.k"
    else:
        k, k_reason = choose_k(budget, speeds, int(params.get("k_max", 50)))
    fidelity = None
    if fitted.fidelity_aware and speeds is not None:
        fidelity = np.clip(winner_fidelity(speeds, budget, k), min(fitted.fidelities),
                           max(fitted.fidelities))
    ranking = rank_configurations(fitted, configs, target["dataset"], mf, fidelity)
    top = ranking.iloc[0]
    suggestion = suggest_budget(top_k(ranking, k), metabase, target, 2**23, hardware())
    info = {"k": k, "k_reason": k_reason, "fidelities": fitted.fidelities,
            "expected_winner_pixels": float(top["fidelity_pixels"]) if fidelity is not None
            else None,
            "fidelity_note": (f"configurations scored at the training pixels each would reach "
                              f"as the winner (top: 2^{np.log2(top['fidelity_pixels']):.1f})"
                              if fidelity is not None else
                              f"configurations scored at the meta-base fidelity "
                              f"2^{np.log2(max(fitted.fidelities)):.0f} (single-fidelity rows "
                              f"or no speed measured on this kind of device)"),
            "meta_model": fitted.model_name, "representation": fitted.representation,
            "target": fitted.target, "metric": metric, "metabase_rows": fitted.n_rows,
            "metabase_datasets": fitted.train_datasets, "excluded_datasets": exclude,
            "n_configs": len(configs), "budget_suggestion": suggestion}
    log.info("ranked %d configurations with %s on %d rows from %d datasets; top: %s",
             len(configs), fitted.model_name, fitted.n_rows, len(fitted.train_datasets),
             ranking.iloc[0].to_dict())
    log.info("%s This search: %.1f min.", budget_note(suggestion) or
             "No budget suggestion: the meta-base has no rows from this kind of device.",
             float(params["budget_minutes"]))
    return ranking, info


def top_k(ranking: pd.DataFrame, k: int) -> list[dict]:
    """The first ``k`` configurations of a ranking as plain dicts."""
    return [config_of_ranking_row(row) for row in ranking.head(k).to_dict("records")]


def config_of_ranking_row(row: dict) -> dict:
    """A configuration (with ``config_id``) from a row of a ranking."""
    return {key: (v.item() if hasattr(v, "item") else v) for key, v in row.items()
            if key not in ("predicted_score", "rank", "fidelity_pixels")}


def candidates_with_plan(ranking: pd.DataFrame, plan: dict, k: int) -> list[dict]:
    """The plan's configuration and the ranking's best ``k - 1`` others, in ranking order (the
    plan enters at its own rank)."""
    pid = plan["configuration"]["config_id"]
    others = ranking[ranking["config_id"] != pid].head(max(k - 1, 0))
    own = ranking[ranking["config_id"] == pid]
    rows = pd.concat([others, own]).sort_values("rank") if len(own) else others
    out = [config_of_ranking_row(r) for r in rows.to_dict("records")]
    if not len(own):  # a plan edited outside the search space: it still competes, ranked last
        out.append(dict(plan["configuration"]))
    return out


def halve(dataset: SegmentationDataset, split: dict, ranking: pd.DataFrame, rank_info: dict,
          plan: dict, params: dict, train_params: dict, space_params: dict) -> dict:
    """The search strategy (``search.strategy``, default successive halving) over the plan and
    the ranking's top k - 1 (see :mod:`aixcell_automl.search`)."""
    from aixcell_automl.pipelines.train.nodes import settings_from
    from aixcell_automl.search import check_budget, run_search
    from aixcell_automl.training import make_trial_data

    k = int(rank_info["k"])
    budget = float(params["budget_minutes"]) * 60
    advice = check_budget(budget, k, float(params.get("min_slice_seconds", 15)))
    candidates = candidates_with_plan(ranking, plan, k)
    data = make_trial_data(dataset, split, seed=split["seed"])
    run_root = Path(params["run_root"]) / params["run_name"]
    t = time.perf_counter()
    settings = settings_from(train_params)
    settings.keep_in_memory = int(params.get("keep_in_memory", 4))
    settings.init_weights = params.get("init_weights")
    settings.metric = params.get("metric", "iou")
    trace = run_search(candidates, data, run_root, budget, settings,
                       seed=int(params.get("seed", 0)), executor=params.get("executor", "local"),
                       executor_options=params.get("executor_options") or {},
                       dataset_path=str(dataset.root), split=split,
                       strategy=params.get("strategy", "successive_halving"),
                       plan=plan["configuration"], space=build_space(space_params))
    trace |= {"wall_seconds": time.perf_counter() - t, "run_root": str(run_root),
              "budget_advice": advice, "metric": settings.metric,
              "plan_config_id": plan["configuration"]["config_id"],
              "val_pixels": settings.val_pixels}
    log.info("winner %s after %.0f s", trace["winner"], trace["wall_seconds"])
    return trace


def finalize(dataset: SegmentationDataset, split: dict, ranking: pd.DataFrame, trace: dict,
             metabase: pd.DataFrame):
    """Load the winner's best weights, evaluate on the test split; returns (model, metrics)."""
    from aixcell_automl.data_pipeline import load_images, validation_regions
    from aixcell_automl.model import build_model
    from aixcell_automl.pipelines.train.nodes import evaluate_on_test
    from aixcell_automl.training import check_beats_trivial, hardware

    channels = dataset_channels(dataset)
    score = max(t["score"] for r in trace["rungs"] for t in r["trials"]
                if t["config_id"] == trace["winner"])  # its best, whatever the strategy
    regions = validation_regions(load_images(dataset, split["val"], channels),
                                 int(trace.get("val_pixels", 2**20)), split["seed"])
    check_beats_trivial(score, regions.masks, dataset.class_names, trace.get("metric", "iou"))
    win = ranking[ranking["config_id"] == trace["winner"]].iloc[0].to_dict()
    cfg = config_of_ranking_row(win)
    run_dir = Path(trace["run_root"]) / cfg["config_id"]
    model = build_model(cfg["backbone"], channels, dataset.num_classes)
    model.load_weights(str(run_dir / "best.weights.h5"))
    info = {"backbone": cfg["backbone"], "channels": channels, "num_classes": dataset.num_classes,
            "class_names": dataset.class_names, "patch_size": int(cfg["patch_size"]),
            "config": cfg, "dataset": dataset.name, "dataset_hash": dataset.content_hash(),
            "best_val_iou": score, "metric": trace["metric"],
            "search_run": trace["run_root"]}
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


def metabase_position(metabase: pd.DataFrame, dataset: str, config_id: str) -> dict | None:
    """Where the winner sits among the dataset's own meta-base rows (if it has any)."""
    if metabase.empty:
        return None
    rows = metabase[(metabase["dataset"] == dataset) & (metabase["status"] == "ok")]
    if rows.empty:
        return None
    ious = rows["val_iou"].to_numpy(float)
    own = rows.loc[rows["config_id"] == config_id, "val_iou"]
    out = {"rows": len(rows), "best_iou": float(ious.max()), "median_iou": float(np.median(ious))}
    if len(own):
        out["winner_metabase_iou"] = float(own.iloc[0])
        out["winner_percentile"] = float((ious <= own.iloc[0]).mean() * 100)
    return out


def report(dataset: SegmentationDataset, split: dict, target: dict, ranking: pd.DataFrame,
           rank_info: dict, trace: dict, model_and_info, metrics: dict, params: dict):
    """The search's figures and a self-contained HTML report."""
    from aixcell_automl.metabase import library_versions
    from aixcell_automl.plugins.registry import augmentations, get
    from aixcell_automl.predict import predict_mask
    from aixcell_automl.report import halving_figure, html_report, overlay_figure
    from aixcell_automl.search import plan_outcome

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
        "model_path": params.get("model_path", "data/06_models/model"),
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
        "seed": params.get("seed", 0),
        "metric_label": get("metric", metrics["metric"]).label,
        "versions": ", ".join(f"{k} {v}" for k, v in library_versions().items()),
    }
    html = html_report(summary, metrics, ranking, trace, target, hfig, ofig)
    return html, hfig, ofig


def budget_note(suggestion: dict | None) -> str:
    """One sentence on the suggested budget ("" without a suggestion)."""
    if not suggestion:
        return ""
    return (f"Suggested budget for k={suggestion['k']} on this dataset: "
            f"{suggestion['budget_seconds'] / 60:.1f} min, so that the winner sees "
            f"{suggestion['winner_pixels'] / 1e6:.1f} Mpx at the median training speed the "
            f"meta-base measured for these configurations "
            f"({suggestion['pixels_per_second'] / 1e6:.3f} Mpx/s on {suggestion['measured_on']}).")


def learn_from_use(dataset: SegmentationDataset, trace: dict, params: dict) -> pd.DataFrame:
    """Opt-in (``search.append_to_metabase``): the search's trials as meta-base rows."""
    from aixcell_automl.search import halving_rows

    if not params.get("append_to_metabase"):
        return pd.DataFrame()
    rows = halving_rows(trace, Path(trace["run_root"]), dataset.name, dataset.content_hash())
    log.info("appending %d trials of this search to the meta-base", len(rows))
    return pd.DataFrame(rows)
