import numpy as np

from aixcell_automl.training.predict import overlay, predict_mask, predict_probabilities


class ThresholdModel:
    """A stand-in fully-convolutional model: class 1 where the input is bright."""

    def __call__(self, x, training=False):
        fg = (np.asarray(x)[..., :1] > 0.5).astype(np.float32)
        return np.concatenate([1 - fg, fg], axis=-1)


def test_sliding_window_reassembles_whole_images_of_any_size():
    rng = np.random.default_rng(0)
    for h, w in [(600, 333), (40, 70), (64, 64), (257, 512)]:
        img = rng.uniform(size=(h, w, 1)).astype(np.float32)
        probs = predict_probabilities(ThresholdModel(), img, patch=64)
        assert probs.shape == (h, w, 2)
        np.testing.assert_array_equal(probs.argmax(-1), (img[..., 0] > 0.5).astype(int))


def test_predict_mask_normalises_16_bit_input():
    img = np.zeros((100, 90, 1), np.uint16)
    img[20:60, 10:50] = 40000
    info = {"channels": 1, "patch_size": 64, "num_classes": 2}
    mask = predict_mask(ThresholdModel(), img, info)
    assert mask.dtype == np.uint8
    assert mask[20:60, 10:50].all() and mask.sum() == 40 * 40


def test_overlay_is_rgb_and_tints_foreground():
    img = np.full((10, 10, 1), 100, np.uint8)
    mask = np.zeros((10, 10), np.uint8)
    mask[:5] = 1
    out = overlay(img, mask)
    assert out.shape == (10, 10, 3) and out.dtype == np.uint8
    assert (out[:5, :, 0] != out[:5, :, 1]).all() and (out[5:, :, 0] == out[5:, :, 1]).all()


def test_windows_have_the_training_patch_size():
    seen = set()

    class Recorder(ThresholdModel):
        def __call__(self, x, training=False):
            seen.add(np.asarray(x).shape[1:3])
            return super().__call__(x, training)

    predict_probabilities(Recorder(), np.zeros((300, 500, 1), np.float32), patch=64)
    assert seen == {(64, 64)}
