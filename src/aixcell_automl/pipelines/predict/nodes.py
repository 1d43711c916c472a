"""Nodes of the ``predict`` pipeline.

Every readable image is predicted; a file that cannot be read (or that the model cannot take,
e.g. 2 channels for a 3-channel model) is skipped with one warning naming it and the reason, and
listed in ``skipped.csv``. The run fails only when no image could be predicted, or, with
``predict.strict``, after writing every output when any file was skipped.

The log names the model folder used and the run that made it (``predict.model`` selects any
model folder, e.g. a run's; by default the installed model).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from aixcell_automl.core.dataset import read_image
from aixcell_automl.core.errors import UserError
from aixcell_automl.training.predict import overlay, predict_mask

log = logging.getLogger(__name__)


def _reason(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def model_origin(info: dict) -> str:
    """Which run made the model: from the installed model's ``installed.json``, else from the
    run record in its ``model.json`` (a run's own model folder)."""
    installed, run = info.get("installed"), info.get("run")
    if installed:
        return f"installed by {installed['pipeline']} run {installed['run']}"
    if run:
        return f"the model of {run['pipeline']} run {run['run']}, not installed"
    return "no record of the run that made it"


def predict_images(model_and_info, paths: dict[str, Path]
                   ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], pd.DataFrame]:
    """A label mask and an overlay preview per image, and the table of skipped files (when no
    image could be predicted, none: :func:`check_skipped` fails after the outputs say so)."""
    model, info = model_and_info
    log.info("predicting with %s (%s)", info.get("model_folder", "a model"), model_origin(info))
    masks, previews, skipped = {}, {}, []
    for stem, path in tqdm(sorted(paths.items()), desc="predict", unit="image"):
        try:
            img = read_image(path)
        except Exception as exc:  # noqa: BLE001 - any decoder error means "unreadable"
            reason = f"unreadable ({_reason(exc)})"
        else:
            try:
                masks[stem] = predict_mask(model, img, info)
                previews[stem] = overlay(img, masks[stem])
                continue
            except ValueError as exc:  # an image the model cannot take
                reason = _reason(exc)
        log.warning("skipped %s: %s", path, reason)
        skipped.append({"file": str(path), "reason": reason})
    log.info("predicted %d images with %s (%d classes); %d skipped", len(masks), info["backbone"],
             info["num_classes"], len(skipped))
    return masks, previews, pd.DataFrame(skipped, columns=["file", "reason"])


def postprocess(model_and_info, paths: dict[str, Path], masks: dict[str, np.ndarray],
                skipped: pd.DataFrame, params: dict) -> pd.DataFrame:
    """Run the configured post-processors (plugin registry) on this run's predicted images (the
    mask folder may hold older ones) and stack their rows per image."""
    from aixcell_automl.plugins.registry import get

    _, info = model_and_info
    names = info.get("class_names") or [str(i) for i in range(info["num_classes"])]
    unread = set(skipped["file"])
    done = sorted(s for s, p in paths.items() if str(p) not in unread)
    images = {stem: read_image(paths[stem]) for stem in done}
    rows = []
    for pp in params["postprocessors"]:
        run = get("postprocessor", pp).run
        for stem in done:
            rows += [{"image": stem, "postprocessor": pp, **r}
                     for r in run(images[stem], masks[stem], names)]
    return pd.DataFrame(rows) if rows else pd.DataFrame(columns=["image", "postprocessor"])


def summarise_prediction(paths: dict[str, Path], skipped: pd.DataFrame, table: pd.DataFrame
                         ) -> dict:
    """What the run did (``summary.json``): the input images, those predicted and
    post-processed, the rows of the object table, and the skipped files with their reasons."""
    images = sorted(table["image"].unique().tolist()) if "image" in table else []
    return {"images": len(paths), "images_predicted": len(paths) - len(skipped),
            "images_postprocessed": len(images), "object_table_rows": len(table),
            "skipped": len(skipped), "skipped_files": skipped.to_dict("records")}


def check_skipped(summary: dict, params: dict) -> None:
    """Fail if no image could be predicted, or with ``predict.strict`` if the run skipped any
    file (it runs last: every output, the summary included, is written by then)."""
    if not summary["images_predicted"]:
        files = summary["skipped_files"]
        reasons = "; ".join(f"{Path(s['file']).name}: {s['reason']}" for s in files[:5])
        raise UserError(f"none of the {summary['images']} image(s) could be predicted "
                        f"({reasons}{' ...' if len(files) > 5 else ''}); see skipped.csv beside "
                        f"the predicted masks")
    if params["strict"] and summary["skipped"]:
        first = summary["skipped_files"][0]
        raise UserError(f"predict.strict: {summary['skipped']} file(s) skipped, see skipped.csv "
                        f"beside the predicted masks (first: {first['file']}: "
                        f"{first['reason']})")
