"""The fixed candidate set of meta-base protocol v3 (docs/metabase.md, "Protocol v3").

A *candidate* is a point of the training dimensions (backbone, patch, batch, learning rate); on a
dataset it becomes a configuration by taking the augmentations the dataset's plan sets
(:func:`on_dataset`), so every dataset trains the same 16 candidates. The set is chosen by a rule
(:func:`design`), and its result is committed in ``conf/base/parameters_metabase.yml`` with a
reason per candidate:

1. every distinct plan of the meta-base datasets
   (:func:`aixcell_automl.core.plan_rules.planned_configuration`), in the order they are configured;
2. then, until there are ``n``, greedy maximin: the grid point of backbone x patch x batch x
   learning rate farthest (Euclidean, each dimension's levels spaced evenly on [0, 1]) from every
   candidate chosen so far; ties go to the first point in the grid's order.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np

DIMENSIONS = ("backbone", "patch_size", "batch_size", "learning_rate")


def key(config: Mapping) -> tuple:
    """A configuration's candidate coordinates (its training dimensions)."""
    return tuple(_plain(config[d]) for d in DIMENSIONS)


def _plain(v):
    return float(v) if isinstance(v, float) else v


def _coordinates(point: tuple, space: Mapping[str, list]) -> np.ndarray:
    out = []
    for d, v in zip(DIMENSIONS, point, strict=True):
        levels = [_plain(x) for x in space[d]]
        out.append(levels.index(v) / max(1, len(levels) - 1))
    return np.array(out)


def design(plans: Sequence[tuple[str, Mapping]], space: Mapping[str, list], n: int = 16
           ) -> list[dict]:
    """The candidate set by the module's rule: ``plans`` is ``[(dataset, plan configuration)]``.
    Returns ``[{backbone, patch_size, batch_size, learning_rate, reason}]``."""
    chosen: dict[tuple, list[str]] = {}
    for name, config in plans:
        chosen.setdefault(key(config), []).append(name)
    out = [{**dict(zip(DIMENSIONS, k, strict=True)), "reason": "plan of " + ", ".join(names)}
           for k, names in chosen.items()]
    grid = list(itertools.product(*([_plain(v) for v in space[d]] for d in DIMENSIONS)))
    coords = {g: _coordinates(g, space) for g in grid}
    while len(out) < n:
        taken = [coords[key(c)] for c in out]
        free = [g for g in grid if g not in {key(c) for c in out}]
        if not free:
            break
        dist = [min(float(np.linalg.norm(coords[g] - t)) for t in taken) if taken else 0.0
                for g in free]
        best = free[int(np.argmax(dist))]  # argmax keeps the first of ties
        out.append({**dict(zip(DIMENSIONS, best, strict=True)),
                    "reason": f"space-filling: farthest grid point from the {len(out)} above "
                              f"(distance {max(dist):.3f})"})
    return out


def on_dataset(candidate: Mapping, plan_config: Mapping) -> dict:
    """The candidate as a configuration of a dataset: its training dimensions, the
    augmentations of the dataset's plan, and the resulting ``config_id``."""
    from aixcell_automl.core.search_space import config_id

    config = {k: v for k, v in plan_config.items() if k not in DIMENSIONS and k != "config_id"}
    config.update({d: candidate[d] for d in DIMENSIONS})
    return {"config_id": config_id(config), **config}


def dataset_plans(dataset_paths: Sequence[str]) -> list[tuple[str, str, dict]]:
    """``[(dataset name, content hash, plan configuration)]`` of each dataset folder (the
    plan's rules), each folder read once."""
    from aixcell_automl.core.dataset import load_dataset
    from aixcell_automl.core.plan_rules import planned_configuration
    from aixcell_automl.metafeatures.handcrafted import handcrafted_features

    out = []
    for path in dataset_paths:
        ds = load_dataset(path, check_pixels=False)
        out.append((ds.name, ds.content_hash(), planned_configuration(handcrafted_features(ds))))
    return out
