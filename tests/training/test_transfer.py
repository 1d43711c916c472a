import json
from dataclasses import replace

import numpy as np
import pytest

from aixcell_automl.training import loop as training
from aixcell_automl.training import transfer
from aixcell_automl.training.loop import Budget, Settings, train_trial
from aixcell_automl.training.model import build_model, save_model
from aixcell_automl.training.transfer import epochs_to_fraction, load_matching, new_layers_settled

CFG = {"config_id": "t", "patch_size": 64, "batch_size": 4, "learning_rate": 0.001,
       "backbone": "resnet18", "flip": 0.0, "brightness_blur": 0.0, "grid_distortion": 0.0}
EVAL = 4 * 4 * 64 * 64
FAST = Settings(eval_every_pixels=EVAL, val_pixels=8 * 64 * 64)


def _weights(model, name):
    return [np.asarray(w) for w in model.get_layer(name).weights]


def test_whole_model_folder_loads_every_layer(tmp_path):
    a = build_model("resnet18", 1, 2)
    save_model(a, tmp_path / "m", {"backbone": "resnet18", "channels": 1, "num_classes": 2})
    b = build_model("resnet18", 1, 2)
    assert load_matching(b, tmp_path / "m") == []
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)


def test_shape_mismatches_leave_first_and_last_layers_new(tmp_path):
    a = build_model("resnet18", 1, 2)
    a.save_weights(str(tmp_path / "w.h5"))
    b = build_model("resnet18", 3, 4)  # other channel and class counts
    new = load_matching(b, tmp_path / "w.h5")
    assert set(new) == {"bn_data", "conv0", "final_conv"}
    np.testing.assert_array_equal(_weights(a, "stage2_unit1_conv1")[0],
                                  _weights(b, "stage2_unit1_conv1")[0])


def test_missing_or_foreign_weights_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="never downloaded"):
        load_matching(build_model("resnet18", 1, 2), tmp_path / "absent.h5")
    import h5py

    with h5py.File(tmp_path / "other.h5", "w") as f:
        f.attrs["layer_names"] = [b"dense_7"]
        f.create_group("dense_7").attrs["weight_names"] = []
    with pytest.raises(ValueError, match="no layer name and shape matches"):
        load_matching(build_model("resnet18", 1, 2), tmp_path / "other.h5")


def test_settling_rule_and_epochs_to_95_percent(monkeypatch):
    h = [{"val_score": v, "epoch": e} for e, v in enumerate([0.2, 0.5, 0.51, 0.52, 0.52], 1)]
    assert new_layers_settled(h[:4], 0) is False  # 0.2 .. 0.52: still moving
    assert new_layers_settled(h, 0) is True  # last four within 0.03
    assert new_layers_settled(h, 2) is False  # counted from the phase start
    monkeypatch.setattr(transfer, "MAX_NEW_LAYER_EVALS", 2)
    assert new_layers_settled(h[:2], 0) is True  # cap
    assert epochs_to_fraction(h) == 2  # 0.95 * 0.52 = 0.494, first reached by 0.5
    assert epochs_to_fraction([]) is None


@pytest.mark.slow
def test_fine_tune_protocol_freezes_then_unfreezes_at_low_lr(demo_trial_data, tmp_path,
                                                             monkeypatch):
    ch = demo_trial_data.train.channels
    src = build_model("resnet18", ch, 2)  # the demo has 3 classes: the last layer is new
    src.save_weights(str(tmp_path / "src.h5"))
    settings = replace(FAST, init_weights=str(tmp_path / "src.h5"))
    run = tmp_path / "run"

    s = train_trial(CFG, demo_trial_data, run, Budget(pixels=3 * EVAL), settings)
    assert s["phase"] == "new_layers" and s["new_layers"] == ["final_conv"]
    after = build_model("resnet18", ch, 3)
    after.load_weights(str(run / "best.weights.h5"))
    for name in ("conv0", "stage3_unit1_conv1", "decoder_stage0a_conv"):
        for w0, w1 in zip(_weights(src, name), _weights(after, name), strict=True):
            np.testing.assert_array_equal(w0, w1)  # frozen, batch-norm statistics included

    monkeypatch.setattr(transfer, "MAX_NEW_LAYER_EVALS", 4)
    state = json.loads((run / "state.json").read_text())
    (run / "state.json").write_text(json.dumps({**state, "status": "paused"}))  # more budget
    s = train_trial(CFG, demo_trial_data, run, Budget(pixels=7 * EVAL),
                    replace(settings, keep_in_memory=1))  # resumes the frozen phase
    assert s["phase"] == "all" and s["phase_start"] == 4 and len(s["history"]) == 7
    live = next(iter(training._LIVE.values()))
    assert float(live.optimizer.learning_rate) == pytest.approx(transfer.FINETUNE_LR)
    assert all(layer.trainable for layer in live.model.layers)
    assert not np.array_equal(_weights(src, "conv0")[0], _weights(live.model, "conv0")[0])
    training.release_models()
