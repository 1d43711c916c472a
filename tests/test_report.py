import numpy as np
import pandas as pd

from aixcell_automl.report import halving_figure, html_report, overlay_figure

CFG = {"config_id": "a", "backbone": "resnet18", "patch_size": 64, "batch_size": 4,
       "learning_rate": 0.001, "flip": 0.5, "brightness_blur": 0.0, "grid_distortion": 0.0}


def test_report_shows_result_winner_and_figures():
    trace = {"k": 2, "winner": "a", "budget_seconds": 60, "rungs": [
        {"rung": 0, "seconds_per_trial": 15, "trials": [
            {"config_id": "a", "score": 0.8, "status": "paused"},
            {"config_id": "b", "score": -1, "status": "failed"}]},
        {"rung": 1, "seconds_per_trial": 30, "trials": [
            {"config_id": "a", "score": 0.9, "status": "paused"}]}]}
    ranking = pd.DataFrame([{**CFG, "predicted_score": 0.7, "rank": 1},
                            {**CFG, "config_id": "b", "predicted_score": 0.6, "rank": 2}])
    metrics = {"test_iou": 0.875, "per_class_iou": {"background": 0.99, "cell": 0.875},
               "test_images": 3, "winner_config": CFG, "winner_rank": 1, "winner_val_iou": 0.9}
    summary = {"dataset": "my <set>", "n_configs": 576, "budget_seconds": 60, "budget_note": "",
               "wall_seconds": 80, "hardware": "cpu", "model_path": "m",
               "augmentations": ["brightness_blur", "flip", "grid_distortion"],
               "meta_model": "random_forest", "representation": "hp+hc+en",
               "metabase_rows": 9, "metabase_datasets": 6, "excluded_note": "",
               "split_note": "20/2/2", "seed": 0, "versions": "x"}
    img = np.zeros((32, 32, 1), np.uint8)
    mask = np.zeros((32, 32), np.uint8)
    html = html_report(summary, metrics, ranking, trace, {"hc_n_images": 24},
                       halving_figure(trace), overlay_figure([img], [mask], [mask], ["i0"]))
    assert "Test IoU <b>0.875</b>" in html and "my &lt;set&gt;" in html
    assert "ranked #1 of 576" in html and "flip p=0.5" in html
    assert html.count("data:image/png;base64,") == 2
    assert "weak prior" in html
