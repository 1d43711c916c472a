"""Transfer learning (docs/method.md §8): start a U-Net from local pre-trained weights and
fine-tune it.

``init_weights`` names a local file, nothing is downloaded: a model folder written by this
project (``model.json`` + ``weights.h5``, e.g. by ``kedro run --pipeline=pretrain``) or any Keras
HDF5 weights file (an ImageNet encoder file a user has, such as the ``*_no_top.h5`` files of
``classification_models``). Layers are matched **by name**; a layer that is absent from the file,
or whose weight shapes differ (the first convolution when the channel count differs, the last one
when the class count differs), keeps its fresh initialisation and is *new*.

Fine-tune protocol, tracked by ``state["phase"]`` in
:func:`aixcell_automl.training.loop.train_trial`:

1. ``"new_layers"`` (only when there are new layers): every other layer is frozen and the new
   layers train at the configuration's learning rate until validation IoU has changed by less
   than :data:`SETTLE_DELTA` over the last :data:`SETTLE_EVALS` evaluations (an evaluation is an
   epoch, or the evaluation interval when an epoch is longer), or for at most
   :data:`MAX_NEW_LAYER_EVALS` evaluations;
2. ``"all"``: every layer trains at :data:`FINETUNE_LR`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from aixcell_automl.core.errors import UserError

SETTLE_DELTA = 0.03
SETTLE_EVALS = 3
MAX_NEW_LAYER_EVALS = 10
FINETUNE_LR = 1e-4


def weights_file(path: Path | str) -> Path:
    """The HDF5 file behind ``init_weights`` (a model folder or a file); clear error if absent."""
    path = Path(path)
    file = path / "weights.h5" if path.is_dir() else path
    if not file.is_file():
        raise FileNotFoundError(f"init_weights {path}: no such weights file or model folder "
                                "(weights are never downloaded; give a local file)")
    return file


def _stored_layers(file: Path) -> dict[str, list[np.ndarray]]:
    import h5py

    with h5py.File(file, "r") as f:
        group = f.get("model_weights", f)
        out = {}
        for name in group.attrs["layer_names"]:
            name = name.decode() if isinstance(name, bytes) else name
            g = group[name]
            out[name] = [np.asarray(g[w.decode() if isinstance(w, bytes) else w])
                         for w in g.attrs["weight_names"]]
        return out


def load_matching(model, path: Path | str) -> list[str]:
    """Copy every layer of ``path`` whose name and weight shapes match into ``model``.

    Returns the names of the model's weighted layers that were *not* loaded (the new layers).
    Raises if nothing matched: the file is for another architecture.
    """
    stored = _stored_layers(weights_file(path))
    new, loaded = [], 0
    for layer in model.layers:
        if not layer.weights:
            continue
        values = stored.get(layer.name)
        if values is not None and [v.shape for v in values] == [tuple(w.shape)
                                                               for w in layer.weights]:
            layer.set_weights(values)
            loaded += 1
        else:
            new.append(layer.name)
    if not loaded:
        raise UserError(f"init_weights {path}: no layer name and shape matches this model "
                        f"(is it weights for another backbone?)")
    return new


def freeze_all_but(model, trainable: list[str]) -> None:
    """Train only the named layers (an empty list unfreezes every layer)."""
    keep = set(trainable)
    for layer in model.layers:
        layer.trainable = not keep or layer.name in keep


def new_layers_settled(history: list[dict], phase_start: int) -> bool:
    """Whether the new-layer phase is over (see the module doc); ``phase_start`` is the number
    of evaluations that preceded it."""
    ious = [h["val_score"] for h in history[phase_start:]]
    if len(ious) >= MAX_NEW_LAYER_EVALS:
        return True
    recent = ious[-(SETTLE_EVALS + 1):]
    return len(recent) == SETTLE_EVALS + 1 and max(recent) - min(recent) < SETTLE_DELTA


def epochs_to_fraction(history: list[dict], fraction: float = 0.95) -> float | None:
    """Epochs until validation IoU first reached ``fraction`` of the run's best IoU."""
    if not history:
        return None
    target = fraction * max(h["val_score"] for h in history)
    return next(h["epoch"] for h in history if h["val_score"] >= target)
