"""Leave-one-dataset-out evaluation of meta-models and baselines (SPEC §6).

For each held-out dataset the meta-model is trained on the other datasets' rows and scores the
held-out dataset's rows (the configurations that were actually evaluated there). Metrics, per
held-out dataset:

* ``rmse`` of the predicted IoU (regressors on the raw-IoU target only)
* ``pearson`` r and ``kendall`` tau between predicted and true scores
* ``z`` = (mean true IoU of the predicted top 10 % - mean IoU) / std IoU
* ``z_norm`` = z / z of the true top 10 % (1 = as good as an oracle)
* ``diff_iou`` = mean true IoU of the true top 10 % - that of the predicted top 10 %
* ``regret`` = best IoU of the dataset - true IoU of the predicted best
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.stats import kendalltau, pearsonr

from aixcell_automl.metalearning.ranking import deciles, fit_meta_model
from aixcell_automl.metalearning.representation import build_matrix, config_of
from aixcell_automl.search_space import encode_configs


def top_n(n: int) -> int:
    return max(1, math.ceil(0.1 * n))


def ranking_metrics(true: np.ndarray, pred: np.ndarray, regression: bool = False) -> dict:
    """The metrics of the module docstring for one held-out dataset."""
    true, pred = np.asarray(true, float), np.asarray(pred, float)
    n, t = len(true), top_n(len(true))
    order = np.lexsort((np.arange(n), -pred))  # stable: ties by row order
    sd = true.std()
    top_pred = true[order[:t]].mean()
    top_true = np.sort(true)[::-1][:t].mean()
    z = (top_pred - true.mean()) / sd if sd > 0 else 0.0
    z_oracle = (top_true - true.mean()) / sd if sd > 0 else 0.0
    const = np.ptp(pred) == 0 or sd == 0
    return {
        "rmse": float(np.sqrt(np.mean((pred - true) ** 2))) if regression else np.nan,
        "pearson": np.nan if const else float(pearsonr(true, pred).statistic),
        "kendall": np.nan if const else float(kendalltau(true, pred).statistic),
        "z": float(z), "z_oracle": float(z_oracle),
        "z_norm": float(z / z_oracle) if z_oracle > 0 else np.nan,
        "diff_iou": float(top_true - top_pred),
        "regret": float(true.max() - true[order[0]]),
        "n": n,
    }


def random_baseline(true: np.ndarray) -> dict:
    """Expected metrics of choosing configurations uniformly at random."""
    true = np.asarray(true, float)
    t = top_n(len(true))
    sd = true.std()
    top_true = np.sort(true)[::-1][:t].mean()
    z_oracle = (top_true - true.mean()) / sd if sd > 0 else 0.0
    return {"rmse": np.nan, "pearson": 0.0, "kendall": 0.0, "z": 0.0, "z_oracle": z_oracle,
            "z_norm": 0.0, "diff_iou": float(top_true - true.mean()),
            "regret": float(true.max() - true.mean()), "n": len(true)}


def _percentiles(rows: pd.DataFrame) -> pd.Series:
    return rows.groupby("dataset")["val_iou"].rank(pct=True)


def surrogate_scores(rows: pd.DataFrame, datasets: Sequence[str], target_configs: Sequence[Mapping],
                     space: Mapping[str, list], k_neighbours: int = 5) -> np.ndarray:
    """Average predicted within-dataset percentile of ``target_configs`` over ``datasets``.

    Configurations are sampled per dataset, so two datasets share few configurations; each
    dataset's percentiles are interpolated to unseen configurations by a k-nearest-neighbour
    regressor in the encoded configuration space. This makes "average ranking" and "best on
    average" computable for any configuration.
    """
    from sklearn.neighbors import KNeighborsRegressor
    from sklearn.preprocessing import StandardScaler

    Xt, _ = encode_configs([config_of(c) for c in target_configs], space)
    pct = _percentiles(rows)
    out = np.zeros(len(target_configs))
    for d in datasets:
        sub = rows[rows["dataset"] == d]
        X, _ = encode_configs([config_of(r) for r in sub.to_dict("records")], space)
        scaler = StandardScaler().fit(np.vstack([X, Xt]))
        knn = KNeighborsRegressor(min(k_neighbours, len(sub)), weights="distance")
        knn.fit(scaler.transform(X), pct[sub.index].to_numpy())
        out += knn.predict(scaler.transform(Xt))
    return out / max(len(datasets), 1)


def most_similar(meta_features: pd.DataFrame, target: str, candidates: Sequence[str], k: int
                 ) -> list[str]:
    """The ``k`` candidates closest to ``target`` by cosine similarity of z-scored handcrafted and
    radiomics features."""
    cols = [c for c in meta_features.columns if c.startswith(("hc_", "radn_"))]
    m = meta_features.loc[[target, *candidates], cols].astype(float)
    z = (m - m.mean()) / m.std(ddof=0).replace(0, 1)
    v = z.to_numpy()
    sims = v[1:] @ v[0] / (np.linalg.norm(v[1:], axis=1) * np.linalg.norm(v[0]) + 1e-12)
    return [candidates[i] for i in np.argsort(-sims)[:k]]


def rule_based_default(mf: Mapping[str, float]) -> dict:
    """One fixed configuration from the dataset fingerprint, in the spirit of nnU-Net:
    patch = largest of 64/128/256 not above half the mean image side; batch 8 (16 for 64 px);
    ResNet-18 below 50 images, else ResNet-50; learning rate 1e-3; flips always, brightness/blur
    for RGB data, no grid distortion."""
    side = mf["hc_mean_image_shape"]
    patch = max([p for p in (64, 128, 256) if p <= max(64, side / 2)])
    return {"patch_size": patch, "batch_size": 16 if patch == 64 else 8,
            "learning_rate": 0.001, "backbone": "resnet18" if mf["hc_n_images"] < 50
            else "resnet50", "flip": 0.5, "brightness_blur": 0.5 if mf["hc_is_rgb"] else 0.0,
            "grid_distortion": 0.0}


def lodo_predictions(rows: pd.DataFrame, meta_features: pd.DataFrame, space: Mapping[str, list],
                     model_name: str, representation: str, target: str, seed: int
                     ) -> pd.DataFrame:
    """Every row of every held-out dataset (>= 5 rows, >= 2 training datasets) with the score
    ``predicted`` by the meta-model trained on the other datasets' rows."""
    parts = []
    for held in sorted(rows["dataset"].unique()):
        train = rows[rows["dataset"] != held].reset_index(drop=True)
        test = rows[rows["dataset"] == held].reset_index(drop=True)
        if train["dataset"].nunique() < 2 or len(test) < 5:
            continue
        fitted = fit_meta_model(train, meta_features, space, model_name, representation, target,
                                seed)
        X, _ = build_matrix(test.to_dict("records"), test["dataset"].tolist(), meta_features,
                            space, representation, fitted.train_datasets)
        parts.append(test.assign(predicted=np.asarray(fitted.estimator.predict(X), float)))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def lodo(rows: pd.DataFrame, meta_features: pd.DataFrame, space: Mapping[str, list],
         model_name: str, representation: str, target: str, seed: int) -> list[dict]:
    """One meta-model x representation x target x seed over all held-out datasets."""
    from aixcell_automl.plugins.registry import get

    out = []
    regression = target == "iou" and get("metamodel", model_name).kind == "regressor"
    preds = lodo_predictions(rows, meta_features, space, model_name, representation, target, seed)
    for held, test in (preds.groupby("dataset", sort=True) if len(preds) else []):
        m = ranking_metrics(test["val_iou"].to_numpy(float), test["predicted"], regression)
        if target == "decile":  # correlations against the decile labels the model learnt
            lab = deciles(test["val_iou"]).to_numpy(float)
            m["kendall"] = ranking_metrics(lab, test["predicted"])["kendall"]
        out.append({"model": model_name, "representation": representation, "target": target,
                    "seed": seed, "dataset": held, **m})
    return out


def permutation_importance(fitted, rows: pd.DataFrame, meta_features: pd.DataFrame,
                           n_repeats: int = 5, seed: int = 0) -> pd.DataFrame:
    """How much a fitted meta-model relies on each input column: the drop in mean
    within-dataset Kendall tau between its scores and the true IoU on ``rows`` when that column
    is shuffled (in-sample, so reliance rather than generalisation). Columns that are constant
    within every dataset (dataset meta-features) are shuffled between datasets, the others
    between rows."""
    X, cols = build_matrix(rows.to_dict("records"), rows["dataset"].tolist(), meta_features,
                           fitted.space, fitted.representation, fitted.train_datasets)
    groups = [np.flatnonzero((rows["dataset"] == d).to_numpy()) for d in rows["dataset"].unique()]
    true = rows["val_iou"].to_numpy(float)

    def tau(Xp: np.ndarray) -> float:
        pred = np.asarray(fitted.estimator.predict(Xp), float)
        return float(np.nanmean([kendalltau(true[g], pred[g]).statistic for g in groups]))

    base, rng, out = tau(X), np.random.default_rng(seed), []
    for j, col in enumerate(cols):
        per_dataset = all(np.ptp(X[g, j]) == 0 for g in groups)
        drops = []
        for _ in range(n_repeats):
            Xp = X.copy()
            if per_dataset:
                for g, src in zip(groups, rng.permutation(len(groups)), strict=True):
                    Xp[g, j] = X[groups[src][0], j]
            else:
                Xp[:, j] = rng.permutation(X[:, j])
            drops.append(base - tau(Xp))
        out.append({"feature": col, "importance": float(np.mean(drops)),
                    "std": float(np.std(drops)), "shuffled": "datasets" if per_dataset
                    else "rows"})
    return pd.DataFrame(out).sort_values("importance", ascending=False).reset_index(drop=True)


def lodo_baselines(rows: pd.DataFrame, meta_features: pd.DataFrame, space: Mapping[str, list],
                   k_similar: int = 3) -> list[dict]:
    """Random, average ranking over the k most similar datasets, best-on-average, rule-based."""
    out = []
    for held in sorted(rows["dataset"].unique()):
        test = rows[rows["dataset"] == held].reset_index(drop=True)
        others = sorted(set(rows["dataset"]) - {held})
        if len(others) < 2 or len(test) < 5:
            continue
        true = test["val_iou"].to_numpy(float)
        cfgs = test.to_dict("records")
        out.append({"model": "baseline:random", "dataset": held, **random_baseline(true)})
        near = most_similar(meta_features, held, others, k_similar)
        out.append({"model": f"baseline:average_rank_top{k_similar}_similar", "dataset": held,
                    **ranking_metrics(true, surrogate_scores(rows, near, cfgs, space))})
        out.append({"model": "baseline:best_on_average", "dataset": held,
                    **ranking_metrics(true, surrogate_scores(rows, others, cfgs, space))})
        # rule-based: one configuration; rank the rows by closeness to it in config space
        rule = rule_based_default(meta_features.loc[held])
        X, _ = encode_configs([config_of(c) for c in cfgs] + [rule], space)
        sd = X.std(0)
        d = np.abs((X[:-1] - X[-1]) / np.where(sd > 0, sd, 1)).sum(1)
        out.append({"model": "baseline:rule_based_default", "dataset": held,
                    **ranking_metrics(true, -d)})
    for r in out:
        r.setdefault("representation", "-")
        r.setdefault("target", "-")
        r.setdefault("seed", 0)
    return out
