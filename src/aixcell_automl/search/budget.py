"""How much budget, and how many candidates: slices long enough to learn, k chosen from the
configurations' measured speeds, the fidelity a winner would reach, a suggested budget."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from aixcell_automl.search.halving import strategy_schedule, suggest_k, winner_share
from aixcell_automl.training.speed import (
    normalised_speeds,
    pixels_per_second,
    pure_training_seconds,
    trusted,
)

__all__ = ["budget_note", "check_budget", "choose_k", "choose_split", "config_speeds",
           "normalised_speeds", "pixels_per_second", "pure_training_seconds", "suggest_budget",
           "trusted", "winner_fidelity"]

log = logging.getLogger(__name__)


def check_budget(budget_seconds: float, k: int, min_slice_seconds: float,
                 strategy: str = "successive_halving") -> dict:
    """Warn (and suggest a k) when the first rung's slice of ``strategy`` is too short to train
    anything."""
    first = strategy_schedule(strategy, budget_seconds, k)[0][0]
    ok = first >= min_slice_seconds
    advice = {"first_slice_seconds": first, "min_slice_seconds": min_slice_seconds, "ok": ok,
              "suggested_k": suggest_k(budget_seconds, min_slice_seconds, max(k, 1), strategy)}
    if not ok:
        log.warning("budget %.0f s is too small for k=%d: the first rung gives each configuration "
                    "%.1f s (< %.0f s needed to build, train and evaluate once). Use k=%d or a "
                    "budget of at least %.0f s.", budget_seconds, k, first, min_slice_seconds,
                    advice["suggested_k"], min_slice_seconds * budget_seconds / max(first, 1e-9))
    return advice


def config_speeds(configs: list[dict], metabase: pd.DataFrame, hardware: str,
                  machine_factor: float | None = None) -> np.ndarray | None:
    """Training speed (pixels per second) each configuration would have on this machine: the
    median normalised speed (:func:`normalised_speeds`) of the meta-base rows of the same kind of
    device (``cpu``/``gpu`` prefix of ``hardware``) with the same backbone, patch and batch size,
    else the same backbone, else all, times this machine's factor (default: measured once per
    machine, then cached). Only rows whose speed can be trusted count (:func:`trusted`: a
    machine factor, and the cores to themselves); without any, the raw speeds of all rows.
    None without rows."""
    if metabase.empty or "hardware" not in metabase:
        return None
    kind = hardware.split(":")[0]
    rows = metabase[(metabase["status"] == "ok") & (metabase["train_seconds"] > 0)
                    & metabase["hardware"].fillna("").str.startswith(kind + ":")]
    if trusted(rows).any():
        rows = rows[trusted(rows)]
        if machine_factor is None:
            from aixcell_automl.training import machine

            machine_factor = machine.machine_factor()["machine_factor"]
    else:
        machine_factor = None  # raw speeds: nothing to scale
    if rows.empty:
        return None
    speed = normalised_speeds(rows) * (machine_factor or 1.0)
    out = []
    for c in configs:
        same_bb = rows["hp_backbone"] == c["backbone"]
        exact = speed[same_bb & (rows["hp_patch_size"] == c["patch_size"])
                      & (rows["hp_batch_size"] == c["batch_size"])]
        pick = exact if len(exact) else speed[same_bb] if same_bb.any() else speed
        out.append(float(pick.median()))
    return np.asarray(out)


def suggest_budget(configs: list[dict], metabase: pd.DataFrame, target: dict,
                   fidelity_pixels: int, hardware: str, strategy: str = "successive_halving"
                   ) -> dict | None:
    """A budget (s) for successive halving over ``configs``: enough for the winner to see the
    meta-base fidelity or one pass over the target dataset's pixels (from its meta-features),
    whichever is more, at the median speed of :func:`config_speeds`. None without rows."""
    speeds = config_speeds(configs, metabase, hardware)
    if speeds is None:
        return None
    pps = float(np.median(speeds))
    winner_pixels = max(fidelity_pixels,
                        target["hc_n_images"] * target["hc_mean_image_shape"] ** 2)
    kind = hardware.split(":")[0]
    same_kind = metabase[metabase["hardware"].fillna("").str.startswith(kind + ":")
                         & (metabase["status"] == "ok")]
    return {"budget_seconds": float(winner_pixels / pps / winner_share(len(configs), strategy)),
            "k": len(configs), "winner_pixels": float(winner_pixels), "pixels_per_second": pps,
            "measured_on": ", ".join(sorted(same_kind["hardware"].unique())),
            "rows": len(same_kind)}


MIN_FIRST_RUNG_PIXELS = 2**21


def choose_k(budget_seconds: float, speeds: np.ndarray | None, k_max: int = 50,
             min_pixels: int = MIN_FIRST_RUNG_PIXELS, strategy: str = "successive_halving"
             ) -> tuple[int, str]:
    """The largest k <= ``k_max`` whose first rung gives a configuration of median speed at
    least ``min_pixels`` training pixels, and the reason in words."""
    if speeds is None or not len(speeds):
        return 1, "no measured speed on this kind of device: k = 1 (the plan alone)"
    pps = float(np.median(speeds))
    k = suggest_k(budget_seconds, min_pixels / pps, k_max, strategy)
    first = strategy_schedule(strategy, budget_seconds, k)[0][0] * pps
    return k, (f"k = {k}: the largest k (at most {k_max}) whose first rung gives each "
               f"configuration at least 2^{int(np.log2(min_pixels))} training pixels "
               f"({first / 2**20:.1f} Mpx at the median measured speed "
               f"{pps / 1e3:.0f} kpx/s and {budget_seconds / 60:.1f} min)")


def choose_split(budget_seconds: float, speeds: np.ndarray | None, params: dict
                 ) -> tuple[str, int, str]:
    """``(strategy, k, reason)`` of a search: ``params['strategy']`` and ``params['k']`` where
    set, else those of the first row of ``params['split']`` whose ``up_to_log2`` (null: no
    limit) covers the budget in training pixels, ``log2(budget_seconds x`` the median of
    ``speeds)``; without a measured speed, the last row. The rows are decided on the replay
    benchmark (docs/results/replay.md) and say why (``why``, quoted in the reason). A row's
    ``k: null`` is :func:`choose_k`'s, a row's k is lowered where its first slice would be
    shorter than ``params['min_slice_seconds']``; ``plan_only`` has k = 1 whatever is set."""
    rows = check_split(params["split"])
    if speeds is None or not len(speeds):
        row, where = rows[-1], "no measured speed on this kind of device: search.split's last row"
    else:
        pps = float(np.median(speeds))
        bits = float(np.log2(budget_seconds * pps))
        row = next((r for r in rows if r["up_to_log2"] is None or bits <= r["up_to_log2"]),
                   rows[-1])
        limit = "any budget" if row["up_to_log2"] is None else f"up to 2^{row['up_to_log2']:g} px"
        where = (f"the budget is 2^{bits:.1f} training pixels at the median measured speed "
                 f"{pps / 1e3:.0f} kpx/s: search.split's row for {limit}")
    where += f" ({row['why']})"
    strategy = params["strategy"] or row["strategy"]
    if strategy == "plan_only":  # trains one candidate: the reserve starts at the 2nd
        k, k_from = 1, "plan_only trains the plan alone"
    elif params["k"]:
        k, k_from = int(params["k"]), "search.k"
    elif row["k"]:
        k, k_from = _slices_long_enough(budget_seconds, int(row["k"]), strategy,
                                        float(params["min_slice_seconds"]))
    else:
        k, k_from = choose_k(budget_seconds, speeds, int(params["k_max"]), strategy=strategy)
    s_from = "search.strategy" if params["strategy"] else "search.split"
    return strategy, k, f"{strategy} over k = {k} (strategy: {s_from}; k: {k_from}); {where}"


def _slices_long_enough(budget_seconds: float, k: int, strategy: str,
                        min_slice_seconds: float) -> tuple[int, str]:
    """A split row's k, lowered where its first slice would be shorter than
    ``min_slice_seconds``: the replay charges a trial nothing for building and tracing its
    model, a real one does, so a slice shorter than that trains next to nothing."""
    fits = suggest_k(budget_seconds, min_slice_seconds, k, strategy)
    if fits >= k:
        return k, "search.split"
    return fits, (f"search.split's k = {k}, lowered to {fits} so that each first slice is at "
                  f"least search.min_slice_seconds = {min_slice_seconds:g} s")


SPLIT_ROW = {"up_to_log2", "strategy", "k", "why"}


def check_split(rows) -> list[dict]:
    """``search.split``'s rows, or a :class:`UserError` saying what is wrong with them."""
    from aixcell_automl.core.errors import UserError
    from aixcell_automl.plugins.registry import strategies

    rows = list(rows or [])
    if not rows:
        raise UserError("search.split has no row; give at least one {up_to_log2, strategy, k, "
                        "why} (conf/base/parameters_search.yml)")
    for i, r in enumerate(rows):
        if set(r) != SPLIT_ROW:
            raise UserError(f"search.split row {i + 1} has {sorted(r)}; a row has exactly "
                            f"{sorted(SPLIT_ROW)}")
        if r["strategy"] not in strategies():
            raise UserError(f"search.split row {i + 1}: strategy {r['strategy']!r} is not "
                            f"registered; registered: {sorted(strategies())}")
    return rows


def winner_fidelity(speeds: np.ndarray, budget_seconds: float, k: int,
                    strategy: str = "successive_halving") -> np.ndarray:
    """Training pixels each configuration would see if it won a search of ``strategy`` over
    ``k`` candidates within ``budget_seconds`` (its speed times its share of the budget)."""
    return np.asarray(speeds, float) * budget_seconds * winner_share(k, strategy)


def budget_note(suggestion: dict | None) -> str:
    """One sentence on the suggested budget ("" without a suggestion)."""
    if not suggestion:
        return ""
    return (f"Suggested budget for k={suggestion['k']} on this dataset: "
            f"{suggestion['budget_seconds'] / 60:.1f} min, so that the winner sees "
            f"{suggestion['winner_pixels'] / 1e6:.1f} Mpx at the median training speed the "
            f"meta-base measured for these configurations "
            f"({suggestion['pixels_per_second'] / 1e6:.3f} Mpx/s on {suggestion['measured_on']}).")
