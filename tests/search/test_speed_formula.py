"""The training-speed formula lives once (training/speed.py): the meta-base row's
pixels_per_second and the budget's normalised speeds agree."""

import pandas as pd
import pytest

from aixcell_automl.search.budget import normalised_speeds
from aixcell_automl.training.speed import pixels_per_second, pure_training_seconds

STATE = {"train_seconds": 100.0, "overhead_seconds": 12.5, "eval_seconds": 7.5,
         "pixels_seen": 8_000_000}


def test_pure_seconds_and_speed_of_a_state():
    assert pure_training_seconds(STATE) == 80.0
    assert pixels_per_second(STATE) == 100_000.0
    assert pixels_per_second({"train_seconds": 10.0, "pixels_seen": 10}) == 1.0  # old states
    assert pixels_per_second({"train_seconds": 0.0, "pixels_seen": 10}) is None
    assert pixels_per_second({**STATE, "pixels_seen": 0}) is None


def test_state_row_uses_the_formula(monkeypatch):
    from aixcell_automl.metabase import store

    monkeypatch.setattr(store, "pixels_per_second", lambda state: 42.0)
    monkeypatch.setattr(store, "library_versions", lambda: {})
    state = {**STATE, "config": {"config_id": "c", "patch_size": 64}, "status": "finished",
             "history": [], "steps": 0}
    assert store.state_row(state)["pixels_per_second"] == 42.0


def test_rows_and_states_agree():
    rows = pd.DataFrame([STATE, {**STATE, "overhead_seconds": None, "machine_factor": 2.0}])
    assert list(pure_training_seconds(rows)) == [80.0, 92.5]
    speeds = normalised_speeds(rows)
    assert speeds[0] == pytest.approx(pixels_per_second(STATE))
    assert speeds[1] == pytest.approx(8_000_000 / 92.5 / 2.0)
