"""The search (SPEC §0, §7): rank all configurations with the meta-model, then successive
halving over the top-k on the user's dataset, each rung's trials run through an executor."""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from aixcell_automl.halving import (
    slice_seconds,
    successive_halving,
    suggest_k,
    survivors_per_rung,
    winner_share,
)
from aixcell_automl.training import Budget, Settings, TrialData, release_models, train_trial

log = logging.getLogger(__name__)


def check_budget(budget_seconds: float, k: int, min_slice_seconds: float) -> dict:
    """Warn (and suggest a k) when the first rung's slice is too short to train anything."""
    first = slice_seconds(budget_seconds, k)[0]
    ok = first >= min_slice_seconds
    advice = {"first_slice_seconds": first, "min_slice_seconds": min_slice_seconds, "ok": ok,
              "suggested_k": suggest_k(budget_seconds, min_slice_seconds, max(k, 1))}
    if not ok:
        log.warning("budget %.0f s is too small for k=%d: the first rung gives each configuration "
                    "%.1f s (< %.0f s needed to build, train and evaluate once). Use k=%d or a "
                    "budget of at least %.0f s.", budget_seconds, k, first, min_slice_seconds,
                    advice["suggested_k"], min_slice_seconds * budget_seconds / max(first, 1e-9))
    return advice


def suggest_budget(configs: list[dict], metabase: pd.DataFrame, target: dict,
                   fidelity_pixels: int, hardware: str) -> dict | None:
    """A budget (s) for successive halving over ``configs``: enough for the winner to see the
    meta-base fidelity or one pass over the target dataset's pixels (from its meta-features),
    whichever is more, at the median training speed the meta-base measured for these
    configurations on the same kind of device (``cpu``/``gpu`` prefix of ``hardware``; build and
    tracing time excluded where the row records it). None without such rows."""
    if metabase.empty:
        return None
    kind = hardware.split(":")[0]
    rows = metabase[(metabase["status"] == "ok") & (metabase["train_seconds"] > 0)
                    & metabase["hardware"].str.startswith(kind + ":")]
    if rows.empty:
        return None
    overhead = rows["overhead_seconds"].fillna(0) if "overhead_seconds" in rows else 0.0
    speed = rows["pixels_seen"] / (rows["train_seconds"] - overhead).clip(lower=1e-3)
    speeds = []
    for c in configs:
        same_bb = rows["hp_backbone"] == c["backbone"]
        exact = speed[same_bb & (rows["hp_patch_size"] == c["patch_size"])
                      & (rows["hp_batch_size"] == c["batch_size"])]
        speeds.append(float((exact if len(exact) else speed[same_bb]).median()))
    pps = float(np.median([v for v in speeds if v > 0] or [speed.median()]))
    winner_pixels = max(fidelity_pixels,
                        target["hc_n_images"] * target["hc_mean_image_shape"] ** 2)
    return {"budget_seconds": float(winner_pixels / pps / winner_share(len(configs))),
            "k": len(configs), "winner_pixels": float(winner_pixels), "pixels_per_second": pps,
            "measured_on": ", ".join(sorted(rows["hardware"].unique())), "rows": len(rows)}


def _ray_trial(dataset_path: str, split: dict, seed: int, config: dict, run_dir: str,
               seconds: float, settings: Settings) -> dict:
    """A rung trial on a Ray worker: loads the dataset there (shared filesystem assumed)."""
    from aixcell_automl.dataset import load_dataset
    from aixcell_automl.training import make_trial_data

    data = make_trial_data(load_dataset(dataset_path, check_pixels=False), split, seed)
    return train_trial(config, data, run_dir, Budget(seconds=seconds), settings, seed)


def run_search(candidates: list[dict], data: TrialData, run_root: Path, budget_seconds: float,
               settings: Settings, seed: int = 0, executor: str = "local",
               executor_options: dict | None = None, dataset_path: str | None = None,
               split: dict | None = None) -> dict:
    """Successive halving over ``candidates`` (rank order); resumes from ``run_root/trace.json``.

    Checkpoints of configurations that are dropped are deleted (their ``state.json`` stays).
    """
    from aixcell_automl import executors

    run_root.mkdir(parents=True, exist_ok=True)
    trace_path = run_root / "trace.json"
    trace = json.loads(trace_path.read_text()) if trace_path.exists() else None
    bar = tqdm(total=sum(survivors_per_rung(len(candidates))), desc="successive halving",
               unit="trial")

    def persist(partial: dict) -> None:
        tmp = trace_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(partial, indent=1))
        os.replace(tmp, trace_path)

    def run_rung(jobs: list[tuple[dict, float]]) -> list[dict]:
        log.info("rung: %d configurations x %.1f s", len(jobs), jobs[0][1])
        if executor == "local":
            states = []
            for cfg, secs in jobs:
                bar.set_postfix_str(f"{cfg['config_id']} {cfg['backbone']} p{cfg['patch_size']}")
                states.append(train_trial(cfg, data, run_root / cfg["config_id"],
                                          Budget(seconds=secs), settings, seed))
                bar.update(1)
            return states
        tasks = [(dataset_path, split, seed, cfg, str(run_root / cfg["config_id"]), secs, settings)
                 for cfg, secs in jobs]
        out = [None] * len(tasks)
        for i, state in executors.run(_ray_trial, tasks, executor, **(executor_options or {})):
            out[i] = state
            bar.update(1)
        return out

    result = successive_halving(candidates, budget_seconds, run_rung, trace, on_trial=persist)
    bar.close()
    release_models()
    for cfg in candidates:
        if cfg["config_id"] != result["winner"]:
            shutil.rmtree(run_root / cfg["config_id"] / "ckpt", ignore_errors=True)
    tmp = trace_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1))
    os.replace(tmp, trace_path)
    return result


def halving_rows(trace: dict, run_root: Path, dataset: str, dataset_hash: str) -> list[dict]:
    """Meta-base rows for every configuration a search trained (fidelity ``"halving"``: the
    pixels it saw before it was dropped or won), so each search can improve the next ranking."""
    from aixcell_automl.metabase import library_versions
    from aixcell_automl.search_space import hyperparameters
    from aixcell_automl.training import hardware

    rows = []
    for cid in {t["config_id"] for r in trace["rungs"] for t in r["trials"]}:
        state = json.loads((run_root / cid / "state.json").read_text())
        hist = state["history"]
        rows.append({
            "dataset": dataset, "dataset_hash": dataset_hash, "config_id": cid,
            **{f"hp_{k}": v for k, v in hyperparameters(state["config"]).items()},
            "fidelity": "halving", "fidelity_pixels": int(state["pixels_seen"]),
            "status": "ok" if state["status"] != "failed" else "failed",
            "reason": state.get("reason"), "val_iou": state.get("best_iou"),
            "final_iou": hist[-1]["val_iou"] if hist else None,
            "curve": [[h["pixels"], h["val_iou"]] for h in hist],
            "train_seconds": state.get("train_seconds"), "steps": state.get("steps"),
            "patches_seen": state.get("patches_seen"), "pixels_seen": state.get("pixels_seen"),
            "seed": state.get("seed"), "hardware": hardware(), "versions": library_versions(),
        })
    return sorted(rows, key=lambda r: r["config_id"])
