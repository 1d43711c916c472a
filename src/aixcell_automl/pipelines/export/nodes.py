"""Nodes of the ``export`` pipeline, and the search's ``search.export`` node.

The package's documentation needs how the model came to be (``facts``, see
:mod:`aixcell_automl.export.model_card`). For a search's model they come from the search's own
outputs (test IoU, budget, meta-base); ``kedro run --pipeline=export`` reads them from the
search's report folder, or, for a model the ``train`` pipeline made (or a search whose report is
gone), evaluates the model on the dataset's test split.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from aixcell_automl.core.dataset import SegmentationDataset
from aixcell_automl.core.errors import UserError

log = logging.getLogger(__name__)


def search_facts(metrics: dict, rank_info: dict, trace: dict, split: dict) -> dict:
    """Facts of a search's winner from the search's metrics, ranking info and halving trace."""
    part = metrics["test_split"]
    return {"source": "search",
            "test": {"split": part, "images": [str(s) for s in split[part]],
                     "mean_iou": metrics["test_iou"],
                     "per_class_iou": metrics["per_class_iou"]},
            "search": {"budget_seconds": trace["budget_seconds"],
                       "wall_seconds": trace["wall_seconds"], "k": trace["k"],
                       "strategy": trace.get("strategy", "successive_halving"),
                       "n_configs": rank_info["n_configs"], "meta_model": rank_info["meta_model"],
                       "representation": rank_info["representation"],
                       "metabase_rows": rank_info["metabase_rows"],
                       "metabase_datasets": len(rank_info["metabase_datasets"]),
                       "winner_rank": metrics["winner_rank"], "hardware": metrics["hardware"]}}


def report_facts(info: dict, reports: Path | str) -> dict | None:
    """:func:`search_facts` from the report folder of the search that made this model, if the
    folder is there and its winner is this model's configuration."""
    if not info.get("search_run"):
        return None
    folder = Path(reports) / Path(info["search_run"]).name
    files = {k: folder / f"{k}.json" for k in ("metrics", "ranking_info", "halving_trace",
                                                "split")}
    if not all(p.exists() for p in files.values()):
        return None
    data = {k: json.loads(p.read_text()) for k, p in files.items()}
    if data["metrics"].get("winner_config", {}).get("config_id") != info["config"]["config_id"]:
        return None
    return search_facts(data["metrics"], data["ranking_info"], data["halving_trace"],
                        data["split"])


def evaluated_facts(model, info: dict, dataset: SegmentationDataset, split: dict) -> dict:
    """Facts measured now: IoU on the test split (the validation split if there is no test)."""
    from aixcell_automl.training.predict import evaluate_on_test

    result = evaluate_on_test((model, info), dataset, split)
    return {"source": "search" if info.get("search_run") else "train",
            "test": {"split": result["split"], "images": [str(s) for s in result["images"]],
                     "mean_iou": result["mean_iou"],
                     "per_class_iou": result["per_class_iou"]}}


def package_and_check(model_and_info, dataset: SegmentationDataset, facts: dict,
                      packages: Path, params: dict) -> tuple[dict, bytes]:
    """Write the package into ``packages`` (the catalog's ``bioimageio_packages``); with
    ``export.check``, fail unless it passes bioimage.io's checks. Returns the summary and the
    ONNX bytes (for ``model.onnx`` beside the model's weights)."""
    from aixcell_automl.export.check import check_package
    from aixcell_automl.export.package import write_package

    model, info = model_and_info
    folder, onnx = write_package(model, info, dataset, facts,
                                 {**params, "output_dir": str(packages)})
    summary = {"exported": True, "package": str(folder), "zip": str(folder.with_suffix(".zip")),
               "test_iou": facts["test"]["mean_iou"], "source": facts["source"]}
    if params["check"]:
        result = check_package(folder)
        summary["check"] = result
        if result["status"] != "passed":
            errors = [e for d in result.get("details", []) for e in d["errors"]]
            raise RuntimeError(f"{folder}: the package failed bioimage.io's checks: "
                               f"{'; '.join(errors[:3]) or result.get('error')}")
        log.info("bioimage.io checks passed (%s)", ", ".join(result["weight_formats"]))
    log.info("bioimage.io package: %s (and %s)", folder, summary["zip"])
    return summary, onnx


def export_model(model_and_info, dataset: SegmentationDataset, split: dict, reports: Path,
                 packages: Path, params: dict) -> tuple[dict, bytes]:
    """Node of ``export``: package the current model into ``packages``, with test data from the
    dataset it was trained on (``dataset.path``) and, for a search's model, the facts from its
    report folder under ``reports`` (the catalog's ``search_reports``)."""
    model, info = model_and_info
    if info.get("dataset_hash") not in (None, dataset.content_hash()):
        raise UserError(f"{dataset.root}: the model was trained on '{info.get('dataset')}', not "
                        f"on this dataset ('{dataset.name}'); set dataset.path to the dataset it "
                        f"was trained on")
    facts = report_facts(info, reports) or evaluated_facts(model, info, dataset, split)
    return package_and_check(model_and_info, dataset, facts, packages, params)


def export_search_winner(model_and_info, dataset: SegmentationDataset, split: dict,
                         metrics: dict, rank_info: dict, trace: dict, packages: Path,
                         search_params: dict, params: dict) -> tuple[dict, bytes]:
    """Node of ``search``: with ``search.export``, package the winner into ``packages`` (else
    write nothing)."""
    if not search_params["export"]:
        return {"exported": False, "reason": "search.export is false"}, b""
    return package_and_check(model_and_info, dataset,
                             search_facts(metrics, rank_info, trace, split), packages, params)
