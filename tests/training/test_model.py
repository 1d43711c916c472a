import numpy as np
import pytest

from aixcell_automl.training.model import BN_MOMENTUM, build_model, load_model, save_model


def test_saved_models_reload_with_the_project_batch_norm_momentum(tmp_path):
    from aixcell_automl._env import tensorflow

    _, keras, _ = tensorflow()

    def batch_norms(model):
        return [layer for layer in model.layers
                if isinstance(layer, keras.layers.BatchNormalization)]

    b = build_model("resnet18", 2, 3)
    save_model(b, tmp_path / "m", {"backbone": "resnet18", "channels": 2, "num_classes": 3})
    c, info = load_model(tmp_path / "m")
    assert len(batch_norms(c)) == len(batch_norms(b)) > 10  # a ResNet-18 U-Net has dozens
    assert {layer.momentum for layer in batch_norms(c)} == {BN_MOMENTUM}
    assert BN_MOMENTUM != 0.99  # Keras's default, which a plain reload would give
    x = np.random.default_rng(0).uniform(size=(1, 64, 64, 2)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(c(x)), np.asarray(b(x)), atol=1e-6)
    assert info["num_classes"] == 3


def test_focal_loss_matches_the_formula():
    from aixcell_automl.training.model import FOCAL_GAMMA, focal_loss

    y = np.array([[[[1.0, 0.0], [0.0, 1.0]]]], np.float32)  # 1 x 1 x 2 pixels, 2 classes
    p = np.array([[[[0.9, 0.1], [0.6, 0.4]]]], np.float32)  # easy pixel, hard pixel
    expected = np.mean([-(0.1 ** FOCAL_GAMMA) * np.log(0.9), -(0.6 ** FOCAL_GAMMA) * np.log(0.4)])
    assert float(focal_loss()(y, p)) == pytest.approx(expected, rel=1e-5)
    ce = np.mean([-np.log(0.9), -np.log(0.4)])
    assert float(focal_loss(gamma=0.0)(y, p)) == pytest.approx(ce, rel=1e-5)  # gamma 0 = CE
    # a confident wrong pixel stays finite (probabilities are clipped)
    assert np.isfinite(float(focal_loss()(y, np.array([[[[0.0, 1.0], [1.0, 0.0]]]],
                                                     np.float32))))



def test_the_fused_adam_updates_as_keras_adam_does():
    """Fed the same gradients, the fused optimizer leaves Keras Adam's variables and state, step
    for step (the speed change does not change what is learned)."""
    from aixcell_automl._env import tensorflow
    from aixcell_automl.training.model import make_optimizer

    tf, keras, _ = tensorflow()
    rng = np.random.default_rng(0)
    start = [rng.normal(size=(3, 3, 4, 8)).astype(np.float32), np.zeros(8, np.float32)]
    grads = [[rng.normal(scale=10.0 ** -k, size=w.shape).astype(np.float32) for w in start]
             for k in range(6)]  # gradients shrinking from 1 to 1e-5, as late in training
    runs = []
    for optimizer in (keras.optimizers.Adam(learning_rate=1e-3), make_optimizer(1e-3)):
        weights = [tf.Variable(w) for w in start]
        history = []
        for g in grads:
            optimizer.apply_gradients(zip([tf.constant(x) for x in g], weights, strict=True))
            history.append([w.numpy() for w in weights])
        runs.append((history, [v.numpy() for v in optimizer.variables]))
    (keras_w, keras_state), (fused_w, fused_state) = runs
    assert type(make_optimizer(1e-3)).__name__ == "FusedAdam"
    assert len(fused_state) == len(keras_state)  # Adam's variables: its checkpoints restore
    for a, b in zip(keras_state + keras_w, fused_state + fused_w, strict=True):
        for x, y in zip(a if isinstance(a, list) else [a], b if isinstance(b, list) else [b],
                        strict=True):
            # the kernel takes 1 - beta_2 in float32 (1.3e-5 off 0.001), Keras in float64
            np.testing.assert_allclose(y, x, rtol=5e-5, atol=1e-8)
    moved = np.abs(fused_w[-1][0] - start[0]).max()
    assert moved > 1e-3  # each step moves a weight by about lr: the comparison is not vacuous
