"""Nodes of the ``replay`` pipeline: search methods replayed on the meta-base's v3 curves,
leave-one-dataset-out (see :mod:`aixcell_automl.search.replay`)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from aixcell_automl.core.errors import UserError
from aixcell_automl.metalearning.ranking import metamodel_orders
from aixcell_automl.search.replay import (
    BUILTIN_STRATEGIES,
    Table,
    candidate_speeds,
    complete_datasets,
    parse_method,
    replay,
    search_defaults,
    table_of,
)

log = logging.getLogger(__name__)


def replay_table(metabase: pd.DataFrame, meta_features: pd.DataFrame, params: dict,
                 search: dict, search_space: dict) -> Table:
    """The replay table of the meta-base's ``params['protocol']`` rows; each dataset's plan
    from its handcrafted meta-features; budgets in pixels turn into seconds at the median
    nominal speed of the search space's configurations, as the search's ``search.split`` reads
    them; where a method orders by ``metamodel``, the search's meta-model (``search``
    parameters) fitted for each held-out dataset without it."""
    from aixcell_automl.core.search_space import build_space, enumerate_configs

    speeds = candidate_speeds(metabase, dict(enumerate(enumerate_configs(build_space(
        search_space)))))  # the search space's, as choose_split reads a budget
    table = table_of(metabase, meta_features, params["protocol"],
                     float(np.median(list(speeds.values()))) if speeds else None)
    if not table.curves:
        raise UserError(f"replay: the meta-base holds no protocol-{params['protocol']} rows "
                        f"with candidates (collect them: kedro run --pipeline=metabase)")
    if any(parse_method(m)[1].removeprefix("plan+") == "metamodel" for m in params["methods"]):
        datasets = held_out(table, params)
        table.learned["metamodel"] = metamodel_orders(metabase, meta_features, datasets, search,
                                                      search_space)
        log.info("meta-model %s (%s) fitted for %d held-out datasets", search["meta_model"],
                 search["representation"], len(datasets))
    return table


def held_out(table: Table, params: dict) -> list[str]:
    """The datasets replayed: ``params['datasets']``, or every one whose candidates all have
    rows at the dense fidelity (budgets past it take those whose continuations are done too,
    :func:`run_replay`)."""
    datasets = params["datasets"] or complete_datasets(table)
    if not datasets:
        raise UserError("replay: no dataset has every candidate's curve to 2^24 yet")
    return datasets


def run_replay(table: Table, params: dict) -> pd.DataFrame:
    """Every method x held-out dataset x budget x seed (``params``: methods, budgets_log2,
    seeds, unit, datasets: null = every dataset whose candidates all have rows at the dense
    fidelity, and at a budget past it only those whose continuations are all recorded)."""
    from tqdm.auto import tqdm

    datasets = held_out(table, params)
    check_learning_datasets(table, datasets, params)
    jobs = []
    for b in params["budgets_log2"]:  # past 2^24 only datasets whose continuations are done
        at = params["datasets"] or complete_datasets(table, 2.0 ** b)
        if len(at) < len(datasets):
            log.warning("budget 2^%s: %d of %d datasets (the continuations to 2^26 of %s are "
                        "not all recorded)%s", b, len(at), len(datasets),
                        ", ".join(sorted(set(datasets) - set(at))),
                        "" if at else ": not replayed")
        jobs += [(d, m, 2.0 ** b, s) for d in at for m in params["methods"]
                 for s in range(int(params["seeds"]))]
    if not jobs:
        raise UserError("replay: no dataset has its continuations to 2^26 recorded, so none of "
                        "the budgets " + ", ".join(f"2^{b}" for b in params["budgets_log2"])
                        + " can be replayed")
    out, once = [], {}
    for d, m, budget, s in tqdm(jobs, desc="replay", unit="run", mininterval=5):
        if seeded(m):
            out.append(replay(table, d, m, budget, s, params["unit"]))
        else:  # the same for every seed: replayed once
            if (d, m, budget) not in once:
                once[d, m, budget] = replay(table, d, m, budget, 0, params["unit"])
            out.append({**once[d, m, budget], "seed": s})
    log.info("replayed %d runs: %d methods x %d datasets x %d budgets x %d seeds", len(out),
             len(params["methods"]), len(datasets), len(params["budgets_log2"]),
             int(params["seeds"]))
    return pd.DataFrame(out)


def seeded(method: str) -> bool:
    """Whether a replay of ``method`` depends on the seed (a random ordering, or a strategy
    not known to ignore it)."""
    strategy, ordering, _ = parse_method(method)
    return ordering.removeprefix("plan+") == "random" or strategy not in BUILTIN_STRATEGIES


LEARNED_ORDERINGS = ("average", "portfolio")  # learned from the other complete datasets' curves


def check_learning_datasets(table: Table, datasets: list[str], params: dict) -> None:
    """Orderings learned from the other complete datasets need at least
    ``params['min_other_datasets']`` of them for every held-out dataset (fewer: one clear
    error, before anything is replayed)."""
    learning = [m for m in params["methods"]
                if parse_method(m)[1].removeprefix("plan+") in LEARNED_ORDERINGS]
    complete = complete_datasets(table)
    fewest = min(len([d for d in complete if d != held]) for held in datasets)
    if learning and fewest < int(params["min_other_datasets"]):
        raise UserError(f"replay: {', '.join(learning)} learn from the other complete datasets, "
                        f"and a held-out dataset has {fewest} (replay.min_other_datasets: "
                        f"{params['min_other_datasets']}; complete: {complete}); collect more "
                        f"rows (kedro run --pipeline=metabase) or leave these methods out")


def forecast_report(table: Table, params: dict) -> list[dict]:
    """The forecast's accuracy against the score so far (Kendall tau, leave-one-dataset-out)
    for each ``[observed, target]`` pair of ``params['forecast_horizons_log2']``."""
    from aixcell_automl.search.forecast import forecast_accuracy

    curves = {d: {c: list(cv.points) for c, cv in cs.items()} for d, cs in table.curves.items()}
    out = [forecast_accuracy(curves, 2.0 ** a, 2.0 ** b)
           for a, b in params["forecast_horizons_log2"]]
    for r in out:
        log.info("forecast 2^%g -> 2^%g: tau %.3f (score so far %.3f) over %d datasets",
                 np.log2(r["observed"]), np.log2(r["target"]), r["tau_forecast"] or np.nan,
                 r["tau_score_so_far"] or np.nan, len(r["datasets"]))
    return out


def summarise_replay(results: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Per method and budget: regret (mean over datasets of the mean over seeds, and the worst
    dataset), the winner's share of the budget, how often the plan won, how often a run read a
    trial held past its record (``held``) and how often that trial was the winner; and the
    same as a Markdown table."""
    per_ds = results.groupby(["method", "budget", "dataset"]).agg(
        regret=("regret", "mean"), share=("winner_share", "mean"), plan_won=("plan_won", "mean"),
        held=("past_recorded", "mean"), past=("winner_past_recorded", "mean")).reset_index()
    summary = per_ds.groupby(["method", "budget"]).agg(
        datasets=("dataset", "nunique"), mean_regret=("regret", "mean"),
        worst_regret=("regret", "max"), winner_share=("share", "mean"),
        plan_won=("plan_won", "mean"), held=("held", "mean"),
        winner_past_recorded=("past", "mean")).reset_index()
    summary["log2_budget"] = np.log2(summary["budget"]).round(2)
    summary = summary.sort_values(["budget", "mean_regret", "method"]).reset_index(drop=True)
    lines = ["| budget | method | datasets | mean regret | worst regret | winner's share | "
             "plan won | a trial held | the winner held |", "|---|---|---|---|---|---|---|---|---|"]
    for r in summary.itertuples():
        lines.append(f"| 2^{r.log2_budget:g} | `{r.method}` | {r.datasets} | "
                     f"{r.mean_regret:.3f} | {r.worst_regret:.3f} | {r.winner_share:.2f} | "
                     f"{r.plan_won:.2f} | {r.held:.2f} | {r.winner_past_recorded:.2f} |")
    return summary, "\n".join(lines) + "\n"


def suggest_search_defaults(summary: pd.DataFrame, results: pd.DataFrame, params: dict) -> dict:
    """``search.candidates`` and ``search.split`` as the replay decides them
    (:func:`aixcell_automl.search.replay.search_defaults`), for conf/base/parameters_search.yml;
    only from a replay in seconds, which spends the budget as the search does."""
    if params["unit"] != "seconds":
        note = (f"search.split is read off a replay in seconds (the search gives its trials "
                f"equal seconds); this one is in {params['unit']} (replay.unit)")
        log.info("search defaults: none, %s", note)
        return {"note": note}
    out = search_defaults(summary, results)
    for line in out["why"]:
        log.info("search defaults: %s", line)
    return out
