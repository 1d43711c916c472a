"""Built-in meta-models (docs/method.md §6)."""

from __future__ import annotations

import numpy as np

from aixcell_automl.plugins import hookimpl
from aixcell_automl.plugins.specs import MetaModel


def _linear(seed: int):
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LinearRegression())


def _tree(seed: int):
    from sklearn.tree import DecisionTreeRegressor

    return DecisionTreeRegressor(max_depth=7, random_state=seed)


def _svm(seed: int):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVR

    return make_pipeline(StandardScaler(), SVR(C=1.0, epsilon=0.05))


def _forest(seed: int):
    from sklearn.ensemble import RandomForestRegressor

    return RandomForestRegressor(n_estimators=100, max_depth=7, random_state=seed, n_jobs=1)


def _xgb(seed: int):
    from xgboost import XGBRegressor

    return XGBRegressor(n_estimators=200, max_depth=4, learning_rate=0.05, subsample=0.8,
                        random_state=seed, n_jobs=1, verbosity=0)


class _GroupedRanker:
    """Adapts XGBRanker / LGBMRanker to ``fit(X, y, group)`` with integer relevance labels."""

    def __init__(self, model):
        self.model = model

    def fit(self, X, y, group=None):
        y = np.asarray(y, dtype=float)
        if group is None:
            group = [len(y)]
        # rankers need integer relevance: per-group deciles 0..9
        labels = np.zeros(len(y), dtype=int)
        start = 0
        for g in group:
            part = y[start:start + g]
            ranks = part.argsort().argsort()
            labels[start:start + g] = np.floor(10 * ranks / max(g, 1)).astype(int)
            start += g
        self.model.fit(X, labels, group=list(group))
        return self

    def predict(self, X):
        return self.model.predict(X)


def _lambdamart(seed: int):
    from xgboost import XGBRanker

    return _GroupedRanker(XGBRanker(objective="rank:pairwise", n_estimators=200, max_depth=4,
                                    learning_rate=0.05, random_state=seed, n_jobs=1))


def _lgbm_rank(seed: int):
    from lightgbm import LGBMRanker

    return _GroupedRanker(LGBMRanker(objective="lambdarank", n_estimators=200, num_leaves=15,
                                     learning_rate=0.05, random_state=seed, n_jobs=1,
                                     verbose=-1, label_gain=list(range(10))))


@hookimpl
def register_metamodels():
    return [
        MetaModel("linear_regression", _linear),
        MetaModel("decision_tree", _tree, stochastic=True),
        MetaModel("svm", _svm),
        MetaModel("random_forest", _forest, stochastic=True),
        MetaModel("xgboost", _xgb, stochastic=True),
        # no row/column subsampling: the rankers give the same model for every seed
        MetaModel("lambdamart", _lambdamart, kind="ranker"),
        MetaModel("lightgbm_lambdarank", _lgbm_rank, kind="ranker"),
    ]
