"""Nodes of the ``meta_learning`` pipeline."""

from __future__ import annotations

import itertools
import logging
import time

import numpy as np
import pandas as pd

from aixcell_automl.core.errors import UserError
from aixcell_automl.core.search_space import build_space
from aixcell_automl.metalearning.evaluation import BEST_OF, lodo, lodo_baselines
from aixcell_automl.metalearning.ranking import fit_meta_model, training_rows
from aixcell_automl.metalearning.representation import meta_feature_frame, representations

log = logging.getLogger(__name__)
REGRETS = ["regret", *(f"regret_top{k}" for k in BEST_OF)]  # best-of-k, k = 1..6
METRICS = ["z", "z_norm", "kendall", "pearson", "rmse", "diff_score", *REGRETS]


def study_rows(metabase: pd.DataFrame, params: dict) -> pd.DataFrame:
    """The meta-base rows the study uses: training rows of one protocol (every fidelity unless
    ``fidelity_pixels`` names one) of datasets with enough of them."""
    rows = training_rows(metabase, fidelity_pixels=params["fidelity_pixels"],
                         protocol=params["protocol"])
    counts = rows.groupby("dataset").size()
    rows = rows[rows["dataset"].isin(counts[counts >= params["min_rows_per_dataset"]]
                                     .index)].reset_index(drop=True)
    if rows["dataset"].nunique() < 3:
        raise UserError(f"the meta-base has {rows['dataset'].nunique()} datasets with enough "
                        f"rows; the study needs >= 3 (see docs/metabase.md)")
    return rows


def run_study(metabase: pd.DataFrame, meta_features: pd.DataFrame, space_params: dict,
              params: dict) -> pd.DataFrame:
    """Every model x representation x target (x seeds for stochastic models) plus baselines;
    one row per (combination, seed, held-out dataset)."""
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

    from aixcell_automl.plugins.registry import metamodels

    t = time.perf_counter()
    space = build_space(space_params)
    rows = study_rows(metabase, params)
    mf = meta_features  # the radiomics space is fitted per held-out dataset (evaluation.py)
    models = params["models"] or sorted(metamodels())
    reps = params["representations"] or list(representations())
    jobs = []
    for m, r, tgt in itertools.product(models, reps, params["targets"]):
        seeds = range(params["seeds"]) if metamodels()[m].stochastic else [0]
        jobs += [(m, r, tgt, s) for s in seeds]
    fidelities = ", ".join(f"2^{np.log2(f):g}" for f in sorted(rows["fidelity_pixels"].unique()))
    log.info("meta-learning study: %d rows, %d datasets, fidelities %s (pixels), %d jobs",
             len(rows), rows["dataset"].nunique(), fidelities, len(jobs))
    results = tqdm(Parallel(n_jobs=params["n_jobs"], return_as="generator")(
        delayed(lodo)(rows, mf, space, m, r, tgt, s) for m, r, tgt, s in jobs),
        total=len(jobs), desc="meta-learning study", unit="job")
    out = pd.DataFrame([r for res in results for r in res] + lodo_baselines(rows, mf, space))
    log.info("study finished in %.0f s", time.perf_counter() - t)
    out.attrs["seconds"] = time.perf_counter() - t
    return out


def _ci(x: pd.Series) -> float:
    x = x.dropna()
    return float(1.96 * x.std(ddof=1) / np.sqrt(len(x))) if len(x) > 1 else 0.0


KEYS = ["fidelity_pixels", "model", "representation", "target"]


def summarise(study: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """Per fidelity: mean over held-out datasets per seed, then mean and 95 % interval over
    seeds; also the 95 % interval of z over held-out datasets (seed-averaged), the larger
    uncertainty. The top five and the headline are at the top fidelity."""
    per_seed = study.groupby([*KEYS, "seed"])[METRICS].mean().reset_index()
    agg = per_seed.groupby(KEYS).agg(
        **{f"{m}_mean": (m, "mean") for m in METRICS}, z_ci95=("z", _ci),
        seeds=("seed", "nunique")).reset_index()
    per_dataset = z_by_dataset(study)
    agg = agg.merge(per_dataset.groupby(KEYS).agg(_ci).rename("z_ci95_datasets").reset_index(),
                    on=KEYS)
    agg = agg.sort_values(["fidelity_pixels", "z_mean"], ascending=[False, False]
                          ).reset_index(drop=True)
    top = agg[agg["fidelity_pixels"] == agg["fidelity_pixels"].max()]
    top5 = top[~top["model"].str.startswith("baseline:")].head(5)
    md = "# Meta-learning study (leave-one-dataset-out)\n"
    for fid, part in agg.groupby("fidelity_pixels", sort=False):
        best = part[~part["model"].str.startswith("baseline:")].iloc[0]
        at = per_dataset.xs(fid, level="fidelity_pixels")
        nested = nested_choice(at)
        md += (f"\n## Fidelity 2^{np.log2(fid):g} training pixels\n\n### {best['model']} / "
               f"{best['representation']} / {best['target']} against each baseline, paired per "
               f"held-out dataset\n\n" + versus_baselines(
                   at, at.loc[(best["model"], best["representation"], best["target"])])
               .to_markdown(index=False, floatfmt=".3f")
               + f"\n\n### The choice itself, nested (mean z {nested.mean():.3f}): per "
               f"held-out dataset, the combination with the best mean z on the others\n\n"
               + versus_baselines(at, nested).to_markdown(index=False, floatfmt=".3f")
               + "\n\n### Best-of-k regret (mean over held-out datasets): the best score minus "
               "the best of the top k\n\n" + best_of_k(study, fid, at).to_markdown(
                   index=False, floatfmt=".3f")
               + "\n\n### All combinations\n\n" + part.drop(columns="fidelity_pixels")
               .to_markdown(index=False, floatfmt=".3f") + "\n")
    return agg, top5, md


def z_by_dataset(study: pd.DataFrame) -> pd.Series:
    """Seed-averaged z per fidelity, model, representation, target and held-out dataset."""
    return study.groupby([*KEYS, "dataset"])["z"].mean()


def nested_combinations(at: pd.Series) -> dict:
    """Per held-out dataset, the (model, representation, target) with the best mean z on the
    *other* datasets (``at``: :func:`z_by_dataset` at one fidelity)."""
    combos = at[~at.index.get_level_values("model").str.startswith("baseline:")]
    table = combos.unstack("dataset")
    return {held: table.drop(columns=held).mean(axis=1).idxmax() for held in table.columns}


def nested_choice(at: pd.Series) -> pd.Series:
    """Per held-out dataset, the z of :func:`nested_combinations`' choice: what choosing by
    the study scores out of sample. The best combination's own mean z is biased upward, being
    the largest of many estimated on the same datasets."""
    return pd.Series({held: at[(*combo, held)] for held, combo in
                      nested_combinations(at).items()}).rename_axis("dataset")


def best_of_k(study: pd.DataFrame, fidelity: int, at: pd.Series) -> pd.DataFrame:
    """Mean over held-out datasets of the best-of-k regret (k = 1..6: the dataset's best score
    minus the best among the top k) at one fidelity: the nested choice (the combination chosen
    by z on the other datasets) beside each baseline, e.g. the greedy portfolio."""
    part = study[study["fidelity_pixels"] == fidelity]
    per = part.groupby(["model", "representation", "target", "dataset"])[REGRETS].mean()
    nested = pd.DataFrame([per.loc[(*combo, held)] for held, combo in
                           nested_combinations(at).items()])
    rows = [{"method": "nested choice (by z)", **nested.mean()}]
    base = per[per.index.get_level_values("model").str.startswith("baseline:")]
    rows += [{"method": name, **g.mean()} for name, g in base.groupby(level="model")]
    return pd.DataFrame(rows).rename(columns={"regret": "k=1", **{
        f"regret_top{k}": f"k={k}" for k in BEST_OF}})


def versus_baselines(at: pd.Series, mine: pd.Series) -> pd.DataFrame:
    """``mine`` (z per held-out dataset) minus each baseline's z, paired per held-out dataset
    (``at``: :func:`z_by_dataset` at one fidelity): mean, 95 % interval, wins / ties /
    losses."""
    models = at.index.get_level_values("model")
    out = []
    for name in sorted(m for m in set(models) if m.startswith("baseline:")):
        d = (mine - at[models == name].droplevel([0, 1, 2])).dropna()
        out.append({"baseline": name, "z_difference": d.mean(), "ci95": _ci(d),
                    "wins": int((d > 1e-9).sum()), "ties": int((d.abs() <= 1e-9).sum()),
                    "losses": int((d < -1e-9).sum())})
    return pd.DataFrame(out)


def choose_and_fit(summary: pd.DataFrame, metabase: pd.DataFrame, meta_features: pd.DataFrame,
                   space_params: dict, params: dict) -> tuple[object, dict]:
    """The best combination by mean z at the top fidelity, refitted on all the study's rows."""
    top = summary[summary["fidelity_pixels"] == summary["fidelity_pixels"].max()]
    best = top[~top["model"].str.startswith("baseline:")].iloc[0]
    rows = training_rows(metabase, fidelity_pixels=params["fidelity_pixels"],
                         protocol=params["protocol"])
    fitted = fit_meta_model(rows, meta_feature_frame(meta_features), build_space(space_params),
                            best["model"], best["representation"], best["target"], seed=0)
    avg = top[top["model"].str.startswith("baseline:average_rank")]
    choice = {"meta_model": best["model"], "representation": best["representation"],
              "target": best["target"], "fidelity_pixels": int(best["fidelity_pixels"]),
              "protocol": params["protocol"], "z_mean": float(best["z_mean"]),
              "z_ci95": float(best["z_ci95"]),
              "z_ci95_datasets": float(best["z_ci95_datasets"]), "rows": fitted.n_rows,
              "datasets": fitted.train_datasets,
              "average_ranking_z": float(avg["z_mean"].iloc[0]) if len(avg) else None}
    log.info("chosen meta-model: %s", choice)
    return fitted, choice


def z_plot(summary: pd.DataFrame):
    """Mean z per model x representation, one heatmap per target; baselines in the title."""
    from aixcell_automl.report.figures import pyplot

    plt = pyplot()

    summary = summary[summary["fidelity_pixels"] == summary["fidelity_pixels"].max()]
    models = summary[~summary["model"].str.startswith("baseline:")]
    targets = sorted(models["target"].unique())
    base = summary[summary["model"].str.startswith("baseline:")]
    fig, axes = plt.subplots(1, len(targets), figsize=(6 * len(targets) + 1, 7), squeeze=False,
                             sharey=True, layout="constrained")
    for ax, tgt in zip(axes[0], targets, strict=True):
        piv = models[models["target"] == tgt].pivot_table(index="model", columns="representation",
                                                          values="z_mean")
        im = ax.imshow(piv.to_numpy(), cmap="viridis", vmin=min(0.0, models["z_mean"].min()),
                       vmax=summary["z_mean"].max())
        ax.set_xticks(range(piv.shape[1]), piv.columns, rotation=60, ha="right", fontsize=8)
        ax.set_yticks(range(piv.shape[0]), piv.index, fontsize=8)
        ax.tick_params(labelleft=ax is axes[0][0])
        for (i, j), v in np.ndenumerate(piv.to_numpy()):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=6,
                    color="w" if v < 0.6 * summary["z_mean"].max() else "k")
        ax.set_title(f"target: {tgt}", fontsize=10)
    fig.colorbar(im, ax=axes[0].tolist(), shrink=0.8, label="mean z of the predicted top 10 %")
    fig.suptitle("Leave-one-dataset-out mean z; baselines: " + ", ".join(
        f"{m.removeprefix('baseline:')} {z:.2f}" for m, z in zip(base["model"], base["z_mean"],
                                                                 strict=True)), fontsize=9)
    return fig


def importance_plot(fitted, metabase: pd.DataFrame, meta_features: pd.DataFrame, params: dict):
    """Permutation importance of the chosen meta-model's inputs (top 20; thesis Figure 33)."""
    from aixcell_automl.report.figures import pyplot

    plt = pyplot()

    from aixcell_automl.metalearning.evaluation import permutation_importance

    imp = permutation_importance(fitted, study_rows(metabase, params),
                                 meta_feature_frame(meta_features)).head(20)[::-1]
    fig, ax = plt.subplots(figsize=(7, 6))
    ax.barh(imp["feature"], imp["importance"], xerr=imp["std"], color="tab:blue")
    ax.set_xlabel("drop in mean within-dataset Kendall tau when shuffled")
    ax.set_title(f"permutation importance: {fitted.model_name}\n{fitted.representation}",
                 fontsize=10)
    fig.tight_layout()
    return fig


def scatter_plot(choice: dict, metabase: pd.DataFrame, meta_features: pd.DataFrame,
                 space_params: dict, params: dict):
    """Predicted score vs true IoU per held-out dataset for the chosen combination, the true
    top 10 % in orange (thesis Figure 34)."""
    from aixcell_automl.report.figures import pyplot

    plt = pyplot()

    from aixcell_automl.metalearning.evaluation import lodo_predictions, top_n

    preds = lodo_predictions(study_rows(metabase, params), meta_features,
                             build_space(space_params), choice["meta_model"],
                             choice["representation"], choice["target"], seed=0)
    preds = preds[preds["fidelity_pixels"] == choice["fidelity_pixels"]]
    groups = list(preds.groupby("dataset", sort=True))
    n_rows = -(-len(groups) // 4)
    fig, axes = plt.subplots(n_rows, 4, figsize=(12, 3 * n_rows), squeeze=False)
    for ax, (name, g) in zip(axes.flat, groups, strict=False):
        top = g["val_score"] >= g["val_score"].nlargest(top_n(len(g))).min()
        ax.scatter(g["predicted"][~top], g["val_score"][~top], s=12, color="tab:blue")
        ax.scatter(g["predicted"][top], g["val_score"][top], s=18, color="tab:orange",
                   label="true top 10 %")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("predicted score", fontsize=8)
        ax.set_ylabel("true val IoU", fontsize=8)
    for ax in list(axes.flat)[len(groups):]:
        ax.axis("off")
    fig.suptitle(f"{choice['meta_model']} / {choice['representation']} / {choice['target']}: "
                 "leave-one-dataset-out predictions")
    fig.tight_layout()
    return fig
