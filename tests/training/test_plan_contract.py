"""plans.json is the contract: a hand-edited plan changes what trains and what predicts
(class-sampling factors, normalisation, inference window); without a plan nothing changes."""

import copy

import numpy as np
import pytest

from aixcell_automl.core.errors import UserError
from aixcell_automl.search.plan import dataset_fingerprint, plan_dataset
from aixcell_automl.training.plan_settings import PlanSettings
from aixcell_automl.training.predict import predict_mask, predict_probabilities
from aixcell_automl.training.trial_data import make_trial_data

CFG = {"config_id": "tiny-plan", "patch_size": 64, "batch_size": 4, "learning_rate": 0.001,
       "backbone": "tiny", "flip": 0.0, "brightness_blur": 0.0, "grid_distortion": 0.0}


@pytest.fixture(scope="module")
def demo(demo_path):
    from aixcell_automl.core.dataset import load_dataset, split_dataset

    ds = load_dataset(demo_path)
    split = split_dataset(ds, seed=0)
    return ds, split, plan_dataset(dataset_fingerprint(ds, split["train"]))


def _edited(plan, factors=None, normalisation=None, window=None):
    plan = copy.deepcopy(plan)
    s = plan["settings"]
    if factors is not None:
        s["class_sampling_factors"]["value"] = factors
    if normalisation is not None:
        s["normalisation"]["value"] = normalisation
    if window is not None:
        s["inference_window"]["value"] = window
    return plan


class Recorder:
    """A stand-in model (class 1 where bright) that records each window's top-left corner."""

    def __init__(self):
        self.calls = 0

    def __call__(self, x, training=False):
        self.calls += len(x)
        fg = (np.asarray(x)[..., :1] > 0.5).astype(np.float32)
        return np.concatenate([1 - fg, fg], axis=-1)


def test_the_plans_own_settings_are_todays_computed_ones(demo):
    ds, split, plan = demo
    planned = PlanSettings.from_plan(plan)
    assert PlanSettings.from_plan(plan["settings"]) == planned  # the settings mapping alone
    assert planned.percentiles == (1.0, 99.8)
    p = plan["configuration"]["patch_size"]
    assert planned.stride(p) == p * 3 // 4 and planned.stride(128) == 96
    default = make_trial_data(ds, split, seed=0)
    with_plan = make_trial_data(ds, split, seed=0, plan=plan)
    assert default.plan is None and default.plan_info(64) == {}
    for a, b in zip(default.train.images, with_plan.train.images, strict=True):
        np.testing.assert_array_equal(a, b)
    _, s_default, _ = default.patches(64)
    _, s_plan, _ = with_plan.patches(64)
    assert s_plan["factors"] == pytest.approx(s_default["factors"], abs=1e-4)
    assert with_plan.inference_stride(64) == default.inference_stride(64) == 48


def test_edited_sampling_factors_change_the_trials_patch_index(demo):
    ds, split, plan = demo
    n = ds.num_classes
    data = make_trial_data(ds, split, seed=0, plan=_edited(plan, factors=[2.0] * n))
    index, summary, _ = data.patches(64)
    assert summary["factors"] == [2.0] * n
    assert summary["patches_after"] == 2 * summary["patches_before"] == len(index.rows)
    with pytest.raises(UserError, match="class_sampling_factors has 2 value"):
        make_trial_data(ds, split, seed=0, plan=_edited(plan, factors=[1.0, 1.0])).patches(64)


def test_edited_normalisation_changes_the_training_images(demo):
    ds, split, plan = demo
    full = "per image and channel, 0th..100th percentile to [0, 1]"
    data = make_trial_data(ds, split, seed=0, plan=_edited(plan, normalisation=full))
    assert data.plan.percentiles == (0.0, 100.0)
    default = make_trial_data(ds, split, seed=0)
    assert any(not np.array_equal(a, b)
               for a, b in zip(data.train.images, default.train.images, strict=True))
    as_dict = {"low_percentile": 0, "high_percentile": 100}
    assert PlanSettings.from_plan(_edited(plan, normalisation=as_dict)).percentiles == (0.0, 100.0)


def test_prediction_uses_the_stride_the_model_records():
    img = np.random.default_rng(0).uniform(size=(256, 256, 1)).astype(np.float32)
    base = {"channels": 1, "patch_size": 64, "num_classes": 2}
    default, dense = Recorder(), Recorder()
    a = predict_mask(default, img, base)
    b = predict_mask(dense, img, base | PlanSettings(inference_window=(64, 32)).info(64))
    assert default.calls == 5 * 5  # stride 48: 0, 48, 96, 144, 192 per axis
    assert dense.calls == 7 * 7  # stride 32: 0, 32, ..., 192
    np.testing.assert_array_equal(a, b)  # a per-pixel model: windows change nothing else
    counted = Recorder()
    predict_probabilities(counted, img, 64, stride=32)
    assert counted.calls == dense.calls


def test_a_plan_window_for_another_patch_size_is_scaled():
    planned = PlanSettings(inference_window=(128, 64))
    assert planned.stride(128) == 64 and planned.stride(64) == 32 and planned.stride(256) == 128
    assert planned.info(64)["inference_window"] == {"size": 64, "stride": 32}


@pytest.mark.parametrize("settings, match", [
    ({"class_sampling_factors": {"value": "many"}}, "class_sampling_factors"),
    ({"class_sampling_factors": {"value": [1.0, -1.0]}}, "non-negative"),
    ({"normalisation": {"value": "z-score"}}, "percentile range"),
    ({"normalisation": {"value": "99..1 percentile"}}, "low < high"),
    ({"inference_window": {"value": {"size": 64}}}, "size, stride"),
    ({"inference_window": {"value": {"size": 64, "stride": 80}}}, "must be in 1..size"),
])
def test_unreadable_plan_settings_are_user_errors(settings, match):
    with pytest.raises(UserError, match=match):
        PlanSettings.from_plan({"settings": settings})


def test_training_and_its_model_follow_an_edited_plan(demo, tmp_path, monkeypatch):
    """A trial on plan data samples by the plan's factors, validates with the plan's stride, and
    its model records the plan's normalisation and window for prediction."""
    from aixcell_automl.plugins.testing import TinyBackbone, plugin_manager_with
    from aixcell_automl.training import loop
    from aixcell_automl.training.loop import Budget, Settings, best_model, train_trial

    ds, split, plan = demo
    edited = _edited(plan, factors=[1.5] * ds.num_classes,
                     window={"size": plan["configuration"]["patch_size"],
                             "stride": plan["configuration"]["patch_size"] // 2})
    data = make_trial_data(ds, split, seed=0, plan=edited)
    strides = []
    real = loop.predict_probabilities

    def recording(model, image, patch, batch_size=4, stride=None):
        strides.append(stride)
        return real(model, image, patch, batch_size, stride)

    monkeypatch.setattr(loop, "predict_probabilities", recording)
    with plugin_manager_with(TinyBackbone()):
        state = train_trial(CFG, data, tmp_path / "run", Budget(pixels=2 * 4 * 64 * 64),
                            Settings(eval_every_pixels=4 * 64 * 64, val_pixels=64 * 64,
                                     early_stopping=False))
        assert state["status"] == "finished", state["reason"]
        assert state["sampling"]["factors"] == [1.5] * ds.num_classes
        assert set(strides) == {32}  # the plan's 1/2 overlap, scaled to the trial's 64 px
        _, info = best_model(tmp_path / "run", data, dataset=ds.name)
        assert info["inference_window"] == {"size": 64, "stride": 32}
        assert info["normalisation"] == {"low_percentile": 1.0, "high_percentile": 99.8}
        # the search's finalize path: the dataset and the plan instead of the trial data
        _, info2 = best_model(tmp_path / "run", ds, plan=edited, best_val_score=0.5)
        assert info2["inference_window"] == info["inference_window"]
        assert info2["channels"] == info["channels"] and info2["best_val_score"] == 0.5
        # without a plan the model records nothing of one (prediction keeps its defaults)
        _, plain = best_model(tmp_path / "run", ds)
        assert "inference_window" not in plain and "normalisation" not in plain
