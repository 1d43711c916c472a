"""Fidelity agreement: do the ladder's rungs rank a dataset's configurations alike?"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd

from aixcell_automl.metabase.ladder import LADDER


def rung_score(row: pd.Series, previous: int) -> float:
    """A ladder row's best validation IoU among its own rung's evaluations, those after
    ``previous`` pixels (the rung below's fidelity; 0 for the first rung). A row's ``val_score`` is
    the best over its whole curve, lower rungs included, so a configuration that does not improve
    on a higher rung keeps its lower-rung score there; this score does not."""
    curve = row.get("curve")
    if isinstance(curve, str):  # the meta-base frame holds curves as JSON (store.to_frame)
        curve = json.loads(curve)
    if not isinstance(curve, list) or not curve:
        return float(row["val_score"])
    own = [v for p, v in curve if p > previous and v is not None]
    return float(max(own)) if own else float("nan")


def fidelity_agreement(ok: pd.DataFrame) -> dict:
    """Per dataset and pair of adjacent ladder fidelities (2^23 -> 2^25, 2^25 -> 2^26): Kendall
    tau between the same configurations' scores at both, with n. ``tau`` compares ``val_score``
    (best so far, what halving ranks by); ``tau_own`` compares each rung's own evaluations
    (:func:`rung_score`). Also the mean of each over datasets."""
    from scipy.stats import kendalltau

    def tau(a: pd.Series, b: pd.Series) -> float | None:
        t = kendalltau(a, b).statistic
        return None if np.isnan(t) else float(t)

    fids = [f for _, f, _ in LADDER]
    previous = dict(zip(fids, [0, *fids[:-1]], strict=True))
    pairs = {(lo, hi): f"2^{int(np.log2(lo))}->2^{int(np.log2(hi))}"
             for lo, hi in itertools.pairwise(fids)}
    ok = ok.assign(own=[rung_score(r, previous.get(r["fidelity_pixels"], 0))
                        for _, r in ok.iterrows()])
    out: dict = {}
    for name, g in ok.groupby("dataset"):
        best = g.pivot_table(index="config_id", columns="fidelity_pixels", values="val_score")
        own = g.pivot_table(index="config_id", columns="fidelity_pixels", values="own")
        for (lo, hi), key in pairs.items():
            both = best.reindex(columns=[lo, hi]).dropna()
            if len(both) >= 3:
                mine = own.reindex(index=both.index, columns=[lo, hi]).dropna()
                out.setdefault(name, {})[key] = {
                    "tau": tau(both[lo], both[hi]), "n": len(both),
                    "tau_own": tau(mine[lo], mine[hi]) if len(mine) >= 3 else None}
    for key in pairs.values():
        found = [v[key] for v in out.values() if key in v]
        for stat, count in (("tau", "n"), ("tau_own", "n_own")):
            taus = [p[stat] for p in found if p[stat] is not None]
            if taus:
                out.setdefault("mean", {}).setdefault(key, {}).update(
                    {stat: float(np.mean(taus)), count: len(taus)})
    return out
