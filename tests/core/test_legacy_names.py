"""Records written before the ``*_score`` names are read under today's names."""

import json

from aixcell_automl.core.legacy_names import upgrade
from aixcell_automl.metabase.store import read_rows
from aixcell_automl.training.loop import read_state


def test_a_metabase_row_and_an_evaluation_row_of_before(tmp_path):
    old_row = {"config_id": "a", "fidelity_pixels": 2**23, "metric": "dice", "val_iou": 0.7,
               "final_iou": 0.6, "per_class_iou": [0.9, 0.7]}
    new_row = {"config_id": "b", "fidelity_pixels": 2**23, "metric": "iou", "val_score": 0.5,
               "final_score": 0.4, "per_class_score": [0.8, 0.5]}
    run = {"method": "automl", "val_iou": 0.8, "test_iou": 0.75,
           "per_class_iou": {"background": 0.9, "cell": 0.75}}  # test IoU: keeps its name
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in (old_row, new_row, run)))
    a, b, r = read_rows(path)
    assert a == {"config_id": "a", "fidelity_pixels": 2**23, "metric": "dice", "val_score": 0.7,
                 "final_score": 0.6, "per_class_score": [0.9, 0.7]}
    assert b == new_row
    assert r == {"method": "automl", "val_score": 0.8, "test_iou": 0.75,
                 "per_class_iou": {"background": 0.9, "cell": 0.75}}


def test_a_trial_state_and_a_model_record_of_before(tmp_path):
    state = {"best_iou": 0.7, "metric": "iou", "history": [
        {"pixels": 1, "val_iou": 0.7, "per_class_iou": [0.9, 0.7]}]}
    (tmp_path / "state.json").write_text(json.dumps(state))
    assert read_state(tmp_path / "state.json") == {
        "best_score": 0.7, "metric": "iou",
        "history": [{"pixels": 1, "val_score": 0.7, "per_class_score": [0.9, 0.7]}]}
    assert upgrade({"best_val_iou": 0.7, "backbone": "resnet18"}) == {
        "best_val_score": 0.7, "backbone": "resnet18"}
