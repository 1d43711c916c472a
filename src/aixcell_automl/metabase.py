"""The meta-base (docs/metabase.md): one row per (dataset, configuration, fidelity, protocol).

Rows live in an append-only JSON-lines file. Each row is written with a single ``write`` on a file
opened in append mode and flushed with ``fsync``; a line cut short by a crash is skipped (with a
warning) when reading and never merged with the next row. Collection skips every key already
present, so re-running after a kill neither loses nor duplicates rows.

**Protocol v2** (``PROTOCOL``; rows without a ``protocol`` field are v1 and are never mixed with
v2 rows). A trial trains for a fixed number of *training pixels* (the fidelity, hardware
independent) without early stopping, and is scored at every power of two from 2**21 pixels on
the same fixed validation regions of the dataset (``VAL_PIXELS``), predicted by sliding windows
of the configuration's patch size (see :mod:`.training`). The trial's IoU is its best validation
IoU so far. Data: the dataset's seeded train/val split (seed 0); the test split is never touched.

**The ladder** (``LADDER``): per dataset, successive halving run as a collection
plan. Rung 0 trains 12 sampled configurations to 2**23 pixels; 6 continue from their checkpoint to
2**25 (the best 4 and 2 drawn at random from the other 8, seeded), 3 of those to 2**26 (the best 2
and 1 drawn at random). Each rung of each configuration is its own row. Checkpoints live under a
folder per dataset and configuration only while the configuration can still be promoted.
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

PROTOCOL = "v2"
# per rung: (configurations, training pixels, how many of the best go up; the rest of the next
# rung is drawn at random from the others)
LADDER = ((12, 2**23, 4), (6, 2**25, 2), (3, 2**26, 0))
EVAL_AT = tuple(2**k for k in range(21, 31))  # validation points (training pixels)
VAL_PIXELS = 2**20  # validation pixels per evaluation (see docs/metabase.md for the cost)


def protocol_of(row: dict) -> str:
    return row.get("protocol", "v1")


def row_key(row: dict) -> tuple:
    """What makes a row unique: dataset content, configuration, fidelity and protocol."""
    return (row["dataset_hash"], row["config_id"], int(row["fidelity_pixels"]), protocol_of(row))


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
    return {row_key(r) for r in rows}


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
              run_dir: str | None = None) -> dict:
    """Train one configuration to ``fidelity_pixels`` and return its meta-base row.

    With ``run_dir`` the trial keeps checkpoints there and continues from them (the ladder);
    without, it trains in a temporary folder that is removed afterwards."""
    from aixcell_automl.training import Budget, Settings, release_models, train_trial

    name, dhash, data = trial_data(dataset_path)
    workdir = Path(run_dir) if run_dir else Path(tempfile.mkdtemp(prefix=f"trial_{name}_"))
    started = dt.datetime.now(dt.UTC)
    settings = Settings(eval_at=EVAL_AT, val_pixels=VAL_PIXELS, early_stopping=False,
                        checkpoint=run_dir is not None)
    try:
        state = train_trial(config, data, workdir, Budget(pixels=fidelity_pixels), settings,
                            seed=seed)
    finally:
        if not run_dir:
            shutil.rmtree(workdir, ignore_errors=True)
        release_models()  # without this, each trial's graph stays in memory
    regions = data.validation(VAL_PIXELS)
    return {
        "dataset": name, "dataset_hash": dhash, **state_row(state),
        "protocol": PROTOCOL, "fidelity": "pixels", "fidelity_pixels": int(fidelity_pixels),
        "split_seed": 0, "eval_at": [e for e in EVAL_AT if e <= fidelity_pixels],
        "val_pixels": int(sum(m.size for m in regions.masks)), "val_regions": len(regions.masks),
        "early_stopping": False, "started_utc": started.isoformat(timespec="seconds"),
    }


def state_row(state: dict) -> dict:
    """The meta-base row fields a trial's state gives (configuration, score, curve, work done,
    timings, speed, provenance); the one row schema of the meta-base and of learn-from-use."""
    from aixcell_automl.search_space import hyperparameters
    from aixcell_automl.training import hardware

    hist = state["history"]
    best = hist[state["best_eval"] - 1] if state.get("best_eval") else None
    pure = (state.get("train_seconds") or 0) - (state.get("overhead_seconds") or 0) - (
        state.get("eval_seconds") or 0)
    return {
        "config_id": state["config"]["config_id"],
        **{f"hp_{k}": v for k, v in hyperparameters(state["config"]).items()},
        "status": "ok" if state["status"] != "failed" else "failed",
        "reason": state.get("reason"),
        "metric": state.get("metric", "iou"), "val_iou": state.get("best_iou"),
        "final_iou": hist[-1]["val_iou"] if hist else None,
        "per_class_iou": best["per_class_iou"] if best else None,
        "curve": [[h["pixels"], h["val_iou"]] for h in hist],
        "train_seconds": state.get("train_seconds"),
        "overhead_seconds": state.get("overhead_seconds"),
        "eval_seconds": state.get("eval_seconds"), "steps": state.get("steps"),
        "pixels_per_second": round(state["pixels_seen"] / pure, 1)
        if pure > 0 and state.get("pixels_seen") else None,
        "epochs": round(state["steps"] / max(1, state.get("batches_per_epoch", 1)), 4)
        if state.get("steps") else 0,
        "patches_seen": state.get("patches_seen"), "pixels_seen": state.get("pixels_seen"),
        "sampling_factors": (state.get("sampling") or {}).get("factors"),
        "seed": state.get("seed"), "hardware": hardware(), "versions": library_versions(),
    }


def parse_ladder(text: str) -> tuple:
    """``"12@23:4,6@25:2,3@26"`` (configurations @ log2 pixels : best promoted) -> rungs."""
    rungs = []
    for part in text.split(","):
        n, rest = part.split("@")
        px, _, best = rest.partition(":")
        rungs.append((int(n), 2 ** int(px), int(best or 0)))
    return tuple(rungs)


def ladder_start(configs: list[dict], dataset_hash: str, seed: int, ladder: tuple = LADDER
                 ) -> list[dict]:
    """Rung 0 of a dataset's ladder: a seeded sample of the space (seed from the dataset)."""
    from aixcell_automl.search_space import sample_configs

    return sample_configs(configs, ladder[0][0], seed=seed * 7919 + _stable_int(dataset_hash))


def promote(scores: dict[str, float | None], n_best: int, n_random: int, seed: list[int]
            ) -> list[str]:
    """Ids promoted from a rung: the ``n_best`` best scores, plus ``n_random`` drawn (seeded)
    from the other ok ones. Failed trials (score ``None``) are never promoted."""
    ok = sorted((cid for cid, v in scores.items() if v is not None),
                key=lambda cid: (-scores[cid], cid))
    rest = ok[n_best:]
    drawn = np.random.default_rng(seed).choice(len(rest), min(n_random, len(rest)), replace=False)
    return ok[:n_best] + sorted(rest[i] for i in drawn)


def ladder_position(first: list[dict], rows: dict[tuple[str, int], dict], seed: list[int],
                    ladder: tuple = LADDER) -> tuple[int, list[dict], list[dict]]:
    """Where a dataset's ladder stands: ``(rung, its members, members still to train)``;
    ``rung == len(ladder)`` when the ladder is complete. ``rows`` maps (config id, fidelity)
    to the dataset's protocol-v2 rows."""
    members = first
    for r, (_, fidelity, best) in enumerate(ladder):
        todo = [c for c in members if (c["config_id"], fidelity) not in rows]
        if todo or r + 1 == len(ladder):
            return (r, members, todo) if todo else (len(ladder), [], [])
        scores = {c["config_id"]: (rows[c["config_id"], fidelity]["val_iou"]
                                   if rows[c["config_id"], fidelity]["status"] == "ok" else None)
                  for c in members}
        keep = set(promote(scores, best, ladder[r + 1][0] - best, seed=[*seed, r]))
        members = [c for c in members if c["config_id"] in keep]
    raise AssertionError("unreachable")


def _prune_checkpoints(folder: Path, keep: set[str]) -> None:
    """Remove the checkpoints of configurations that can no longer be promoted."""
    if folder.exists():
        for sub in folder.iterdir():
            if sub.name not in keep:
                shutil.rmtree(sub, ignore_errors=True)
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)


def _stable_int(hexstr: str) -> int:
    return int(hexstr[:8], 16)


def ladder_tasks(dataset_paths: list[str], configs: list[dict], rows: list[dict],
                 hashes: dict[str, str], checkpoints: Path, seed: int = 0,
                 ladder: tuple = LADDER) -> tuple[list[tuple], int]:
    """The next rung's trials of one dataset, and the trials left over all ladders.

    The dataset is one whose ladder is under way (so few checkpoints exist at a time), else the
    one with the fewest rows (ties: the configured order). Checkpoints that can no longer be
    promoted are removed on the way."""
    mine = [r for r in rows if protocol_of(r) == PROTOCOL and r.get("source") == "ladder"]
    by_hash: dict[str, dict] = {}
    for r in mine:
        by_hash.setdefault(r["dataset_hash"], {})[(r["config_id"], int(r["fidelity_pixels"]))] = r
    slots = sum(n for n, *_ in ladder)
    left, choice = 0, None
    for order, path in enumerate(dataset_paths):
        h = hashes[path]
        done = by_hash.get(h, {})
        rung, members, todo = ladder_position(ladder_start(configs, h, seed, ladder), done,
                                              [seed, _stable_int(h)], ladder)
        _prune_checkpoints(checkpoints / h, {c["config_id"] for c in members})
        if not todo:
            continue
        left += max(len(todo), slots - len(done))
        rank = (not done, len(done), order)
        if choice is None or rank < choice[0]:
            choice = (rank, path, h, todo, ladder[rung][1])
    if choice is None:
        return [], 0
    _, path, h, todo, fidelity = choice
    return [(path, c, fidelity, seed, str(checkpoints / h / c["config_id"]))
            for c in todo], left


def _run_tasks(tasks, out_path, executor, executor_options, deadline, source, bar) -> int:
    import time

    from aixcell_automl import executors

    if deadline and executor in ("local", "isolated"):  # these pull tasks one at a time
        tasks = itertools.takewhile(lambda _: time.time() < deadline, tasks)
    written = 0
    for _, row in executors.run(run_trial, tasks, executor, **(executor_options or {})):
        append_row(out_path, {**row, "source": source})
        written += 1
        bar.set_postfix_str(f"{row['dataset']} {row['config_id']} "
                            f"2^{int(np.log2(row['fidelity_pixels']))} IoU={row['val_iou']}")
        bar.update()
        log.info("row: %s %s at 2^%d px status=%s IoU=%s (%.0fs)", row["dataset"],
                 row["config_id"], int(np.log2(row["fidelity_pixels"])), row["status"],
                 row["val_iou"], row["train_seconds"] or 0)
    return written


def collect(dataset_paths: list[str], out_path: Path | str, configs: list[dict],
            checkpoints: Path | str = "data/03_primary/metabase_checkpoints", seed: int = 0,
            executor: str = "isolated", executor_options: dict | None = None,
            max_trials: int | None = None, max_minutes: float | None = None,
            ladder: tuple = LADDER) -> int:
    """Run the datasets' ladders (see module doc), appending a row per finished trial; return
    the number of rows written. Stops when the ladders are complete, after ``max_trials`` trials
    or, for the local and isolated executors, when ``max_minutes`` have passed (no new trial
    starts after that). Safe to kill at any point and run again."""
    import time

    from tqdm.auto import tqdm

    from aixcell_automl.dataset import load_dataset

    checkpoints = Path(checkpoints)
    hashes = {p: load_dataset(p, check_pixels=False).content_hash() for p in dataset_paths}
    deadline = time.time() + 60 * max_minutes if max_minutes else None
    tasks, left = ladder_tasks(dataset_paths, configs, read_rows(out_path), hashes, checkpoints,
                               seed, ladder)
    log.info("meta-base ladder: %d trials left over %d datasets -> %s", left,
             len(dataset_paths), out_path)
    written = 0
    with tqdm(total=left if max_trials is None else min(left, max_trials),
              desc="meta-base trials", unit="trial") as bar:
        while tasks and (max_trials is None or written < max_trials):
            if max_trials is not None:
                tasks = tasks[:max_trials - written]
            n = _run_tasks(tasks, out_path, executor, executor_options, deadline, "ladder", bar)
            written += n
            if n < len(tasks) or (deadline and time.time() >= deadline):
                log.info("stopped after %d trials (limit)", written)
                break
            tasks, _ = ladder_tasks(dataset_paths, configs, read_rows(out_path), hashes,
                                    checkpoints, seed, ladder)
    return written


def collect_named(dataset_paths: list[str], out_path: Path | str, configs: list[dict],
                  fidelity_pixels: int = 2**23, seed: int = 0, executor: str = "isolated",
                  executor_options: dict | None = None) -> int:
    """Train exactly ``configs`` on every dataset at one fidelity (e.g. to place a search's
    winner among a dataset's rows); rows are marked ``source="named"``."""
    from tqdm.auto import tqdm

    from aixcell_automl.dataset import load_dataset

    have = done_keys(read_rows(out_path))
    tasks = []
    for path in dataset_paths:
        h = load_dataset(path, check_pixels=False).content_hash()
        tasks += [(path, c, fidelity_pixels, seed) for c in configs
                  if (h, c["config_id"], fidelity_pixels, PROTOCOL) not in have]
    with tqdm(total=len(tasks), desc="meta-base trials", unit="trial") as bar:
        return _run_tasks(tasks, out_path, executor, executor_options, None, "named", bar)


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
    for col in ("curve", "per_class_iou", "versions", "sampling_factors"):
        if col in df:
            df[col] = df[col].map(lambda v: json.dumps(v, default=_json_default))
    return df


def remove_outliers(df: pd.DataFrame, iou_z: float = 4.0) -> pd.DataFrame:
    """Outlier removal on ok rows: drop rows whose IoU |z| exceeds ``iou_z`` within their
    dataset and fidelity. Returns a new frame; the file keeps every row.

    The thesis also dropped rows whose training time z > 3. Here a trial's length is a fixed
    number of pixels, so a long training time means a configuration that is slow by design
    (e.g. ResNet-50 at patch 64 and batch 4), not a broken run; that rule is not applied
    (docs/method.md)."""
    ok = df[df["status"] == "ok"].copy()
    if ok.empty:
        return ok.reset_index(drop=True)

    def z(s: pd.Series) -> pd.Series:
        sd = s.std(ddof=0)
        return (s - s.mean()) / sd if sd > 0 else s * 0.0

    keys = ["dataset", "fidelity_pixels"] if "fidelity_pixels" in ok else ["dataset"]
    ok = ok[ok.groupby(keys)["val_iou"].transform(z).abs() <= iou_z]
    return ok.reset_index(drop=True)
