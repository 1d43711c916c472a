"""A trained model as a bioimage.io model package (model description format 0.5).

The package folder holds ``rdf.yaml``, the weights as a zipped TensorFlow SavedModel and as ONNX,
a test input (one window of a real test image, raw intensities) with the model's output for it,
sample tensors (that whole test image and its predicted probabilities, TIFF), a cover image (test
image | predicted overlay) and ``README.md`` (:mod:`.model_card`); the same files are zipped next
to it for tools that install a package from one file (deepImageJ).

Tensors are NHWC. The input is one window of the training patch size: bioimage.io tools tile
larger images into such windows and drop a halo of 1/8 window per side from each output, so
neighbouring windows overlap by a quarter, as in :mod:`aixcell_automl.training.predict`. The
project's normalisation is the spec's ``scale_range`` (the percentiles of the model's plan per
image and channel, by default 1st..99.8th) then ``clip`` to [0, 1]; the output is the softmax per
class, whose argmax is the label mask.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import shutil
from pathlib import Path

import numpy as np
import yaml

from aixcell_automl.core.normalization import normalize_image
from aixcell_automl.core.patching import pad_to
from aixcell_automl.export.model_card import citations, model_card
from aixcell_automl.export.weights import (
    INPUT_NAME,
    OPSET,
    OUTPUT_NAME,
    save_saved_model_zip,
    serving_function,
    to_onnx,
    zip_folder,
)
from aixcell_automl.training.plan_settings import model_percentiles

SAVED_MODEL_FILE, ONNX_FILE = "weights_tf_saved_model.zip", "weights.onnx"


def package_name(info: dict) -> str:
    """Folder/zip name: ``<dataset>-<backbone>-unet`` in file-name-safe characters."""
    raw = f"{info.get('dataset', 'model')}-{info['backbone']}-unet"
    return re.sub(r"[^A-Za-z0-9_-]+", "_", raw)


def write_package(model, info: dict, dataset, facts: dict, params: dict) -> tuple[Path, bytes]:
    """Write the package folder ``<output_dir>/<name>`` and ``<name>.zip`` beside it (replacing
    an earlier export of the same name); returns the folder and the ONNX bytes."""
    from aixcell_automl.training.predict import overlay, predict_probabilities, preview_rgb

    channels, patch = int(info["channels"]), int(info["patch_size"])
    name = package_name(info)
    out = Path(params["output_dir"]) / name
    tmp = out.with_name(name + ".part")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)

    index = {s: i for i, s in enumerate(dataset.stems)}
    stem = facts["test"]["images"][0]
    image = dataset.image(index[stem])
    sample = with_channels(image, channels)
    x = centre_window(sample, patch)
    pct = model_percentiles(info)
    y = np.asarray(model(normalize_image(x[0], percentiles=pct)[None], training=False), np.float32)
    np.save(tmp / "test_input.npy", x)
    np.save(tmp / "test_output.npy", y)
    probs = predict_probabilities(model, normalize_image(sample, percentiles=pct), patch)
    _write_tiff(tmp / "sample_input.tif", sample)
    _write_tiff(tmp / "sample_output.tif", probs.astype(np.float32))
    _write_cover(tmp / "cover.png", preview_rgb(image), overlay(image, probs.argmax(-1)))

    serve = serving_function(model, channels)
    save_saved_model_zip(model, serve, tmp / SAVED_MODEL_FILE)
    onnx = to_onnx(model, channels, serve)
    (tmp / ONNX_FILE).write_bytes(onnx)
    (tmp / "README.md").write_text(model_card(info, dataset, facts, stem))
    rdf = description(info, dataset, facts, params, {p.name: _sha256(p) for p in tmp.iterdir()})
    (tmp / "rdf.yaml").write_text(yaml.safe_dump(rdf, sort_keys=False, allow_unicode=True))

    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    zip_folder(out, out.with_suffix(".zip"))
    return out, onnx


def with_channels(image: np.ndarray, channels: int) -> np.ndarray:
    """A raw ``(H, W, C)`` image with the model's channel count, unified as
    :func:`normalize_image` does (grey repeated, colour averaged for 1 channel, extra dropped)."""
    img = image if image.ndim == 3 else image[..., None]
    if img.shape[-1] == channels:
        return img
    if img.shape[-1] == 1:
        return np.repeat(img, channels, axis=-1)
    if channels == 1:
        return img.mean(axis=-1, keepdims=True, dtype=np.float32)
    return img[..., :channels]


def centre_window(image: np.ndarray, patch: int) -> np.ndarray:
    """``(1, patch, patch, C)`` float32: the centre window of a raw ``(H, W, C)`` image
    (symmetric padding where it is smaller)."""
    img = pad_to(image, patch, patch)
    top, left = (img.shape[0] - patch) // 2, (img.shape[1] - patch) // 2
    return img[None, top:top + patch, left:left + patch].astype(np.float32)


def _write_tiff(path: Path, image: np.ndarray) -> None:
    """``(H, W, C)`` as a TIFF that Fiji opens naturally: RGB for 8-bit colour, else one page
    per channel."""
    import tifffile

    if image.shape[-1] == 3 and image.dtype == np.uint8:
        tifffile.imwrite(path, image, photometric="rgb")
    else:
        pages = image[..., 0] if image.shape[-1] == 1 else np.moveaxis(image, -1, 0)
        tifffile.imwrite(path, pages, photometric="minisblack")


def _write_cover(path: Path, rgb: np.ndarray, preview: np.ndarray, side: int = 256) -> None:
    """Cover (2:1): the image (RGB, 0..255) beside its predicted overlay, square centre crops."""
    import imageio.v3 as iio
    from skimage.transform import resize

    h, w = rgb.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2

    def square(a: np.ndarray) -> np.ndarray:
        crop = a[top:top + s, left:left + s].astype(np.float32)
        return resize(crop, (side, side, 3), anti_aliasing=s > side, preserve_range=True)

    pair = np.concatenate([square(rgb), square(preview)], axis=1)
    iio.imwrite(path, pair.clip(0, 255).astype(np.uint8))


def description(info: dict, dataset, facts: dict, params: dict, sha: dict[str, str]) -> dict:
    """The ``rdf.yaml`` content (bioimage.io model description 0.5)."""
    import tf2onnx
    from bioimageio.spec.model.v0_5 import ModelDescr

    from aixcell_automl import __version__
    from aixcell_automl._env import tensorflow

    tf, _, _ = tensorflow()

    patch, channels = int(info["patch_size"]), int(info["channels"])
    low, high = model_percentiles(info)
    classes = list(info.get("class_names") or range(int(info["num_classes"])))
    technique = dataset.metadata.get("technique") or "microscopy"
    halo = patch // 8

    def space_out(axis: str) -> dict:
        return {"type": "space", "id": axis, "size": {"tensor_id": INPUT_NAME, "axis_id": axis},
                "halo": halo}

    return {
        "type": "model",
        "format_version": ModelDescr.implemented_format_version,
        "name": re.sub(r"[^A-Za-z0-9_+\- ()]", "_",
                       f"AIxCell U-Net {info['backbone']} {info.get('dataset', '')}".strip())[:64],
        "description": (f"Semantic segmentation of {technique} images into "
                        f"{', '.join(map(str, classes))}: a U-Net with a {info['backbone']} "
                        f"encoder, configured and trained by aixcell-automl."),
        "authors": list(params["authors"]),
        "cite": citations(dataset),
        "license": params["license"],
        "tags": ["segmentation", "semantic-segmentation", "unet", "2d", info["backbone"],
                 "aixcell-automl", *(["fluorescence"] if "fluoresc" in technique.lower() else [])],
        "documentation": _file("README.md", sha),
        "covers": [_file("cover.png", sha)],
        "timestamp": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "inputs": [{
            "id": INPUT_NAME,
            "description": f"raw image, {channels} channel(s), any intensity range; windows of "
                           f"{patch} x {patch} px",
            "axes": [{"type": "batch"},
                     {"type": "space", "id": "y", "size": patch},
                     {"type": "space", "id": "x", "size": patch},
                     {"type": "channel", "channel_names": [f"channel{i}" for i in
                                                          range(channels)]}],
            "data": {"type": "float32"},
            "test_tensor": _file("test_input.npy", sha),
            "sample_tensor": _file("sample_input.tif", sha),
            "preprocessing": [
                {"id": "ensure_dtype", "kwargs": {"dtype": "float32"}},
                {"id": "scale_range", "kwargs": {"axes": ["y", "x"],
                                                 "min_percentile": low,
                                                 "max_percentile": high}},
                {"id": "clip", "kwargs": {"min": 0.0, "max": 1.0}},
                {"id": "ensure_dtype", "kwargs": {"dtype": "float32"}},
            ],
        }],
        "outputs": [{
            "id": OUTPUT_NAME,
            "description": "softmax probability per class; the label mask is the argmax over "
                           "the channel axis (0 = " + str(classes[0]) + ")",
            "axes": [{"type": "batch"}, space_out("y"), space_out("x"),
                     {"type": "channel", "channel_names": [str(c) for c in classes]}],
            "data": {"type": "float32", "range": [0.0, 1.0]},
            "test_tensor": _file("test_output.npy", sha),
            "sample_tensor": _file("sample_output.tif", sha),
        }],
        "weights": {
            "tensorflow_saved_model_bundle": {
                **_file(SAVED_MODEL_FILE, sha),
                "tensorflow_version": tf.__version__,
                "comment": "signature serving_default: image -> probabilities (NHWC)"},
            "onnx": {
                **_file(ONNX_FILE, sha), "opset_version": OPSET,
                "parent": "tensorflow_saved_model_bundle",
                "comment": f"converted with tf2onnx {tf2onnx.__version__}"},
        },
        "config": {"aixcell_automl": {
            "version": __version__, "backbone": info["backbone"], "patch_size": patch,
            "configuration": info.get("config"), "dataset": info.get("dataset"),
            "dataset_hash": info.get("dataset_hash"), "trained_by": facts["source"],
            "test_iou": facts["test"]["mean_iou"]}},
    }


def _file(name: str, sha: dict[str, str]) -> dict:
    return {"source": name, "sha256": sha[name]}


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
