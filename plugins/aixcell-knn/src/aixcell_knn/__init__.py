"""A k-nearest-neighbours meta-model for aixcell-automl.

Predicts a configuration's score as the distance-weighted mean score of the k most similar
(configuration, dataset) rows of the meta-base, on z-scored inputs: a learned cousin of the
"average ranking over similar datasets" baseline.
"""

from aixcell_automl import hookimpl
from aixcell_automl.plugins.specs import MetaModel


def make_knn(seed: int, n_neighbors: int = 15):
    from sklearn.neighbors import KNeighborsRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), KNeighborsRegressor(n_neighbors, weights="distance"))


@hookimpl
def register_metamodels():
    return [MetaModel("knn", make_knn, kind="regressor", stochastic=False)]
