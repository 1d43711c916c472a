"""The small records plugins hand to the registry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Backbone:
    """An encoder for the U-Net.

    ``build(input_channels, num_classes)`` returns an *uncompiled*, freshly initialised Keras
    model mapping ``(None, None, input_channels)`` to ``num_classes`` softmax maps; it must not
    download anything (pre-trained weights are loaded by name by the core). ``size_factor`` is
    the backbone's weight in the engineered meta-features (SPEC §4: 0.5 for ResNet-18, 2 for
    ResNet-50).
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

    ``version`` is part of the cache key: bump it when the numbers an extractor returns change.
    """

    name: str
    extract: Callable[..., dict[str, float]]
    version: str = "1"


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
