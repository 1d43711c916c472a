import aixcell_knn
import numpy as np

from aixcell_automl.plugins.testing import check_plugin


def test_conforms():
    check_plugin(aixcell_knn)


def test_knn_learns_a_monotone_score():
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(200, 3))
    y = X[:, 0] * 0.8
    model = aixcell_knn.make_knn(0).fit(X, y)
    pred = model.predict(np.array([[0.1, 0.5, 0.5], [0.9, 0.5, 0.5]]))
    assert pred[1] - pred[0] > 0.4
