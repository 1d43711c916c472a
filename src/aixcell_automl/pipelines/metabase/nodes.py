"""Nodes of the ``metabase`` pipeline."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from aixcell_automl.metabase import collect, remove_outliers, to_frame
from aixcell_automl.search_space import build_space, enumerate_configs

log = logging.getLogger(__name__)


def collect_rows(params: dict, space_params: dict) -> dict:
    """Run the datasets' fidelity ladders. Rows are appended to ``params['out']`` as each trial
    ends (one durable write per row), so a crash loses at most the running trial's progress since
    its last checkpoint; re-running resumes."""
    root = Path(params["datasets_root"])
    paths = [str(root / d) for d in params["datasets"]]
    written = collect(paths, params["out"], enumerate_configs(build_space(space_params)),
                      checkpoints=params["checkpoints"], seed=int(params["seed"]),
                      executor=params.get("executor", "local"),
                      executor_options=params.get("executor_options") or {},
                      max_trials=params.get("max_trials"))
    return {"rows_written": written, "out": params["out"]}


def summarise(metabase: pd.DataFrame, _collected: dict) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Outlier-free table (raw rows kept in the JSON-lines file), per-dataset summary and the
    fidelity agreement (Kendall tau between cheap and 4x more expensive fidelities)."""
    ok = metabase[metabase["status"] == "ok"]
    clean = remove_outliers(metabase) if len(ok) else ok
    summary = ok.groupby("dataset").agg(
        rows=("val_iou", "size"), configs=("config_id", "nunique"), iou_mean=("val_iou", "mean"),
        iou_std=("val_iou", "std"), iou_max=("val_iou", "max"),
        cpu_hours=("train_seconds", lambda s: s.sum() / 3600)).reset_index()
    failed = metabase[metabase["status"] != "ok"]
    agreement = fidelity_agreement(ok)
    stats = {"rows": len(metabase), "ok_rows": len(ok), "failed_rows": len(failed),
             "failure_reasons": failed["reason"].value_counts().to_dict() if len(failed) else {},
             "rows_after_outlier_removal": len(clean), "datasets": int(ok["dataset"].nunique()),
             "train_hours": float(metabase["train_seconds"].fillna(0).sum() / 3600),
             "fidelity_agreement": agreement}
    log.info("meta-base: %s", json.dumps({k: v for k, v in stats.items()
                                           if k != "fidelity_agreement"}))
    return to_frame(clean.to_dict("records")), summary, stats


def curve_score(curve: list, max_pixels: float) -> float:
    """Best validation IoU reached within ``max_pixels`` training pixels of a learning curve."""
    vals = [iou for px, iou in curve if px <= max_pixels]
    return max(vals) if vals else np.nan


def fidelity_agreement(ok: pd.DataFrame) -> dict:
    """Per dataset, Kendall tau between the score at the first evaluation (cheap fidelity) and
    at >= 4x the pixels (the full run), read from each row's learning curve."""
    from scipy.stats import kendalltau

    out = {}
    for name, g in ok.groupby("dataset"):
        curves = [json.loads(c) if isinstance(c, str) else c for c in g["curve"]]
        full = g["fidelity_pixels"].iloc[0]
        cheap = full / 4
        a = np.array([curve_score(c, cheap) for c in curves])
        b = np.array([curve_score(c, full) for c in curves])
        m = ~np.isnan(a) & ~np.isnan(b)
        if m.sum() >= 5:
            tau = kendalltau(a[m], b[m]).statistic
            out[name] = {"tau": float(tau), "n": int(m.sum()), "cheap_pixels": int(cheap),
                         "full_pixels": int(full)}
    if out:
        out["mean_tau"] = float(np.mean([v["tau"] for v in out.values()]))
    return out


def iou_distribution_figure(metabase: pd.DataFrame):
    """Validation IoU per dataset (thesis Figure 31)."""
    from aixcell_automl.report import pyplot

    plt = pyplot()

    ok = metabase[metabase["status"] == "ok"]
    names = sorted(ok["dataset"].unique())
    fig, ax = plt.subplots(figsize=(max(6, 0.8 * len(names)), 4))
    if names:
        ax.boxplot([ok.loc[ok["dataset"] == n, "val_iou"] for n in names], showfliers=True)
        for i, n in enumerate(names, 1):
            y = ok.loc[ok["dataset"] == n, "val_iou"]
            ax.scatter(np.random.default_rng(i).normal(i, 0.06, len(y)), y, s=8, alpha=0.5)
        ax.set_xticks(range(1, len(names) + 1))
        ax.set_xticklabels([f"{n}\n(n={int((ok['dataset'] == n).sum())})" for n in names],
                           rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("validation IoU")
    ax.set_ylim(0, 1)
    ax.set_title("Meta-base: IoU of the sampled configurations per dataset")
    fig.tight_layout()
    return fig
