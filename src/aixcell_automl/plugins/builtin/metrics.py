"""Built-in metrics: IoU (the default, ``search.metric: iou``) and Dice/F1."""

from __future__ import annotations

from aixcell_automl.core.metrics import per_class_dice, per_class_iou
from aixcell_automl.plugins import hookimpl
from aixcell_automl.plugins.specs import Metric


@hookimpl
def register_metrics():
    return [Metric("iou", per_class_iou, "IoU"), Metric("dice", per_class_dice, "Dice")]
