"""The segmentation model (docs/method.md §2): a U-Net whose encoder comes from the backbone
registry.

Output is always a softmax over C classes, binary sets included (background + 1 class), so one
loss and one IoU definition serve every dataset. Loss: categorical focal loss, gamma = 2.
Optimizer: Adam with default betas, each variable updated by one fused kernel
(:func:`make_optimizer`). Batch-norm momentum is lowered from Keras' 0.99 to
:data:`BN_MOMENTUM` so moving statistics track the weights within the few hundred steps a budgeted
run has; at 0.99 validation IoU swung widely between evaluations.

A saved model is a folder with ``model.json`` (backbone, channels, classes, patch size) and
``weights.h5``; :func:`load_model` rebuilds it through the registry, so no custom object has to
be importable by name.
"""

from __future__ import annotations

import functools
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
    """Adam (Keras's defaults) updating each variable with TensorFlow's fused
    ``ResourceApplyAdam`` kernel: the same update rule as ``keras.optimizers.Adam``, in one pass
    over each variable instead of eleven elementwise ops (which took about a fifth of a bfloat16
    patch-64 step on a 2-core AMX Xeon; docs/performance.md, "Per-step overhead")."""
    return _fused_adam()(learning_rate=learning_rate)


@functools.cache
def _fused_adam():
    from aixcell_automl._env import tensorflow

    tf, keras, _ = tensorflow()

    class FusedAdam(keras.optimizers.Adam):
        """Keras's ``Adam`` whose per-variable update is ``ResourceApplyAdam``
        (``alpha = lr * sqrt(1 - b2^t) / (1 - b1^t)``; ``m += (g - m)(1 - b1)``;
        ``v += (g^2 - v)(1 - b2)``; ``var -= alpha m / (sqrt(v) + eps)``, as Keras computes it).
        Its variables and checkpoints are Adam's."""

        def update_step(self, gradient, variable):
            if isinstance(gradient, tf.IndexedSlices):  # sparse: Keras's own update
                return super().update_step(gradient, variable)
            dtype = variable.dtype
            index = self._index_dict[self._var_key(variable)]
            t = tf.cast(self.iterations + 1, dtype)
            beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
            tf.raw_ops.ResourceApplyAdam(
                var=variable.handle, m=self._momentums[index].handle,
                v=self._velocities[index].handle, beta1_power=tf.pow(beta_1, t),
                beta2_power=tf.pow(beta_2, t), lr=tf.cast(self.learning_rate, dtype),
                beta1=beta_1, beta2=beta_2, epsilon=tf.cast(self.epsilon, dtype),
                grad=tf.cast(gradient, dtype))

    return FusedAdam


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
