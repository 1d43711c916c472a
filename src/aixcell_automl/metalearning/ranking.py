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
    from aixcell_automl.metabase.clean import remove_outliers

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
        if cols != self.columns:  # a meta-feature table other than the one it was fitted on
            raise ValueError(f"the meta-model was fitted on other feature columns than these "
                             f"meta-features give ({len(self.columns)} vs {len(cols)}); refit it")
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
    y = rows["val_score"].to_numpy(float) if target == "iou" else groups["val_score"].transform(
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


def rank_for_target(target: dict, metabase: pd.DataFrame, meta_features: pd.DataFrame,
                    space_params: dict, params: dict) -> tuple[pd.DataFrame, dict]:
    """Train the meta-model on the other datasets' meta-base rows and rank every configuration
    for the ``target`` dataset (its meta-features); ``params`` are the search's parameters.
    Returns the ranking and what the search and its report need to know about it (strategy, k
    and why, the fidelity scored at, the meta-model, the rows it learnt from, a budget
    suggestion).

    The strategy and k follow the budget (:func:`aixcell_automl.search.budget.choose_split`). A
    fidelity-aware meta-model (rows of several fidelities) scores each configuration at the
    training pixels it would reach if it won within the budget: its measured speed on this kind
    of device times the winner's share of the budget, within the meta-base's fidelities."""
    from aixcell_automl.core.errors import UserError
    from aixcell_automl.core.search_space import build_space, enumerate_configs
    from aixcell_automl.metabase.ladder import FIRST_FIDELITY
    from aixcell_automl.metalearning.representation import meta_feature_frame
    from aixcell_automl.search.budget import (
        budget_note,
        choose_split,
        config_speeds,
        suggest_budget,
        winner_fidelity,
    )
    from aixcell_automl.search.candidates import top_k
    from aixcell_automl.training.hardware import hardware

    space = build_space(space_params)
    configs = enumerate_configs(space)
    same = set(metabase.loc[metabase["dataset_hash"] == target["dataset_hash"], "dataset"]) if len(
        metabase) else set()
    exclude = sorted(same | {target["dataset"]})
    metric = params["metric"]
    rows = training_rows(metabase, exclude=exclude, metric=metric,
                         protocol=params["metabase_protocol"])
    if rows.empty:
        raise UserError(f"the meta-base has no usable rows scored by {metric!r} from other "
                           f"datasets: run `kedro run --pipeline=metabase` (see "
                           f"docs/metabase.md)")
    mf = meta_feature_frame(meta_features, target)
    fitted = fit_meta_model(rows, mf, space, params["meta_model"], params["representation"],
                            params["target"], seed=int(params["seed"]))
    budget = float(params["budget_minutes"]) * 60
    speeds = config_speeds(configs, metabase, hardware())
    strategy, k, k_reason = choose_split(budget, speeds, params)
    fidelity = None
    if fitted.fidelity_aware and speeds is not None:
        fidelity = np.clip(winner_fidelity(speeds, budget, k, strategy), min(fitted.fidelities),
                           max(fitted.fidelities))
    ranking = rank_configurations(fitted, configs, target["dataset"], mf, fidelity)
    top = ranking.iloc[0]
    suggestion = suggest_budget(top_k(ranking, k), metabase, target, FIRST_FIDELITY, hardware(),
                                strategy)
    info = {"strategy": strategy, "k": k, "k_reason": k_reason, "fidelities": fitted.fidelities,
            "expected_winner_pixels": float(top["fidelity_pixels"]) if fidelity is not None
            else None,
            "fidelity_note": (f"configurations scored at the training pixels each would reach "
                              f"as the winner (top: 2^{np.log2(top['fidelity_pixels']):.1f})"
                              if fidelity is not None else
                              f"configurations scored at the meta-base fidelity "
                              f"2^{np.log2(max(fitted.fidelities)):.0f} (single-fidelity rows "
                              f"or no speed measured on this kind of device)"),
            "meta_model": fitted.model_name, "representation": fitted.representation,
            "target": fitted.target, "metric": metric, "metabase_rows": fitted.n_rows,
            "metabase_datasets": fitted.train_datasets, "excluded_datasets": exclude,
            "n_configs": len(configs), "budget_suggestion": suggestion}
    log.info("ranked %d configurations with %s on %d rows from %d datasets; top: %s",
             len(configs), fitted.model_name, fitted.n_rows, len(fitted.train_datasets),
             ranking.iloc[0].to_dict())
    log.info("%s This search: %.1f min.", budget_note(suggestion) or
             "No budget suggestion: the meta-base has no rows from this kind of device.",
             float(params["budget_minutes"]))
    return ranking, info


def metamodel_orders(metabase, meta_features, datasets: Sequence[str], search: Mapping,
                     space_params: Mapping) -> dict[str, list[str]]:
    """Per held-out dataset, its v3 candidates best first by the search's meta-model
    (``search``: the search's parameters ``meta_model``, ``representation``, ``target``,
    ``metric``, ``metabase_protocol``, ``seed``), fitted as the search fits it on the other
    datasets' rows (the held-out one excluded by name and content hash) and scored at the
    dense fidelity 2**24; the candidates carry the held-out dataset's augmentations."""
    from aixcell_automl.core.errors import UserError
    from aixcell_automl.core.search_space import build_space
    from aixcell_automl.metabase.dense import FIRST, PROTOCOL
    from aixcell_automl.metalearning.representation import meta_feature_frame

    space = build_space(space_params)
    mf_rows = meta_features.set_index("dataset", drop=False)
    v3 = metabase[(metabase["protocol"] == PROTOCOL) & (metabase["fidelity_pixels"] == FIRST)
                  & metabase["candidate"].notna()]
    out = {}
    for d in datasets:
        if d not in mf_rows.index:
            raise UserError(f"replay: no meta-features for {d} (run kedro run "
                            f"--pipeline=meta_features)")
        mine = v3[v3["dataset"] == d].drop_duplicates("candidate")
        hashes = set(mine["dataset_hash"])
        exclude = sorted({d} | set(metabase.loc[metabase["dataset_hash"].isin(hashes), "dataset"]))
        rows = training_rows(metabase, exclude=exclude, metric=search["metric"],
                             protocol=search["metabase_protocol"])
        if rows.empty:
            raise UserError(f"replay: no protocol-{search['metabase_protocol']} rows of other "
                            f"datasets than {d} to fit the meta-model on")
        mf = meta_feature_frame(meta_features, mf_rows.loc[d].to_dict())
        fitted = fit_meta_model(rows, mf, space, search["meta_model"], search["representation"],
                                search["target"], seed=int(search["seed"]))
        scores = fitted.score(mine.to_dict("records"), d, mf, FIRST)
        out[d] = [c for _, c in sorted(zip(-scores, mine["candidate"], strict=True))]
    return out
