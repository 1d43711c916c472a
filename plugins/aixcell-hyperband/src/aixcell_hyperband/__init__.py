"""Hyperband as an aixcell-automl search strategy: a search strategy in one module.

It wraps a maintained library instead of writing one: Optuna's ``HyperbandPruner`` with its TPE
sampler (the combination Optuna documents as its take on BOHB). The prior of the search - the
dataset's plan and the meta-model's top k - 1 - is enqueued as the first trials, so Hyperband
starts where the meta-model points and TPE learns from there. Choose it with
``--params "search.strategy=hyperband"``; ``evaluate`` compares it with the others when named
in ``evaluate.methods``.
"""

from aixcell_automl import hookimpl
from aixcell_automl.plugins.builtin.strategies import optuna_search
from aixcell_automl.plugins.specs import SearchStrategy

REDUCTION_FACTOR = 3


def hyperband(ctx) -> dict:
    """Hyperband brackets over chunks of the first halving rung's slice (see
    :func:`aixcell_automl.plugins.builtin.strategies.optuna_search`), the candidates first."""
    import optuna

    return optuna_search(ctx, optuna.pruners.HyperbandPruner(
        min_resource=1, reduction_factor=REDUCTION_FACTOR), prior=ctx.candidates)


@hookimpl
def register_search_strategies():
    return [SearchStrategy("hyperband", hyperband,
                           "Optuna TPE + Hyperband, started from the plan and the ranking")]
