"""The bar a trained model must clear before it is installed: beating the best constant
predictor on the same validation pixels."""

from __future__ import annotations

import logging

import numpy as np

from aixcell_automl.plugins.registry import get

log = logging.getLogger(__name__)


def check_beats_trivial(best: float | None, masks: list[np.ndarray], class_names: list[str],
                        metric: str = "iou") -> None:
    """Raise :class:`~aixcell_automl.core.errors.UserError` unless a model's best validation score
    ``best`` (``metric``, on ``masks``) beats the best constant predictor's; a model that does not
    is not installed (``train`` and the search)."""
    from aixcell_automl.core.errors import UserError
    from aixcell_automl.core.metrics import trivial_score

    if not any(m.any() for m in masks):
        raise UserError("model not installed: the validation images hold no foreground, so the "
                        "model cannot be told apart from predicting background everywhere; put "
                        "images with objects in the validation split (dataset.yaml 'split')")
    label = get("metric", metric).label
    triv, c = trivial_score(masks, len(class_names), metric)
    if best is None or best <= triv:
        raise UserError(
            f"model not installed: its best validation {label} {best or 0.0:.3f} does not beat "
            f"predicting '{class_names[c]}' everywhere ({triv:.3f}); the current model is left "
            f"as it was. Check train.config (values inside the search space) or train longer "
            f"(train.budget_seconds)")
    log.info("validation %s %.3f beats the best constant predictor ('%s' everywhere, %.3f)",
             label, best, class_names[c], triv)
