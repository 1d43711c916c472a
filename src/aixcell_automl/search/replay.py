"""Replay a search on recorded learning curves (docs/results/replay.md): a tabular benchmark.

The meta-base's protocol-v3 rows hold, per dataset, the validation curve of every candidate to
2**24 training pixels and of six of them to 2**26 (:mod:`aixcell_automl.metabase.dense`). A
*method* ``strategy:ordering:k`` replays a registered search strategy (``successive_halving``,
``plan_only``, ``equal_split``, ...) on a held-out dataset: the strategy's ``run_rung`` does not
train, it reads each trial's score off its curve (:class:`ReplayTrials`). The candidates are the
first ``k`` of an ordering (:data:`ORDERINGS`), learned where it learns only from the other
datasets (leave-one-dataset-out).

Reading a curve: a trial that has trained ``n`` pixels scores its best-so-far curve at ``n``,
linear in ``log2(n)`` between the two recorded points around it (a real trial evaluates at the
end of each slice, which seldom falls on a recorded power of two). A trial asked to train past
its curve's last point is held at its best there and the request is reported
(``past_recorded``), never extrapolated.

A budget is in training pixels. In the unit ``pixels`` every slice is that many pixels for each
trial. In the unit ``seconds`` the replay spends it as the search does: the budget is
``pixels / median_speed`` seconds (the search's :func:`~aixcell_automl.search.budget.
choose_split` reads its ``search.split`` row at ``log2(seconds x`` the median speed of its
configurations)), every slice is the same seconds for each trial, and a trial trains its slice
in whole steps (one more than the slice holds: a trial's clock starts after its first step)
at its configuration's speed on the nominal machine (:func:`~aixcell_automl.search.budget.
config_speeds`: the median over trusted rows with its backbone, patch and batch size), so,
as in the search (:mod:`aixcell_automl.training.loop`), building and tracing a model are not
charged to its slice.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from aixcell_automl.core.errors import UserError
from aixcell_automl.metabase.candidates import key as candidate_key


@dataclass(frozen=True)
class Curve:
    """One candidate's recorded curve on one dataset: ``(pixels, score)`` ascending (empty for a
    failed trial) and the highest fidelity any of its rows (ok or failed) was run to."""

    points: tuple[tuple[int, float], ...]
    rows_to: int = 0

    @property
    def recorded(self) -> int:
        return self.points[-1][0] if self.points else 0

    def score_at(self, pixels: float) -> float | None:
        """The best-so-far score after ``pixels``, linear in log2(pixels) between recorded
        points, held at the last (None before the first evaluation)."""
        best = np.maximum.accumulate([s for _, s in self.points]) if self.points else []
        at = [p for p, _ in self.points]
        i = int(np.searchsorted(at, pixels + 0.5)) - 1  # the last point at or below
        if i < 0:
            return None
        if i + 1 >= len(at) or pixels <= at[i] + 0.5:
            return float(best[i])
        w = (np.log2(pixels) - np.log2(at[i])) / (np.log2(at[i + 1]) - np.log2(at[i]))
        return float(best[i] + w * (best[i + 1] - best[i]))

    @property
    def best(self) -> float | None:
        return max((s for _, s in self.points), default=None)


@dataclass
class Table:
    """Curves per dataset and candidate, each candidate's hyperparameters, each dataset's plan,
    and orderings learned outside the table (e.g. the meta-model's), per held-out dataset."""

    curves: dict[str, dict[str, Curve]]
    hyperparameters: dict[str, dict]
    plans: dict[str, str] = field(default_factory=dict)
    speeds: dict[str, float] = field(default_factory=dict)  # candidate -> nominal px/s
    median_speed: float | None = None  # px/s that turns a budget in pixels into seconds
    learned: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # ordering -> dataset
    memo: dict = field(default_factory=dict, repr=False)  # orderings and priors, once each

    def best(self, dataset: str) -> float:
        return max(c.best for c in self.curves[dataset].values() if c.best is not None)

    def score_at(self, dataset: str, candidate: str, pixels: float) -> float:
        """A candidate's score on a dataset at ``pixels`` (-1 if failed or not evaluated)."""
        curve = self.curves[dataset].get(candidate)
        v = curve.score_at(pixels) if curve else None
        return -1.0 if v is None else float(v)


def build_table(rows: Sequence[Mapping], plan_configs: Mapping[str, Mapping],
                protocol: str = "v3", median_speed: float | None = None) -> Table:
    """The replay table of a meta-base's ``protocol`` rows, keyed by ``candidate`` name (v3) or
    else configuration id; ``plan_configs`` maps dataset names to their plan's configuration.
    Each candidate's speed on the nominal machine is the search's (:func:`~aixcell_automl.
    search.budget.config_speeds`, from all ``rows`` on a CPU); ``median_speed`` (default: the
    candidates' median) turns a budget in pixels into seconds."""
    import pandas as pd

    frame = pd.DataFrame(list(rows))  # every protocol's rows: the search's speed estimates
    rows = [r for r in rows if r.get("protocol") == protocol and r.get("source") != "named"]
    points: dict[tuple[str, str], dict[int, float]] = {}
    rows_to: dict[tuple[str, str], int] = {}
    hps: dict[str, dict] = {}
    for r in rows:
        name = r.get("candidate") or r["config_id"]
        k = (r["dataset"], name)
        pts = points.setdefault(k, {})
        hps.setdefault(name, {h[3:]: v for h, v in r.items() if h.startswith("hp_")})
        rows_to[k] = max(rows_to.get(k, 0), int(r["fidelity_pixels"]))
        if r["status"] != "ok":
            continue
        for px, score in r["curve"]:
            pts[int(px)] = max(float(score), pts.get(int(px), -np.inf))
    curves: dict[str, dict[str, Curve]] = {}
    for (ds, cand), pts in points.items():
        curves.setdefault(ds, {})[cand] = Curve(tuple(sorted(pts.items())), rows_to[ds, cand])
    plans = {}
    for ds in curves:
        if ds in plan_configs:
            want = candidate_key(plan_configs[ds])
            plans[ds] = next((c for c in curves[ds] if candidate_key(hps[c]) == want), None)
    speeds = candidate_speeds(frame, hps)
    if median_speed is None and speeds:
        median_speed = float(np.median(list(speeds.values())))
    return Table(curves, hps, {d: p for d, p in plans.items() if p}, speeds, median_speed)


def candidate_speeds(frame, hyperparameters: Mapping[str, Mapping]) -> dict[str, float]:
    """Each named configuration's training speed (px/s) on the nominal machine, as the search
    estimates it (:func:`~aixcell_automl.search.budget.config_speeds` over the CPU rows of the
    meta-base ``frame``); {} without rows that record a speed."""
    from aixcell_automl.search.budget import config_speeds

    if frame.empty or not {"hardware", "pixels_seen", "train_seconds"} <= set(frame):
        return {}
    names = sorted(hyperparameters)
    speeds = config_speeds([hyperparameters[n] for n in names], frame, "cpu", machine_factor=1.0)
    return {} if speeds is None else dict(zip(names, map(float, speeds), strict=True))


def complete_datasets(table: Table, pixels: float | None = None) -> list[str]:
    """The datasets whose every candidate has a row (ok or failed) at the dense fidelity
    (2**24) and, for ``pixels`` past it, whose continuations all have rows at 2**26 (as many as
    :func:`aixcell_automl.metabase.dense.promote` continues)."""
    from aixcell_automl.metabase.dense import FIRST, TOP, promote

    out = []
    for d, cs in table.curves.items():
        if len(cs) < len(table.hyperparameters) or min(c.rows_to for c in cs.values()) < FIRST:
            continue
        if pixels is not None and pixels > FIRST + 0.5:
            scores = {n: c.score_at(FIRST) for n, c in cs.items()}
            if sum(c.rows_to >= TOP for c in cs.values()) < len(
                    promote(scores, table.plans.get(d, ""), (0,))):
                continue
        out.append(d)
    return sorted(out)


def table_of(metabase, meta_features, protocol: str = "v3",
             median_speed: float | None = None) -> Table:
    """:func:`build_table` of a meta-base frame (the catalog's ``metabase``), each dataset's plan
    from its handcrafted meta-features (the ``meta_features`` frame)."""
    from aixcell_automl.core.plan_rules import planned_configuration

    rows = metabase.to_dict("records") if len(metabase) else []
    plans = {r["dataset"]: planned_configuration(r) for r in meta_features.to_dict("records")}
    return build_table(rows, plans, protocol, median_speed)


class ReplayTrials:
    """``run_rung`` for a strategy on one dataset's curves (see module doc)."""

    def __init__(self, table: Table, dataset: str, unit: str = "pixels"):
        self.table, self.dataset, self.unit = table, dataset, unit
        self.pixels: dict[str, float] = {}
        self.spent: dict[str, float] = {}  # budget units (pixels or seconds) per trial
        self.past: dict[str, float] = {}

    def _to_pixels(self, candidate: str, amount: float) -> float:
        """The pixels a slice of ``amount`` (pixels or seconds) trains. In seconds, whole steps
        as a trial takes them: its first step is free (its clock starts after it) and it steps
        while its clock is below the slice."""
        if self.unit == "pixels":
            return amount
        speed = self.table.speeds.get(candidate)
        if not speed:
            raise UserError(f"replay: candidate {candidate} has no recorded training speed, so "
                            f"a budget in seconds cannot be replayed (replay.unit: pixels)")
        hp = self.table.hyperparameters[candidate]
        step = hp["patch_size"] ** 2 * hp["batch_size"]
        return (1 + math.ceil(amount * speed / step - 1e-9)) * step if amount > 0 else 0.0

    def run_rung(self, jobs: list[tuple[dict, float]]) -> list[dict]:
        states = []
        for cfg, amount in jobs:
            cid = cfg["config_id"]
            curve = self.table.curves[self.dataset].get(cid)
            self.spent[cid] = self.spent.get(cid, 0.0) + amount
            wanted = self.pixels.get(cid, 0.0) + self._to_pixels(cid, amount)
            reached = min(wanted, curve.recorded) if curve and curve.points else wanted
            if curve and curve.points and wanted > curve.recorded + 0.5:
                self.past[cid] = wanted - curve.recorded
            self.pixels[cid] = wanted
            v = curve.score_at(reached) if curve else None
            history = [{"pixels": p, "val_score": s} for p, s in (curve.points if curve else ())
                       if p <= reached + 0.5]
            states.append({"status": "failed" if v is None and curve and not curve.points
                           else "paused", "best_score": v, "pixels_seen": int(reached),
                           "train_seconds": None, "reason": None, "history": history})
        return states


# --- orderings: which candidates, in what order (the plan first where it is part of it) ---

def _steps_rule(table: Table, dataset: str, others: list[str], seed: int) -> list[str]:
    """Most optimizer steps per pixel first (smallest patch^2 x batch), a one-line rule."""
    hp = table.hyperparameters
    return sorted(table.curves[dataset], key=lambda c: (hp[c]["patch_size"] ** 2
                                                        * hp[c]["batch_size"], c))


def _average(table: Table, dataset: str, others: list[str], seed: int) -> list[str]:
    """Best mean score on the other datasets at the dense fidelity first."""
    from aixcell_automl.metabase.dense import FIRST

    def mean(c):
        return np.mean([table.score_at(d, c, FIRST) for d in others])
    return sorted(table.curves[dataset], key=lambda c: (-mean(c), c))


def greedy_portfolio(table: Table, datasets: Sequence[str], pixels: float, k: int,
                     start: Mapping[str, str] | None = None) -> list[str]:
    """:func:`greedy_order` of the candidates' scores on ``datasets`` at ``pixels``; ``start``
    maps each dataset to a member it already has (e.g. its own plan)."""
    import pandas as pd

    if not datasets:
        return []
    names = sorted({c for d in datasets for c in table.curves[d]})
    scores = pd.DataFrame([[table.score_at(d, c, pixels) for c in names] for d in datasets],
                          index=list(datasets), columns=names)
    have = {d: table.score_at(d, start[d], pixels) for d in datasets if start and d in start}
    return greedy_order(scores, k, have, {d: table.best(d) for d in datasets})


def greedy_order(scores, k: int, have: Mapping[str, float] | None = None,
                 best: Mapping[str, float] | None = None) -> list[str]:
    """Greedy best-of-k (Auto-sklearn 2.0's portfolio) over a datasets x candidates frame of
    scores: add, one at a time, the candidate that most lowers the mean regret (``best`` of
    the dataset, default its best score in the frame, minus the set's best member) over the
    datasets; ``have``: a score each dataset already has. Ties go to the lower mean regret
    alone, then the name."""
    best_d = (scores.max(axis=1) if best is None else scores.index.map(best).to_series(
        index=scores.index)).to_numpy(float)
    cur = scores.index.map(lambda d: (have or {}).get(d, -1.0)).to_numpy(float)
    alone = (best_d[:, None] - scores.to_numpy(float)).mean(0)
    chosen: list[str] = []
    cols = list(scores.columns)
    while len(chosen) < min(k, len(cols)):
        regret = (best_d[:, None] - np.maximum(cur[:, None], scores.to_numpy(float))).mean(0)
        j = min((j for j, c in enumerate(cols) if c not in chosen),
                key=lambda j: (regret[j], alone[j], cols[j]))
        chosen.append(cols[j])
        cur = np.maximum(cur, scores.iloc[:, j].to_numpy(float))
    return chosen


def _portfolio(table: Table, dataset: str, others: list[str], seed: int) -> list[str]:
    from aixcell_automl.metabase.dense import FIRST

    return greedy_portfolio(table, others, FIRST, len(table.curves[dataset]))


def _random(table: Table, dataset: str, others: list[str], seed: int) -> list[str]:
    """A permutation drawn with the seed and the dataset's name (another draw per dataset)."""
    import zlib

    names = sorted(table.curves[dataset])
    rng = np.random.default_rng([seed, zlib.crc32(dataset.encode())])
    return [names[i] for i in rng.permutation(len(names))]


def _plan_portfolio(table: Table, dataset: str, others: list[str], seed: int) -> list[str]:
    """The greedy portfolio learned with each other dataset's own plan already in the set."""
    from aixcell_automl.metabase.dense import FIRST

    start = {d: table.plans[d] for d in others if d in table.plans}
    return greedy_portfolio(table, [d for d in others if d in start], FIRST,
                            len(table.curves[dataset]), start)


def _metamodel(table: Table, dataset: str, others: list[str], seed: int) -> list[str]:
    """The search's meta-model's order (:func:`aixcell_automl.metalearning.ranking.
    metamodel_orders`, learned without ``dataset``), put in ``table.learned``."""
    if dataset not in table.learned.get("metamodel", {}):
        raise UserError(f"replay: no meta-model ordering for {dataset} (the replay pipeline "
                        f"fits one per held-out dataset when a method uses it)")
    return table.learned["metamodel"][dataset]


# orderings of the candidates; "plan+<name>" puts the dataset's plan first, "plan" is the plan
ORDERINGS: dict[str, Callable[[Table, str, list[str], int], list[str]]] = {
    "plan": lambda table, dataset, others, seed: [],
    "steps": _steps_rule,
    "average": _average,
    "portfolio": _portfolio,
    "random": _random,
    "metamodel": _metamodel,
}


def candidates(table: Table, dataset: str, ordering: str, k: int, seed: int) -> list[str]:
    """The first ``k`` candidates of ``ordering`` on ``dataset``, learned on the other complete
    datasets (:func:`complete_datasets`: a candidate missing from a dataset would count as a
    failure there)."""
    plan_first = ordering == "plan" or ordering.startswith("plan+")
    name = ordering.removeprefix("plan+")
    fn = _plan_portfolio if name == "portfolio" and plan_first else ORDERINGS.get(name)
    if fn is None:
        raise UserError(f"replay: unknown ordering {ordering!r}; known: {sorted(ORDERINGS)}, "
                        f"each also as plan+<name> (the plan first)")
    others = [d for d in complete_datasets(table) if d != dataset]
    key = ("order", dataset, ordering, seed if name == "random" else 0)
    if key not in table.memo:
        table.memo[key] = fn(table, dataset, others, seed)
    order = table.memo[key]
    if plan_first:
        if dataset not in table.plans:
            raise UserError(f"replay: no plan for {dataset} (its meta-features are missing or "
                            f"no candidate matches its plan)")
        order = [table.plans[dataset]] + [c for c in order if c != table.plans[dataset]]
    order = [c for c in order if c in table.curves[dataset]]
    if name == "metamodel":  # as the search's ranking candidates: no near-copies
        order = distinct(order, table.hyperparameters)
    out = order[:k]
    if not out:
        raise UserError(f"replay: ordering {ordering!r} gives no candidate for {dataset} (it "
                        f"learns from the other complete datasets: {len(others)})")
    return out


def distinct(names: list[str], hyperparameters: Mapping[str, Mapping]) -> list[str]:
    """``names`` without near-copies of an earlier one, by the search's own rule
    (:func:`aixcell_automl.search.candidates.distinct_rows`)."""
    import pandas as pd

    from aixcell_automl.search.candidates import distinct_rows

    rows = pd.DataFrame([{**hyperparameters[c], "name": c} for c in names])
    return distinct_rows(rows, len(rows), [])["name"].tolist() if names else []


def curve_prior(table: Table, dataset: str):
    """The forecast's prior learned from the other datasets' curves."""
    from aixcell_automl.search.forecast import learn_prior

    key = ("prior", dataset)
    if key not in table.memo:
        table.memo[key] = learn_prior(c.points for d, cs in table.curves.items()
                                      if d != dataset for c in cs.values())
    return table.memo[key]


def parse_method(method: str) -> tuple[str, str, int]:
    """``"successive_halving:plan_portfolio:4"`` -> (strategy, ordering, k)."""
    parts = method.split(":")
    if len(parts) != 3 or not parts[2].isdigit() or int(parts[2]) < 1:
        raise UserError(f"replay: method {method!r} is not 'strategy:ordering:k'")
    return parts[0], parts[1], int(parts[2])


def replay(table: Table, dataset: str, method: str, budget: float, seed: int = 0,
           unit: str = "pixels") -> dict:
    """Replay ``method`` on ``dataset`` within ``budget`` training pixels, spent as pixels or
    as the search spends seconds (``unit``, see module doc): the winner, its score at the end
    of the budget, the regret to the dataset's best recorded configuration, the share of the
    budget the winner trained, and whether any trial (or the winner) was asked past its
    record."""
    from aixcell_automl.plugins.registry import get, specs
    from aixcell_automl.search.run import SearchContext

    if dataset not in table.curves:
        raise UserError(f"replay: no rows for dataset {dataset!r}; datasets with rows: "
                        f"{sorted(table.curves)}")
    reach = max(c.recorded for c in table.curves[dataset].values())
    if unit not in ("pixels", "seconds"):
        raise UserError(f"replay: unit {unit!r} is neither 'pixels' nor 'seconds'")
    if unit == "seconds" and not table.median_speed:
        raise UserError("replay: no meta-base row records a training speed on a CPU, so a "
                        "budget in seconds cannot be replayed (replay.unit: pixels)")
    if budget > reach:
        raise UserError(f"replay: no curve of {dataset} reaches a budget of 2^"
                        f"{np.log2(budget):.1f} pixels (the longest reaches 2^"
                        f"{np.log2(reach):.0f})")
    strategy, ordering, k = parse_method(method)
    if strategy not in specs("strategy"):
        raise UserError(f"replay: search strategy {strategy!r} is not registered; registered: "
                        f"{sorted(specs('strategy'))}")
    names = candidates(table, dataset, ordering, k, seed)
    configs = [{"config_id": c, **table.hyperparameters[c]} for c in names]
    trials = ReplayTrials(table, dataset, unit)
    total = float(budget) if unit == "pixels" else budget / table.median_speed
    ctx = SearchContext(configs, configs[0], {}, total, len(configs), seed,
                        trials.run_rung, curve_prior=curve_prior(table, dataset))
    trace = get("strategy", strategy).run(ctx)
    win = trace["winner"]
    score = table.score_at(dataset, win, trials.pixels.get(win, 0.0))
    return {"dataset": dataset, "method": method, "budget": budget, "unit": unit, "seed": seed,
            "candidates": ",".join(names), "winner": win, "score": score,
            "best": table.best(dataset), "regret": table.best(dataset) - score,
            "winner_share": trials.spent.get(win, 0.0) / total,
            "plan_won": win == table.plans.get(dataset),
            "past_recorded": bool(trials.past), "winner_past_recorded": win in trials.past}


# the search's `search.candidates` options and the replay orderings that stand for them
CANDIDATE_ORDERINGS = {"ranking": "plan+metamodel", "portfolio": "plan+portfolio"}
# the built-in strategies: seed-free, and run by the search as the replay runs them
# (forecast_halving: both learn the forecast's prior from the other datasets' v3 curves,
# search.forecast.prior_from_metabase)
BUILTIN_STRATEGIES = ("plan_only", "equal_split", "successive_halving", "forecast_halving",
                      "screen_then_train")


def search_defaults(summary, results) -> dict:
    """The search's defaults read off a replay (its summary, :func:`~aixcell_automl.pipelines.
    replay.nodes.summarise_replay`, and its per-run ``results``) by a fixed rule, so that they
    are decided, not tuned:

    * ``split``: per budget, among ``plan_only:plan:1`` and the methods over a candidate
      option, those within noise of the lowest mean regret (their mean regret above it by at
      most one standard error of the paired differences over datasets; with one dataset only
      exact ties) are level; of these the one with the fewest candidates, the plan alone only
      where no split is level (ties: the lower mean regret, then the lower worst regret);
      methods replayed on fewer datasets than the most at a budget do not count; as
      ``search.split`` rows, each reaching halfway (in log2) to the next budget;
    * ``candidates``: of the options (:data:`CANDIDATE_ORDERINGS`) the summary has methods for,
      the one whose chosen methods have the lower mean regret averaged over the budgets (ties,
      or no such method: ``ranking``).

    Only the strategies of :data:`BUILTIN_STRATEGIES` count.
    """
    import pandas as pd

    method = summary["method"].str.split(":")
    df = summary.assign(strategy=method.str[0], ordering=method.str[1],
                        k=method.str[2].astype(int))
    df = df[df["strategy"].isin(BUILTIN_STRATEGIES)]
    plan = df["method"] == "plan_only:plan:1"
    per_dataset = results.groupby(["budget", "dataset", "method"])["regret"].mean().unstack()

    def choose(rows):
        rows = rows[rows["datasets"] == rows["datasets"].max()]  # comparable: the same datasets
        rows = rows.sort_values(["mean_regret", "worst_regret", "k", "method"])
        missing = set(rows["method"]) - set(per_dataset.columns)
        if missing:
            raise UserError(f"replay: the summary's methods {sorted(missing)} have no rows in "
                            "the results; summarise the same results")
        regret = per_dataset.loc[rows["budget"].iloc[0], rows["method"].tolist()]
        diff = regret.sub(regret[rows["method"].iloc[0]], axis=0)
        noise = (diff.std(ddof=1) / np.sqrt(diff.count())).fillna(0.0)
        level = rows[(diff.mean() <= noise + 1e-12).to_numpy()]
        pick = level.sort_values(["k"], key=lambda k: k.where(k > 1, np.inf),
                                 kind="stable").iloc[0]
        return {**pick.to_dict(), "lowest": rows["method"].iloc[0],
                "lowest_regret": rows["mean_regret"].iloc[0]}

    def best_per_budget(ordering: str):
        mine = df[plan | (df["ordering"] == ordering)]
        return pd.DataFrame([choose(rows) for _, rows in mine.groupby("log2_budget")])

    if not plan.any() and not df["ordering"].isin(CANDIDATE_ORDERINGS.values()).any():
        raise UserError("replay: the summary has no method over the search's candidate options "
                        f"({sorted(CANDIDATE_ORDERINGS.values())}) nor plan_only:plan:1")
    per_option = {o: best_per_budget(ordering) for o, ordering in CANDIDATE_ORDERINGS.items()}
    regret = {o: float(per_option[o]["mean_regret"].mean())
              for o, ordering in CANDIDATE_ORDERINGS.items() if (df["ordering"] == ordering).any()}
    option = min(regret, key=lambda o: (regret[o], o != "ranking")) if regret else "ranking"
    best = per_option[option]
    budgets = best["log2_budget"].tolist()
    split, why = [], []
    for i, r in enumerate(best.itertuples()):
        strategy = r.method.split(":")[0]
        up_to = (budgets[i] + budgets[i + 1]) / 2 if i + 1 < len(budgets) else None
        held = f", a trial held past its record in {r.held:.0%} of runs" if getattr(
            r, "held", 0) else ""
        lowest = ("" if r.lowest == r.method else f"; level with the lowest, {r.lowest} "
                  f"{r.lowest_regret:.3f}, within one standard error")
        why.append(f"2^{r.log2_budget:g}: {r.method} (mean regret {r.mean_regret:.3f}, worst "
                   f"{r.worst_regret:.3f}, {r.datasets} datasets{held}{lowest})")
        if split and (split[-1]["strategy"], split[-1]["k"]) == (strategy, r.k):
            split[-1]["up_to_log2"] = up_to
            split[-1]["why"] += "; " + why[-1]
        else:
            split.append({"up_to_log2": up_to, "strategy": strategy, "k": int(r.k),
                          "why": f"replay: {why[-1]}"})
    return {"candidates": option, "split": split,
            "why": [f"candidates: {option} (" + ("mean regret of the chosen method per budget: "
                    + ", ".join(f"{o} {v:.3f}" for o, v in sorted(regret.items())) if regret
                    else "no method over either option's candidates: the default") + ")"] + why}
