"""Training precision: the choice per device (fake CPU flags and GPU capabilities), mixed
bfloat16 training with float32 variables, softmax and saved weights, and the float32 fallback."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from aixcell_automl.core.errors import UserError
from aixcell_automl.training import precision as pr
from aixcell_automl.training.loop import Budget, Settings, best_model, train_trial

AMX = {"avx512f", "avx512_bf16", "amx_bf16", "amx_tile"}
AVX512_BF16 = {"avx512f", "avx512_bf16"}
PLAIN = {"avx", "avx2"}
CFG = {"config_id": "t", "patch_size": 64, "batch_size": 4, "learning_rate": 0.001,
       "backbone": "tiny", "flip": 0.0, "brightness_blur": 0.0, "grid_distortion": 0.0}
FAST = Settings(eval_every_pixels=4 * 4 * 64 * 64, val_pixels=16 * 64 * 64)


@pytest.mark.parametrize("requested, flags, cc, expected", [
    ("auto", AMX, None, "bfloat16"),
    ("auto", AVX512_BF16, None, "bfloat16"),  # 1.3-1.8x on AMD Zen 4 (docs/performance.md)
    ("auto", PLAIN, None, "float32"),
    ("auto", PLAIN, (7, 5), "float16"),
    ("auto", PLAIN, (8, 0), "bfloat16"),
    ("auto", PLAIN, (9, 0), "bfloat16"),
    ("auto", PLAIN, (6, 1), "float32"),
    ("float32", AMX, None, "float32"),
    ("bfloat16", AVX512_BF16, None, "bfloat16"),
    ("float16", PLAIN, (8, 6), "float16"),
])
def test_choice_per_device(requested, flags, cc, expected):
    assert pr.choose(requested, flags, cc)[0] == expected


def test_bfloat16_without_support_warns_once_and_float16_on_a_cpu_is_an_error(caplog,
                                                                             monkeypatch):
    monkeypatch.setattr(pr, "_warned", set())
    with caplog.at_level(logging.WARNING):
        assert pr.choose("bfloat16", PLAIN, None)[0] == "float32"
        assert pr.choose("bfloat16", PLAIN, None)[0] == "float32"
    assert sum("neither AMX-BF16 nor AVX512-BF16" in r.message for r in caplog.records) == 1
    with pytest.raises(UserError, match=r"search.precision=float16 needs an NVIDIA GPU; on "
                                        r"this CPU use search.precision=auto, float32$"):
        pr.choose("float16", PLAIN, None, "search.precision")
    with pytest.raises(UserError, match="train.precision='half' is not one of auto, float32"):
        pr.choose("half", PLAIN, None)


@pytest.mark.parametrize("backbone", ["tiny", "resnet18"])
def test_mixed_model_keeps_float32_variables_and_softmax(backbone):
    from aixcell_automl.plugins.testing import TinyBackbone, plugin_manager_with
    from aixcell_automl.training.model import build_model

    with plugin_manager_with(TinyBackbone()):
        pr.set_policy("bfloat16")
        try:
            model = pr.float32_output(build_model(backbone, 1, 3))
        finally:
            pr.set_policy("float32")
    assert model.output.dtype == "float32"
    assert {v.dtype.name for v in model.trainable_variables} == {"float32"}
    assert any(getattr(layer, "compute_dtype", None) == "bfloat16" for layer in model.layers)
    if backbone == "resnet18":  # the softmax itself is redone in float32
        assert model.layers[-1].name == "softmax_float32"
    out = model(np.random.default_rng(0).random((1, 64, 64, 1), np.float32)).numpy()
    # a softmax fused into a bfloat16 layer (tiny) sums to 1 within bfloat16's 8 bits only
    np.testing.assert_allclose(out.sum(-1), 1.0, atol=1e-5 if backbone == "resnet18" else 1e-2)


def test_bfloat16_trial_records_its_precision_and_saves_float32_weights(demo_trial_data,
                                                                       tmp_path):
    from aixcell_automl.plugins.testing import TinyBackbone, plugin_manager_with

    settings = Settings(**{**FAST.__dict__, "precision": "bfloat16"})
    with plugin_manager_with(TinyBackbone()):
        state = train_trial(CFG, demo_trial_data, tmp_path / "r",
                            Budget(pixels=8 * 4 * 64 * 64), settings)
        assert state["status"] == "finished" and state["precision"] == "bfloat16"
        model, _ = best_model(tmp_path / "r", demo_trial_data)  # rebuilt in float32
    assert {v.dtype.name for v in model.trainable_variables} == {"float32"}
    assert model.layers[-1].compute_dtype == "float32"


def test_a_diverging_16_bit_trial_trains_again_in_float32(demo_trial_data, tmp_path,
                                                         monkeypatch):
    from aixcell_automl.plugins.testing import TinyBackbone, plugin_manager_with
    from aixcell_automl.training import loop

    real, seen = loop._train, []

    def diverge_in_bf16(config, data, run_dir, budget, settings, seed, state, state_path):
        seen.append(state["precision"])
        if state["precision"] == "bfloat16":
            raise FloatingPointError("loss is nan at step 3")
        return real(config, data, run_dir, budget, settings, seed, state, state_path)

    monkeypatch.setattr(loop, "_train", diverge_in_bf16)
    settings = Settings(**{**FAST.__dict__, "precision": "bfloat16"})
    with plugin_manager_with(TinyBackbone()):
        state = train_trial(CFG, demo_trial_data, tmp_path / "r", Budget(pixels=4 * 4 * 64 * 64),
                            settings)
    assert seen == ["bfloat16", "float32"] and state["status"] == "finished"
    assert state["precision"] == "float32"
    assert state["precision_fallback"] == "bfloat16: loss is nan at step 3"
