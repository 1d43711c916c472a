"""The small records plugins hand to the registry."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Backbone:
    """An encoder for the U-Net.

    ``build(input_channels, num_classes)`` returns an *uncompiled*, freshly initialised Keras
    model mapping ``(None, None, input_channels)`` to ``num_classes`` softmax maps; it must not
    download anything (pre-trained weights are loaded by name by the core). ``size_factor`` is
    the backbone's weight in the engineered meta-features (docs/method.md §4: 0.5 for ResNet-18, 2
    for ResNet-50).
    """

    name: str
    build: Callable[[int, int], Any]
    size_factor: float = 1.0


@dataclass(frozen=True)
class Augmentation:
    """``make(p)`` returns an albumentations transform applied with probability ``p``."""

    name: str
    make: Callable[[float], Any]


@dataclass(frozen=True)
class MetaFeatureExtractor:
    """``extract(dataset, **params)`` returns ``{feature_name: float}`` for one dataset.

    Every feature name starts with ``prefix`` (e.g. ``"tex_"``); the prefix without its ``_``
    is the extractor's *family*, the name a meta-model representation uses for these features
    (``"hp+hc+tex"``, see :mod:`aixcell_automl.metalearning.representation`). ``params`` are the
    parameters ``extract`` takes, with defaults; a ``meta_features`` parameter of the same name
    overrides a default. ``version`` and the parameter values are part of the cache key: bump
    ``version`` when the numbers an extractor returns change.
    """

    name: str
    extract: Callable[..., dict[str, float]]
    prefix: str
    version: str = "1"
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def family(self) -> str:
        return self.prefix.removesuffix("_")


@dataclass(frozen=True)
class MetaModel:
    """``make(seed)`` returns an estimator with ``fit(X, y[, group])`` and ``predict(X)``.

    ``kind`` is ``"regressor"`` (predicts IoU/deciles) or ``"ranker"`` (fit takes per-dataset
    group sizes). ``stochastic`` models are evaluated over several seeds.
    """

    name: str
    make: Callable[[int], Any]
    kind: str = "regressor"
    stochastic: bool = False


@dataclass(frozen=True)
class PostProcessor:
    """``run(image, mask, class_names)`` returns a list of row dicts for a per-image table."""

    name: str
    run: Callable[..., list[dict]]


@dataclass(frozen=True)
class Metric:
    """A segmentation score computed from the ``(C, C)`` confusion matrix (rows = truth).

    ``per_class(cm)`` returns one value per class in [0, 1], NaN for a class absent from both
    truth and prediction. The score is the mean over the foreground classes that are not NaN
    (:func:`aixcell_automl.core.metrics.mean_foreground`: the one averaging rule). Higher is better.
    ``label`` names it in reports and figures.
    """

    name: str
    per_class: Callable[[np.ndarray], np.ndarray]
    label: str


@dataclass(frozen=True)
class SearchStrategy:
    """How a search spends its budget on configurations.

    ``run(ctx)`` takes a :class:`SearchContext` (the ranked candidates
    with the plan among them, the plan, the space, the budget, k, the seed, and ``run_rung``,
    which trains ``[(config, seconds), ...]`` - each continuing from its checkpoint - and returns
    their states) and returns a trace ``{"rungs": [{"rung", "seconds_per_trial", "trials":
    [{"config_id", "score", ...}]}], "winner": config_id, ...}``; configurations that are not
    among the candidates go in ``trace["configs"]`` (id -> configuration).
    """

    name: str
    run: Callable[[Any], dict]
    description: str = ""


@dataclass
class SearchContext:
    """What a search strategy works with (see :class:`SearchStrategy`; built by
    :func:`aixcell_automl.search.run.run_search`, which re-exports it):
    the candidates in predicted-rank order (the plan among them), the plan's configuration, the
    search space, the training budget in seconds, k, the seed, ``run_rung`` (trains
    ``[(config, seconds), ...]``, each continuing from its checkpoint, and returns their states),
    an interrupted run's ``trace`` to replay, and ``on_trial`` to persist a partial trace."""

    candidates: list[dict]
    plan: dict
    space: dict
    budget_seconds: float
    k: int
    seed: int
    run_rung: Callable[[list[tuple[dict, float]]], list[dict]]
    trace: dict | None = None
    on_trial: Callable[[dict], None] | None = None
    curve_prior: object = None  # a forecast.CurvePrior learned from the meta-base (or default)
