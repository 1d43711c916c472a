"""A trial's training speed, the one formula: pixels per second of *pure* training (building,
restoring, tracing and evaluation left out where the state records them). The meta-base row's
``pixels_per_second`` (:func:`aixcell_automl.metabase.store.state_row`) and the search budget's
speeds (:func:`aixcell_automl.search.budget.normalised_speeds`) both use it."""

from __future__ import annotations

from collections.abc import Mapping


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
