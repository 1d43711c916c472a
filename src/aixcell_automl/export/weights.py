"""Weight formats of the bioimage.io package: TensorFlow SavedModel (zipped) and ONNX (tf2onnx)."""

from __future__ import annotations

import logging
import shutil
import tempfile
import zipfile
from pathlib import Path

from aixcell_automl.training.engines import DIGEST_KEY, weights_digest

# Opset 13 runs on every ONNX Runtime since 1.6, including the Java builds Fiji plugins ship.
OPSET = 13
INPUT_NAME, OUTPUT_NAME = "image", "probabilities"


def serving_function(model, channels: int):
    """The model's inference as one traced TensorFlow function: ``image`` (NHWC float32, any
    size, ``channels`` channels) -> ``{"probabilities": softmax}``; both weight formats are made
    from it, so the model is traced once."""
    from aixcell_automl._env import tensorflow

    tf, _, _ = tensorflow()
    spec = tf.TensorSpec((None, None, None, channels), tf.float32, name=INPUT_NAME)
    return tf.function(lambda image: {OUTPUT_NAME: model(image, training=False)},
                       input_signature=[spec])


def save_saved_model_zip(model, serve, path: Path) -> Path:
    """A plain TensorFlow SavedModel of ``serve`` (:func:`serving_function`) as its
    ``serving_default`` signature, zipped with ``saved_model.pb`` at the archive root as
    bioimage.io expects.

    Only the variables and the traced function are saved, not the Keras layers, so loaders need
    neither tf-keras nor segmentation-models (and saving skips tracing every layer).
    """
    from aixcell_automl._env import tensorflow

    tf, _, _ = tensorflow()
    module = tf.Module()
    module.model_variables = list(model.variables)
    module.serve = serve
    with tempfile.TemporaryDirectory() as tmp:
        tf.saved_model.save(module, tmp, signatures={"serving_default": serve})
        return zip_folder(Path(tmp), path)


def to_onnx(model, channels: int, serve=None) -> bytes:
    """Serialised ONNX model of ``serve`` (default: :func:`serving_function` of ``model``),
    tagged with the digest of the Keras weights (see :mod:`aixcell_automl.training.engines`).

    Raises ``RuntimeError`` naming the installed TensorFlow and tf2onnx when conversion fails.
    """
    from aixcell_automl._env import tensorflow

    tf, _, _ = tensorflow()
    import tf2onnx

    logging.getLogger("tf2onnx").setLevel(logging.WARNING)
    serve = serve or serving_function(model, channels)
    try:
        proto, _ = tf2onnx.convert.from_function(
            serve, input_signature=serve.input_signature, opset=OPSET)
    except Exception as exc:
        raise RuntimeError(f"tf2onnx {tf2onnx.__version__} could not convert the model at "
                           f"TensorFlow {tf.__version__}: {exc}") from exc
    _portable_resize(proto)
    proto.metadata_props.add(key=DIGEST_KEY, value=weights_digest(model))
    return proto.SerializeToString()


def _portable_resize(proto) -> None:
    """Replace tf2onnx's ``tf_half_pixel_for_nn`` (deprecated since opset 13) in nearest-neighbour
    Resize nodes by ``asymmetric``: with ``nearest_mode=floor`` and the U-Net's integer upsampling
    factors both pick source pixel ``floor(i / s)``, so the output is unchanged."""
    for node in proto.graph.node:
        if node.op_type != "Resize":
            continue
        attrs = {a.name: a for a in node.attribute}
        ctm, nearest = attrs.get("coordinate_transformation_mode"), attrs.get("nearest_mode")
        if ctm is not None and ctm.s == b"tf_half_pixel_for_nn" and nearest is not None \
                and nearest.s == b"floor":
            ctm.s = b"asymmetric"


def zip_folder(folder: Path, path: Path) -> Path:
    """``folder``'s files (not the folder itself) in a zip archive at ``path``."""
    tmp = path.with_name(path.name + ".part")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(folder.rglob("*")):
            if f.is_file():
                zf.write(f, f.relative_to(folder).as_posix())
    shutil.move(tmp, path)
    return path
