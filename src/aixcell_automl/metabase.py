"""The meta-base (SPEC §5): one row per (dataset, configuration, fidelity) trial.

Rows live in an append-only JSON-lines file. Each row is written with a single ``write`` on a file
opened in append mode and flushed with ``fsync``; a line cut short by a crash is skipped (with a
warning) when reading and never merged with the next row. Collection skips every
``(dataset_hash, config_id, fidelity)`` already present, so re-running after a kill neither loses
nor duplicates rows.

**Fidelity protocol.** A trial trains for a fixed number of *training pixels*
(``fidelity_pixels``, default 2**23 = 8.4 Mpx: 512 patches of 128 px) - a hardware-independent
amount of work - and records the validation IoU every ``eval_every_pixels`` (default 2**21) on
about ``val_pixels`` (2**20) validation pixels, so the cheaper fidelities 2**21 and 2**22 are read
from the same learning curve. The trial's IoU is
its best validation IoU (see :mod:`.training`). Data: the dataset's seeded train/val split
(seed 0); the test split is never touched.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import logging
import os
import platform
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

KEY = ("dataset_hash", "config_id", "fidelity_pixels")


def read_rows(path: Path | str) -> list[dict]:
    """All complete rows of a JSON-lines meta-base (missing file -> no rows)."""
    path = Path(path)
    if not path.exists():
        return []
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
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
    return {tuple(r[k] for k in KEY) for r in rows}


def library_versions() -> dict[str, str]:
    from importlib import metadata

    out = {}
    for pkg in ("aixcell-automl", "tensorflow", "tf-keras", "segmentation-models",
                "albumentations", "numpy"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "missing"
    out["python"] = platform.python_version()
    return out


_DATA_CACHE: dict = {}


def trial_data(dataset_path: str, split_seed: int = 0):
    """Load (once per process) a dataset's train/val images for trials."""
    from aixcell_automl.dataset import load_dataset, split_dataset
    from aixcell_automl.training import make_trial_data

    key = (str(Path(dataset_path).resolve()), split_seed)
    if key not in _DATA_CACHE:
        _DATA_CACHE.clear()  # one dataset in memory at a time
        ds = load_dataset(dataset_path)
        data = make_trial_data(ds, split_dataset(ds, seed=split_seed), split_seed)
        _DATA_CACHE[key] = (ds.name, ds.content_hash(), data)
    return _DATA_CACHE[key]


def run_trial(dataset_path: str, config: dict, fidelity_pixels: int, seed: int,
              eval_every_pixels: int = 2**21, val_pixels: int = 2**20) -> dict:
    """Train one configuration at the given fidelity and return its meta-base row."""
    from aixcell_automl.training import Budget, Settings, hardware, release_models, train_trial

    name, dhash, data = trial_data(dataset_path)
    workdir = Path(tempfile.mkdtemp(prefix=f"trial_{name}_"))
    started = dt.datetime.now(dt.UTC)
    try:
        state = train_trial(config, data, workdir, Budget(pixels=fidelity_pixels),
                            Settings(eval_every_pixels=eval_every_pixels, val_pixels=val_pixels,
                                     checkpoint=False), seed=seed)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        release_models()  # without this, each trial's graph stays in memory
    hist = state["history"]
    best = hist[state["best_eval"] - 1] if state.get("best_eval") else None
    from aixcell_automl.search_space import hyperparameters

    return {
        "dataset": name, "dataset_hash": dhash, "config_id": config["config_id"],
        **{f"hp_{k}": v for k, v in hyperparameters(config).items()},
        "fidelity": "pixels", "fidelity_pixels": int(fidelity_pixels),
        "status": "ok" if state["status"] != "failed" else "failed",
        "reason": state.get("reason"),
        "val_iou": state.get("best_iou"),
        "final_iou": hist[-1]["val_iou"] if hist else None,
        "per_class_iou": best["per_class_iou"] if best else None,
        "curve": [[h["pixels"], h["val_iou"]] for h in hist],
        "train_seconds": state.get("train_seconds"),
        "overhead_seconds": state.get("overhead_seconds"), "steps": state.get("steps"),
        "epochs": round(state["steps"] / max(1, state.get("batches_per_epoch", 1)), 4)
        if state.get("steps") else 0,
        "patches_seen": state.get("patches_seen"), "pixels_seen": state.get("pixels_seen"),
        "sampling_factors": (state.get("sampling") or {}).get("factors"),
        "seed": seed, "split_seed": 0, "eval_every_pixels": eval_every_pixels,
        "val_pixels": val_pixels, "hardware": hardware(), "versions": library_versions(),
        "started_utc": started.isoformat(timespec="seconds"),
    }


def plan(dataset_paths: list[str], configs: list[dict], per_dataset: int, fidelity_pixels: int,
         seed: int, existing: set[tuple], hashes: dict[str, str]) -> list[tuple]:
    """Round-robin task list over datasets by position in each dataset's sampled order: the i-th
    configuration of every dataset, then the (i+1)-th... skipping what ``existing`` already holds,
    so datasets with fewer rows catch up first."""
    from aixcell_automl.search_space import sample_configs

    tasks = []
    for d, path in enumerate(dataset_paths):
        order = sample_configs(configs, len(configs), seed=seed * 7919 + _stable_int(hashes[path]))
        tasks += [(i, d, (path, c, fidelity_pixels, seed))
                  for i, c in enumerate(order[:per_dataset])
                  if (hashes[path], c["config_id"], fidelity_pixels) not in existing]
    return [task for *_, task in sorted(tasks, key=lambda t: t[:2])]


def _stable_int(hexstr: str) -> int:
    return int(hexstr[:8], 16)


def collect(dataset_paths: list[str], out_path: Path | str, configs: list[dict],
            per_dataset: int = 40, fidelity_pixels: int = 2**23, seed: int = 0,
            executor: str = "isolated", executor_options: dict | None = None,
            max_trials: int | None = None, max_minutes: float | None = None,
            reverse: bool = False, source: str = "sampled") -> int:
    """Run the planned trials and append their rows; return the number of rows written.

    ``max_minutes`` stops starting new trials after that much wall time (local and isolated
    executors). ``source`` is recorded in each row: "sampled" (the seeded plan) or "named"
    (configurations chosen by a person or a search, e.g. to place a search's winner)."""
    import time

    from tqdm.auto import tqdm

    from aixcell_automl import executors
    from aixcell_automl.dataset import load_dataset

    hashes = {p: load_dataset(p, check_pixels=False).content_hash() for p in dataset_paths}
    tasks = plan(dataset_paths, configs, per_dataset, fidelity_pixels, seed,
                 done_keys(read_rows(out_path)), hashes)
    if reverse:  # a second collector (e.g. on a GPU) works from the other end of the plan
        tasks = tasks[::-1]
    if max_trials is not None:
        tasks = tasks[:max_trials]
    log.info("meta-base: %d trials to run (%d datasets, fidelity %d px) -> %s", len(tasks),
             len(dataset_paths), fidelity_pixels, out_path)
    written, total = 0, len(tasks)
    if max_minutes and executor in ("local", "isolated"):  # these pull tasks one at a time
        deadline = time.time() + 60 * max_minutes
        tasks = itertools.takewhile(lambda _: time.time() < deadline, tasks)
    with tqdm(total=total, desc="meta-base trials", unit="trial") as bar:
        for _, row in executors.run(run_trial, tasks, executor, **(executor_options or {})):
            append_row(out_path, {**row, "source": source})
            written += 1
            bar.set_postfix_str(f"{row['dataset']} {row['config_id']} IoU={row['val_iou']}")
            bar.update()
            log.info("row %d/%d: %s %s status=%s IoU=%s (%.0fs)", written, total,
                     row["dataset"], row["config_id"], row["status"], row["val_iou"],
                     row["train_seconds"] or 0)
    if written < total:
        log.info("stopped after %d of %d trials (time limit)", written, total)
    return written


def merge(sources: Iterable[Path | str], dest: Path | str) -> int:
    """Append to ``dest`` every row of ``sources`` whose key it does not hold yet."""
    have = done_keys(read_rows(dest))
    added = 0
    for src in sources:
        for row in read_rows(src):
            key = tuple(row[k] for k in KEY)
            if key not in have:
                append_row(dest, row)
                have.add(key)
                added += 1
    return added


def to_frame(rows: list[dict]) -> pd.DataFrame:
    """Flat table (curves and per-class IoU as JSON strings)."""
    df = pd.DataFrame(rows)
    for col in ("curve", "per_class_iou", "versions", "sampling_factors"):
        if col in df:
            df[col] = df[col].map(lambda v: json.dumps(v, default=_json_default))
    return df


def remove_outliers(df: pd.DataFrame, time_z: float = 3.0, iou_z: float = 4.0) -> pd.DataFrame:
    """SPEC §5 outlier removal on ok rows, within each dataset: first |time z| > 3... (training
    time z-score > ``time_z``), then rows whose IoU |z| > ``iou_z``. Returns a new frame."""
    ok = df[df["status"] == "ok"].copy()

    def z(s: pd.Series) -> pd.Series:
        sd = s.std(ddof=0)
        return (s - s.mean()) / sd if sd > 0 else s * 0.0

    ok = ok[ok.groupby("dataset")["train_seconds"].transform(z) <= time_z]
    ok = ok[ok.groupby("dataset")["val_iou"].transform(z).abs() <= iou_z]
    return ok.reset_index(drop=True)
