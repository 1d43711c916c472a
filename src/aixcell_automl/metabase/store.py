"""The meta-base store. Rows live in an append-only JSON-lines file. Each row is written with a
single ``write`` on a file opened in append mode and flushed with ``fsync``; a line cut short by a
crash is skipped (with a warning) when reading and never merged with the next row. Collection skips
every key already present, so re-running after a kill neither loses nor duplicates rows.

Rows without a ``protocol`` field are v1 and are never mixed with rows of ``PROTOCOL`` (v2).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from aixcell_automl.core.legacy_names import upgrade
from aixcell_automl.training.hardware import library_versions  # re-exported: its old home
from aixcell_automl.training.speed import cpu_share, pixels_per_second

log = logging.getLogger(__name__)

__all__ = ["PROTOCOL", "append_row", "done_keys", "library_versions", "merge", "protocol_of",
           "read_rows", "row_key", "state_row", "to_frame"]


PROTOCOL = "v2"


def protocol_of(row: dict) -> str:
    return row.get("protocol", "v1")


def row_key(row: dict) -> tuple:
    """What makes a row unique: dataset content, configuration, fidelity and protocol."""
    return (row["dataset_hash"], row["config_id"], int(row["fidelity_pixels"]), protocol_of(row))


def read_rows(path: Path | str) -> list[dict]:
    """All complete rows of a JSON-lines meta-base or evaluation log (missing file -> no
    rows), under today's field names (:mod:`aixcell_automl.core.legacy_names`)."""
    path = Path(path)
    if not path.exists():
        return []
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            rows.append(upgrade(row, validation_per_class="fidelity_pixels" in row))
        except json.JSONDecodeError:
            log.warning("%s:%d: incomplete row skipped (interrupted write)", path, n)
    return rows


def append_row(path: Path | str, row: dict) -> None:
    """Append one row durably (one write call, then fsync)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps(row, default=_json_default, sort_keys=True) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        # a previous crash may have left a partial line: start ours on a fresh line
        if os.fstat(fd).st_size and _last_byte(path) != b"\n":
            data = "\n" + data
        os.write(fd, data.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def _last_byte(path: Path) -> bytes:
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1)


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return None if np.isnan(o) else float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o)}")


def done_keys(rows: Iterable[dict]) -> set[tuple]:
    return {row_key(r) for r in rows}


def state_row(state: dict) -> dict:
    """The meta-base row fields a trial's state gives (configuration, score, curve, work done,
    timings, speed, provenance); the one row schema of the meta-base and of learn-from-use."""
    from aixcell_automl.core.search_space import hyperparameters
    from aixcell_automl.training.hardware import cpu_model, hardware, threads
    from aixcell_automl.training.machine import recorded_factor

    hist = state["history"]
    best = hist[state["best_eval"] - 1] if state.get("best_eval") else None
    return {
        "config_id": state["config"]["config_id"],
        **{f"hp_{k}": v for k, v in hyperparameters(state["config"]).items()},
        "status": "ok" if state["status"] != "failed" else "failed",
        "reason": state.get("reason"),
        "metric": state.get("metric", "iou"), "val_score": state.get("best_score"),
        "final_score": hist[-1]["val_score"] if hist else None,
        "per_class_score": best["per_class_score"] if best else None,
        "curve": [[h["pixels"], h["val_score"]] for h in hist],
        "train_seconds": state.get("train_seconds"),
        "overhead_seconds": state.get("overhead_seconds"),
        "eval_seconds": state.get("eval_seconds"), "steps": state.get("steps"),
        "stopped_seconds": state.get("stopped_seconds"),
        "pixels_per_second": pixels_per_second(state),
        "cpu_seconds": state.get("cpu_seconds"), "cpu_share": cpu_share(state),
        "epochs": round(state["steps"] / max(1, state.get("batches_per_epoch", 1)), 4)
        if state.get("steps") else 0,
        "patches_seen": state.get("patches_seen"), "pixels_seen": state.get("pixels_seen"),
        "sampling_factors": (state.get("sampling") or {}).get("factors"),
        "seed": state.get("seed"), "hardware": hardware(), "cpu_model": cpu_model(),
        "threads": threads(),
        "precision": state.get("precision", "float32"),
        "precision_fallback": state.get("precision_fallback"),
        "machine_factor": recorded_factor(state.get("precision", "float32")),
        "versions": library_versions(),
    }


def merge(sources: Iterable[Path | str], dest: Path | str) -> int:
    """Append to ``dest`` every row of ``sources`` whose key it does not hold yet."""
    have = done_keys(read_rows(dest))
    added = 0
    for src in sources:
        for row in read_rows(src):
            key = row_key(row)
            if key not in have:
                append_row(dest, row)
                have.add(key)
                added += 1
    return added


def to_frame(rows: list[dict]) -> pd.DataFrame:
    """Flat table (curves and per-class IoU as JSON strings)."""
    df = pd.DataFrame(rows)
    for col in ("curve", "per_class_score", "versions", "sampling_factors"):
        if col in df:
            df[col] = df[col].map(lambda v: json.dumps(v, default=_json_default))
    return df
