"""The plan: rules worked out by hand on two shared datasets, and the plans.json round trip."""

import json

import pytest

from aixcell_automl.search.plan import dataset_fingerprint, plan_dataset, read_plan


@pytest.mark.shared_data
@pytest.mark.parametrize("name, expected", [
    # wbc1_blood: 120 RGB images, mean side 116.9 px -> half is 58 px, below 64 -> patch 64,
    # batch 16; 120 >= 50 images -> ResNet-50; RGB -> brightness/blur 0.5
    ("wbc1_blood", {"patch_size": 64, "batch_size": 16, "backbone": "resnet50",
                    "brightness_blur": 0.5}),
    # dsb2018_stage1test: 65 grey images, mean side 397.9 px -> half 199 px -> patch 128,
    # batch 8; 65 >= 50 -> ResNet-50; grey -> no brightness/blur
    ("dsb2018_stage1test", {"patch_size": 128, "batch_size": 8, "backbone": "resnet50",
                            "brightness_blur": 0.0}),
])
def test_plan_of_shared_datasets_matches_the_rules_by_hand(shared_datasets, name, expected):
    from aixcell_automl.core.dataset import load_dataset

    ds = load_dataset(shared_datasets / name, check_pixels=False)
    plan = plan_dataset(dataset_fingerprint(ds))
    cfg = plan["configuration"]
    assert {k: cfg[k] for k in expected} == expected
    assert cfg["learning_rate"] == 0.001 and cfg["flip"] == 0.5 and cfg["grid_distortion"] == 0
    assert plan["settings"]["inference_window"]["value"] == {
        "size": cfg["patch_size"], "stride": cfg["patch_size"] * 3 // 4}
    assert all(s["reason"] for s in plan["settings"].values())
    assert len(plan["fingerprint"]["class_shares"]) == ds.num_classes


def _fp(**kw):
    return {"hc_mean_image_shape": 512.0, "hc_n_images": 20, "hc_is_rgb": 0.0,
            "class_shares": [0.1, 0.1, 0.7], "channels": 1, **kw}


def test_plan_sampling_factors_follow_the_thesis_example():
    # x = [0.1, 0.1, 0.7]: mean 0.3, imbalanced (0.7 > 0.525); a_low 0.15 -> 1.5 for the rare
    # classes, a_high 0.36 -> 0.514 for the common one
    factors = plan_dataset(_fp())["settings"]["class_sampling_factors"]["value"]
    assert factors == pytest.approx([1.5, 1.5, 0.5143], abs=1e-4)
    assert plan_dataset(_fp(class_shares=[0.8, 0.2]))["settings"]["class_sampling_factors"][
        "value"] == [1.0, 1.0]


def test_plans_json_round_trip_and_hand_edits(tmp_path):
    plan = plan_dataset(_fp())
    path = tmp_path / "plans.json"
    path.write_text(json.dumps(plan))
    assert read_plan(path) == json.loads(json.dumps(plan))
    edited = json.loads(path.read_text())
    edited["configuration"]["learning_rate"] = 0.01
    path.write_text(json.dumps(edited))
    again = read_plan(path)
    assert again["configuration"]["learning_rate"] == 0.01
    assert again["configuration"]["config_id"] != plan["configuration"]["config_id"]
    del edited["configuration"]["backbone"]
    path.write_text(json.dumps(edited))
    from aixcell_automl.core.errors import UserError

    with pytest.raises(UserError, match="plans.json: configuration lacks backbone"):
        read_plan(path)
    path.write_text("{not json")
    with pytest.raises(UserError, match="not a readable plans.json"):
        read_plan(path)
