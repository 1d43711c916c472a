import pandas as pd

from aixcell_automl.metalearning.ranking import training_rows


def test_the_meta_model_trains_on_rows_of_the_chosen_metric():
    rows = pd.DataFrame([{"dataset": d, "config_id": f"c{i}", "fidelity_pixels": 1,
                          "status": "ok", "val_score": 0.5 + 0.01 * i, "train_seconds": 1.0,
                          "metric": m}
                         for d in ("a", "b") for i, m in enumerate(["iou", None, "dice"])])
    assert list(training_rows(rows)["config_id"]) == ["c0", "c1"] * 2  # no field: IoU rows
    assert list(training_rows(rows, metric="dice")["config_id"]) == ["c2", "c2"]
    assert training_rows(rows.drop(columns="metric"), metric="dice").empty
