import numpy as np
import pytest

from aixcell_automl.core.search_space import DEFAULT_SPACE
from aixcell_automl.metalearning.evaluation import permutation_importance
from aixcell_automl.pipelines.meta_learning.nodes import (
    choose_and_fit,
    nested_choice,
    run_study,
    scatter_plot,
    summarise,
    versus_baselines,
    z_by_dataset,
)
from tests.metalearning.test_evaluation import _synthetic_metabase


def test_study_summary_and_choice_on_a_synthetic_metabase():
    rows, mf = _synthetic_metabase()
    params = {"models": ["linear_regression", "random_forest"],
              "representations": ["hp", "hp+hc+en"], "targets": ["iou"], "seeds": 2,
              "min_rows_per_dataset": 10, "fidelity_pixels": None, "n_jobs": 1}
    study = run_study(rows, mf.reset_index(), DEFAULT_SPACE, params)
    # 1 deterministic + 2 seeds of a stochastic model, x 2 representations, x 4 held-out sets
    assert len(study[~study["model"].str.startswith("baseline:")]) == (1 + 2) * 2 * 4
    summary, top5, md = summarise(study)
    assert summary.iloc[0]["z_mean"] >= summary["z_mean"].max() - 1e-12
    assert "baseline:random" in set(summary["model"]) and "| model" in md
    fitted, choice = choose_and_fit(summary, rows, mf.reset_index(), DEFAULT_SPACE, params)
    assert choice["meta_model"] == top5.iloc[0]["model"]
    assert fitted.n_rows == len(rows)
    # the synthetic IoU depends on the learning rate and on patch size vs image size only
    imp = permutation_importance(fitted, rows, mf).set_index("feature")["importance"]
    assert set(imp.index[:2]) == {"log10_learning_rate", "en_patches_per_image"}
    assert imp.iloc[1] > 0.2 and abs(imp["flip"]) < 0.05 and imp["hc_n_classes"] == 0
    fig = scatter_plot(choice, rows, mf.reset_index(), DEFAULT_SPACE, params)
    panels = [a for a in fig.axes if a.has_data()]
    assert [a.get_title() for a in panels] == ["d0", "d1", "d2", "d3"]  # one per held-out set
    for ax in panels:  # every row of the held-out dataset, its true top 10 % in orange
        true = rows.loc[rows["dataset"] == ax.get_title(), "val_iou"].to_numpy()
        rest, top = (c.get_offsets()[:, 1] for c in ax.collections)
        np.testing.assert_allclose(np.sort(np.r_[rest, top]), np.sort(true))
        assert len(top) == 3 and top.min() > rest.max()  # 10 % of 24 rows, rounded up
    assert choice["z_ci95_datasets"] > 0  # z differs between held-out datasets
    best = top5.iloc[0]
    at = z_by_dataset(study).xs(best["fidelity_pixels"], level="fidelity_pixels")
    vs = versus_baselines(at, at.loc[(best["model"], best["representation"], best["target"])]
                          ).set_index("baseline")
    assert vs.loc["baseline:random", "z_difference"] == pytest.approx(
        study[study["model"] == choice["meta_model"]].query(
            "representation == @choice['representation']")["z"].mean())  # random's z is 0
    assert (vs[["wins", "ties", "losses"]].sum(axis=1) == 4).all()
    assert "against each baseline" in md


def test_nested_choice_scores_each_dataset_with_the_combination_chosen_on_the_others():
    import pandas as pd

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
    assert "nested" in summarise(pd.DataFrame(
        [{"fidelity_pixels": 1, "model": m, "representation": r, "target": t, "seed": 0,
          "dataset": d, **{k: v for k in ("z", "z_norm", "kendall", "pearson", "rmse",
                                          "diff_iou", "regret")}}
         for (m, r, t, d), v in at.items()]))[2]


def test_lodo_predictions_never_train_on_the_held_out_dataset(monkeypatch):
    from aixcell_automl.metalearning import evaluation

    rows, mf = _synthetic_metabase()
    trained_on = []
    real_fit = evaluation.fit_meta_model
    monkeypatch.setattr(evaluation, "fit_meta_model", lambda train, *a, **k: (
        trained_on.append(set(train["dataset"])) or real_fit(train, *a, **k)))
    preds = evaluation.lodo_predictions(rows, mf, DEFAULT_SPACE, "random_forest", "hp+hc+en",
                                        "iou", 0)
    assert len(preds) == len(rows)
    assert all(held not in seen for held, seen in zip(sorted(rows["dataset"].unique()),
                                                      trained_on, strict=True))
    metrics = evaluation.lodo(rows, mf, DEFAULT_SPACE, "random_forest", "hp+hc+en", "iou", 0)
    d0 = preds[preds["dataset"] == "d0"]
    assert metrics[0]["z"] == pytest.approx(
        evaluation.ranking_metrics(d0["val_iou"], d0["predicted"])["z"])
