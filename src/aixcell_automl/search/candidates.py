"""The search's candidates: the plan and the ranking's best configurations; where a winner sits
among a dataset's own meta-base rows."""

from __future__ import annotations

import numpy as np
import pandas as pd


def top_k(ranking: pd.DataFrame, k: int) -> list[dict]:
    """The first ``k`` configurations of a ranking as plain dicts."""
    return [config_of_ranking_row(row) for row in ranking.head(k).to_dict("records")]


def config_of_ranking_row(row: dict) -> dict:
    """A configuration (with ``config_id``) from a row of a ranking."""
    return {key: (v.item() if hasattr(v, "item") else v) for key, v in row.items()
            if key not in ("predicted_score", "rank", "fidelity_pixels")}


DISTINCT = ("backbone", "patch_size", "learning_rate")  # what makes candidates differ


def distinct_rows(ranking: pd.DataFrame, n: int, taken: list[dict]) -> pd.DataFrame:
    """The first ``n`` rows of ``ranking`` that differ from each other and from ``taken`` in
    backbone, patch size or learning rate: near-copies that differ only in augmentation or
    batch size would spend the budget on one configuration twice."""
    seen = {tuple(c[d] for d in DISTINCT) for c in taken}
    keep = []
    for i, row in zip(ranking.index, ranking[list(DISTINCT)].itertuples(index=False),
                      strict=True):
        if len(keep) >= n:
            break
        if tuple(row) not in seen:
            seen.add(tuple(row))
            keep.append(i)
    return ranking.loc[keep]


def candidates_with_plan(ranking: pd.DataFrame, plan: dict, k: int) -> list[dict]:
    """The plan's configuration and the ranking's best ``k - 1`` others that are not
    near-copies of it or of each other (:func:`distinct_rows`), in ranking order (the plan
    enters at its own rank)."""
    pid = plan["configuration"]["config_id"]
    others = distinct_rows(ranking[ranking["config_id"] != pid], max(k - 1, 0),
                           [plan["configuration"]])
    own = ranking[ranking["config_id"] == pid]
    rows = pd.concat([others, own]).sort_values("rank") if len(own) else others
    out = [config_of_ranking_row(r) for r in rows.to_dict("records")]
    if not len(own):  # a plan edited outside the search space: it still competes, ranked last
        out.append(dict(plan["configuration"]))
    return out


def metabase_position(metabase: pd.DataFrame, dataset: str, config_id: str) -> dict | None:
    """Where the winner sits among the dataset's own meta-base rows (if it has any)."""
    if metabase.empty:
        return None
    rows = metabase[(metabase["dataset"] == dataset) & (metabase["status"] == "ok")]
    if rows.empty:
        return None
    ious = rows["val_score"].to_numpy(float)
    own = rows.loc[rows["config_id"] == config_id, "val_score"]
    out = {"rows": len(rows), "best_score": float(ious.max()),
           "median_score": float(np.median(ious))}
    if len(own):
        out["winner_metabase_score"] = float(own.iloc[0])
        out["winner_percentile"] = float((ious <= own.iloc[0]).mean() * 100)
    return out
