import numpy as np

from aixcell_automl.model import BN_MOMENTUM, build_model, load_model, save_model


def test_local_encoder_weights_file_is_loaded_and_saved_models_reload(tmp_path):
    a = build_model("resnet18", 2, 3)
    a.save_weights(str(tmp_path / "encoder.h5"))
    b = build_model("resnet18", 2, 3, encoder_weights=str(tmp_path / "encoder.h5"))
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)
    assert all(layer.momentum == BN_MOMENTUM for layer in b.layers if "bn" in layer.name
               and hasattr(layer, "momentum"))
    save_model(b, tmp_path / "m", {"backbone": "resnet18", "channels": 2, "num_classes": 3})
    c, info = load_model(tmp_path / "m")
    x = np.random.default_rng(0).uniform(size=(1, 64, 64, 2)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(c(x)), np.asarray(b(x)), atol=1e-6)
    assert info["num_classes"] == 3
