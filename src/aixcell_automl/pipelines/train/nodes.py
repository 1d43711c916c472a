"""Nodes of the ``train`` pipeline.

The trained model is kept in its run folder and installed as the current model
(:class:`aixcell_automl.kedro_datasets.InstalledModelDataset`) only if its best validation score
beats the best *constant* predictor's (one class everywhere, the same metric) on the same
validation pixels (:func:`aixcell_automl.training.acceptance.check_beats_trivial`, which the
search uses too); otherwise the run fails with the reason and the current model stays. A
configuration value outside the search space logs a warning naming the range; one that cannot
train at all is an error.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

from aixcell_automl.core.dataset import SegmentationDataset
from aixcell_automl.core.errors import UserError
from aixcell_automl.core.search_space import TRAINING_DIMENSIONS, config_id
from aixcell_automl.training.acceptance import check_beats_trivial
from aixcell_automl.training.loop import Budget, best_model, settings_from, train_trial
from aixcell_automl.training.trial_data import make_trial_data

log = logging.getLogger(__name__)


def check_config(config: dict, space: dict) -> list[str]:
    """Raise :class:`UserError` for values no model can train with; return a warning for each
    value outside the search space (numbers: outside its min..max; others: not among its
    values)."""
    from aixcell_automl.plugins.registry import augmentations, backbones

    errors = [f"train.config.{k} is missing" for k in TRAINING_DIMENSIONS if k not in config]
    for k in ("patch_size", "batch_size"):
        v = config.get(k)
        if k in config and not (isinstance(v, int) and not isinstance(v, bool) and v > 0):
            errors.append(f"train.config.{k}={v!r} must be a positive integer")
    patch = config.get("patch_size")
    if isinstance(patch, int) and patch > 0 and patch % 32:
        errors.append(f"train.config.patch_size={config['patch_size']} must be a multiple of 32 "
                      f"(the U-Net halves it five times)")
    lr = config.get("learning_rate", 1.0)
    if not (isinstance(lr, int | float) and not isinstance(lr, bool) and math.isfinite(lr)
            and lr > 0):
        errors.append(f"train.config.learning_rate={lr!r} must be a positive number")
    if "backbone" in config and config["backbone"] not in backbones():
        errors.append(f"train.config.backbone={config['backbone']!r} is not registered; "
                      f"registered: {sorted(backbones())}")
    augs = augmentations()
    for k, v in config.items():
        if k not in TRAINING_DIMENSIONS and k not in augs:
            errors.append(f"train.config.{k} is neither a training hyperparameter nor a "
                          f"registered augmentation ({sorted(augs)})")
        elif k in augs and not (isinstance(v, int | float) and 0 <= v <= 1):
            errors.append(f"train.config.{k}={v!r} must be a probability in 0..1")
    if errors:
        raise UserError("; ".join(errors))
    warnings = []
    for k, values in space.items():
        v = config.get(k)
        if v is None:
            continue
        numeric = all(isinstance(x, int | float) and not isinstance(x, bool) for x in values)
        if numeric and not min(values) <= v <= max(values):
            warnings.append(f"train.config.{k}={v} is outside the search space "
                            f"({min(values)}...{max(values)}); the meta-base holds no evidence "
                            f"for it")
        elif not numeric and v not in values:
            warnings.append(f"train.config.{k}={v!r} is not in the search space {values}")
    return warnings


def train_plan(dataset: SegmentationDataset, split: dict, params: dict) -> dict:
    """The plan ``train`` writes (``plans.json``): read from ``train.plan`` (a plans.json, e.g.
    one you edited) if given, else made from the dataset (see :mod:`aixcell_automl.search.plan`)."""
    from aixcell_automl.search.plan import dataset_fingerprint, plan_dataset, read_plan

    if params["plan"]:
        plan = read_plan(params["plan"])
        log.info("plan from %s: %s", params["plan"], plan["configuration"])
        return plan
    return plan_dataset(dataset_fingerprint(dataset, split["train"]))


def train_model(dataset: SegmentationDataset, split: dict, plan: dict, runs: Path, params: dict,
                space: dict):
    """Train (or resume) ``train.config``, or the plan's configuration when no configuration
    is given; returns ``((model, info), state)`` if the model beats a constant predictor (see
    module doc). The run is ``<dataset>/<config_id>``, its folder ``<runs>/<dataset>/<config_id>``
    (``runs``: the catalog's ``train_runs``; named in ``info["run"]``): re-training a
    configuration resumes its run."""
    given = params["config"]
    config = dict(given) if given else {k: v for k, v in plan["configuration"].items()
                                        if k != "config_id"}
    log.info("training %s", "train.config" if given else "the plan's configuration")
    for w in check_config(config, space):
        log.warning(w)
    config["config_id"] = config_id(config)
    data = make_trial_data(dataset, split, seed=split["seed"], plan=plan)
    run_dir = Path(runs) / dataset.name / config["config_id"]
    log.info("training %s on %s (run folder %s)", config, dataset.name, run_dir)
    settings = settings_from(params)
    state = train_trial(config, data, run_dir,
                        Budget(seconds=params["budget_seconds"], pixels=params["max_pixels"]),
                        settings, seed=int(params["seed"]))
    if state["status"] == "failed":
        raise UserError(f"training failed: {state['reason']} (run folder {run_dir}; delete it "
                        f"to start this configuration afresh)")
    check_beats_trivial(state["best_score"], data.validation(settings.val_pixels).masks,
                        dataset.class_names, settings.metric)
    run = {"pipeline": "train", "run": f"{dataset.name}/{config['config_id']}",
           "run_folder": str(run_dir)}  # where installed_model keeps the run's model
    model_and_info = best_model(run_dir, data, dataset=dataset.name,
                                dataset_hash=dataset.content_hash(),
                                seed=int(params["seed"]), metric=settings.metric, run=run)
    return model_and_info, state


