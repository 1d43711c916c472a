"""Intersection over union.

IoU is computed from a confusion matrix accumulated over *all* evaluated pixels (not averaged per
patch or image). The reported score, ``mean_iou``, is the mean over **foreground classes (1..C-1)
that occur in the truth or the prediction**; background IoU is reported per class but not
averaged in. A class absent from both is left out (reported as NaN). This is the one definition
used everywhere: training, meta-base, halving and test evaluation.
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


def mean_iou(cm: np.ndarray) -> float:
    """Mean IoU over the foreground classes present (see module doc); 0.0 if none is."""
    fg = per_class_iou(cm)[1:]
    fg = fg[~np.isnan(fg)]
    return float(fg.mean()) if fg.size else 0.0
