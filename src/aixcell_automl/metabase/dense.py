"""Meta-base protocol v3: the same candidates on every dataset (docs/metabase.md, "Protocol v3").

Per dataset, every candidate of :mod:`.candidates` trains from scratch to ``FIRST`` (2**24)
training pixels, evaluated at every power of two from 2**20 (v2's validation: the same fixed
regions, ``VAL_PIXELS``), early stopping off. When all of them have a row, six continue from their
checkpoints to ``TOP`` (2**26): the best four at 2**24, the plan (else the fifth best) and one
drawn (seeded) from the rest (:func:`promote`). One dataset is worked on at a time (the one
furthest along), so that the replay gets datasets complete at every budget soonest (its
budgets 2**25 and 2**26 read the continuations) and checkpoints exist for two datasets at
most: once its 16 are done, those of the ten that do not continue go, the rest when it is
complete. Its continuations are queued before the next dataset's first trials, so that a
worker left without a continuation starts those instead of waiting for the last one.

A row of another protocol is reused (:func:`reusable`) only where the configuration, the seed and
every protocol setting match: split seed, validation pixels, early stopping off and the
evaluation points up to the row's fidelity. v2 rows start evaluating at 2**21, so none of them
qualifies; the rule is there so that a future protocol sharing v3's settings reuses v3 rows.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from aixcell_automl.metabase.candidates import key as candidate_key
from aixcell_automl.metabase.candidates import on_dataset
from aixcell_automl.metabase.store import protocol_of
from aixcell_automl.metabase.trial import EVAL_FROM

log = logging.getLogger(__name__)

PROTOCOL = "v3"
FIRST, TOP = 2**24, 2**26
N_BEST = 4


def eval_at(fidelity: int) -> list[int]:
    """Protocol v3's evaluation points up to ``fidelity``."""
    return [2**k for k in range(31) if EVAL_FROM[PROTOCOL] <= 2**k <= fidelity]


def reusable(row: Mapping, seed: int, val_pixels: int) -> bool:
    """Whether ``row`` counts as a v3 row (see module doc)."""
    if protocol_of(row) == PROTOCOL:
        return row.get("seed") == seed
    return (row.get("seed") == seed and row.get("split_seed") == 0
            and row.get("early_stopping") is False and row.get("source") != "named"
            and int(row["fidelity_pixels"]) in (FIRST, TOP)
            and list(row.get("eval_at") or []) == eval_at(int(row["fidelity_pixels"]))
            and row.get("val_pixels_setting", val_pixels) == val_pixels)


def promote(scores: Mapping[str, float | None], plan_id: str, seed: Sequence[int]) -> list[str]:
    """Ids that continue to ``TOP``: the ``N_BEST`` best scores, the plan (the next best if the
    plan is among them or failed), and one drawn (seeded) from the other ok ones. Failed
    trials (score ``None``) never continue."""
    ok = sorted((cid for cid, v in scores.items() if v is not None),
                key=lambda cid: (-scores[cid], cid))
    chosen = ok[:N_BEST]
    if plan_id in ok and plan_id not in chosen:
        chosen.append(plan_id)
    else:
        chosen += [c for c in ok if c not in chosen][:1]
    rest = [c for c in ok if c not in chosen]
    if rest:
        chosen.append(rest[int(np.random.default_rng(list(seed)).integers(len(rest)))])
    return chosen


def dataset_configs(candidates: Sequence[Mapping], plan_config: Mapping) -> list[dict]:
    """The candidates as configurations of one dataset (its plan's augmentations)."""
    return [on_dataset(c, plan_config) for c in candidates]


def position(configs: Sequence[Mapping], plan_id: str, rows: Mapping[tuple[str, int], Mapping],
             seed: Sequence[int]) -> tuple[int, list[dict]]:
    """``(fidelity, configurations still to train there)`` of one dataset; ``(0, [])`` when
    complete. ``rows`` maps (config id, fidelity) to the dataset's v3 rows."""
    todo = [c for c in configs if (c["config_id"], FIRST) not in rows]
    if todo:
        return FIRST, todo
    scores = {c["config_id"]: rows[c["config_id"], FIRST]["val_score"]
              if rows[c["config_id"], FIRST]["status"] == "ok" else None for c in configs}
    up = set(promote(scores, plan_id, seed))
    todo = [c for c in configs if c["config_id"] in up and (c["config_id"], TOP) not in rows]
    return (TOP, todo) if todo else (0, [])


def _prune(run_dir: Path, keep: set[str]) -> None:
    """Remove the checkpoints under ``run_dir`` of configurations not in ``keep``."""
    if run_dir.is_dir():
        for d in run_dir.iterdir():
            if d.name not in keep:
                shutil.rmtree(d, ignore_errors=True)


def tasks(datasets: Sequence[tuple[str, str, Mapping]], candidates: Sequence[Mapping],
          rows: Sequence[Mapping], checkpoints: Path, seed: int, val_pixels: int,
          precision: str = "auto") -> tuple[list[tuple], int]:
    """The next trials (of one dataset; after its continuations, the next dataset's first
    trials) and the number left over all datasets.

    ``datasets`` is ``[(path, content hash, plan configuration)]``. A task is the arguments of
    :func:`aixcell_automl.metabase.trial.run_trial`: ``(path, config, fidelity, seed, run_dir,
    "v3", {"candidate": name}, precision)``. The dataset furthest along goes first, else the
    first configured."""
    mine: dict[str, dict] = {}
    for r in rows:
        if reusable(r, seed, val_pixels):
            mine.setdefault(r["dataset_hash"], {})[(r["config_id"], int(r["fidelity_pixels"]))] = r
    slots = len(candidates) + N_BEST + 2
    left, choices = 0, []
    for order, (path, h, plan_config) in enumerate(datasets):
        configs = dataset_configs(candidates, plan_config)
        plan_id = next((c["config_id"] for c in configs
                        if candidate_key(c) == candidate_key(plan_config)), "")
        done = mine.get(h, {})
        fidelity, todo = position(configs, plan_id, done, [seed, int(h[:8], 16)])
        if not todo:
            shutil.rmtree(checkpoints / h, ignore_errors=True)
            continue
        if fidelity == TOP:
            _prune(checkpoints / h, {c["config_id"] for c in todo})
        left += max(len(todo), slots - len(done))
        choices.append(((not done, -len(done), order), path, h, todo, fidelity))
    if not choices:
        return [], 0
    first, *rest = sorted(choices, key=lambda c: c[0])
    batch = [first] + [c for c in rest[:1] if first[4] == TOP and c[4] == FIRST]  # the tail
    names = {candidate_key(c): c["name"] for c in candidates}
    return [(path, c, fidelity, seed, str(checkpoints / h / c["config_id"]), PROTOCOL,
             {"candidate": names[candidate_key(c)]}, precision)
            for _, path, h, todo, fidelity in batch for c in todo], left
