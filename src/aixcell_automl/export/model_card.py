"""The package's documentation page (``README.md``) and its citations.

``facts`` describe how the model came to be (see :mod:`aixcell_automl.pipelines.export.nodes`):
``source`` (``search`` or ``train``), ``test`` (split, image stems, mean and per-class IoU) and,
for a search, ``search`` (budget, wall time, k, meta-model, meta-base size, winner's rank).
"""

from __future__ import annotations

import re

THESIS = {"text": "Roberg J.-H. (2022) Towards meta-learning based, domain specific AutoML "
                  "systems in the example domain of cellular image analyses. Master's thesis, "
                  "University of Groningen (the method aixcell-automl implements).",
          "url": "https://studenttheses.ub.rug.nl/"}
SEGMENTATION_MODELS = {"text": "Iakubovskii P. (2019) Segmentation Models. GitHub repository "
                               "(the U-Net and encoder implementation).",
                       "url": "https://github.com/qubvel/segmentation_models"}
UNET = {"text": "Ronneberger O., Fischer P., Brox T. (2015) U-Net: Convolutional networks for "
                "biomedical image segmentation. MICCAI 2015.",
        "doi": "10.1007/978-3-319-24574-4_28"}
RESNET = {"text": "He K., Zhang X., Ren S., Sun J. (2016) Deep residual learning for image "
                  "recognition. CVPR 2016 (the encoder).",
          "doi": "10.1109/CVPR.2016.90"}
_DOI = re.compile(r"\b10\.\d{4,9}/[^\s;,()]+")


def dataset_citation(metadata: dict) -> dict | None:
    """The dataset's own ``citation`` (``dataset.yaml``) as a bioimage.io cite entry: with the
    DOI found in its text, else the source repository's address; ``None`` without either."""
    text = metadata.get("citation")
    if not text:
        return None
    text = " ".join(str(text).split())
    doi = _DOI.search(text)
    if doi:
        return {"text": f"Training data: {text}", "doi": doi.group(0).rstrip(".")}
    source = metadata.get("source")
    repo = source.get("repository") if isinstance(source, dict) else None
    if repo:
        return {"text": f"Training data: {text}", "url": f"https://github.com/{repo}"}
    return None


def citations(dataset) -> list[dict]:
    """Thesis, segmentation-models, U-Net, ResNet and (where it can be cited) the dataset."""
    own = dataset_citation(dataset.metadata)
    return [THESIS, SEGMENTATION_MODELS, UNET, RESNET, *([own] if own else [])]


def _iou_table(test: dict) -> str:
    rows = [f"| {name} | {'n/a' if v is None else f'{v:.3f}'} |"
            for name, v in test["per_class_iou"].items()]
    return "\n".join(["| class | IoU |", "|---|---:|", *rows])


def _provenance(facts: dict, info: dict) -> str:
    cfg = info.get("config") or {}
    conf = ", ".join(f"{k} {cfg[k]}" for k in ("backbone", "patch_size", "batch_size",
                                                "learning_rate", "flip", "brightness_blur",
                                                "grid_distortion") if k in cfg)
    lines = [f"Configuration: {conf}." if conf else ""]
    s = facts.get("search")
    if s:
        lines.append(
            f"Found by the aixcell-automl search: a meta-model ({s['meta_model']}, "
            f"representation {s['representation']}) trained on a meta-base of "
            f"{s['metabase_rows']} evaluated configurations from {s['metabase_datasets']} other "
            f"datasets ranked all {s['n_configs']} configurations of the search space; "
            f"{s.get('strategy', 'successive_halving')} trained the top {s['k']} within a "
            f"budget of "
            f"{s['budget_seconds'] / 60:.1f} min ({s['wall_seconds'] / 60:.1f} min wall time on "
            f"{s['hardware']}). This configuration was ranked {s['winner_rank']}.")
    elif facts["source"] == "search":
        lines.append("Found by an aixcell-automl search whose report was not available at "
                     "export, so its budget and meta-base are not given here.")
    else:
        lines.append("Trained by the aixcell-automl `train` pipeline (one configuration, no "
                     "search, no meta-base).")
    if info.get("best_val_score") is not None:
        lines.append(f"Best validation IoU during training: {float(info['best_val_score']):.3f}.")
    return "\n".join(x for x in lines if x)


def model_card(info: dict, dataset, facts: dict, test_stem: str) -> str:
    """Markdown documentation of the package."""
    from aixcell_automl import __version__
    from aixcell_automl.training.plan_settings import model_percentiles

    meta = dataset.metadata
    classes = info.get("class_names") or [str(i) for i in range(int(info["num_classes"]))]
    patch, channels = int(info["patch_size"]), int(info["channels"])
    low, high = model_percentiles(info)
    test = facts["test"]
    technique = meta.get("technique") or "microscopy"
    data_cite = meta.get("citation") or "none given in dataset.yaml"
    licence = meta.get("licence") or meta.get("license") or "not stated in dataset.yaml"
    uncited = (" The dataset's citation has neither a DOI nor an address, so it is given here "
               "only, not in the package's citations." if meta.get("citation")
               and not dataset_citation(meta) else "")
    return f"""# U-Net ({info['backbone']}) for {dataset.name}

Semantic segmentation of {technique} images
({meta.get('object_of_interest') or 'objects'}) into {len(classes)} classes:
{', '.join(f'{i} = {c}' for i, c in enumerate(classes))}. Made by aixcell-automl
{__version__}, an AutoML system for segmentation of microscopy images.

## Use

- **Input**: an image with {channels} channel(s) (axes y, x, channel), any bit depth. Each image
  is scaled per channel from its own percentile {low:g} to percentile {high:g} to [0, 1] and
  clipped (the package's preprocessing does this; do not normalise beforehand).
- **Output**: one probability map per class (softmax); the label mask is the class with the
  highest probability (argmax over channels).
- **Tiling**: the model was trained on {patch} x {patch} px windows and is described with that
  window size; tools tile larger images and drop a halo of {patch // 8} px per side, so windows
  overlap by a quarter. Larger windows were measured to cost accuracy.
- **Weights**: TensorFlow SavedModel (`weights_tf_saved_model.zip`) and ONNX (`weights.onnx`).

## Training

Dataset: **{dataset.name}** ({len(dataset)} images, {technique}). Citation: {data_cite}.
Licence of the data: {licence}.{uncited}

{_provenance(facts, info)}

## Validation

Intersection over union (IoU) on {len(test['images'])} held-out {test['split']} image(s), whole
images with the sliding-window inference of aixcell-automl:
**mean IoU {test['mean_iou']:.3f}** (mean over foreground classes).

{_iou_table(test)}

The test tensors (`test_input.npy`, a {patch} x {patch} window of the {test['split']} image
`{test_stem}` in raw intensities, and `test_output.npy`, the model's output for it) let
`bioimageio test rdf.yaml` check that a runtime reproduces the model.

## Limitations

Trained on one dataset; expect lower accuracy on images from other instruments, stains or
magnifications, and check the masks before quantifying anything.
"""
