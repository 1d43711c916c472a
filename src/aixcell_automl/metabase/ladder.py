"""The fidelity ladder (``LADDER``): per dataset, successive halving run as a collection plan.
Rung 0 trains 12 sampled configurations to 2**23 pixels; 6 continue from their checkpoint to 2**25
(the best 4 and 2 drawn at random from the other 8, seeded), 3 of those to 2**26 (the best 2 and 1
drawn at random). Each rung of each configuration is its own row. Checkpoints live under a folder
per dataset and configuration only while the configuration can still be promoted.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from aixcell_automl.metabase.store import PROTOCOL, protocol_of

# The meta-base's first fidelity, 2**23 training pixels: the ladder's first rung, the fidelity
# the search's budget suggestion and named rows use, and (conf/base/globals.yml, through the
# resolver in settings.py) the transfer experiment's length. The one place it is written.
FIRST_FIDELITY = 2**23

# per rung: (configurations, training pixels, how many of the best go up; the rest of the next
# rung is drawn at random from the others)
LADDER = ((12, FIRST_FIDELITY, 4), (6, 2**25, 2), (3, 2**26, 0))


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
    from aixcell_automl.core.search_space import sample_configs

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
        scores = {c["config_id"]: (rows[c["config_id"], fidelity]["val_score"]
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
    """The next rung's trials of one dataset, and the trials left over all ladders of this
    ``seed`` (each seed samples its own rung 0, so a second seed adds a second ladder per dataset).

    The dataset is the one whose ladder is furthest under way (so checkpoints of one dataset
    exist at a time, even where another seed's rows already cover part of a sample), else the
    first in the configured order. Checkpoints that can no longer be promoted are removed on
    the way."""
    mine = [r for r in rows if protocol_of(r) == PROTOCOL and r.get("source") == "ladder"]
    by_hash: dict[str, dict] = {}
    for r in mine:
        by_hash.setdefault(r["dataset_hash"], {})[(r["config_id"], int(r["fidelity_pixels"]))] = r
    slots = sum(n for n, *_ in ladder)
    left, choice = 0, None
    for order, path in enumerate(dataset_paths):
        h = hashes[path]
        first = ladder_start(configs, h, seed, ladder)
        ids = {c["config_id"] for c in first}  # another seed's ladder is another sample
        done = {k: r for k, r in by_hash.get(h, {}).items() if k[0] in ids}
        rung, members, todo = ladder_position(first, done, [seed, _stable_int(h)], ladder)
        _prune_checkpoints(checkpoints / h, {c["config_id"] for c in members})
        if not todo:
            continue
        left += max(len(todo), slots - len(done))
        rank = (not done, -len(done), order)  # the furthest-along ladder first
        if choice is None or rank < choice[0]:
            choice = (rank, path, h, todo, ladder[rung][1])
    if choice is None:
        return [], 0
    _, path, h, todo, fidelity = choice
    return [(path, c, fidelity, seed, str(checkpoints / h / c["config_id"]))
            for c in todo], left
