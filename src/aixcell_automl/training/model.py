"""The segmentation model (docs/method.md §2): a U-Net whose encoder comes from the backbone
registry.

Output is always a softmax over C classes, binary sets included (background + 1 class), so one
loss and one IoU definition serve every dataset. Loss: categorical focal loss, gamma = 2.
Optimizer: Adam with default betas. Batch-norm momentum is lowered from Keras' 0.99 to
:data:`BN_MOMENTUM` so moving statistics track the weights within the few hundred steps a budgeted
run has; at 0.99 validation IoU swung widely between evaluations.

A saved model is a folder with ``model.json`` (backbone, channels, classes, patch size) and
``weights.h5``; :func:`load_model` rebuilds it through the registry, so no custom object has to
be importable by name.
"""

from __future__ import annotations

import json
from pathlib import Path

from aixcell_automl.core.atomic import atomic_write_text
from aixcell_automl.core.legacy_names import upgrade

BN_MOMENTUM = 0.9
FOCAL_GAMMA = 2.0


def build_model(backbone: str, channels: int, num_classes: int):
    """An uncompiled, freshly initialised U-Net for ``(None, None, channels)`` inputs
    (pre-trained weights are loaded by :func:`aixcell_automl.training.transfer.load_matching`)."""
    from aixcell_automl._env import tensorflow
    from aixcell_automl.plugins.registry import get

    _, keras, _ = tensorflow()
    model = get("backbone", backbone).build(channels, num_classes)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = BN_MOMENTUM
    return model


def focal_loss(gamma: float = FOCAL_GAMMA):
    """Categorical focal loss (mean over pixels) on one-hot targets and softmax outputs."""
    from aixcell_automl._env import tensorflow

    tf, _, _ = tensorflow()

    def loss(y_true, y_pred):
        y_pred = tf.clip_by_value(y_pred, 1e-7, 1.0 - 1e-7)
        ce = -y_true * tf.math.log(y_pred)
        return tf.reduce_mean(tf.reduce_sum(tf.pow(1.0 - y_pred, gamma) * ce, axis=-1))

    return loss


def make_optimizer(learning_rate: float):
    from aixcell_automl._env import tensorflow

    _, keras, _ = tensorflow()
    return keras.optimizers.Adam(learning_rate=learning_rate)


def save_model(model, folder: Path | str, info: dict) -> Path:
    """Write ``weights.h5`` and ``model.json`` (must hold backbone, channels, num_classes)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_weights(str(folder / "weights.h5"))
    atomic_write_text(folder / "model.json", json.dumps(info, indent=2, default=str))
    return folder


def load_model(folder: Path | str):
    """Rebuild a saved model; returns ``(model, info)``."""
    folder = Path(folder)
    info = upgrade(json.loads((folder / "model.json").read_text()))
    model = build_model(info["backbone"], int(info["channels"]), int(info["num_classes"]))
    model.load_weights(str(folder / "weights.h5"))
    return model, info
