"""Nodes of the ``train`` pipeline."""

from __future__ import annotations

import logging
from pathlib import Path

from aixcell_automl.dataset import SegmentationDataset, split_dataset
from aixcell_automl.search_space import config_id
from aixcell_automl.training import Budget, Settings, best_model, make_trial_data, train_trial

log = logging.getLogger(__name__)


def make_split(dataset: SegmentationDataset, params: dict) -> dict:
    """Train/val/test stems (respects a predefined split), with the seed that drew them."""
    parts = split_dataset(dataset, params.get("split_fractions", (0.8, 0.1, 0.1)),
                          seed=int(params.get("split_seed", 0)))
    log.info("%s: %d train / %d val / %d test images", dataset.name, len(parts["train"]),
             len(parts["val"]), len(parts["test"]))
    return {**parts, "seed": int(params.get("split_seed", 0)),
            "predefined": bool(dataset.metadata.get("split"))}


def settings_from(params: dict) -> Settings:
    es = params.get("early_stopping", {})
    return Settings(eval_every_pixels=int(params.get("eval_every_pixels", 2**22)),
                    val_pixels=int(params.get("val_pixels", 2**21)),
                    es_delta=float(es.get("delta", 0.05)), es_patience=int(es.get("patience", 8)),
                    init_weights=params.get("init_weights"))


def train_model(dataset: SegmentationDataset, split: dict, params: dict):
    """Train (or resume) the configured trial; returns ``((model, info), state)``."""
    config = {k: v for k, v in params["config"].items()}
    config["config_id"] = config_id(config)
    data = make_trial_data(dataset, split, seed=split["seed"])
    run_dir = Path(params["run_root"]) / dataset.name / config["config_id"]
    log.info("training %s on %s (run folder %s)", config, dataset.name, run_dir)
    state = train_trial(config, data, run_dir,
                        Budget(seconds=params.get("budget_seconds"),
                               pixels=params.get("max_pixels")),
                        settings_from(params), seed=int(params.get("seed", 0)))
    if state["status"] == "failed":
        raise RuntimeError(f"training failed: {state['reason']}")
    model_and_info = best_model(run_dir, data, dataset=dataset.name,
                                dataset_hash=dataset.content_hash(),
                                seed=int(params.get("seed", 0)))
    return model_and_info, state


def evaluate_on_test(model_and_info, dataset: SegmentationDataset, split: dict) -> dict:
    """Whole-image IoU of the model on the test split (falls back to val if test is empty)."""
    from aixcell_automl.predict import evaluate

    model, info = model_and_info
    part = "test" if split["test"] else "val"
    index = {s: i for i, s in enumerate(dataset.stems)}
    images = [dataset.image(index[s]) for s in split[part]]
    masks = [dataset.mask(index[s]) for s in split[part]]
    result = evaluate(model, info, images, masks)
    log.info("%s IoU on %d %s images: %.4f %s", dataset.name, len(images), part,
             result["mean_iou"], result["per_class_iou"])
    return {"split": part, "images": split[part], "dataset": dataset.name,
            "config": info["config"], "best_val_iou": info["best_val_iou"], **result}


def plot_learning_curve(state: dict):
    """Validation IoU (and loss) per evaluation against training pixels."""
    from aixcell_automl.report import pyplot

    plt = pyplot()

    hist = state["history"]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    px = [h["pixels"] / 1e6 for h in hist]
    ax.plot(px, [h["val_iou"] for h in hist], "o-", label="validation IoU")
    if state.get("best_eval"):
        b = hist[state["best_eval"] - 1]
        ax.plot([b["pixels"] / 1e6], [b["val_iou"]], "r*", ms=12, label="kept (best)")
    ax.set_xlabel("training pixels (millions)")
    ax.set_ylabel("IoU (mean over foreground classes)")
    ax.set_ylim(0, 1)
    ax2 = ax.twinx()
    ax2.plot(px, [h["loss"] for h in hist], "--", color="grey", alpha=0.6, label="loss")
    ax2.set_ylabel("focal loss (last batch)")
    ax.legend(loc="lower right")
    ax.set_title(f"{state['config'].get('backbone')} p{state['config'].get('patch_size')} "
                 f"b{state['config'].get('batch_size')} lr{state['config'].get('learning_rate')}")
    fig.tight_layout()
    return fig
