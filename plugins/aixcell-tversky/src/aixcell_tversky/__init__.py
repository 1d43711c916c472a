"""The Tversky index as an aixcell-automl metric: a metric in one module.

Per class TP / (TP + ALPHA FP + BETA FN) from the confusion matrix; with BETA > ALPHA a missed
object pixel costs more than a false alarm (ALPHA = BETA = 0.5 is Dice). Choose it with
``--params "search.metric=tversky"``: halving, the test score and the report then use it, and
the meta-model trains on meta-base rows scored by it.
"""

import numpy as np

from aixcell_automl import hookimpl
from aixcell_automl.plugins.specs import Metric

ALPHA, BETA = 0.3, 0.7


def per_class_tversky(cm: np.ndarray) -> np.ndarray:
    """Tversky index of each class (rows of ``cm`` = truth), NaN where absent from both."""
    tp = np.diag(cm).astype(float)
    fp, fn = cm.sum(0) - tp, cm.sum(1) - tp
    denom = tp + ALPHA * fp + BETA * fn
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(tp + fp + fn > 0, tp / denom, np.nan)


@hookimpl
def register_metrics():
    return [Metric("tversky", per_class_tversky, f"Tversky (α={ALPHA}, β={BETA})")]
