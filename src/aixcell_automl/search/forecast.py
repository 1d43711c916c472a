"""Learning-curve forecasts for promotion (docs/search.md, "Promotion by forecast").

A trial's best-so-far validation score is modelled as linear in log2 of its training pixels: the
score it would reach at ``n`` pixels is its last best-so-far value plus a slope times the
doublings from its last evaluation to ``n``. The slope blends the trial's own (least squares over
its last evaluations) with a prior learned from the meta-base's curves (:func:`learn_prior`),
weighted ``m / (m + 2)`` for ``m`` own points beyond the first, so a trial with one evaluation is
forecast from the prior alone. The forecast's error grows with the doublings it spans.

:func:`forecast_order` ranks a rung's trials by forecast at the pixels the winner would reach;
the plan keeps its place unless its forecast is below the leader's by more than their combined
error (the plan is protected: it is what ``train`` alone would give).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CurvePrior:
    """Gain of best-so-far score per doubling of training pixels (median and spread over
    curves), and the noise of one evaluation."""

    slope: float = 0.03
    slope_sd: float = 0.04
    noise: float = 0.03


def best_so_far(curve: Sequence[Sequence[float]]) -> list[tuple[float, float]]:
    """``[(pixels, best score so far)]`` of a ``[(pixels, score)]`` curve, pixels ascending."""
    out, best = [], -math.inf
    for px, score in sorted((float(p), float(s)) for p, s in curve):
        best = max(best, score)
        out.append((px, best))
    return out


def learn_prior(curves: Iterable[Sequence[Sequence[float]]]) -> CurvePrior:
    """The prior from recorded curves: each curve's gain per doubling over its second half
    (median and 1.4826 x median absolute deviation over curves) and the median absolute change
    of the raw score between neighbouring evaluations (its noise)."""
    slopes, noise = [], []
    for curve in curves:
        pts = best_so_far(curve)
        if len(pts) < 3:
            continue
        half = pts[len(pts) // 2:]
        (p0, y0), (p1, y1) = half[0], half[-1]
        if p1 > p0:
            slopes.append((y1 - y0) / math.log2(p1 / p0))
        raw = [float(s) for _, s in sorted(curve)]
        noise += [abs(b - a) for a, b in zip(raw, raw[1:], strict=False)]
    if not slopes:
        return CurvePrior()
    med = float(np.median(slopes))
    return CurvePrior(slope=med, slope_sd=float(1.4826 * np.median(np.abs(np.array(slopes) - med)))
                      or CurvePrior.slope_sd, noise=float(np.median(noise)) if noise else
                      CurvePrior.noise)


def prior_from_metabase(metabase, dataset: str, dataset_hash: str) -> CurvePrior:
    """:func:`learn_prior` over the protocol-v3 curves of the meta-base's other datasets (the
    searched one left out by name and content hash): the prior the replay benchmark's
    ``forecast_halving`` learns too (default prior without such rows)."""
    from aixcell_automl.metabase.dense import PROTOCOL
    from aixcell_automl.search.replay import build_table

    if metabase.empty or "curve" not in metabase or "protocol" not in metabase:
        return CurvePrior()
    other = metabase[(metabase["dataset"] != dataset) & (metabase["dataset_hash"] != dataset_hash)]
    table = build_table(other.to_dict("records"), {}, PROTOCOL)  # a continuation extends its
    return learn_prior(c.points for cs in table.curves.values() for c in cs.values())  # curve


def forecast(curve: Sequence[Sequence[float]], pixels: float, prior: CurvePrior
             ) -> tuple[float, float]:
    """``(mean, error)`` of the best-so-far score at ``pixels`` (see module doc); a curve with
    no evaluation forecasts ``(0, 1)``."""
    pts = best_so_far(curve)
    if not pts:
        return 0.0, 1.0
    last_px, last = pts[-1]
    d = max(0.0, math.log2(max(pixels, 1.0) / last_px))
    own = pts[-4:]
    m = len(own) - 1
    if m >= 1:
        x = np.log2([p for p, _ in own])
        y = np.array([v for _, v in own])
        fit = float(np.polyfit(x, y, 1)[0]) if np.ptp(x) > 0 else prior.slope
        w = m / (m + 2)
    else:
        fit, w = prior.slope, 0.0
    slope = max(0.0, w * fit + (1 - w) * prior.slope)
    mean = min(1.0, last + slope * d)
    error = math.sqrt(prior.noise**2 + ((1 - w) * prior.slope_sd * d) ** 2
                      + (w * prior.noise * d / max(1, m)) ** 2)
    return mean, error


def forecast_order(alive: Sequence[dict], records: dict[str, dict], keep: int,
                   target_pixels: dict[str, float], plan_id: str | None, prior: CurvePrior
                   ) -> list[dict]:
    """``alive`` ranked for promotion by forecast at ``target_pixels[config_id]``; the plan is
    moved into the first ``keep`` unless its forecast is below the leader's by more than their
    combined error. A failed trial (score -1) ranks last."""
    fc = {c["config_id"]: forecast(records[c["config_id"]].get("curve") or [],
                                   target_pixels[c["config_id"]], prior) for c in alive}
    order = {c["config_id"]: i for i, c in enumerate(alive)}

    def key(c):
        cid = c["config_id"]
        failed = records[cid]["score"] < 0
        return (failed, -fc[cid][0], order[cid])

    ranked = sorted(alive, key=key)
    ids = [c["config_id"] for c in ranked]
    if plan_id in ids and ids.index(plan_id) >= keep and records[plan_id]["score"] >= 0:
        lead = fc[ids[0]]
        plan = fc[plan_id]
        if plan[0] >= lead[0] - math.hypot(plan[1], lead[1]):
            p = ranked.pop(ids.index(plan_id))
            ranked.insert(keep - 1, p)
    return ranked


def forecast_accuracy(curves: dict[str, dict[str, Sequence[Sequence[float]]]], observed: float,
                      target: float) -> dict:
    """How well forecasts from each curve up to ``observed`` pixels rank the curves' recorded
    best-so-far at ``target``, leave-one-dataset-out (the prior learned on the other datasets),
    against ranking by the score so far: Kendall tau per dataset and their mean. ``curves``:
    dataset -> candidate -> ``[(pixels, score)]``; only curves evaluated by ``observed`` and
    recorded to ``target`` count."""
    from scipy.stats import kendalltau

    per = {}
    for ds, cands in curves.items():
        prior = learn_prior([[p for p in c if p[0] <= observed] for d, cs in curves.items()
                             if d != ds for c in cs.values()])
        rows = []
        for c in cands.values():
            pts = best_so_far(c)
            if not pts or pts[-1][0] < target:
                continue
            seen = [p for p in c if p[0] <= observed]
            if not seen:
                continue
            truth = max(v for p, v in pts if p <= target)
            rows.append((forecast(seen, target, prior)[0],
                         max((float(v) for _, v in seen), default=0.0), truth))
        if len(rows) >= 3:
            f, s, t = map(list, zip(*rows, strict=True))
            per[ds] = {"n": len(rows), "tau_forecast": float(kendalltau(f, t)[0]),
                       "tau_score_so_far": float(kendalltau(s, t)[0])}
    means = {k: float(np.nanmean([v[k] for v in per.values()])) if per else None
             for k in ("tau_forecast", "tau_score_so_far")}
    return {"observed": observed, "target": target, "datasets": per, **means}
