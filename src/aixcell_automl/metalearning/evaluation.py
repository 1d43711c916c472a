"""Leave-one-dataset-out evaluation of meta-models and baselines (docs/method.md, §6).

For each held-out dataset the meta-model is trained on the other datasets' rows (every fidelity)
and scores the held-out dataset's rows (the configurations that were actually evaluated there),
each at its own fidelity. The radiomics normalisation and PCA are fitted without the held-out
dataset (:func:`held_out_frame`). Metrics, per held-out dataset and fidelity:

* ``rmse`` of the predicted IoU (regressors on the raw-IoU target only)
* ``pearson`` r and ``kendall`` tau between predicted and true scores
* ``z`` = (mean true IoU of the predicted top 10 % - mean IoU) / std IoU
* ``z_norm`` = z / z of the true top 10 % (1 = as good as an oracle)
* ``diff_score`` = mean true IoU of the true top 10 % - that of the predicted top 10 %
* ``regret`` = best IoU of the dataset - true IoU of the predicted best
* ``regret_top<k>`` (k = 2..6) = best IoU of the dataset - best true IoU among the predicted
  top k: what a search that trains the top k and keeps the best would miss (best-of-k)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.stats import kendalltau, pearsonr

from aixcell_automl.core.search_space import encode_configs
from aixcell_automl.metalearning.ranking import deciles, fit_meta_model, log2_fidelity
from aixcell_automl.metalearning.representation import build_matrix, config_of, meta_feature_frame
from aixcell_automl.search.plan import planned_configuration

BEST_OF = range(2, 7)  # the k of the regret_top<k> metrics


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
        "diff_score": float(top_true - top_pred),
        "regret": float(true.max() - true[order[0]]),
        **{f"regret_top{k}": float(true.max() - true[order[:k]].max()) for k in BEST_OF},
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
            "z_norm": 0.0, "diff_score": float(top_true - true.mean()),
            "regret": float(true.max() - true.mean()),
            **{f"regret_top{k}": float(true.max() - expected_best_of(true, k)) for k in BEST_OF},
            "n": len(true)}


def expected_best_of(values: np.ndarray, k: int) -> float:
    """The expected best of ``k`` values drawn at random without replacement: the i-th
    smallest is the best of the draw with probability C(i, k-1) / C(n, k)."""
    v = np.sort(np.asarray(values, float))
    n, k = len(v), min(k, len(v))
    return float(sum(v[i] * math.comb(i, k - 1) for i in range(n)) / math.comb(n, k))


def _percentiles(rows: pd.DataFrame) -> pd.Series:
    return rows.groupby("dataset")["val_score"].rank(pct=True)


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


MIN_ROWS = 3  # rows of a (held-out dataset, fidelity) for its metrics (the ladder's top rung)


def held_out_frame(table: pd.DataFrame, held: str) -> pd.DataFrame:
    """:func:`meta_feature_frame` with the radiomics space fitted on every dataset but
    ``held`` (``table``: the raw meta-feature table, one row per dataset)."""
    df = table.set_index("dataset") if "dataset" in table.columns else table
    return meta_feature_frame(df, {"dataset": held, **df.loc[held].to_dict()})


def lodo_predictions(rows: pd.DataFrame, meta_features: pd.DataFrame, space: Mapping[str, list],
                     model_name: str, representation: str, target: str, seed: int
                     ) -> pd.DataFrame:
    """Every row of every held-out dataset (>= 5 rows, >= 2 training datasets) with the score
    ``predicted`` by the meta-model trained on the other datasets' rows, at the row's fidelity.
    ``meta_features``: the raw table (see :func:`held_out_frame`)."""
    parts = []
    for held in sorted(rows["dataset"].unique()):
        train = rows[rows["dataset"] != held].reset_index(drop=True)
        test = rows[rows["dataset"] == held].reset_index(drop=True)
        if train["dataset"].nunique() < 2 or len(test) < 5:
            continue
        mf = held_out_frame(meta_features, held)
        fitted = fit_meta_model(train, mf, space, model_name, representation, target, seed)
        parts.append(test.assign(predicted=fitted.score(
            test.to_dict("records"), held, mf, test["fidelity_pixels"].to_numpy(float))))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def lodo(rows: pd.DataFrame, meta_features: pd.DataFrame, space: Mapping[str, list],
         model_name: str, representation: str, target: str, seed: int) -> list[dict]:
    """One meta-model x representation x target x seed over all held-out datasets."""
    from aixcell_automl.plugins.registry import get

    out = []
    regression = target == "iou" and get("metamodel", model_name).kind == "regressor"
    preds = lodo_predictions(rows, meta_features, space, model_name, representation, target, seed)
    groups = preds.groupby(["dataset", "fidelity_pixels"], sort=True) if len(preds) else []
    for (held, fidelity), test in groups:
        if len(test) < MIN_ROWS:
            continue
        m = ranking_metrics(test["val_score"].to_numpy(float), test["predicted"], regression)
        if target == "decile":  # correlations against the decile labels the model learnt
            lab = deciles(test["val_score"]).to_numpy(float)
            m["kendall"] = ranking_metrics(lab, test["predicted"])["kendall"]
        out.append({"model": model_name, "representation": representation, "target": target,
                    "seed": seed, "dataset": held, "fidelity_pixels": int(fidelity), **m})
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
    if fitted.fidelity_aware:
        X = np.column_stack([X, log2_fidelity(rows["fidelity_pixels"])])
        cols = [*cols, "log2_fidelity"]
    groups = [np.flatnonzero((rows["dataset"] == d).to_numpy()) for d in rows["dataset"].unique()]
    true = rows["val_score"].to_numpy(float)

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
    """Per held-out dataset and fidelity: random; average ranking over the k most similar
    datasets and best-on-average (both from the other datasets' rows at the same fidelity);
    the rule-based default (rows ranked by closeness to it); two one-line rules: most
    optimizer steps first, smallest patch first; and, where rows name their ``candidate``
    (protocol v3), the greedy best-of-k portfolio's order learned on the other datasets
    (:func:`aixcell_automl.search.replay.greedy_order`). ``meta_features``: the raw table."""
    out = []
    for held in sorted(rows["dataset"].unique()):
        own = rows[rows["dataset"] == held]
        if rows["dataset"].nunique() < 3 or len(own) < 5:  # as lodo_predictions
            continue
        mf = held_out_frame(meta_features, held)
        for fidelity, test in own.groupby("fidelity_pixels"):
            if len(test) < MIN_ROWS:
                continue
            pool = rows[rows["fidelity_pixels"] == fidelity]
            peers = sorted(set(pool["dataset"]) - {held})
            test = test.reset_index(drop=True)
            true = test["val_score"].to_numpy(float)
            cfgs = test.to_dict("records")
            scores = {"random": None}
            if len(peers) >= 2:
                near = most_similar(mf, held, peers, k_similar)
                scores[f"average_rank_top{k_similar}_similar"] = surrogate_scores(
                    pool, near, cfgs, space)
                scores["best_on_average"] = surrogate_scores(pool, peers, cfgs, space)
            rule = planned_configuration(mf.loc[held])
            X, _ = encode_configs([config_of(c) for c in cfgs] + [rule], space)
            sd = X.std(0)
            scores["rule_based_default"] = -np.abs(
                (X[:-1] - X[-1]) / np.where(sd > 0, sd, 1)).sum(1)
            if "candidate" in test and test["candidate"].notna().all() and peers:
                from aixcell_automl.search.replay import greedy_order

                table = pool[pool["dataset"].isin(peers)].pivot_table(
                    index="dataset", columns="candidate", values="val_score", aggfunc="max")
                order = greedy_order(table.fillna(-1.0), table.shape[1])
                pos = {c: i for i, c in enumerate(order)}
                scores["portfolio_greedy"] = -test["candidate"].map(pos).fillna(
                    len(pos)).to_numpy(float)
            scores["most_steps_first"] = test["steps"].to_numpy(float)
            scores["smallest_patch_first"] = -test["hp_patch_size"].to_numpy(float)
            for name, pred in scores.items():
                m = random_baseline(true) if pred is None else ranking_metrics(true, pred)
                out.append({"model": f"baseline:{name}", "dataset": held,
                            "fidelity_pixels": int(fidelity), **m})
    for r in out:
        r.setdefault("representation", "-")
        r.setdefault("target", "-")
        r.setdefault("seed", 0)
    return out
