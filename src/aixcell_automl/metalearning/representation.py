"""Feature representations for meta-models: configuration vector + dataset meta-features.

A representation is a ``+``-joined list of *families*:

* ``hp`` - the encoded configuration (:func:`aixcell_automl.core.search_space.encode_configs`)
* one family per registered meta-feature extractor, named by its declared prefix without the
  ``_`` (:func:`extractor_families`): the built-ins give ``hc`` (handcrafted), ``ug``
  (user-given) and ``rad`` (raw radiomics); a plugin's extractor with prefix ``tex_`` gives
  ``tex``, so ``"hp+hc+tex"`` feeds its features to the meta-model
* ``en`` - engineered (dataset x configuration) features, the five formulas of docs/method.md §4
* derived from the radiomics features by :func:`meta_feature_frame`: ``rad_pca`` - radiomics PCA
  components; ``rad_sim`` - cosine similarity to each *training* dataset; ``en_rad`` - radiomics
  PCA components x (learning rate, backbone, classes); ``rad_raw`` - the full normalised
  radiomics vector

:data:`REPRESENTATIONS` holds the 11 combinations studied (thesis Figure 21);
:func:`representations` adds two for each plugin extractor family the 11 do not use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from aixcell_automl.core.search_space import encode_configs
from aixcell_automl.metafeatures.engineered import engineered_features

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
# families the core computes -> the extractor family they are computed from (None: none)
DERIVED: dict[str, str | None] = {"hp": None, "en": "hc", "rad_pca": "rad", "rad_raw": "rad",
                                  "rad_sim": "rad", "en_rad": "rad"}
# column prefixes of the derived families; an extractor prefix may not start with one
DERIVED_COLUMNS = {"en": "en_", "rad_pca": "rad_pca_", "rad_raw": "radn_", "rad_sim": "sim_"}
# the study's representation that a plugin family is added to (besides ``hp``)
EXTENDED = "hp+hc+en+ug+rad_pca+en_rad"


def extractor_families() -> dict[str, str]:
    """``{family: column prefix}`` of every registered meta-feature extractor, in registration
    order; a family clashing with a derived one is a :class:`PluginError`."""
    from aixcell_automl.plugins.registry import PluginError, metafeature_extractors

    out = {}
    for name, spec in metafeature_extractors().items():
        taken = [d for d, col in DERIVED_COLUMNS.items() if spec.prefix.startswith(col)]
        if spec.family in DERIVED or taken:
            raise PluginError(f"meta-feature extractor {name!r}: prefix {spec.prefix!r} clashes "
                              f"with the derived family {(taken or [spec.family])[0]!r}; "
                              f"reserved: {sorted(DERIVED)} and prefixes "
                              f"{sorted(DERIVED_COLUMNS.values())}")
        out[spec.family] = spec.prefix
    return out


def representations() -> dict[str, tuple[str, ...]]:
    """:data:`REPRESENTATIONS` plus ``hp+F`` and ``EXTENDED+F`` for every extractor family
    ``F`` they do not use (directly or derived): what ``meta_learning.representations: null``
    studies."""
    used = {f for fams in REPRESENTATIONS.values() for f in fams} | {
        s for s in DERIVED.values() if s}
    out = dict(REPRESENTATIONS)
    for fam in extractor_families():
        if fam not in used:
            out[f"hp+{fam}"] = ("hp", fam)
            out[f"{EXTENDED}+{fam}"] = (*REPRESENTATIONS[EXTENDED], fam)
    return out


def parse_representation(representation: str | Sequence[str]) -> tuple[str, ...]:
    """The families of a representation name (``"hp+hc+tex"``) or sequence, checked against
    the derived and the registered extractor families."""
    fams = tuple(representation.split("+") if isinstance(representation, str)
                 else representation)
    extractors = extractor_families()
    known = [*DERIVED, *extractors]
    for fam in fams:
        if fam not in known:
            raise ValueError(f"representation {representation!r}: unknown family {fam!r}; "
                             f"known: {known} (one per meta-feature extractor prefix)")
        need = DERIVED.get(fam)
        if need and need not in extractors:
            raise ValueError(f"representation {representation!r}: {fam!r} needs the "
                             f"{need!r} meta-features, which no extractor registers")
    return fams


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

    Blocks come in a fixed order whatever the order of the families: ``hp``, the extractor
    families (registration order), ``rad_pca``, ``rad_raw``, ``rad_sim``, then the engineered
    ones. ``train_datasets`` names the datasets whose similarity columns ``rad_sim`` uses (the
    meta-model's training datasets, so a held-out dataset never sees itself).
    """
    families = parse_representation(representation)
    cfgs = [config_of(c) for c in configs]
    blocks, cols = [], []
    if "hp" in families:
        X, names = encode_configs(cfgs, space)
        blocks.append(X)
        cols += names
    mf = meta_features.loc[list(datasets)]
    prefixes = {**extractor_families(), **{f: DERIVED_COLUMNS[f] for f in ("rad_pca", "rad_raw")}}
    for fam, prefix in prefixes.items():
        if fam in families:
            longer = [p for p in prefixes.values() if p != prefix and p.startswith(prefix)]
            names = [c for c in meta_features.columns if c.startswith(prefix)
                     and not c.startswith(tuple(longer))]
            blocks.append(mf[names].to_numpy(float))
            cols.extend(names)
    if "rad_sim" in families:
        names = [f"sim_{d}" for d in (train_datasets or [])]
        blocks.append(mf[names].to_numpy(float))
        cols += names
    if "en" in families or "en_rad" in families:
        from aixcell_automl.plugins.registry import augmentations

        augs = tuple(augmentations())
        rows = []
        for cfg, (_, m) in zip(cfgs, mf.iterrows(), strict=True):
            rad = {c: m[c] for c in meta_features.columns if c.startswith("rad_pca_")} if (
                "en_rad" in families) else None
            e = engineered_features(m, cfg, _backbone_factor(cfg["backbone"]), augs,
                                    radiomics=rad)
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
