"""The search's candidates: the plan and the ranking's best configurations, or the plan and a
portfolio learned on the meta-base's dense (v3) rows; where a winner sits among a dataset's own
meta-base rows."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from aixcell_automl.core.errors import UserError

log = logging.getLogger(__name__)


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


def portfolio_candidates(metabase: pd.DataFrame, meta_features: pd.DataFrame, plan: dict,
                         k: int, target: dict, min_datasets: int) -> tuple[list[dict], str]:
    """The plan, then the greedy best-of-(k - 1) portfolio (Auto-sklearn 2.0's) of the meta-base
    v3 candidates: learned on the other datasets whose every candidate is recorded at 2**24,
    each with its own plan already in the set, so a member is chosen for where plans fall
    short. Members take the plan's augmentations; one with the plan's training dimensions is
    the plan. Returns ``([], why)`` when fewer than ``min_datasets`` such datasets exist."""
    from aixcell_automl.metabase.candidates import DIMENSIONS, key, on_dataset
    from aixcell_automl.metabase.dense import FIRST
    from aixcell_automl.search.replay import complete_datasets, greedy_portfolio, table_of

    others = metabase[(metabase["dataset"] != target["dataset"])
                      & (metabase["dataset_hash"] != target["dataset_hash"])] \
        if len(metabase) else metabase
    table = table_of(others, meta_features, "v3")
    complete = [d for d in complete_datasets(table) if d in table.plans]
    if len(complete) < min_datasets:
        return [], (f"{len(complete)} other dataset(s) with every v3 candidate at 2^24, fewer "
                    f"than search.portfolio_min_datasets={min_datasets}")
    order = greedy_portfolio(table, complete, FIRST, len(table.hyperparameters),
                             {d: table.plans[d] for d in complete})
    out, seen, chosen = [dict(plan["configuration"])], {key(plan["configuration"])}, []
    for name in order:
        hp = table.hyperparameters[name]
        if key(hp) not in seen and len(out) < k:
            seen.add(key(hp))
            chosen.append(name)
            out.append(on_dataset({d: hp[d] for d in DIMENSIONS}, plan["configuration"]))
    return out, (f"the portfolio {', '.join(chosen) or '(none)'}, learned on {len(complete)} "
                 "datasets")


CANDIDATE_SOURCES = ("ranking", "portfolio")


def choose_candidates(ranking: pd.DataFrame, plan: dict, k: int, metabase: pd.DataFrame,
                      meta_features: pd.DataFrame, target: dict, params: dict
                      ) -> tuple[list[dict], str]:
    """The search's k candidates as ``search.candidates`` says, with where the others than the
    plan came from:
    ``ranking`` (:func:`candidates_with_plan`) or ``portfolio`` (:func:`portfolio_candidates`;
    the ranking's, with the reason, where the meta-base cannot teach a portfolio yet)."""
    how = params["candidates"]
    if how not in CANDIDATE_SOURCES:
        raise UserError(f"search.candidates={how!r}: use one of {', '.join(CANDIDATE_SOURCES)}")
    if how == "portfolio":
        out, why = portfolio_candidates(metabase, meta_features, plan, k, target,
                                        int(params["portfolio_min_datasets"]))
        if out:
            log.info("candidates: %s", why)
            return out, why
        log.warning("search.candidates=portfolio: %s; the ranking's candidates instead", why)
        return candidates_with_plan(ranking, plan, k), f"the ranking's top k - 1 ({why})"
    return candidates_with_plan(ranking, plan, k), "the ranking's top k - 1"


def candidates_and_reserve(ranking: pd.DataFrame, plan: dict, k: int, n_reserve: int,
                           metabase: pd.DataFrame, meta_features: pd.DataFrame, target: dict,
                           params: dict) -> tuple[list[dict], list[dict], str]:
    """The k candidates (:func:`choose_candidates`, the plan among them), the next
    ``n_reserve`` of the same choice for budget the trials leave unused (see
    :func:`aixcell_automl.search.halving.spend_leftover`), and where they came from."""
    chosen, source = choose_candidates(ranking, plan, k, metabase, meta_features, target, params)
    reserve, reserve_source = [], ""
    if n_reserve > 0:
        longer, reserve_source = choose_candidates(ranking, plan, k + n_reserve, metabase,
                                                   meta_features, target, params)
        taken = {c["config_id"] for c in chosen}
        reserve = [c for c in longer if c["config_id"] not in taken][:n_reserve]
    if len(chosen) > 1:
        return chosen, reserve, f"the plan and {source}"
    return chosen, reserve, "the plan alone" + (f"; the reserve: {reserve_source}"
                                                if reserve else "")


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
