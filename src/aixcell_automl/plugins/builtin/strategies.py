"""Built-in search strategies, registered through the same hook as a plugin's.

* ``successive_halving`` - the system's search: successive halving over the candidates (the
  plan and the meta-model's top k - 1, docs/search.md).
* ``forecast_halving`` - the same successive halving, promoting by learning-curve forecast at
  the pixels a winner would reach, the plan kept unless clearly behind (docs/search.md).
* ``random_halving`` - k configurations drawn from the space at random (seeded), the same
  successive halving: what the ranking is worth.
* ``plan_only`` - the plan's configuration trained for the whole budget: the rule-based default.
* ``equal_split`` - every candidate trained for budget / k, the best wins: a best-of-k
  portfolio without halving.
* ``screen_then_train`` - every candidate trained for a quarter of the budget / k, then the best
  one for the other three quarters, continuing (its share 3/4 + 1/(4k); halving's is 3/4 at
  k = 2 and less beyond).
* ``optuna_tpe`` - Optuna's TPE sampler with its successive-halving pruner over the space, each
  trial trained in chunks of the first halving rung's slice (at most as many chunks as the
  halving winner gets), until the budget is spent.
"""

from __future__ import annotations

from aixcell_automl.core.search_space import config_id, enumerate_configs, sample_configs
from aixcell_automl.plugins import hookimpl
from aixcell_automl.plugins.specs import SearchStrategy
from aixcell_automl.search.halving import (
    equal_split,
    score_of,
    slice_seconds,
    strategy_schedule,
    successive_halving,
    trial_record,
    winner_share,
)


def halving_over_candidates(ctx) -> dict:
    return successive_halving(ctx.candidates, ctx.budget_seconds, ctx.run_rung, ctx.trace,
                              ctx.on_trial)


def forecast_halving(ctx) -> dict:
    """Successive halving that promotes by learning-curve forecast, the plan protected
    (:mod:`aixcell_automl.search.forecast`)."""
    from aixcell_automl.search.forecast import CurvePrior, forecast_order

    prior = getattr(ctx, "curve_prior", None) or CurvePrior()

    def rank(alive, records, keep, growth):
        target = {cid: (r.get("pixels_seen") or 0) * growth for cid, r in records.items()}
        return forecast_order(alive, records, keep, target, ctx.plan.get("config_id"), prior)

    trace = successive_halving(ctx.candidates, ctx.budget_seconds, ctx.run_rung, ctx.trace,
                               ctx.on_trial, rank=rank)
    # a protected plan may end below a leader it displaced: the best score seen wins
    best = {}
    for rung in trace["rungs"]:
        for t in rung["trials"]:
            best[t["config_id"]] = max(best.get(t["config_id"], -1.0), t["score"])
    top = max(best.values(), default=-1.0)
    if best.get(trace["winner"], -1.0) < top:
        trace["winner"] = next(c["config_id"] for c in ctx.candidates
                               if best.get(c["config_id"]) == top)
    return trace


def random_halving(ctx) -> dict:
    drawn = sample_configs(enumerate_configs(ctx.space), ctx.k, ctx.seed)
    trace = successive_halving(drawn, ctx.budget_seconds, ctx.run_rung, ctx.trace, ctx.on_trial)
    return trace | {"configs": {c["config_id"]: c for c in drawn}}


def plan_only(ctx) -> dict:
    # successive halving over one configuration: a single rung with the whole budget
    return successive_halving([ctx.plan], ctx.budget_seconds, ctx.run_rung, ctx.trace,
                              ctx.on_trial)


def equal_split_over_candidates(ctx) -> dict:
    return equal_split(ctx.candidates, ctx.budget_seconds, ctx.run_rung, ctx.trace)


def screen_then_train(ctx) -> dict:
    return successive_halving(ctx.candidates, ctx.budget_seconds, ctx.run_rung, ctx.trace,
                              ctx.on_trial, schedule=strategy_schedule(
                                  "screen_then_train", ctx.budget_seconds, len(ctx.candidates)))


def optuna_tpe(ctx) -> dict:
    """TPE + successive-halving pruning (see module doc)."""
    import optuna

    return optuna_search(ctx, optuna.pruners.SuccessiveHalvingPruner(min_resource=1,
                                                                     reduction_factor=2))


def optuna_search(ctx, pruner, prior: list[dict] = ()) -> dict:
    """An Optuna study (TPE sampler, seeded) with ``pruner`` over the space: each trial trains
    in chunks of the first halving rung's slice, at most as many as the halving winner gets,
    reporting its score after each, until the budget is spent. ``prior`` configurations are
    tried first. Starts afresh: an interrupted Optuna run cannot be resumed exactly; a
    configuration suggested twice continues its trial. Returns a trace whose rung i holds the
    trials' i-th chunks."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    chunk = slice_seconds(ctx.budget_seconds, ctx.k)[0]
    max_chunks = max(1, round(winner_share(ctx.k) * ctx.budget_seconds / chunk))
    spent = {"seconds": 0.0}
    rungs: dict[int, list[dict]] = {}
    configs: dict[str, dict] = {}
    best: dict[str, float] = {}

    def objective(trial):
        cfg = {name: trial.suggest_categorical(name, values) for name, values in
               ctx.space.items()}
        cfg["config_id"] = config_id(cfg)
        configs[cfg["config_id"]] = cfg
        score = float("nan")
        for step in range(1, max_chunks + 1):
            left = ctx.budget_seconds - spent["seconds"]
            if left <= 0.5:
                break
            secs = min(chunk, left)
            (state,) = ctx.run_rung([(cfg, secs)])
            spent["seconds"] += secs
            score = score_of(state)
            rungs.setdefault(step - 1, []).append(
                trial_record(step - 1, cfg, trial.number + 1, secs, state))
            if state.get("status") == "failed":
                raise optuna.TrialPruned(state.get("reason"))
            best[cfg["config_id"]] = score
            trial.report(score, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return score

    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=ctx.seed), pruner=pruner)
    for cfg in prior:
        study.enqueue_trial({name: cfg[name] for name in ctx.space})
    while spent["seconds"] < ctx.budget_seconds - 0.5:
        study.optimize(objective, n_trials=1)
    if not best:
        raise RuntimeError("optuna: no trial trained")
    return {"rungs": [{"rung": i, "seconds_per_trial": chunk, "trials": rungs[i]}
                      for i in sorted(rungs)],
            "winner": max(best, key=best.get), "configs": configs,
            "budget_seconds": ctx.budget_seconds, "k": len(study.trials)}


@hookimpl
def register_search_strategies():
    return [SearchStrategy("successive_halving", halving_over_candidates,
                           "successive halving over the plan and the meta-model's top k - 1"),
            SearchStrategy("forecast_halving", forecast_halving,
                           "successive halving promoting by learning-curve forecast, the plan "
                           "protected"),
            SearchStrategy("random_halving", random_halving,
                           "successive halving over k configurations drawn at random"),
            SearchStrategy("plan_only", plan_only,
                           "the plan's configuration trained for the whole budget"),
            SearchStrategy("equal_split", equal_split_over_candidates,
                           "every candidate trained for budget / k; the best wins"),
            SearchStrategy("screen_then_train", screen_then_train,
                           "every candidate trained for budget / 4k, the best for the other "
                           "3/4 of the budget"),
            SearchStrategy("optuna_tpe", optuna_tpe,
                           "Optuna TPE with successive-halving pruning over the space")]
