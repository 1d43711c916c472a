"""A trial's training speed, the one formula: pixels per second of *pure* training (building,
restoring, tracing and evaluation left out where the state records them). The meta-base row's
``pixels_per_second`` (:func:`aixcell_automl.metabase.store.state_row`) and the search budget's
speeds (:func:`normalised_speeds`) both use it.

A speed says something about a configuration only if the trial had the machine to itself:
:func:`cpu_share` is the CPU time its process used over the wall time it trained, per core
(about 1 alone; about 0.5 beside another job on the same cores), and :func:`trusted` marks
the rows that record a machine factor and, on a CPU, a share of at least ``MIN_CPU_SHARE``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

MIN_CPU_SHARE = 0.75


def pure_training_seconds(record):
    """Seconds of pure training of a trial: ``train_seconds`` less ``overhead_seconds`` (build,
    restore, tracing) and ``eval_seconds`` where recorded. ``record`` is a trial's state (or a
    meta-base row) as a dict, or a DataFrame of rows (then a Series, missing values as 0)."""
    if not isinstance(record, Mapping):  # a DataFrame
        spent = record["train_seconds"].copy()
        for col in ("overhead_seconds", "eval_seconds"):
            if col in record:
                spent -= record[col].fillna(0)
        return spent
    return ((record.get("train_seconds") or 0) - (record.get("overhead_seconds") or 0)
            - (record.get("eval_seconds") or 0))


def pixels_per_second(state: dict) -> float | None:
    """A trial's training speed, pixels per second of :func:`pure_training_seconds` (one
    decimal), as the meta-base records it; None before any pure training."""
    pure = pure_training_seconds(state)
    if pure > 0 and state.get("pixels_seen"):
        return round(state["pixels_seen"] / pure, 1)
    return None


def cpu_share(state: dict) -> float | None:
    """CPU seconds of the trial's process per core per second of training (see module doc);
    None where the state records no CPU time."""
    if not state.get("cpu_seconds") or not state.get("train_seconds"):
        return None
    return round(state["cpu_seconds"] / (state["train_seconds"] * (os.cpu_count() or 1)), 3)


def normalised_speeds(rows):
    """Each meta-base row's training speed on the nominal machine: pixels per second of pure
    training over the row's ``machine_factor`` (:mod:`aixcell_automl.training.machine`); rows
    without a factor keep their raw speed. ``rows``: a DataFrame."""
    speed = rows["pixels_seen"] / pure_training_seconds(rows).clip(lower=1e-3)
    if "machine_factor" in rows:
        speed = speed / rows["machine_factor"].fillna(1.0)
    return speed


def trusted(rows):
    """Which rows' speeds describe their configuration: a machine factor is recorded and, on a
    CPU, the trial had a ``cpu_share`` of at least ``MIN_CPU_SHARE`` (see module doc)."""
    import pandas as pd

    def col(name):
        return rows[name] if name in rows else pd.Series(float("nan"), index=rows.index)

    on_cpu = pd.Series([isinstance(h, str) and h.startswith("cpu:") for h in col("hardware")],
                       index=rows.index, dtype=bool)
    return col("machine_factor").notna() & (~on_cpu | (col("cpu_share") >= MIN_CPU_SHARE))
