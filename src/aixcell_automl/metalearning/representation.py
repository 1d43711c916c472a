"""Feature representations for meta-models: configuration vector + dataset meta-features.

A representation is a list of *families*:

* ``hp`` - the encoded configuration (:func:`aixcell_automl.search_space.encode_configs`)
* ``hc`` - handcrafted dataset features, ``ug`` - user-given ones
* ``en`` - engineered (dataset x configuration) features, the five formulas of SPEC §4
* ``rad_pca`` - radiomics PCA components; ``rad_sim`` - cosine similarity to each *training*
  dataset; ``en_rad`` - radiomics PCA components x (learning rate, backbone, classes)
* ``rad_raw`` - the full normalised radiomics vector

:data:`REPRESENTATIONS` holds the 11 combinations studied (thesis Figure 21).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from aixcell_automl.metafeatures.engineered import engineered_features
from aixcell_automl.search_space import encode_configs

REPRESENTATIONS: dict[str, tuple[str, ...]] = {
    "hp": ("hp",),
    "hp+hc": ("hp", "hc"),
    "hp+hc+en": ("hp", "hc", "en"),
    "hp+hc+en+ug": ("hp", "hc", "en", "ug"),
    "hp+rad_pca": ("hp", "rad_pca"),
    "hp+rad_sim": ("hp", "rad_sim"),
    "hp+en_rad": ("hp", "en_rad"),
    "hp+hc+en+rad_pca": ("hp", "hc", "en", "rad_pca"),
    "hp+hc+en+ug+rad_pca+en_rad": ("hp", "hc", "en", "ug", "rad_pca", "en_rad"),
    "hp+rad_raw": ("hp", "rad_raw"),
    "hp+hc+en+ug+rad_raw": ("hp", "hc", "en", "ug", "rad_raw"),
}


def _backbone_factor(name: str) -> float:
    from aixcell_automl.plugins.registry import backbones

    bb = backbones().get(name)
    return bb.size_factor if bb else 1.0


def config_of(row: Mapping) -> dict:
    """The configuration of a meta-base row (``hp_*`` columns) or of a plain config dict."""
    if any(k.startswith("hp_") for k in row):
        return {k[3:]: v for k, v in row.items() if k.startswith("hp_")}
    return {k: v for k, v in row.items() if k != "config_id"}


def build_matrix(configs: Sequence[Mapping], datasets: Sequence[str], meta_features: pd.DataFrame,
                 space: Mapping[str, list], representation: str | Sequence[str],
                 train_datasets: Sequence[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """Rows = (configuration, dataset) pairs; ``meta_features`` is indexed by dataset name.

    ``train_datasets`` names the datasets whose similarity columns ``rad_sim`` uses (the
    meta-model's training datasets, so a held-out dataset never sees itself).
    """
    families = REPRESENTATIONS[representation] if isinstance(representation, str) else tuple(
        representation)
    cfgs = [config_of(c) for c in configs]
    blocks, cols = [], []
    if "hp" in families:
        X, names = encode_configs(cfgs, space)
        blocks.append(X)
        cols += names
    mf = meta_features.loc[list(datasets)]

    def take(prefix: str, exclude: str | None = None) -> None:
        names = [c for c in meta_features.columns if c.startswith(prefix)
                 and not (exclude and c.startswith(exclude))]
        blocks.append(mf[names].to_numpy(float))
        cols.extend(names)

    if "hc" in families:
        take("hc_")
    if "ug" in families:
        take("ug_")
    if "rad_pca" in families:
        take("rad_pca_")
    if "rad_raw" in families:
        take("radn_")
    if "rad_sim" in families:
        names = [f"sim_{d}" for d in (train_datasets or [])]
        blocks.append(mf[names].to_numpy(float))
        cols += names
    if "en" in families or "en_rad" in families:
        rows = []
        for cfg, (_, m) in zip(cfgs, mf.iterrows(), strict=True):
            rad = {c: m[c] for c in meta_features.columns if c.startswith("rad_pca_")} if (
                "en_rad" in families) else None
            e = engineered_features(m, cfg, _backbone_factor(cfg["backbone"]), radiomics=rad)
            if "en" not in families:
                e = {k: v for k, v in e.items() if k.startswith("en_rad_")}
            elif "en_rad" not in families:
                e = {k: v for k, v in e.items() if not k.startswith("en_rad_")}
            rows.append(e)
        names = list(rows[0]) if rows else []
        blocks.append(np.array([[r[n] for n in names] for r in rows], float).reshape(len(rows),
                                                                                      len(names)))
        cols += names
    X = np.hstack(blocks) if blocks else np.zeros((len(cfgs), 0))
    return np.nan_to_num(X, nan=0.0, posinf=0.0, neginf=0.0), cols


def meta_feature_frame(table: pd.DataFrame, target: Mapping | None = None) -> pd.DataFrame:
    """Meta-features indexed by dataset name, with the ``target`` dataset's row added (or
    replacing a row of the same name).

    Radiomics-derived columns are recomputed for every row in one radiomics space (normalisation
    + PCA) fitted on the table's datasets *other than the target*: ``rad_pca_*``, ``sim_<d>``
    (similarity to each of those datasets) and ``radn_*`` (the normalised raw vector).
    """
    from aixcell_automl.metafeatures.radiomics import RadiomicsSpace, raw_radiomics_columns

    df = table.set_index("dataset") if "dataset" in table.columns else table.copy()
    if target is not None:
        row = {k: v for k, v in target.items() if k != "dataset"}
        df = df.drop(index=target["dataset"], errors="ignore")
        df = pd.concat([df, pd.DataFrame([row], index=[target["dataset"]])], axis=0)
    raw = raw_radiomics_columns(df.columns)
    ref = df.drop(index=target["dataset"]) if target is not None else df
    if not raw or len(ref) < 2 or df[raw].isna().all(axis=1).any():
        return df
    space = RadiomicsSpace.fit(ref[raw])
    derived = [c for c in df.columns if c.startswith(("rad_pca_", "sim_", "radn_"))]
    z = space._normalise(df[raw])
    return pd.concat([df.drop(columns=derived), space.pca(df[raw]), space.similarity(df[raw]),
                      pd.DataFrame(z, index=df.index, columns=[f"radn_{c[4:]}" for c in raw])],
                     axis=1)
