"""Fit a meta-model on meta-base rows and rank every configuration for a dataset."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from aixcell_automl.metalearning.representation import build_matrix

log = logging.getLogger(__name__)


def deciles(values: pd.Series) -> pd.Series:
    """Per-dataset decile labels 1..10 of a score (ties share the lower decile)."""
    ranks = values.rank(method="min", pct=True)
    return np.ceil(ranks * 10).clip(1, 10).astype(int)


def training_rows(metabase: pd.DataFrame, exclude: Sequence[str] = (),
                  fidelity_pixels: int | None = None, metric: str = "iou",
                  protocol: str | None = None) -> pd.DataFrame:
    """ok rows of one meta-base ``protocol`` (None: any) and fidelity (None: every fixed-pixel
    fidelity) scored by ``metric`` (rows without a ``metric`` field are IoU rows), outliers
    removed (docs/metabase.md), without the ``exclude`` datasets, sorted by dataset."""
    from aixcell_automl.metabase import remove_outliers

    df = metabase
    if protocol is not None:
        df = df[(df["protocol"].fillna("v1") if "protocol" in df else "v1") == protocol]
    if "fidelity" in df:  # search rows (fidelity "halving") have no fixed training length
        df = df[df["fidelity"].fillna("pixels") == "pixels"]
    if fidelity_pixels is not None and "fidelity_pixels" in df:
        df = df[df["fidelity_pixels"] == fidelity_pixels]
    scored_by = df["metric"].fillna("iou") if "metric" in df else pd.Series("iou", df.index)
    df = df[scored_by == metric]
    df = df[~df["dataset"].isin(list(exclude))]
    if df.empty:
        return df
    return remove_outliers(df).sort_values(["dataset", "fidelity_pixels", "config_id"]
                                           ).reset_index(drop=True)


def log2_fidelity(pixels) -> np.ndarray:
    """The fidelity input of a meta-model: log2 of the training pixels."""
    return np.log2(np.asarray(pixels, float))


@dataclass
class FittedMetaModel:
    """A trained meta-model and what it needs to score new (configuration, dataset) pairs."""

    model_name: str
    representation: str
    target: str
    estimator: object
    train_datasets: list[str]
    columns: list[str]
    n_rows: int
    space: dict = field(default_factory=dict)
    fidelities: list[int] = field(default_factory=list)  # >1: log2 fidelity is an input

    @property
    def fidelity_aware(self) -> bool:
        return len(self.fidelities) > 1

    def score(self, configs: Sequence[Mapping], dataset: str, meta_features: pd.DataFrame,
              fidelity_pixels=None) -> np.ndarray:
        """Predicted scores of ``configs`` on ``dataset``; a fidelity-aware model predicts each
        at ``fidelity_pixels`` (one value or one per configuration; default: the top fidelity
        it was trained on)."""
        X, cols = build_matrix(configs, [dataset] * len(configs), meta_features, self.space,
                               self.representation, self.train_datasets)
        assert cols == self.columns, "feature columns differ from training"
        if self.fidelity_aware:
            fid = max(self.fidelities) if fidelity_pixels is None else fidelity_pixels
            X = np.column_stack([X, np.broadcast_to(log2_fidelity(fid), len(X))])
        return np.asarray(self.estimator.predict(X), float)


def fit_meta_model(rows: pd.DataFrame, meta_features: pd.DataFrame, space: Mapping[str, list],
                   model_name: str = "random_forest", representation: str = "hp+hc+en",
                   target: str = "iou", seed: int = 0) -> FittedMetaModel:
    """Train a registered meta-model on meta-base ``rows`` (see :func:`training_rows`).

    Rows of several fidelities make a fidelity-aware model: log2 of the fidelity is an extra
    input, deciles are taken within each (dataset, fidelity), and a ranker's query groups are
    the (dataset, fidelity) pairs."""
    from aixcell_automl.plugins.registry import get

    spec = get("metamodel", model_name)
    rows = rows.sort_values(["dataset", "fidelity_pixels", "config_id"]).reset_index(drop=True)
    datasets = sorted(rows["dataset"].unique())
    fidelities = sorted(int(f) for f in rows["fidelity_pixels"].unique())
    X, cols = build_matrix(rows.to_dict("records"), rows["dataset"].tolist(), meta_features,
                           space, representation, datasets)
    if len(fidelities) > 1:
        X = np.column_stack([X, log2_fidelity(rows["fidelity_pixels"])])
    groups = rows.groupby(["dataset", "fidelity_pixels"], sort=True)
    y = rows["val_iou"].to_numpy(float) if target == "iou" else groups["val_iou"].transform(
        deciles).to_numpy(float)
    est = spec.make(seed)
    if spec.kind == "ranker":
        est.fit(X, y, group=groups.size().tolist())
    else:
        est.fit(X, y)
    return FittedMetaModel(model_name, representation, target, est, datasets, cols, len(rows),
                           dict(space), fidelities)


def rank_configurations(fitted: FittedMetaModel, configs: Sequence[Mapping], dataset: str,
                        meta_features: pd.DataFrame, fidelity_pixels=None) -> pd.DataFrame:
    """All ``configs`` with their predicted score and rank (1 = best), best first; a
    fidelity-aware model scores each at its ``fidelity_pixels`` (see
    :meth:`FittedMetaModel.score`), recorded in the column ``fidelity_pixels``."""
    scores = fitted.score(configs, dataset, meta_features, fidelity_pixels)
    df = pd.DataFrame([dict(c) for c in configs])
    df["predicted_score"] = scores
    if fitted.fidelity_aware:
        fid = max(fitted.fidelities) if fidelity_pixels is None else fidelity_pixels
        df["fidelity_pixels"] = np.broadcast_to(np.asarray(fid, float), len(df)).round()
    df = df.sort_values(["predicted_score", "config_id"], ascending=[False, True])
    df["rank"] = np.arange(1, len(df) + 1)
    return df.reset_index(drop=True)
