import numpy as np

from aixcell_automl.model import BN_MOMENTUM, build_model, load_model, save_model


def test_saved_models_reload_with_the_project_batch_norm_momentum(tmp_path):
    b = build_model("resnet18", 2, 3)
    assert all(layer.momentum == BN_MOMENTUM for layer in b.layers if "bn" in layer.name
               and hasattr(layer, "momentum"))
    save_model(b, tmp_path / "m", {"backbone": "resnet18", "channels": 2, "num_classes": 3})
    c, info = load_model(tmp_path / "m")
    x = np.random.default_rng(0).uniform(size=(1, 64, 64, 2)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(c(x)), np.asarray(b(x)), atol=1e-6)
    assert info["num_classes"] == 3
