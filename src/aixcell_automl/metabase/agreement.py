"""Fidelity agreement: do the ladder's rungs rank a dataset's configurations alike?"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from aixcell_automl.metabase.ladder import LADDER


def fidelity_agreement(ok: pd.DataFrame) -> dict:
    """Per dataset and pair of adjacent ladder fidelities (2^23 -> 2^25, 2^25 -> 2^26): Kendall
    tau between the scores of the same configurations at both, with n. Also the mean tau of
    each pair over datasets."""
    from scipy.stats import kendalltau

    out: dict = {}
    fids = [f for _, f, _ in LADDER]
    for name, g in ok.groupby("dataset"):
        score = g.pivot_table(index="config_id", columns="fidelity_pixels", values="val_iou")
        for lo, hi in itertools.pairwise(fids):
            if lo in score and hi in score:
                both = score[[lo, hi]].dropna()
                if len(both) >= 3:
                    tau = kendalltau(both[lo], both[hi]).statistic
                    out.setdefault(name, {})[f"2^{int(np.log2(lo))}->2^{int(np.log2(hi))}"] = {
                        "tau": None if np.isnan(tau) else float(tau), "n": len(both)}
    for lo, hi in itertools.pairwise(fids):
        key = f"2^{int(np.log2(lo))}->2^{int(np.log2(hi))}"
        taus = [v[key]["tau"] for v in out.values() if key in v and v[key]["tau"] is not None]
        if taus:
            out.setdefault("mean", {})[key] = {"tau": float(np.mean(taus)), "n": len(taus)}
    return out
