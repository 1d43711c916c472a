"""Figures: the one way to get pyplot; halving, overlays, learning curves, method comparison."""

from __future__ import annotations

import numpy as np
import pandas as pd


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend (the one way figures are made)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def halving_figure(trace: dict):
    """Validation score (the trace's metric) of each configuration per rung; dropped ones grey,
    the winner red."""
    from aixcell_automl.plugins.registry import get

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    scores: dict[str, list[tuple[int, float]]] = {}
    for rung in trace["rungs"]:
        for t in rung["trials"]:
            scores.setdefault(t["config_id"], []).append((rung["rung"], max(t["score"], 0)))
    for cid, pts in scores.items():
        x, y = zip(*pts, strict=True)
        win = cid == trace["winner"]
        ax.plot(x, y, "o-", color="tab:red" if win else "0.7", lw=2.5 if win else 1,
                zorder=3 if win else 1, label=f"winner {cid}" if win else None)
    ax.set_xticks(range(len(trace["rungs"])))
    ax.set_xticklabels([f"{'leftover' if r.get('leftover') else 'rung'} {r['rung'] + 1}\n"
                        f"{len(r['trials'])} x {r['seconds_per_trial']:.0f}s"
                        for r in trace["rungs"]])
    ax.set_ylabel(f"best validation {get('metric', trace['metric']).label} so far")
    ax.set_ylim(0, 1)
    ax.set_title(f"{trace.get('strategy', 'successive_halving')}: configurations per rung "
                 f"(grey = dropped later)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def overlay_figure(images: list[np.ndarray], truths: list[np.ndarray], preds: list[np.ndarray],
                   names: list[str]):
    """Rows of image | ground truth | prediction for a few test images."""
    from aixcell_automl.training.predict import overlay

    plt = pyplot()
    n = len(images)
    fig, axes = plt.subplots(n, 3, figsize=(9, 3 * n), squeeze=False)
    for i in range(n):
        for j, (title, mask) in enumerate([("image", None), ("ground truth", truths[i]),
                                           ("prediction", preds[i])]):
            shown = overlay(images[i], mask if mask is not None else np.zeros_like(truths[i]),
                            alpha=0.5)
            axes[i, j].imshow(shown)
            axes[i, j].set_title(f"{names[i]}: {title}" if j == 0 else title, fontsize=9)
            axes[i, j].axis("off")
    fig.tight_layout()
    return fig


def plot_learning_curve(state: dict):
    """Validation IoU (and loss) per evaluation against training pixels."""
    from aixcell_automl.report.figures import pyplot

    plt = pyplot()

    hist = state["history"]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    px = [h["pixels"] / 1e6 for h in hist]
    ax.plot(px, [h["val_score"] for h in hist], "o-", label="validation IoU")
    if state.get("best_eval"):
        b = hist[state["best_eval"] - 1]
        ax.plot([b["pixels"] / 1e6], [b["val_score"]], "r*", ms=12, label="kept (best)")
    ax.set_xlabel("training pixels (millions)")
    ax.set_ylabel("IoU (mean over foreground classes)")
    ax.set_ylim(0, 1)
    ax2 = ax.twinx()
    ax2.plot(px, [h["loss"] for h in hist], "--", color="grey", alpha=0.6, label="loss")
    ax2.set_ylabel("focal loss (last batch)")
    ax.legend(loc="lower right")
    ax.set_title(f"{state['config'].get('backbone')} p{state['config'].get('patch_size')} "
                 f"b{state['config'].get('batch_size')} lr{state['config'].get('learning_rate')}")
    fig.tight_layout()
    return fig


def comparison_figure(rows: list[dict]):
    """Test IoU per dataset and method (dots: seeds; bar: mean)."""
    plt = pyplot()
    df = pd.DataFrame(rows)
    datasets = list(dict.fromkeys(df["dataset"])) if len(df) else []
    methods = list(dict.fromkeys(df["method"])) if len(df) else []
    fig, ax = plt.subplots(figsize=(max(5.0, 1.6 * len(datasets) + 2), 3.6))
    width = 0.8 / max(1, len(methods))
    for j, m in enumerate(methods):
        for i, d in enumerate(datasets):
            vals = df[(df["dataset"] == d) & (df["method"] == m)]["test_iou"].to_numpy(float)
            if not len(vals):
                continue
            x = i + (j - (len(methods) - 1) / 2) * width
            ax.bar(x, vals.mean(), width * 0.9, color=f"C{j}", alpha=0.5,
                   label=m if i == 0 else None)
            ax.plot(np.full(len(vals), x), vals, "k.", ms=4)
    ax.set_xticks(range(len(datasets)), datasets, rotation=20, ha="right")
    ax.set_ylabel("test IoU")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8, ncol=len(methods), loc="lower center")
    fig.tight_layout()
    return fig
