from html import escape

import numpy as np
import pandas as pd
import pytest

from aixcell_automl.report.figures import halving_figure, overlay_figure
from aixcell_automl.report.html import html_report
from aixcell_automl.search.run import plan_outcome

CFG = {"config_id": "a", "backbone": "resnet18", "patch_size": 64, "batch_size": 4,
       "learning_rate": 0.001, "flip": 0.5, "brightness_blur": 0.0, "grid_distortion": 0.0}


@pytest.mark.parametrize("metric, label, score", [("iou", "IoU", 0.875), ("dice", "Dice", 0.933)])
def test_report_shows_result_winner_and_figures(metric, label, score):
    trace = {"k": 2, "winner": "a", "budget_seconds": 60, "plan_config_id": "b",
             "strategy": "successive_halving", "candidates_from": "the plan and <the> ranking",
             "rungs": [
        {"rung": 0, "seconds_per_trial": 15, "trials": [
            {"config_id": "a", "score": 0.8, "status": "paused"},
            {"config_id": "b", "score": -1, "status": "failed"}]},
        {"rung": 1, "seconds_per_trial": 30, "trials": [
            {"config_id": "a", "score": 0.9, "status": "paused"}]}], "metric": metric}
    ranking = pd.DataFrame([{**CFG, "predicted_score": 0.7, "rank": 1},
                            {**CFG, "config_id": "b", "predicted_score": 0.6, "rank": 2}])
    metrics = {"test_iou": 0.875, "per_class_iou": {"background": 0.99, "cell": 0.875},
               "metric": metric, "test_score": score,
               "per_class_score": {"background": 0.99, "cell": score},
               "test_images": 3, "winner_config": CFG, "winner_rank": 1, "winner_val_score": 0.9}
    summary = {"dataset": "my <set>", "n_configs": 576, "budget_seconds": 60, "budget_note": "",
               "wall_seconds": 80, "hardware": "cpu", "model_path": "m",
               "augmentations": ["brightness_blur", "flip", "grid_distortion"],
               "meta_model": "random_forest", "representation": "hp+hc+en",
               "metabase_rows": 9, "metabase_datasets": 6, "excluded_note": "",
               "split_note": "20/2/2", "seed": 0, "versions": "x", "metric_label": label,
               "plan_note": plan_outcome(trace), "k_note": "k = 2: set by search.k"}
    img = np.zeros((32, 32, 1), np.uint8)
    mask = np.zeros((32, 32), np.uint8)
    hfig = halving_figure(trace)
    html = html_report(summary, metrics, ranking, trace, {"hc_n_images": 24},
                       hfig, overlay_figure([img], [mask], [mask], ["i0"]))
    assert f"Test {label} <b>{score:.3f}</b>" in html and "my &lt;set&gt;" in html
    assert f"Per-class test {label}" in html and f"<th>val {label}</th>" in html
    assert ("IoU 0.875" in html) == (metric != "iou")  # IoU beside another chosen metric
    assert hfig.axes[0].get_ylabel() == f"best validation {label} so far"
    assert "ranked #1 of 576" in html and "flip p=0.5" in html
    assert "Candidates (2):\nthe plan and &lt;the&gt; ranking" in html
    assert "60 s for successive_halving\nover 2 candidates" in html
    assert html.count("data:image/png;base64,") == 2
    assert "weak prior" in html
    assert escape("scored 0.800 against the plan's -1.000") in html
    assert "k = 2: set by search.k" in html
    assert "<td>yes</td>" in html  # the plan's row in the candidates table


def test_plan_outcome_says_who_won_and_by_how_much():
    rung = {"rung": 0, "trials": [{"config_id": "p", "score": 0.7},
                                  {"config_id": "m", "score": 0.6}]}
    won = {"winner": "p", "plan_config_id": "p", "rungs": [rung, {"rung": 1, "trials": [
        {"config_id": "p", "score": 0.75}]}]}
    assert plan_outcome(won) == ("The plan's configuration won (validation score 0.750; no other "
                                 "candidate reached the last rung).")
    lost = {"winner": "m", "plan_config_id": "p", "rungs": [
        {"rung": 0, "trials": [{"config_id": "p", "score": 0.5}, {"config_id": "m", "score": 0.6}]},
        {"rung": 1, "trials": [{"config_id": "m", "score": 0.65}]}]}
    assert plan_outcome(lost) == ("Another candidate won: in rung 1, where the plan's "
                                  "configuration stopped, it scored 0.600 against the plan's "
                                  "0.500 (+0.100).")
    final = {"winner": "p", "plan_config_id": "p", "rungs": [rung]}
    assert plan_outcome(final).endswith("against 0.600 for the runner-up (+0.100).")
    # forecast_halving: the protected plan trained on alone and ended below the leader
    displaced = {"winner": "m", "plan_config_id": "p", "rungs": [
        {"rung": 0, "trials": [{"config_id": "p", "score": 0.1}, {"config_id": "m", "score": 0.6}]},
        {"rung": 1, "trials": [{"config_id": "p", "score": 0.3}]}]}
    assert plan_outcome(displaced) == ("Another candidate won with its best validation score "
                                       "0.600; the plan's configuration trained on to rung 2 "
                                       "and reached 0.300 (+0.300).")
