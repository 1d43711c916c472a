"""One meta-base trial (protocols v2 and v3). A trial trains for a fixed number of *training
pixels* (the fidelity, hardware independent) without early stopping, and is scored at every power
of two from 2**21 (v2) or 2**20 (v3) pixels on the same fixed validation regions of the dataset
(``VAL_PIXELS``), predicted
by sliding windows of the configuration's patch size (see :mod:`aixcell_automl.training.loop`). The
trial's IoU is its best validation IoU so far. Data: the dataset's seeded train/val split (seed 0);
the test split is never touched.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from pathlib import Path

from aixcell_automl.metabase.store import PROTOCOL, state_row

EVAL_FROM = {"v2": 2**21, "v3": 2**20}  # each protocol's first validation point


VAL_PIXELS = 2**20  # validation pixels per evaluation (see docs/metabase.md for the cost)
CHECKPOINT_EVERY = 300.0  # seconds; evaluation points grow apart (2**25 -> 2**26: about an hour)


_DATA_CACHE: dict = {}


def trial_data(dataset_path: str, split_seed: int = 0):
    """Load (once per process) a dataset's train/val images for trials."""
    from aixcell_automl.core.dataset import load_dataset, split_dataset
    from aixcell_automl.training.trial_data import make_trial_data

    key = (str(Path(dataset_path).resolve()), split_seed)
    if key not in _DATA_CACHE:
        _DATA_CACHE.clear()  # one dataset in memory at a time
        ds = load_dataset(dataset_path)
        data = make_trial_data(ds, split_dataset(ds, seed=split_seed), split_seed)
        _DATA_CACHE[key] = (ds.name, ds.content_hash(), data)
    return _DATA_CACHE[key]


def run_trial(dataset_path: str, config: dict, fidelity_pixels: int, seed: int,
              run_dir: str | None = None, protocol: str = PROTOCOL, extra: dict | None = None,
              precision: str = "float32") -> dict:
    """Train one configuration to ``fidelity_pixels`` in ``precision`` (``auto`` resolved
    here, see :mod:`aixcell_automl.training.precision`) and return its meta-base row (with
    the fields of ``extra``).

    With ``run_dir`` the trial keeps checkpoints there and continues from them (the ladder);
    without, it trains in a temporary folder that is removed afterwards."""
    from aixcell_automl.training.loop import Budget, Settings, release_models, train_trial
    from aixcell_automl.training.precision import resolve

    name, dhash, data = trial_data(dataset_path)
    workdir = Path(run_dir) if run_dir else Path(tempfile.mkdtemp(prefix=f"trial_{name}_"))
    started = dt.datetime.now(dt.UTC)
    eval_at = tuple(2**k for k in range(31) if 2**k >= EVAL_FROM[protocol])
    settings = Settings(eval_at=eval_at, val_pixels=VAL_PIXELS, early_stopping=False,
                        precision=resolve(precision, "metabase.precision")[0],
                        checkpoint=run_dir is not None, checkpoint_every_seconds=CHECKPOINT_EVERY)
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
        "protocol": protocol, "fidelity": "pixels", "fidelity_pixels": int(fidelity_pixels),
        "split_seed": 0, "eval_at": [e for e in eval_at if e <= fidelity_pixels],
        "val_pixels": int(sum(m.size for m in regions.masks)), "val_regions": len(regions.masks),
        "val_pixels_setting": VAL_PIXELS, "early_stopping": False,
        "started_utc": started.isoformat(timespec="seconds"), **(extra or {}),
    }
