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
                  fidelity_pixels: int | None = None) -> pd.DataFrame:
    """ok rows, outliers removed (SPEC §5), without the ``exclude`` datasets, sorted by dataset."""
    from aixcell_automl.metabase import remove_outliers

    df = metabase
    if fidelity_pixels is not None and "fidelity_pixels" in df:
        df = df[df["fidelity_pixels"] == fidelity_pixels]
    df = df[~df["dataset"].isin(list(exclude))]
    if df.empty:
        return df
    return remove_outliers(df).sort_values(["dataset", "config_id"]).reset_index(drop=True)


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

    def score(self, configs: Sequence[Mapping], dataset: str, meta_features: pd.DataFrame
              ) -> np.ndarray:
        X, cols = build_matrix(configs, [dataset] * len(configs), meta_features, self.space,
                               self.representation, self.train_datasets)
        assert cols == self.columns, "feature columns differ from training"
        return np.asarray(self.estimator.predict(X), float)


def fit_meta_model(rows: pd.DataFrame, meta_features: pd.DataFrame, space: Mapping[str, list],
                   model_name: str = "random_forest", representation: str = "hp+hc+en",
                   target: str = "iou", seed: int = 0) -> FittedMetaModel:
    """Train a registered meta-model on meta-base ``rows`` (see :func:`training_rows`)."""
    from aixcell_automl.plugins.registry import get

    spec = get("metamodel", model_name)
    datasets = sorted(rows["dataset"].unique())
    X, cols = build_matrix(rows.to_dict("records"), rows["dataset"].tolist(), meta_features,
                           space, representation, datasets)
    y = rows["val_iou"].to_numpy(float) if target == "iou" else rows.groupby("dataset")[
        "val_iou"].transform(deciles).to_numpy(float)
    est = spec.make(seed)
    if spec.kind == "ranker":
        est.fit(X, y, group=rows.groupby("dataset", sort=True).size().tolist())
    else:
        est.fit(X, y)
    return FittedMetaModel(model_name, representation, target, est, datasets, cols, len(rows),
                           dict(space))


def rank_configurations(fitted: FittedMetaModel, configs: Sequence[Mapping], dataset: str,
                        meta_features: pd.DataFrame) -> pd.DataFrame:
    """All ``configs`` with their predicted score and rank (1 = best), best first."""
    scores = fitted.score(configs, dataset, meta_features)
    df = pd.DataFrame([dict(c) for c in configs])
    df["predicted_score"] = scores
    df = df.sort_values(["predicted_score", "config_id"], ascending=[False, True])
    df["rank"] = np.arange(1, len(df) + 1)
    return df.reset_index(drop=True)
