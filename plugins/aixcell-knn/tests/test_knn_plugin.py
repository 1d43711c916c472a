import aixcell_knn
import numpy as np

from aixcell_automl.plugins.testing import TEST_SPACE, check_plugin


def test_conforms():
    check_plugin(aixcell_knn)


def test_knn_learns_a_monotone_score():
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(200, 3))
    y = X[:, 0] * 0.8
    model = aixcell_knn.make_knn(0).fit(X, y)
    pred = model.predict(np.array([[0.1, 0.5, 0.5], [0.9, 0.5, 0.5]]))
    assert pred[1] - pred[0] > 0.4


def test_the_search_ranks_with_it(conf):
    """``search.meta_model=knn``: the search's ranking is the plugin's, and it learns the signal
    of a synthetic meta-base (the smaller the patch, the higher the score on every dataset)."""
    import pandas as pd

    from aixcell_automl.core.search_space import enumerate_configs
    from aixcell_automl.metalearning.ranking import rank_for_target
    from aixcell_automl.plugins.testing import plugin_manager_with

    rng = np.random.default_rng(0)
    configs = enumerate_configs(TEST_SPACE)
    rows, mf = [], []
    for d in range(3):
        mf.append({"dataset": f"d{d}", "dataset_hash": f"h{d}", "hc_n_images": 20 + 10 * d,
                   "hc_mean_image_shape": 256 * (d + 1)})
        for i in rng.permutation(len(configs))[:60]:
            c = configs[i]
            rows.append({"dataset": f"d{d}", "dataset_hash": f"h{d}", "status": "ok",
                         "config_id": c["config_id"], "hardware": "test:0",
                         **{f"hp_{k}": v for k, v in c.items() if k != "config_id"},
                         "val_score": 0.8 - 0.15 * np.log2(c["patch_size"] / 64)
                         + rng.normal(0, 0.01), "train_seconds": 60.0, "pixels_seen": 2**23,
                         "fidelity_pixels": 2**23})
    target = {"dataset": "new", "dataset_hash": "hnew", "hc_n_images": 25,
              "hc_mean_image_shape": 384}
    params = {**conf["search"], "k": 3, "meta_model": "knn", "representation": "hp+hc",
              "budget_minutes": 1, "seed": 0, "metabase_protocol": None}
    with plugin_manager_with(aixcell_knn):
        ranking, info = rank_for_target(target, pd.DataFrame(rows), pd.DataFrame(mf),
                                        TEST_SPACE, params)
    assert info["meta_model"] == "knn" and len(ranking) == len(configs)
    assert (ranking.head(20)["patch_size"] == 64).all()
    assert (ranking.tail(20)["patch_size"] == 256).all()
