"""Nodes of the ``transfer_experiment`` pipeline."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from aixcell_automl.core.dataset import load_dataset, split_dataset
from aixcell_automl.core.errors import UserError
from aixcell_automl.core.search_space import config_id
from aixcell_automl.training.hardware import hardware
from aixcell_automl.training.loop import Budget, release_models, train_trial
from aixcell_automl.training.transfer import epochs_to_fraction, weights_file
from aixcell_automl.training.trial_data import make_trial_data

log = logging.getLogger(__name__)


def _check_starts(starts: dict, targets: list) -> None:
    """Every start exists, and no target (by name or content) was used to pre-train it."""
    for label, path in starts.items():
        if not path:
            continue
        try:
            weights_file(path)
        except FileNotFoundError as exc:
            raise FileNotFoundError(f"start '{label}': {exc}. Pre-train it first, e.g. "
                                    f"kedro run --pipeline=pretrain --params "
                                    f"pretrain.name={label}") from exc
        info_file = Path(path) / "model.json"
        info = json.loads(info_file.read_text()) if info_file.exists() else {}
        used = info.get("pretrained_on", {})
        seen = [ds.name for ds in targets
                if ds.name in used or ds.content_hash() in used.values()]
        if seen:
            raise UserError(f"start '{label}' was pre-trained on {seen}, which are also "
                             "targets; choose targets it has not seen")


def resolve_starts(starts: dict, pretrained: Path) -> dict:
    """label -> weights path or ``None`` (from scratch): a start names a pre-trained model,
    ``<pretrained>/<name>`` (the catalog's ``pretrained_models``), or is an absolute path."""
    return {label: str(Path(pretrained) / value) if value else None
            for label, value in starts.items()}


def run_experiment(datasets_root: Path, pretrained: Path, runs: Path, params: dict) -> dict:
    """Train ``params['config']`` for ``max_pixels`` on every target (a folder of
    ``datasets_root``, the catalog's ``shared_datasets``) from every start
    (:func:`resolve_starts`); run folders under ``runs`` (``transfer_runs``).

    The split and the validation sample are fixed (seed 0); ``params['seeds']`` vary the
    initialisation, patch order and augmentation. Runs are resumable (one run folder per
    target, start and seed). Returns the learning curves and what each run did (new layers,
    when they settled)."""
    from aixcell_automl.training.loop import settings_from

    starts = resolve_starts(params["starts"], pretrained)
    targets = [load_dataset(Path(datasets_root) / t) for t in params["targets"]]
    _check_starts(starts, targets)
    config = dict(params["config"])
    config["config_id"] = config_id(config)
    seeds = [int(s) for s in params["seeds"]]
    results: dict = {}
    bar = tqdm(total=len(targets) * len(starts) * len(seeds), desc="transfer runs", unit="run")
    for ds in targets:
        target = ds.name
        data = make_trial_data(ds, split_dataset(ds, seed=0), seed=0)
        for label, path in starts.items():
            for seed in seeds:
                bar.set_postfix_str(f"{target} from {label}, seed {seed}")
                settings = settings_from(params)
                settings.init_weights = path or None
                run_dir = Path(runs) / target / label / f"seed{seed}"
                state = train_trial(config, data, run_dir,
                                    Budget(pixels=int(params["max_pixels"])), settings, seed=seed)
                release_models()
                if state["status"] == "failed":
                    raise RuntimeError(f"{target} from {label} failed: {state['reason']}")
                results.setdefault(target, {}).setdefault(label, []).append(
                    {"seed": seed} | {k: state.get(k) for k in (
                        "history", "best_score", "init_weights", "new_layers", "phase_start",
                        "epoch", "pixels_seen", "train_seconds", "stopped_by")})
                log.info("%s from %s, seed %d: best validation IoU %.3f", target, label, seed,
                         state["best_score"])
                bar.update()
    bar.close()
    return {"config": config, "max_pixels": int(params["max_pixels"]), "seeds": seeds,
            "starts": starts, "hardware": hardware(), "results": results}


def summarise(curves: dict) -> pd.DataFrame:
    """One row per target, start and seed: best and last IoU, epochs to 95 % of the run's own
    best and to 95 % of the mean from-scratch best (a common bar), seconds, new layers."""
    rows = []
    for target, starts in curves["results"].items():
        scratch = [r["best_score"] for label, runs in starts.items()
                   if not curves["starts"].get(label) for r in runs]
        bar = 0.95 * float(np.mean(scratch)) if scratch else None
        for label, runs in starts.items():
            for run in runs:
                hist = run["history"]
                reach = next((h["epoch"] for h in hist
                              if bar is not None and h["val_score"] >= bar), None)
                rows.append({
                    "target": target, "start": label, "seed": run["seed"],
                    "best_score": run["best_score"], "last_score": hist[-1]["val_score"],
                    "epochs": hist[-1]["epoch"],
                    "epochs_to_95pct_own_best": epochs_to_fraction(hist),
                    "epochs_to_95pct_scratch_best": reach,
                    "train_seconds": run["train_seconds"],
                    "new_layers": len(run["new_layers"] or []),
                    "all_layers_from_eval": (run["phase_start"] + 1 if run["init_weights"]
                                             else None)})
    return pd.DataFrame(rows)


def plot_curves(curves: dict):
    """Validation IoU per epoch, one panel per target, one colour per start (thesis Fig.
    24-27): thin lines are seeds, the thick line their mean; a dot marks where a transferred
    model's frozen layers were released."""
    from aixcell_automl.report.figures import pyplot

    plt = pyplot()

    targets = list(curves["results"])
    fig, axes = plt.subplots(1, len(targets), figsize=(4.2 * len(targets), 3.4), squeeze=False)
    for ax, target in zip(axes[0], targets, strict=True):
        for j, (label, runs) in enumerate(curves["results"][target].items()):
            color = f"C{j}"
            for run in runs:
                hist = run["history"]
                ax.plot([h["epoch"] for h in hist], [h["val_score"] for h in hist], "-",
                        color=color, lw=0.7, alpha=0.45)
                if run["init_weights"] and run["new_layers"] and run["phase_start"] < len(hist):
                    h = hist[run["phase_start"]]
                    ax.plot([h["epoch"]], [h["val_score"]], "o", color=color, ms=4)
            n = min(len(r["history"]) for r in runs)
            ax.plot([h["epoch"] for h in runs[0]["history"][:n]],
                    np.mean([[h["val_score"] for h in r["history"][:n]] for r in runs], axis=0),
                    "-", color=color, lw=2, label=label)
        ax.set_title(target)
        ax.set_xlabel("epoch")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("validation IoU")
    axes[0][0].legend(loc="lower right")
    fig.tight_layout()
    return fig


def write_report(table: pd.DataFrame, curves: dict) -> str:
    """A Markdown summary: means over seeds per target and start, and what pre-training
    changed (a difference smaller than the larger seed standard deviation is called noise)."""
    agg = table.groupby(["target", "start"], sort=False).agg(
        seeds=("seed", "size"), best_score_mean=("best_score", "mean"),
        best_score_std=("best_score", "std"), last_score_mean=("last_score", "mean"),
        epochs_to_95pct_scratch_best=("epochs_to_95pct_scratch_best", "mean"),
        reached=("epochs_to_95pct_scratch_best", "count")).reset_index()
    agg["best_score_std"] = agg["best_score_std"].fillna(0.0)
    lines = ["# Transfer experiment", "",
             f"Configuration `{curves['config']}`, {curves['max_pixels']:,} training pixels per "
             f"run, seeds {curves['seeds']}, {curves['hardware']}. `reached`: seeds that reached "
             "95 % of the mean from-scratch best; `epochs_to_95pct_scratch_best` is their mean.",
             "", agg.to_markdown(index=False, floatfmt=".3f"), ""]
    for target, rows in agg.groupby("target", sort=False):
        base = rows[rows["start"].map(lambda s: not curves["starts"].get(s))]
        if base.empty:
            continue
        b = base.iloc[0]
        for _, r in rows.drop(base.index).iterrows():
            diff = r["best_score_mean"] - b["best_score_mean"]
            noise = max(r["best_score_std"], b["best_score_std"])
            verdict = "within seed noise" if abs(diff) <= noise else (
                "higher" if diff > 0 else "lower")
            lines.append(f"- {target}, {r['start']}: best IoU {r['best_score_mean']:.3f} vs "
                         f"{b['best_score_mean']:.3f} from scratch ({diff:+.3f}, {verdict}); "
                         f"95 % of the scratch best reached by {r['reached']}/{r['seeds']} "
                         f"seeds (scratch {b['reached']}/{b['seeds']}), at epoch "
                         f"{r['epochs_to_95pct_scratch_best']:.2f} vs "
                         f"{b['epochs_to_95pct_scratch_best']:.2f} on average.")
    return "\n".join(lines) + "\n"
