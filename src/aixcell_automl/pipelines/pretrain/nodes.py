"""Nodes of the ``pretrain`` pipeline."""

from __future__ import annotations

import logging
from pathlib import Path

from aixcell_automl.core.dataset import load_dataset
from aixcell_automl.core.errors import UserError
from aixcell_automl.core.search_space import config_id
from aixcell_automl.training.hardware import hardware
from aixcell_automl.training.loop import Budget, best_model, train_trial
from aixcell_automl.training.trial_data import pooled_trial_data

log = logging.getLogger(__name__)


def pretrain_model(datasets_root: Path, runs: Path, params: dict):
    """Train one configuration on the pooled datasets of ``params['sets'][params['name']]``
    (folders of ``datasets_root``, the catalog's ``shared_datasets``); returns ``((model, info),
    state)``. Re-running resumes from the run folder ``<runs>/<name>`` (``pretrain_runs``)."""
    from aixcell_automl.training.loop import settings_from

    name = params["name"]
    if name not in params["sets"]:
        raise UserError(f"pretrain.name={name!r} is not one of pretrain.sets "
                         f"({', '.join(params['sets'])})")
    datasets = [load_dataset(Path(datasets_root) / d) for d in params["sets"][name]]
    data = pooled_trial_data(datasets, params["channels"], seed=int(params["seed"]))
    log.info("pre-training '%s' on %s: %d train / %d val images, %d classes %s", name,
             [d.name for d in datasets], len(data.train.images), len(data.val.images),
             data.num_classes, data.class_names)
    config = dict(params["config"])
    config["config_id"] = config_id(config)
    run_dir = Path(runs) / name
    state = train_trial(config, data, run_dir, Budget(pixels=int(params["max_pixels"])),
                        settings_from(params), seed=int(params["seed"]))
    if state["status"] == "failed":
        raise RuntimeError(f"pre-training failed: {state['reason']}")
    model, info = best_model(run_dir, data, pixels_seen=state["pixels_seen"],
                             pretrained_on={d.name: d.content_hash() for d in datasets},
                             train_seconds=state["train_seconds"], hardware=hardware(),
                             seed=int(params["seed"]))
    log.info("pre-trained '%s': best validation IoU %.3f after %d pixels", name,
             state["best_score"], state["pixels_seen"])
    return (model, info), state
