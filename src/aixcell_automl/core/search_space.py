"""The search space (docs/method.md §1): dimensions from configuration, extended by plugins.

Every dimension is a training hyperparameter (:data:`TRAINING_DIMENSIONS`) or a registered
augmentation (its values are the probabilities it is applied with), and every ``backbone`` value
is a registered backbone: :func:`build_space` refuses anything else, naming where it came from.

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

from aixcell_automl.core.errors import UserError

TRAINING_DIMENSIONS = ("patch_size", "batch_size", "learning_rate", "backbone")


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


def build_space(configured: Mapping[str, list], with_plugins: bool = True) -> dict[str, list]:
    """The configured dimensions (conf's ``search_space``) plus the values plugins add
    (duplicates dropped, order kept), checked against the registered backbones and
    augmentations."""
    configured = {k: list(v) for k, v in configured.items()}
    extensions = []
    if with_plugins:
        from aixcell_automl.plugins.registry import search_space_extensions

        extensions = search_space_extensions()
    space = {k: list(v) for k, v in configured.items()}
    for _, ext in extensions:
        for dim, values in ext.items():
            column = space.setdefault(dim, [])
            for v in values:
                if v not in column:
                    column.append(v)
    for dim, values in space.items():
        if not values:
            raise UserError(f"search space dimension {dim!r} has no values")
    _check_registered(space, configured, extensions)
    return space


def _check_registered(space: Mapping[str, list], configured: Mapping[str, list],
                      extensions: list[tuple[str, dict]]) -> None:
    from aixcell_automl.plugins.registry import augmentations, backbones

    def origin(dim: str, value=None) -> str:
        """The configuration, or the first plugin whose ``extend_search_space`` adds it."""
        if dim in configured and (value is None or value in configured[dim]):
            return "the configured search_space, conf/base/parameters.yml"
        plugin = next(p for p, ext in extensions
                      if dim in ext and (value is None or value in ext[dim]))
        return f"extend_search_space of plugin {plugin!r}"

    for v in space.get("backbone", []):
        if v not in backbones():
            raise UserError(f"search space: backbone {v!r} (from {origin('backbone', v)}) is "
                             f"not registered; registered backbones: {sorted(backbones())}")
    for dim in space:
        if dim not in TRAINING_DIMENSIONS and dim not in augmentations():
            raise UserError(
                f"search space: dimension {dim!r} (from {origin(dim)}) is neither a training "
                f"hyperparameter {list(TRAINING_DIMENSIONS)} nor a registered augmentation; "
                f"registered augmentations: {sorted(augmentations())}")


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
