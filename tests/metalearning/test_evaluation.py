import numpy as np
import pandas as pd
import pytest

from aixcell_automl.core.search_space import enumerate_configs
from aixcell_automl.metalearning.evaluation import (
    lodo,
    lodo_baselines,
    random_baseline,
    ranking_metrics,
)
from aixcell_automl.metalearning.ranking import deciles, fit_meta_model, rank_configurations
from aixcell_automl.metalearning.representation import REPRESENTATIONS, build_matrix
from aixcell_automl.search.plan import planned_configuration
from tests.project_conf import SPACE


def test_metrics_on_a_hand_computed_case():
    true = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    perfect = ranking_metrics(true, true, regression=True)
    assert perfect["z"] == pytest.approx((1.0 - 0.55) / true.std())
    assert perfect["z_norm"] == pytest.approx(1.0)
    assert perfect["kendall"] == pytest.approx(1.0) and perfect["rmse"] == 0
    assert perfect["diff_score"] == 0 and perfect["regret"] == 0
    worst = ranking_metrics(true, -true)
    assert worst["regret"] == pytest.approx(0.9) and worst["z"] < 0
    assert random_baseline(true)["z"] == 0.0
    # best of the predicted top k: the worst order finds 1.0 only at k = 10
    assert worst["regret_top2"] == pytest.approx(0.8) and perfect["regret_top6"] == 0
    mixed = ranking_metrics(true, np.array([10, 1, 2, 3, 4, 5, 6, 7, 8, 9.0]))  # best second
    assert mixed["regret"] == pytest.approx(0.9) and mixed["regret_top2"] == pytest.approx(0.0)
    # best of 2 of [0.1, 0.5, 0.9] at random: pairs' maxima 0.5, 0.9, 0.9 -> 0.767
    assert random_baseline(np.array([0.1, 0.5, 0.9]))["regret_top2"] == pytest.approx(
        0.9 - 2.3 / 3)
    assert random_baseline(true)["regret_top6"] < random_baseline(true)["regret_top2"]


def test_the_eleven_representations_and_deciles():
    assert list(REPRESENTATIONS) == [  # the thesis's Figure 21, in its order
        "hp", "hp+hc", "hp+hc+en", "hp+hc+en+ug", "hp+rad_pca", "hp+rad_sim", "hp+en_rad",
        "hp+hc+en+rad_pca", "hp+hc+en+ug+rad_pca+en_rad", "hp+rad_raw", "hp+hc+en+ug+rad_raw"]
    d = deciles(pd.Series(np.linspace(0, 1, 20)))
    assert list(d) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10]


def _synthetic_metabase(n_datasets=4, per=24, seed=0):
    """IoU depends on learning rate and (per dataset) on patch size vs image size."""
    rng = np.random.default_rng(seed)
    configs = enumerate_configs(SPACE)
    rows, mf = [], []
    for d in range(n_datasets):
        side = [128, 256, 512, 1024][d % 4]
        mf.append({"dataset": f"d{d}", "hc_n_images": 20 + 10 * d, "hc_n_classes": 2,
                   "hc_class_imbalance": 0.3, "hc_mean_image_shape": side, "hc_is_rgb": 0,
                   "hc_roi_area_mean": 100.0, "hc_roi_area_std": 10, "hc_roi_area_min": 1,
                   "hc_roi_area_max": 500})
        for i in rng.permutation(len(configs))[:per]:
            c = configs[i]
            iou = 0.8 - 20 * abs(c["learning_rate"] - 0.001) - 0.1 * abs(
                np.log2(c["patch_size"] / (side / 4))) + rng.normal(0, 0.01)
            rows.append({"dataset": f"d{d}", "dataset_hash": f"h{d}", "config_id": c["config_id"],
                         **{f"hp_{k}": v for k, v in c.items() if k != "config_id"},
                         "val_score": float(np.clip(iou, 0, 1)), "train_seconds": 60.0,
                         "pixels_seen": 2**23, "hardware": "test:0", "status": "ok",
                         "fidelity_pixels": 1,
                         "steps": 2**23 // (c["batch_size"] * c["patch_size"] ** 2)})
    return pd.DataFrame(rows), pd.DataFrame(mf).set_index("dataset")


def test_meta_model_beats_random_on_learnable_synthetic_metabase():
    rows, mf = _synthetic_metabase()
    res = pd.DataFrame(lodo(rows, mf, SPACE, "random_forest", "hp+hc+en", "iou", 0))
    assert len(res) == 4
    assert res["z"].mean() > 0.8 and res["kendall"].mean() > 0.3
    base = pd.DataFrame(lodo_baselines(rows, mf, SPACE))
    assert set(base["model"]) == {"baseline:random", "baseline:average_rank_top3_similar",
                                  "baseline:best_on_average", "baseline:rule_based_default",
                                  "baseline:most_steps_first", "baseline:smallest_patch_first"}
    by = {m: g.set_index("dataset") for m, g in base.groupby("model")}
    assert (by["baseline:random"][["z", "kendall"]] == 0).all().all()
    assert (by["baseline:random"]["z_oracle"] > 1).all()
    # 3 other datasets: the 3 most similar are all of them, so both surrogates agree
    pd.testing.assert_frame_equal(by["baseline:average_rank_top3_similar"].drop(columns="model"),
                                  by["baseline:best_on_average"].drop(columns="model"))
    # smallest patch first (values: test_one_line_baselines_on_a_hand_made_metabase): right on
    # small images, wrong on large
    small = by["baseline:smallest_patch_first"]["kendall"]
    assert small["d0"] > 0.5 and small["d3"] < -0.3  # image sides 128 and 1024 px
    # the planned configuration has the learning rate that matters most here
    assert (by["baseline:rule_based_default"]["z"] > 0.3).all()


def test_one_line_baselines_on_a_hand_made_metabase():
    """Three datasets with the same five rows; every metric worked out by hand."""
    _, mf = _synthetic_metabase(n_datasets=3, per=1)
    iou = [0.2, 0.6, 0.4, 0.8, 0.0]  # mean 0.4; std sqrt((.04 + .04 + 0 + .16 + .16) / 5)
    patch = [256, 64, 128, 64, 256]
    steps = [10, 30, 20, 40, 0]  # in the order of the IoU
    rows = pd.DataFrame([
        {"dataset": d, "config_id": f"c{i}", "hp_patch_size": patch[i],
         "hp_batch_size": [4, 8, 16, 32, 8][i], "hp_learning_rate": 0.001,
         "hp_backbone": "resnet18", "hp_flip": 0.0, "hp_brightness_blur": 0.0,
         "hp_grid_distortion": 0.0, "val_score": iou[i], "steps": steps[i], "fidelity_pixels": 1}
        for d in ("d0", "d1", "d2") for i in range(5)])
    base = pd.DataFrame(lodo_baselines(rows, mf, SPACE)).set_index(["model", "dataset"])
    sd = np.sqrt(0.08)
    for d in ("d0", "d1", "d2"):
        # the top 10 % of 5 rows is 1 row. Smallest patch first: -64 ranks first, rows 1 and 3
        # tie and the row order breaks it: row 1 (IoU 0.6). Kendall tau-b: of 10 pairs 8 agree,
        # none disagree, 2 are tied in the ranking only: 8 / sqrt(10 * (10 - 2))
        small = base.loc[("baseline:smallest_patch_first", d)]
        assert small["z"] == pytest.approx((0.6 - 0.4) / sd)
        assert small["regret"] == pytest.approx(0.8 - 0.6)
        assert small["diff_score"] == pytest.approx(0.8 - 0.6)
        assert small["kendall"] == pytest.approx(8 / np.sqrt(80))
        # most steps first ranks exactly as the IoU does: the oracle
        most = base.loc[("baseline:most_steps_first", d)]
        assert most["z"] == pytest.approx((0.8 - 0.4) / sd) and most["z_norm"] == pytest.approx(1)
        assert most["kendall"] == pytest.approx(1.0) and most["regret"] == 0
        # random: expected values of a uniform draw
        rnd = base.loc[("baseline:random", d)]
        assert rnd["z"] == 0 and rnd["z_oracle"] == pytest.approx((0.8 - 0.4) / sd)
        assert rnd["regret"] == pytest.approx(0.8 - 0.4)


def test_ranker_and_ranking_of_all_configurations():
    rows, mf = _synthetic_metabase()
    fitted = fit_meta_model(rows, mf, SPACE, "lambdamart", "hp+hc", "iou")
    ranking = rank_configurations(fitted, enumerate_configs(SPACE), "d1", mf)
    assert len(ranking) == 576 and list(ranking["rank"]) == list(range(1, 577))
    assert ranking.iloc[:50]["learning_rate"].eq(0.001).mean() > 0.5


def test_engineered_columns_in_matrix():
    rows, mf = _synthetic_metabase(n_datasets=2, per=3)
    X, cols = build_matrix(rows.to_dict("records"), rows["dataset"].tolist(), mf, SPACE,
                           "hp+hc+en")
    assert X.shape == (6, 8 + 9 + 5)
    r = rows.iloc[0]
    ppi = (mf.loc[r["dataset"], "hc_mean_image_shape"] / r["hp_patch_size"]) ** 2
    assert X[0, cols.index("en_patches_per_image")] == pytest.approx(ppi)


def test_planned_configuration_follows_the_fingerprint():
    small = planned_configuration({"hc_mean_image_shape": 116, "hc_n_images": 120, "hc_is_rgb": 1})
    assert small["patch_size"] == 64 and small["backbone"] == "resnet50"
    assert small["brightness_blur"] == 0.5
    big = planned_configuration({"hc_mean_image_shape": 1200, "hc_n_images": 30, "hc_is_rgb": 0})
    assert big["patch_size"] == 256 and big["backbone"] == "resnet18"


def _two_fidelity_metabase(seed=0):
    """At 1 px the small patches win, at 4 px the large ones: a fidelity-blind ranker cannot
    get both right."""
    rows, mf = _synthetic_metabase(seed=seed)
    cheap = rows.assign(val_score=0.5 - 0.001 * rows["hp_patch_size"] + 5 * (
        rows["hp_learning_rate"] == 0.001), fidelity_pixels=1)
    full = rows.assign(val_score=0.3 + 0.001 * rows["hp_patch_size"] + 5 * (
        rows["hp_learning_rate"] == 0.001), fidelity_pixels=4)
    return pd.concat([cheap, full], ignore_index=True), mf


def test_fidelity_aware_model_ranks_each_fidelity_and_lodo_reports_both():
    rows, mf = _two_fidelity_metabase()
    fitted = fit_meta_model(rows, mf, SPACE, "random_forest", "hp+hc", "iou")
    assert fitted.fidelity_aware and fitted.fidelities == [1, 4]
    configs = enumerate_configs(SPACE)
    at = {f: rank_configurations(fitted, configs, "d1", mf, f) for f in (1, 4)}
    assert at[1]["patch_size"].head(20).mean() < 100 < at[4]["patch_size"].head(20).mean()
    assert set(at[4]["fidelity_pixels"]) == {4}
    res = pd.DataFrame(lodo(rows, mf, SPACE, "random_forest", "hp+hc", "iou", 0))
    assert sorted(res["fidelity_pixels"].unique()) == [1, 4] and len(res) == 8
    assert res.groupby("fidelity_pixels")["kendall"].mean().min() > 0.5
    base = pd.DataFrame(lodo_baselines(rows, mf, SPACE))
    small = base[base["model"] == "baseline:smallest_patch_first"].set_index(
        ["dataset", "fidelity_pixels"])["kendall"]
    assert small.xs(1, level=1).mean() > 0.2 and small.xs(4, level=1).mean() < -0.2


def test_radiomics_space_of_a_held_out_dataset_is_fitted_without_it():
    from aixcell_automl.metalearning.evaluation import held_out_frame

    rng = np.random.default_rng(0)
    table = pd.DataFrame(rng.normal(size=(5, 6)), columns=[f"rad_f{i}" for i in range(6)])
    table.insert(0, "dataset", [f"d{i}" for i in range(5)])
    a = held_out_frame(table, "d0")
    changed = table.copy()
    changed.loc[0, "rad_f0"] = 100.0  # only the held-out dataset's features change
    b = held_out_frame(changed, "d0")
    pca = [c for c in a.columns if c.startswith("rad_pca_")]
    assert pca and np.allclose(a.drop(index="d0")[pca], b.drop(index="d0")[pca])
    assert not np.allclose(a.loc["d0", pca], b.loc["d0", pca])
    assert not [c for c in a.columns if c == "sim_d0"]  # no similarity to itself
