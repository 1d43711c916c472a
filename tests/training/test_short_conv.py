"""The matmul weight gradient of short bfloat16 convolutions (training/short_conv.py)."""

import numpy as np
import pytest

from aixcell_automl.training import short_conv


@pytest.mark.parametrize(("size", "padding"), [(1, "SAME"), (3, "SAME"), (3, "VALID"),
                                               (5, "SAME")])
def test_the_matmul_gradients_are_the_convolution_gradients(size, padding):
    from aixcell_automl._env import tensorflow

    tf, _, _ = tensorflow()
    rng = np.random.default_rng(size)
    x = tf.constant(rng.normal(size=(2, 6, 5, 7)), tf.float32)
    k = tf.constant(rng.normal(size=(size, size, 7, 4)), tf.float32)
    dy_shape = tf.nn.conv2d(x, k, 1, padding).shape
    dy = tf.constant(rng.normal(size=dy_shape), tf.float32)  # a loss that weighs every output

    def grads(conv):
        with tf.GradientTape() as tape:
            tape.watch([x, k])
            loss = tf.reduce_sum(conv(x, k) * dy)
        return tape.gradient(loss, [x, k])

    ours = grads(lambda a, b: short_conv.conv2d(a, b, padding))
    tfs = grads(lambda a, b: tf.nn.conv2d(a, b, 1, padding))
    np.testing.assert_allclose(ours[0], tfs[0], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ours[1], tfs[1], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(short_conv.conv2d(x, k, padding), tf.nn.conv2d(x, k, 1, padding),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("shape", "size", "dtype", "expected"), [
    ((16, 4, 4, 3072), 3, "bfloat16", True),    # 256 positions
    ((8, 8, 8, 256), 3, "bfloat16", True),      # 512: the 3 x 3 limit
    ((16, 8, 8, 256), 3, "bfloat16", False),    # 1024
    ((16, 16, 16, 1024), 1, "bfloat16", True),  # 4096: the 1 x 1 limit
    ((16, 32, 32, 1024), 1, "bfloat16", False),
    ((16, 4, 4, 3072), 3, "float32", False),    # float32 is untouched
    ((16, 4, 4, 64), 7, "bfloat16", False),     # no crossover measured for 7 x 7
    ((None, 4, 4, 64), 3, "bfloat16", False),   # unknown batch: Keras's convolution
])
def test_which_convolutions_take_the_matmul_gradient(shape, size, dtype, expected):
    assert short_conv.shortcut_applies(shape, size, dtype) is expected


def test_install_reroutes_only_short_stride_1_bfloat16_convolutions():
    from aixcell_automl._env import tensorflow
    from aixcell_automl.training.precision import set_policy

    tf, keras, _ = tensorflow()
    set_policy("bfloat16")
    try:
        inp = keras.Input((None, None, 8))
        x = keras.layers.Conv2D(16, 3, padding="same")(inp)
        x = keras.layers.Conv2D(16, 3, strides=2, padding="same")(x)  # strided: not rerouted
        x = keras.layers.Conv2D(16, 1)(x)
        model = keras.Model(inp, keras.layers.Conv2DTranspose(2, 2, strides=2)(x))
    finally:
        set_policy("float32")
    assert short_conv.install(model) == 2

    def weight_gradient_ops(batch, side):
        fn = tf.function(lambda a: tf.gradients(tf.reduce_sum(model(a)),
                                                model.trainable_variables))
        graph = fn.get_concrete_function(tf.TensorSpec((batch, side, side, 8))).graph
        return sorted(op.type for op in graph.get_operations()
                      if op.type in ("Conv2DBackpropFilter", "ExtractImagePatches"))

    # 2 x 4 x 4 = 32 positions: both stride-1 convolutions take the matmul gradient (patches
    # for the 3 x 3 only); the strided one and the transposed one keep Keras's
    assert weight_gradient_ops(2, 4) == ["Conv2DBackpropFilter"] * 2 + ["ExtractImagePatches"]
    # 16 x 64 x 64 positions, 16 x 32 x 32 after the stride: every convolution is Keras's
    assert weight_gradient_ops(16, 64) == ["Conv2DBackpropFilter"] * 4
    # the same weights and inputs give the same forward result either way
    a = np.random.default_rng(0).normal(size=(2, 4, 4, 8)).astype(np.float32)
    rerouted = np.asarray(model(a), np.float32)
    for layer in model.layers:
        layer.__dict__.pop("convolution_op", None)
    np.testing.assert_allclose(rerouted, np.asarray(model(a), np.float32), rtol=0, atol=0)
