"""Segmentation scores from a confusion matrix: IoU (the default) and Dice/F1.

Every score is computed from a confusion matrix accumulated over *all* evaluated pixels (not
averaged per patch or image). A metric gives one value per class; the reported score is the mean
over **foreground classes (1..C-1) that occur in the truth or the prediction**
(:func:`mean_foreground`); background is reported per class but not averaged in. A class absent
from both is left out (reported as NaN). This is the one averaging rule used everywhere:
training, meta-base, halving and test evaluation. Which metric scores them is a registered
plugin (``register_metrics``), chosen by ``search.metric``: :func:`score` looks it up.
"""

from __future__ import annotations

import numpy as np


def confusion(truth: np.ndarray, pred: np.ndarray, num_classes: int) -> np.ndarray:
    """``(C, C)`` confusion counts; rows = truth, columns = prediction."""
    idx = truth.astype(np.int64).ravel() * num_classes + pred.astype(np.int64).ravel()
    return np.bincount(idx, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def per_class_iou(cm: np.ndarray) -> np.ndarray:
    """IoU of each class from a confusion matrix (NaN where the class is absent from both)."""
    tp = np.diag(cm).astype(float)
    union = cm.sum(0) + cm.sum(1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, tp / union, np.nan)


def per_class_dice(cm: np.ndarray) -> np.ndarray:
    """Dice (= F1) of each class: 2 TP / (2 TP + FP + FN), NaN where absent from both."""
    tp = np.diag(cm).astype(float)
    denom = cm.sum(0) + cm.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, 2 * tp / denom, np.nan)


def mean_foreground(per_class: np.ndarray) -> float:
    """Mean over the foreground classes present (see module doc); 0.0 if none is."""
    fg = np.asarray(per_class, float)[1:]
    fg = fg[~np.isnan(fg)]
    return float(fg.mean()) if fg.size else 0.0


def mean_iou(cm: np.ndarray) -> float:
    """Mean IoU over the foreground classes present."""
    return mean_foreground(per_class_iou(cm))


def score(metric: str, cm: np.ndarray) -> tuple[float, np.ndarray]:
    """The registered ``metric``'s score and per-class values for a confusion matrix."""
    from aixcell_automl.plugins.registry import get

    per_class = np.asarray(get("metric", metric).per_class(cm), float)
    return mean_foreground(per_class), per_class


def trivial_score(masks: list[np.ndarray], num_classes: int, metric: str = "iou"
                  ) -> tuple[float, int]:
    """``metric``'s score of the best constant predictor on ``masks`` (one class everywhere);
    returns ``(score, that class)``: the bar a model must clear to be worth installing."""
    counts = sum(np.bincount(m.ravel(), minlength=num_classes)[:num_classes] for m in masks)
    scores = []
    for c in range(num_classes):
        cm = np.zeros((num_classes, num_classes), np.int64)
        cm[:, c] = counts
        scores.append(score(metric, cm)[0])
    return max(scores), int(np.argmax(scores))
