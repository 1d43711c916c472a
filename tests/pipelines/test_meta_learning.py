import numpy as np
import pandas as pd
import pytest

from aixcell_automl.metalearning.evaluation import permutation_importance
from aixcell_automl.pipelines.meta_learning.nodes import (
    METRICS,
    best_of_k,
    choose_and_fit,
    nested_choice,
    run_study,
    scatter_plot,
    summarise,
    versus_baselines,
    z_by_dataset,
)
from tests.metalearning.test_evaluation import _synthetic_metabase
from tests.project_conf import SPACE


def test_study_summary_and_choice_on_a_synthetic_metabase():
    rows, mf = _synthetic_metabase()
    params = {"models": ["linear_regression", "random_forest"],
              "representations": ["hp", "hp+hc+en"], "targets": ["iou"], "seeds": 2,
              "min_rows_per_dataset": 10, "protocol": None, "fidelity_pixels": None,
              "n_jobs": 1}
    study = run_study(rows, mf.reset_index(), SPACE, params)
    # 1 deterministic + 2 seeds of a stochastic model, x 2 representations, x 4 held-out sets
    assert len(study[~study["model"].str.startswith("baseline:")]) == (1 + 2) * 2 * 4
    summary, top5, md = summarise(study)
    assert summary.iloc[0]["z_mean"] >= summary["z_mean"].max() - 1e-12
    assert "baseline:random" in set(summary["model"]) and "| model" in md
    fitted, choice = choose_and_fit(summary, rows, mf.reset_index(), SPACE, params)
    assert choice["meta_model"] == top5.iloc[0]["model"]
    assert fitted.n_rows == len(rows)
    # the synthetic IoU depends on the learning rate and on patch size vs image size only
    imp = permutation_importance(fitted, rows, mf).set_index("feature")["importance"]
    assert set(imp.index[:2]) == {"log10_learning_rate", "en_patches_per_image"}
    assert imp.iloc[1] > 0.2 and abs(imp["flip"]) < 0.05 and imp["hc_n_classes"] == 0
    fig = scatter_plot(choice, rows, mf.reset_index(), SPACE, params)
    panels = [a for a in fig.axes if a.has_data()]
    assert [a.get_title() for a in panels] == ["d0", "d1", "d2", "d3"]  # one per held-out set
    for ax in panels:  # every row of the held-out dataset, its true top 10 % in orange
        true = rows.loc[rows["dataset"] == ax.get_title(), "val_score"].to_numpy()
        rest, top = (c.get_offsets()[:, 1] for c in ax.collections)
        np.testing.assert_allclose(np.sort(np.r_[rest, top]), np.sort(true))
        assert len(top) == 3 and top.min() > rest.max()  # 10 % of 24 rows, rounded up
    assert choice["z_ci95_datasets"] > 0  # z differs between held-out datasets
    best = top5.iloc[0]
    at = z_by_dataset(study).xs(best["fidelity_pixels"], level="fidelity_pixels")
    vs = versus_baselines(at, at.loc[(best["model"], best["representation"], best["target"])]
                          ).set_index("baseline")
    # random's z is 0 on every held-out set, so the difference is the chosen combination's own
    # mean z, which the summary computes another way (per seed, then over seeds)
    assert vs.loc["baseline:random", "z_difference"] == pytest.approx(choice["z_mean"])
    assert (vs[["wins", "ties", "losses"]].sum(axis=1) == 4).all()
    assert "against each baseline" in md


def _study(z: dict) -> pd.DataFrame:
    """Study rows from ``{(model, seed): [z of d0, d1, d2]}`` at fidelity 1 (every metric = z)."""
    return pd.DataFrame([
        {"fidelity_pixels": 1, "model": m, "representation": "-" if m.startswith("baseline:")
         else "hp", "target": "-" if m.startswith("baseline:") else "iou", "seed": s,
         "dataset": d, **dict.fromkeys(METRICS, v)}
        for (m, s), vs in z.items() for d, v in zip(["d0", "d1", "d2"], vs, strict=True)])


def test_summary_and_comparison_with_baselines_by_hand():
    study = _study({("a", 0): [1.0, 0.0, 0.5], ("a", 1): [0.6, 0.4, 1.1],
                    ("b", 0): [0.9, -0.6, 0.0], ("baseline:random", 0): [0.0, 0.0, 0.0]})
    summary, top5, _ = summarise(study)
    a = summary.set_index("model").loc["a"]
    # a: per seed mean over datasets 0.5 and 0.7 -> z_mean 0.6,
    # z_ci95 = 1.96 * std(0.5, 0.7) / sqrt(2) = 1.96 * 0.1 = 0.196 (std with ddof 1: sqrt(0.02))
    assert a["z_mean"] == pytest.approx(0.6) and a["z_ci95"] == pytest.approx(0.196)
    # seed-averaged per dataset: 0.8, 0.2, 0.8; std (ddof 1) sqrt((.04 + .16 + .04) / 2) =
    # sqrt(0.12); 1.96 * sqrt(0.12) / sqrt(3) = 1.96 * 0.2
    assert a["z_ci95_datasets"] == pytest.approx(0.392) and a["seeds"] == 2
    assert list(summary["model"]) == ["a", "b", "baseline:random"]  # 0.6, 0.1, 0
    assert list(top5["model"]) == ["a", "b"]  # no baseline among the top five
    at = z_by_dataset(study).xs(1, level="fidelity_pixels")
    assert at.loc[("a", "hp", "iou")].tolist() == pytest.approx([0.8, 0.2, 0.8])
    vs = versus_baselines(at, at.loc[("a", "hp", "iou")]).set_index("baseline")
    assert vs.loc["baseline:random", "z_difference"] == pytest.approx(0.6)
    assert vs.loc["baseline:random", "ci95"] == pytest.approx(0.392)
    assert vs.loc["baseline:random", ["wins", "ties", "losses"]].tolist() == [3, 0, 0]
    # b against random: 0.9 win, -0.6 loss, 0.0 tie
    vs_b = versus_baselines(at, at.loc[("b", "hp", "iou")]).set_index("baseline")
    assert vs_b.loc["baseline:random", ["wins", "ties", "losses"]].tolist() == [1, 1, 1]


def test_nested_choice_scores_each_dataset_with_the_combination_chosen_on_the_others():
    z = {("a", "hp", "iou"): [1.0, 1.0, -1.0], ("b", "hp", "iou"): [0.0, 0.5, 0.5],
         ("baseline:random", "-", "-"): [0.0, 0.0, 0.0]}
    at = pd.Series({(*k, d): v for k, vs in z.items()
                    for d, v in zip(["d0", "d1", "d2"], vs, strict=True)})
    at.index.names = ["model", "representation", "target", "dataset"]
    # held out d0 or d1: b has the better mean on the other two; held out d2: a does
    nested = nested_choice(at)
    assert nested.to_dict() == {"d0": 0.0, "d1": 0.5, "d2": -1.0}
    vs = versus_baselines(at, nested).set_index("baseline")
    assert vs.loc["baseline:random", ["wins", "ties", "losses"]].tolist() == [1, 1, 1]
    # differences 0, 0.5, -1: mean -1/6; std (ddof 1) sqrt((1/36 + 16/36 + 25/36) / 2) =
    # sqrt(7/12); 95 % interval 1.96 * sqrt(7/12) / sqrt(3)
    assert vs.loc["baseline:random", "z_difference"] == pytest.approx(-1 / 6)
    assert vs.loc["baseline:random", "ci95"] == pytest.approx(1.96 * np.sqrt(7 / 12 / 3))
    study = pd.DataFrame([{"fidelity_pixels": 1, "model": m, "representation": r, "target": t,
                           "seed": 0, "dataset": d, **dict.fromkeys(METRICS, v)}
                          for (m, r, t, d), v in at.items()])
    assert "nested" in summarise(study)[2]
    # best-of-k regret of the nested choice: d0 and d1 read b's rows, d2 a's (here every
    # metric holds z): k=1 mean of 0.0, 0.5, -1.0
    table = best_of_k(study, 1, at).set_index("method")
    assert table.loc["nested choice (by z)", "k=1"] == pytest.approx(-1 / 6)
    assert list(table.columns) == [f"k={k}" for k in range(1, 7)]
    assert table.loc["baseline:random", "k=6"] == 0.0


def test_lodo_predictions_never_train_on_the_held_out_dataset(monkeypatch):
    from aixcell_automl.metalearning import evaluation

    rows, mf = _synthetic_metabase()
    trained_on = []
    real_fit = evaluation.fit_meta_model
    monkeypatch.setattr(evaluation, "fit_meta_model", lambda train, *a, **k: (
        trained_on.append(set(train["dataset"])) or real_fit(train, *a, **k)))
    preds = evaluation.lodo_predictions(rows, mf, SPACE, "random_forest", "hp+hc+en",
                                        "iou", 0)
    assert len(preds) == len(rows)
    assert all(held not in seen for held, seen in zip(sorted(rows["dataset"].unique()),
                                                      trained_on, strict=True))


def test_lodo_scores_each_held_out_dataset_with_its_own_predictions(monkeypatch):
    """A stub meta-model whose predictions are known per held-out dataset: an oracle on d0, the
    reverse on d1, a constant on d2; every metric worked out by hand."""
    from aixcell_automl.metalearning import evaluation

    _, mf = _synthetic_metabase(n_datasets=3, per=1)
    iou = [0.4, 0.1, 0.9, 0.3, 1.0, 0.6, 0.2, 0.8, 0.5, 0.7]  # 0.1 ... 1.0, shuffled
    rows = pd.DataFrame([{"dataset": d, "config_id": f"c{i}", "val_score": v, "fidelity_pixels": 1}
                         for d in ("d0", "d1", "d2") for i, v in enumerate(iou)])

    class Stub:
        def __init__(self, train):
            self.trained_on = set(train["dataset"])

        def score(self, records, held, mf, fidelities):
            assert held not in self.trained_on
            v = np.array([r["val_score"] for r in records])
            return {"d0": v, "d1": -v, "d2": np.zeros_like(v)}[held]

    monkeypatch.setattr(evaluation, "fit_meta_model", lambda train, *a, **k: Stub(train))
    m = {r["dataset"]: r for r in evaluation.lodo(rows, mf, SPACE, "random_forest", "hp",
                                                  "iou", 0)}
    assert sorted(m) == ["d0", "d1", "d2"] and m["d0"]["n"] == 10
    # mean 0.55, population std 0.1 * sqrt((10**2 - 1) / 12) = 0.1 * sqrt(8.25); top 10 % = 1 row
    sd = 0.1 * np.sqrt(8.25)
    assert m["d0"]["z"] == pytest.approx((1.0 - 0.55) / sd) and m["d0"]["z_norm"] == 1.0
    assert m["d0"]["kendall"] == pytest.approx(1.0) and m["d0"]["regret"] == 0
    assert m["d0"]["rmse"] == 0  # a regressor on the IoU target: rmse is reported
    assert m["d1"]["z"] == pytest.approx((0.1 - 0.55) / sd)
    assert m["d1"]["kendall"] == pytest.approx(-1.0) and m["d1"]["regret"] == pytest.approx(0.9)
    assert m["d1"]["diff_score"] == pytest.approx(0.9)
    # a constant ranks the rows in their order: the first row (0.4) is the predicted best
    assert m["d2"]["z"] == pytest.approx((0.4 - 0.55) / sd)
    assert m["d2"]["regret"] == pytest.approx(0.6) and np.isnan(m["d2"]["kendall"])
