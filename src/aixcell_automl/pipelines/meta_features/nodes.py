"""Nodes of the ``meta_features`` pipeline (docs/method.md §4): one row of meta-features per
dataset."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from aixcell_automl.metafeatures.radiomics import (
    RadiomicsSpace,
    normalize_table,
    raw_radiomics_columns,
)
from aixcell_automl.report.figures import pyplot

log = logging.getLogger(__name__)

ID_COLUMNS = ("dataset", "dataset_hash")


def extract_meta_features(datasets_root: Path, cache: Path | None, params: dict
                          ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every registered extractor on every listed dataset (folders of ``datasets_root``, the
    catalog's ``shared_datasets``), cached in ``cache`` (``meta_feature_cache``) unless
    ``params['cache']`` is false.

    Returns the raw table (one row per dataset: ``dataset``, ``dataset_hash``, ``hc_*``, ``ug_*``,
    ``rad_*``, ...) and the image-level radiomics table (``dataset``, ``image``, ``rad_*``) of the
    radiomics sample.
    """
    from aixcell_automl.core.dataset import load_dataset
    from aixcell_automl.metafeatures.table import extract_dataset_features, image_radiomics_table

    root = Path(datasets_root)
    cache_dir = cache if params["cache"] else None
    rows, images = [], []
    for name in params["datasets"]:
        t0 = time.perf_counter()
        ds = load_dataset(root / name)
        h = ds.content_hash()
        img = image_radiomics_table(ds, params, cache_dir=cache_dir, dataset_hash=h)
        images.append(img.reset_index().assign(dataset=ds.name))
        rows.append(extract_dataset_features(ds, params, cache_dir=cache_dir, dataset_hash=h))
        log.info("meta-features of %s (%d images): %.1f s", ds.name, len(ds),
                 time.perf_counter() - t0)
    raw = order_columns(pd.DataFrame(rows))
    image_table = pd.concat(images, ignore_index=True)
    image_table = image_table[["dataset", "image",
                               *sorted(c for c in image_table if c.startswith("rad_"))]]
    return raw, image_table


def order_columns(table: pd.DataFrame) -> pd.DataFrame:
    """``dataset``, ``dataset_hash``, then the feature families in a fixed order."""
    prefixes = ("hc_", "ug_", "rad_pca_", "rad_", "sim_")
    ids = [c for c in ID_COLUMNS if c in table]
    groups = {p: [] for p in prefixes}
    rest = []
    for c in table.columns:
        if c in ids:
            continue
        p = next((p for p in prefixes if c.startswith(p)), None)
        (groups[p] if p else rest).append(c)
    raw_rad = sorted(groups["rad_"])
    tail = [*groups["rad_pca_"], *groups["sim_"]]
    return table[[*ids, *groups["hc_"], *groups["ug_"], *sorted(rest), *raw_rad, *tail]]


def add_radiomics_space(raw: pd.DataFrame, params: dict) -> pd.DataFrame:
    """Append ``rad_pca_1..n`` and ``sim_<dataset>`` computed across the table's datasets."""
    n = int(params["n_components"])
    table = raw.set_index("dataset")
    rad = table[raw_radiomics_columns(table.columns)]
    space = RadiomicsSpace.fit(rad, n)
    out = pd.concat([table, space.pca(rad), space.similarity(rad)], axis=1).reset_index()
    return order_columns(out)


def _pca_2d(x: np.ndarray) -> np.ndarray:
    """First two principal-component scores (sign: largest loading positive; zero-padded)."""
    x = x - x.mean(axis=0)
    comps = np.linalg.svd(x, full_matrices=False)[2][:2].copy()
    for c in comps:
        if c[np.argmax(np.abs(c))] < 0:
            c *= -1
    p = x @ comps.T
    return np.pad(p, ((0, 0), (0, 2 - p.shape[1])))


def image_embedding(image_table: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """2-D PCA of the image-level radiomics vectors, raw and z-scored per feature (missing
    values count as the feature mean)."""
    feats = image_table[raw_radiomics_columns(image_table.columns)].astype(float)
    raw = feats.replace([np.inf, -np.inf], np.nan)
    raw = raw.fillna(raw.mean()).fillna(0.0).to_numpy()
    z = normalize_table(feats)[0].to_numpy()
    out = {}
    for label, x in (("raw", raw), ("normalised", z)):
        p = _pca_2d(x)
        out[label] = pd.DataFrame({"dataset": image_table["dataset"].to_numpy(),
                                   "pc1": p[:, 0], "pc2": p[:, 1]})
    return out


def plot_image_embedding(image_table: pd.DataFrame):
    """Image-level radiomics vectors in 2-D (PCA), coloured by dataset, without and with
    feature-wise normalisation."""
    plt = pyplot()
    emb = image_embedding(image_table)
    names = list(dict.fromkeys(image_table["dataset"]))
    cmap = plt.get_cmap("tab20")
    markers = "osD^v<>ph*"
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.5))
    titles = {"raw": "raw features (no normalisation)",
              "normalised": "feature-wise z-score normalisation"}
    for ax, (label, e) in zip(axes, emb.items(), strict=True):
        for i, name in enumerate(names):
            sel = e[e["dataset"] == name]
            ax.scatter(sel["pc1"], sel["pc2"], s=18, color=cmap(i % 20),
                       marker=markers[i % len(markers)], alpha=0.8, label=name)
        ax.set_title(f"PCA of image radiomics: {titles[label]}")
        ax.set_xlabel("PC 1")
        ax.set_ylabel("PC 2")
    axes[1].legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def plot_similarity_heatmap(meta_features: pd.DataFrame):
    """Cosine distance (1 - similarity) between the datasets' normalised radiomics vectors."""
    plt = pyplot()
    names = list(meta_features["dataset"])
    sim = meta_features[[f"sim_{n}" for n in names]].to_numpy(float)
    dist = 1.0 - sim
    fig, ax = plt.subplots(figsize=(1.0 + 0.6 * len(names), 0.6 + 0.55 * len(names)))
    im = ax.imshow(dist, cmap="viridis", vmin=0, vmax=2)
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    for i in range(len(names)):
        for j in range(len(names)):
            ax.text(j, i, f"{dist[i, j]:.2f}", ha="center", va="center", fontsize=6,
                    color="white" if dist[i, j] < 1.0 else "black")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="cosine distance")
    ax.set_title("Radiomics cosine distance between datasets")
    fig.tight_layout()
    return fig
