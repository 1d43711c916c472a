"""The collector: runs the ladders' trials through an executor and appends a row per finished
trial. Collection skips every key already present, so re-running after a kill neither loses nor
duplicates rows."""

from __future__ import annotations

import itertools
import logging
import time
from pathlib import Path

import numpy as np

from aixcell_automl.metabase.ladder import FIRST_FIDELITY, LADDER, ladder_tasks
from aixcell_automl.metabase.store import PROTOCOL, append_row, done_keys, read_rows
from aixcell_automl.metabase.trial import run_trial

log = logging.getLogger(__name__)


def _run_tasks(tasks, out_path, executor, executor_options, deadline, source, bar) -> int:
    """Run ``tasks`` (``executor_options`` may hold ``workers`` and ``threads``, see
    :func:`aixcell_automl.training.executors.run`), appending each row as it comes."""
    from aixcell_automl.training import executors

    if deadline and executor in ("local", "isolated"):  # these pull tasks one at a time
        tasks = itertools.takewhile(lambda _: time.time() < deadline, tasks)
    written = 0
    for _, row in executors.run(run_trial, tasks, executor, **(executor_options or {})):
        append_row(out_path, {**row, "source": source})
        written += 1
        bar.set_postfix_str(f"{row['dataset']} {row['config_id']} "
                            f"2^{int(np.log2(row['fidelity_pixels']))} IoU={row['val_score']}")
        bar.update()
        log.info("row: %s %s at 2^%d px status=%s IoU=%s (%.0fs)", row["dataset"],
                 row["config_id"], int(np.log2(row["fidelity_pixels"])), row["status"],
                 row["val_score"], row["train_seconds"] or 0)
    return written


def _drain(next_tasks, out_path, executor, executor_options, max_trials, deadline, source,
           desc) -> int:
    """Run ``next_tasks()``'s trials, batch after batch, until none is left, ``max_trials`` rows
    are written or the ``deadline`` passes; return the rows written."""
    from tqdm.auto import tqdm

    tasks, left = next_tasks()
    log.info("%s: %d trials left -> %s", desc, left, out_path)
    written = 0
    with tqdm(total=left if max_trials is None else min(left, max_trials), desc=desc,
              unit="trial") as bar:
        while tasks and (max_trials is None or written < max_trials):
            if max_trials is not None:
                tasks = tasks[:max_trials - written]
            n = _run_tasks(tasks, out_path, executor, executor_options, deadline, source, bar)
            written += n
            if n < len(tasks) or (deadline and time.time() >= deadline):
                log.info("stopped after %d trials (limit)", written)
                break
            tasks, _ = next_tasks()
    return written


def collect(dataset_paths: list[str], out_path: Path | str, configs: list[dict],
            checkpoints: Path | str, seed: int = 0,
            executor: str = "isolated", executor_options: dict | None = None,
            max_trials: int | None = None, max_minutes: float | None = None,
            ladder: tuple = LADDER) -> int:
    """Run the datasets' ladders (see module doc), appending a row per finished trial; return
    the number of rows written. Stops when the ladders are complete, after ``max_trials`` trials
    or, for the local and isolated executors, when ``max_minutes`` have passed (no new trial
    starts after that). Safe to kill at any point and run again."""

    from aixcell_automl.core.dataset import load_dataset

    checkpoints = Path(checkpoints)
    hashes = {p: load_dataset(p, check_pixels=False).content_hash() for p in dataset_paths}
    deadline = time.time() + 60 * max_minutes if max_minutes else None

    def next_tasks():
        return ladder_tasks(dataset_paths, configs, read_rows(out_path), hashes, checkpoints,
                            seed, ladder)

    return _drain(next_tasks, out_path, executor, executor_options, max_trials, deadline,
                  "ladder", "meta-base trials")


def collect_dense(dataset_paths: list[str], out_path: Path | str, candidates: list[dict],
                  checkpoints: Path | str, seed: int = 0, executor: str = "isolated",
                  executor_options: dict | None = None, max_trials: int | None = None,
                  precision: str = "auto") -> int:
    """Run protocol v3 (:mod:`.dense`): every candidate on every dataset, then the continuations;
    return the rows written. Measures the machine factor in the trials' precision first (once
    per machine, see :mod:`aixcell_automl.training.machine`). Safe to kill at any point and run
    again."""
    from aixcell_automl.metabase import dense
    from aixcell_automl.metabase.candidates import dataset_plans
    from aixcell_automl.metabase.trial import VAL_PIXELS
    from aixcell_automl.training.machine import machine_factor
    from aixcell_automl.training.precision import resolve

    machine_factor(precision=resolve(precision, "metabase.precision")[0])
    datasets = [(path, h, plan) for path, (_, h, plan) in
                zip(dataset_paths, dataset_plans(dataset_paths), strict=True)]

    def next_tasks():
        return dense.tasks(datasets, candidates, read_rows(out_path), Path(checkpoints), seed,
                           VAL_PIXELS, precision)

    return _drain(next_tasks, out_path, executor, executor_options, max_trials, None, "dense",
                  "meta-base v3 trials")


def collect_named(dataset_paths: list[str], out_path: Path | str, configs: list[dict],
                  fidelity_pixels: int = FIRST_FIDELITY, seed: int = 0, executor: str = "isolated",
                  executor_options: dict | None = None) -> int:
    """Train exactly ``configs`` on every dataset at one fidelity (e.g. to place a search's
    winner among a dataset's rows); rows are marked ``source="named"``."""
    from tqdm.auto import tqdm

    from aixcell_automl.core.dataset import load_dataset

    have = done_keys(read_rows(out_path))
    tasks = []
    for path in dataset_paths:
        h = load_dataset(path, check_pixels=False).content_hash()
        tasks += [(path, c, fidelity_pixels, seed) for c in configs
                  if (h, c["config_id"], fidelity_pixels, PROTOCOL) not in have]
    with tqdm(total=len(tasks), desc="meta-base trials", unit="trial") as bar:
        return _run_tasks(tasks, out_path, executor, executor_options, None, "named", bar)
