"""The search space (SPEC §1): dimensions from configuration, extended by plugins.

A *configuration* is a plain ``dict`` ``{dimension: value}``. Its id is a hash of the canonical
JSON of its items, so the same configuration has the same id on every machine and in every
ordering of the space.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Mapping

import numpy as np

DEFAULT_SPACE: dict[str, list] = {
    "patch_size": [64, 128, 256],
    "batch_size": [4, 8, 16, 32],
    "learning_rate": [0.0005, 0.001, 0.01],
    "backbone": ["resnet18", "resnet50"],
    "flip": [0.0, 0.5],
    "brightness_blur": [0.0, 0.5],
    "grid_distortion": [0.0, 0.5],
}


def _canonical(value):
    if isinstance(value, bool | str) or value is None:
        return value
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        f = float(value)
        return int(f) if f.is_integer() and abs(f) >= 1 else f
    return value


def config_id(config: Mapping) -> str:
    """Stable 12-hex-digit id of a configuration."""
    items = {k: _canonical(v) for k, v in sorted(config.items())}
    return hashlib.sha1(json.dumps(items, sort_keys=True).encode()).hexdigest()[:12]


def build_space(configured: Mapping[str, list] | None = None, with_plugins: bool = True
                ) -> dict[str, list]:
    """The configured dimensions plus the values plugins add (duplicates dropped, order kept)."""
    space = {k: list(v) for k, v in (configured or DEFAULT_SPACE).items()}
    if with_plugins:
        from aixcell_automl.plugins.registry import search_space_extensions

        for ext in search_space_extensions():
            for dim, values in ext.items():
                space.setdefault(dim, [])
                space[dim] += [v for v in values if v not in space[dim]]
    for dim, values in space.items():
        if not values:
            raise ValueError(f"search space dimension {dim!r} has no values")
    return space


def enumerate_configs(space: Mapping[str, list]) -> list[dict]:
    """Every configuration of the space (Cartesian product), each with its ``config_id``."""
    dims = sorted(space)
    configs = []
    for values in itertools.product(*(space[d] for d in dims)):
        cfg = {d: _canonical(v) for d, v in zip(dims, values, strict=True)}
        configs.append({"config_id": config_id(cfg), **cfg})
    return configs


def hyperparameters(config: Mapping) -> dict:
    """A configuration without bookkeeping keys (``config_id``)."""
    return {k: v for k, v in config.items() if k != "config_id"}


def encode_configs(configs: list[Mapping], space: Mapping[str, list]
                   ) -> tuple[np.ndarray, list[str]]:
    """Numeric matrix for meta-models: numbers as they are (learning rate as log10), strings
    one-hot over the space's values. Returns ``(X, column_names)``."""
    cols: list[str] = []
    blocks = []
    for dim in sorted(space):
        values = space[dim]
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            col = np.array([float(c[dim]) for c in configs])
            if dim == "learning_rate":
                col = np.log10(col)
                dim = "log10_learning_rate"
            blocks.append(col[:, None])
            cols.append(dim)
        else:
            for v in values:
                blocks.append(np.array([float(c[dim] == v) for c in configs])[:, None])
                cols.append(f"{dim}={v}")
    return np.hstack(blocks) if blocks else np.zeros((len(configs), 0)), cols


def sample_configs(configs: list[dict], n: int, seed: int, exclude: set[str] = frozenset()
                   ) -> list[dict]:
    """``n`` configurations drawn without replacement (seeded), skipping ids in ``exclude``."""
    pool = [c for c in configs if c["config_id"] not in exclude]
    order = np.random.default_rng(seed).permutation(len(pool))
    return [pool[i] for i in order[:n]]
