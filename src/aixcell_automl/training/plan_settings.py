"""The derived settings of a plan (``plans.json``, :mod:`aixcell_automl.search.plan`) that
training and prediction read: the class-sampling factors, the normalisation and the inference
window. ``plans.json`` is the contract: a hand-edited value changes what trains and predicts.

Without a plan (the meta-base collector, pre-training, old callers) every setting is computed
as before: factors from the training masks (docs/method.md §3), the 1st..99.8th percentile
normalisation and windows at stride 3p/4.

The plan's values are read as written there: ``class_sampling_factors`` a list with one factor
per class; ``normalisation`` the plan's sentence (``"per image and channel, 1st..99.8th
percentile to [0, 1]"``, whose two percentiles may be edited) or ``{"low_percentile",
"high_percentile"}``; ``inference_window`` ``{"size", "stride"}``, the stride scaled to a model
whose patch differs from the window's size (a search trains several patch sizes).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from aixcell_automl.core.errors import UserError
from aixcell_automl.core.normalization import HIGH_PERCENTILE, LOW_PERCENTILE

_PERCENTILES = re.compile(r"(\d+(?:\.\d+)?)(?:st|nd|rd|th)?\s*\.\.\s*(\d+(?:\.\d+)?)"
                          r"(?:st|nd|rd|th)?\s+percentile")


def default_stride(patch: int) -> int:
    """The inference stride without a plan: windows overlap by a quarter (3p/4)."""
    return patch * 3 // 4


@dataclass(frozen=True)
class PlanSettings:
    """What a plan fixes for training and prediction; ``None`` fields keep the computed
    default."""

    class_sampling_factors: tuple[float, ...] | None = None
    percentiles: tuple[float, float] = (LOW_PERCENTILE, HIGH_PERCENTILE)
    inference_window: tuple[int, int] | None = None  # (size, stride)

    @classmethod
    def from_plan(cls, plan: Mapping | PlanSettings | None) -> PlanSettings | None:
        """The settings of a whole plan (``plans.json``) or of its ``settings`` mapping (values
        as ``{"value", "reason"}`` or bare); None stays None. A value that cannot be read is a
        :class:`UserError` naming it."""
        if plan is None or isinstance(plan, PlanSettings):
            return plan
        raw = plan.get("settings", plan)

        def value(key: str):
            v = raw.get(key)
            return v.get("value") if isinstance(v, Mapping) and "value" in v else v

        factors, norm, window = (value(k) for k in ("class_sampling_factors", "normalisation",
                                                    "inference_window"))
        return cls(_factors(factors), _percentiles(norm), _window(window))

    def stride(self, patch: int) -> int:
        """The inference stride for a model trained on ``patch``-px patches: the plan's window
        stride (scaled by ``patch / size`` when the sizes differ), else 3p/4."""
        if self.inference_window is None:
            return default_stride(patch)
        size, stride = self.inference_window
        return stride if size == patch else max(1, round(patch * stride / size))

    def info(self, patch: int) -> dict:
        """What a model's ``info`` (``model.json``) records of the plan, read by
        :func:`aixcell_automl.training.predict.predict_mask`."""
        return {"normalisation": {"low_percentile": self.percentiles[0],
                                  "high_percentile": self.percentiles[1]},
                "inference_window": {"size": int(patch), "stride": self.stride(patch)}}


def model_percentiles(info: Mapping) -> tuple[float, float]:
    """The normalisation percentiles a model was trained with (its ``info["normalisation"]``,
    recorded from the plan), else the default 1st..99.8th."""
    norm = info.get("normalisation")
    if not norm:
        return LOW_PERCENTILE, HIGH_PERCENTILE
    return float(norm["low_percentile"]), float(norm["high_percentile"])


def _factors(value) -> tuple[float, ...] | None:
    if value is None:
        return None
    try:
        factors = tuple(float(f) for f in value)
    except (TypeError, ValueError) as exc:
        raise UserError(f"plans.json: settings.class_sampling_factors must be a list of numbers, "
                        f"got {value!r}") from exc
    if not factors or any(not f >= 0 for f in factors):
        raise UserError(f"plans.json: settings.class_sampling_factors must be non-negative "
                        f"numbers, one per class, got {value!r}")
    return factors


def _percentiles(value) -> tuple[float, float]:
    if value is None:
        return LOW_PERCENTILE, HIGH_PERCENTILE
    if isinstance(value, Mapping):
        try:
            low, high = float(value["low_percentile"]), float(value["high_percentile"])
        except (KeyError, TypeError, ValueError) as exc:
            raise UserError(f"plans.json: settings.normalisation {dict(value)!r} needs numbers "
                            f"low_percentile and high_percentile") from exc
    else:
        m = _PERCENTILES.search(str(value))
        if not m:
            raise UserError(f"plans.json: settings.normalisation {value!r} names no percentile "
                            f"range (write e.g. 'per image and channel, 1st..99.8th percentile "
                            f"to [0, 1]')")
        low, high = float(m.group(1)), float(m.group(2))
    if not 0 <= low < high <= 100:
        raise UserError(f"plans.json: settings.normalisation percentiles {low}..{high} must "
                        f"satisfy 0 <= low < high <= 100")
    return low, high


def _window(value) -> tuple[int, int] | None:
    if value is None:
        return None
    try:
        size, stride = int(value["size"]), int(value["stride"])
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"plans.json: settings.inference_window must be {{size, stride}} in "
                        f"pixels, got {value!r}") from exc
    if not 0 < stride <= size:
        raise UserError(f"plans.json: settings.inference_window stride {stride} must be in "
                        f"1..size ({size}): windows must cover the image")
    return size, stride
