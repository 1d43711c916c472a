"""Inference engines for ``predict``: the Keras model (TensorFlow) or ONNX Runtime.

ONNX weights are written by ``kedro run --pipeline=export`` beside the Keras weights of the model
folder (``model.onnx``). They carry a digest of the Keras weights they were converted from, so a
model re-trained into the same folder is never run with stale ONNX weights.

``predict.engine``: ``tf`` runs the Keras model; ``onnx`` runs ``model.onnx`` and fails when it
is missing or stale; ``auto`` runs :data:`AUTO_ENGINE` when it can, else TensorFlow. Both engines
are called the same way, ``model(x) -> softmax``, so :mod:`aixcell_automl.training.predict` serves
both (masks of the two agree to IoU >= 0.999, ``tests/test_export.py``).
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np
from kedro.io import AbstractDataset

from aixcell_automl.core.atomic import atomic_write_bytes
from aixcell_automl.core.errors import UserError

log = logging.getLogger(__name__)

ENGINES = ("auto", "tf", "onnx")
ONNX_FILE = "model.onnx"
DIGEST_KEY = "aixcell_automl.weights_sha256"
# What ``auto`` prefers when fresh ONNX weights exist: chosen by benchmarks/inference.py
# (docs/performance.md, "Inference engines").
AUTO_ENGINE = "onnx"


def weights_digest(model) -> str:
    """SHA-256 (first 16 hex digits) over a Keras model's weight arrays, in layer order."""
    h = hashlib.sha256()
    for w in model.get_weights():
        h.update(np.ascontiguousarray(w).tobytes())
    return h.hexdigest()[:16]


class OnnxModel:
    """An ONNX Runtime CPU session called like the Keras model: ``model(x) -> softmax``."""

    def __init__(self, source: bytes | Path | str):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.log_severity_level = 3  # errors only
        if isinstance(source, Path):
            source = str(source)
        self._session = ort.InferenceSession(source, opts, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name
        meta = self._session.get_modelmeta().custom_metadata_map
        self.weights_digest: str | None = meta.get(DIGEST_KEY)

    def __call__(self, x, training: bool = False) -> np.ndarray:
        return self._session.run(None, {self._input: np.asarray(x, np.float32)})[0]


def inference_model(keras_model, onnx_model: OnnxModel | None, engine: str = "auto"):
    """The model ``predict`` runs for ``engine`` (see the module docstring)."""
    if engine not in ENGINES:
        raise UserError(f"predict.engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if engine == "tf":
        return keras_model
    problem = None
    if onnx_model is None:
        problem = f"there is no {ONNX_FILE} beside the model's weights"
    elif onnx_model.weights_digest != weights_digest(keras_model):
        problem = f"{ONNX_FILE} was converted from other weights than the model's"
    if engine == "onnx":
        if problem:
            raise UserError(f"predict.engine=onnx: {problem}; run `kedro run --pipeline=export` "
                             f"for this model first")
        return onnx_model
    if problem:
        log.info("predict.engine=auto: %s", problem)
    return keras_model if problem or AUTO_ENGINE == "tf" else onnx_model


def select_engine(model_and_info, onnx_model: OnnxModel | None, params: dict):
    """Node of ``predict``: ``(model, info)`` with the model of ``params["engine"]``."""
    model, info = model_and_info
    chosen = inference_model(model, onnx_model, params["engine"])
    log.info("predict engine: %s", "ONNX Runtime" if chosen is onnx_model else "TensorFlow")
    return chosen, info


class OnnxModelDataset(AbstractDataset):
    """``model.onnx`` in a model folder: loads an :class:`OnnxModel`, or ``None`` when there is
    none; saves serialised ONNX bytes (empty bytes: nothing to write, e.g. export disabled)."""

    def __init__(self, path: str, metadata: dict | None = None):
        self._path = Path(path)
        self.metadata = metadata

    def load(self) -> OnnxModel | None:
        return OnnxModel(self._path) if self._path.exists() else None

    def save(self, data: bytes) -> None:
        if not data:
            return
        atomic_write_bytes(self._path, data)

    def _exists(self) -> bool:
        return self._path.exists()

    def _describe(self) -> dict:
        return {"path": str(self._path)}
