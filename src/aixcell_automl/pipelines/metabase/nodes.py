"""Nodes of the ``metabase`` pipeline."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from aixcell_automl.core.search_space import build_space, enumerate_configs
from aixcell_automl.metabase.agreement import fidelity_agreement
from aixcell_automl.metabase.clean import remove_outliers
from aixcell_automl.metabase.collect import collect, collect_dense
from aixcell_automl.metabase.store import PROTOCOL, read_rows, to_frame

log = logging.getLogger(__name__)


def collect_rows(datasets_root: Path, out: Path, checkpoints: Path, params: dict,
                 space_params: dict) -> tuple[dict, pd.DataFrame]:
    """Run the protocol's trials on the datasets (folders of ``datasets_root``, the catalog's
    ``shared_datasets``). Rows are appended to ``out`` (``metabase_log``, the meta-base file) as
    each trial ends (one durable write per row), so a crash loses at most the running trial's
    progress since its last checkpoint (in ``checkpoints``, ``metabase_checkpoints``);
    re-running resumes. Returns what was written and the meta-base after it (every row)."""
    root = Path(datasets_root)
    if params["protocol"] == "v3":
        written = collect_dense([str(root / d) for d in params["v3_datasets"]], out,
                                params["candidates"], checkpoints,
                                seed=int(params["seed"]), executor=params["executor"],
                                executor_options=executor_options(params),
                                max_trials=params["max_trials"],
                                precision=params["precision"])
    else:
        paths = [str(root / d) for d in params["datasets"]]
        written = collect(paths, out, enumerate_configs(build_space(space_params)),
                          checkpoints=checkpoints, seed=int(params["seed"]),
                          executor=params["executor"],
                          executor_options=executor_options(params),
                          max_trials=params["max_trials"])
    return {"rows_written": written, "out": str(out)}, pd.DataFrame(read_rows(out))


def executor_options(params: dict) -> dict:
    """``metabase.executor_options`` with ``metabase.workers`` and ``metabase.threads``; one
    worker where this machine trains on a GPU (each TensorFlow process would claim it whole)."""
    from aixcell_automl.training.hardware import hardware

    workers = params.get("workers")
    if (workers or 1) > 1 and hardware().startswith("gpu:"):
        log.warning("metabase.workers %s: one trial at a time on a GPU", workers)
        workers = 1
    return {"workers": workers, "threads": params.get("threads"),
            **(params["executor_options"] or {})}


def summarise(metabase: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Outlier-free table (raw rows kept in the JSON-lines file), a summary per protocol,
    dataset and fidelity, and the fidelity agreement of the protocol-v2 ladders. A summary's
    ``cpu_hours`` is what training its configurations from 0 pixels to that fidelity took;
    ``train_hours`` is the meta-base's whole cost (:func:`train_hours`)."""
    frame = metabase.assign(protocol=metabase["protocol"].fillna("v1") if "protocol" in metabase
                            else "v1")
    ok = frame[frame["status"] == "ok"]
    clean = remove_outliers(ok) if len(ok) else ok
    summary = ok.groupby(["protocol", "dataset", "fidelity_pixels"]).agg(
        rows=("val_score", "size"), configs=("config_id", "nunique"),
        score_mean=("val_score", "mean"), score_std=("val_score", "std"),
        score_max=("val_score", "max"),
        cpu_hours=("train_seconds", lambda s: s.sum() / 3600)).reset_index()
    failed = frame[frame["status"] != "ok"]
    stats = {"rows": len(frame), "ok_rows": len(ok), "failed_rows": len(failed),
             "rows_by_protocol": frame["protocol"].value_counts().to_dict(),
             "failure_reasons": failed["reason"].value_counts().to_dict() if len(failed) else {},
             "rows_after_outlier_removal": len(clean), "datasets": int(ok["dataset"].nunique()),
             "train_hours": train_hours(frame),
             "fidelity_agreement": fidelity_agreement(ok[ok["protocol"] == PROTOCOL])}
    log.info("meta-base: %s", json.dumps({k: v for k, v in stats.items()
                                           if k != "fidelity_agreement"}))
    return to_frame(clean.to_dict("records")), summary, stats


def train_hours(rows: pd.DataFrame) -> float:
    """Hours the rows' trials took. A ladder row's ``train_seconds`` is a running total over its
    configuration's rungs, so each ladder configuration counts once, with its highest total."""
    seconds = rows["train_seconds"].fillna(0)
    ladder = (rows["source"] == "ladder") if "source" in rows else pd.Series(False, rows.index)
    continued = seconds[ladder].groupby([rows.loc[ladder, "dataset"],
                                         rows.loc[ladder, "config_id"]]).max()
    return float((seconds[~ladder].sum() + continued.sum()) / 3600)


def iou_distribution_figure(metabase: pd.DataFrame):
    """Validation IoU per dataset (thesis Figure 31)."""
    from aixcell_automl.report.figures import pyplot

    plt = pyplot()

    ok = metabase[metabase["status"] == "ok"]
    names = sorted(ok["dataset"].unique())
    fig, ax = plt.subplots(figsize=(max(6, 0.8 * len(names)), 4))
    if names:
        ax.boxplot([ok.loc[ok["dataset"] == n, "val_score"] for n in names], showfliers=True)
        for i, n in enumerate(names, 1):
            y = ok.loc[ok["dataset"] == n, "val_score"]
            ax.scatter(np.random.default_rng(i).normal(i, 0.06, len(y)), y, s=8, alpha=0.5)
        ax.set_xticks(range(1, len(names) + 1))
        ax.set_xticklabels([f"{n}\n(n={int((ok['dataset'] == n).sum())})" for n in names],
                           rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("validation IoU")
    ax.set_ylim(0, 1)
    ax.set_title("Meta-base: IoU of the sampled configurations per dataset")
    fig.tight_layout()
    return fig
