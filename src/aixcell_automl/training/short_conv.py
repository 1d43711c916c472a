"""Weight gradients of bfloat16 convolutions over few positions, as one matrix product.

A convolution's weight gradient sums over every output position of the batch (N x H x W).
Deep in a U-Net at patch 64 that is only 64-512 positions, and oneDNN's bfloat16
``Conv2DBackpropFilter`` is then no faster than float32: on a 2-core AMX Xeon it was half of a
ResNet-50 bfloat16 step. The same gradient as one matmul, ``patches(x)^T @ dy``, runs on AMX
3-7x faster there (docs/performance.md, "Short weight gradients"). :func:`install` gives that
gradient to the stride-1 ``Conv2D`` layers of a model; each layer decides when its training step
is traced, from the input's static shape, and otherwise convolves as Keras does. The forward
convolution, the input gradient and float32 training are untouched.
"""

from __future__ import annotations

import types

#: the most input positions (N x H x W; the output's for "same" padding, a little more for
#: "valid") for which the matmul gradient is used, by kernel size; crossovers measured on a
#: 2-core AMX Xeon (``benchmarks/wgrad_crossover.py``, docs/performance.md)
MAX_POSITIONS = {1: 4096, 3: 512}


def shortcut_applies(shape, kernel_size: int, dtype) -> bool:
    """Whether a convolution over inputs of static ``shape`` (N, H, W, C) gets the matmul
    weight gradient: bfloat16, a kernel size in :data:`MAX_POSITIONS`, few enough positions."""
    if str(getattr(dtype, "name", dtype)) != "bfloat16" or kernel_size not in MAX_POSITIONS:
        return False
    if len(shape) != 4 or any(d is None for d in shape[:3]):
        return False
    return shape[0] * shape[1] * shape[2] <= MAX_POSITIONS[kernel_size]


def weight_gradient(x, dy, kernel_shape, padding: str):
    """The gradient of a stride-1 NHWC convolution's kernel (``kernel_shape`` kh, kw, ci, co)
    for input ``x`` and output gradient ``dy``, as ``extract_patches(x)^T @ dy``."""
    from aixcell_automl._env import tensorflow

    tf, _, _ = tensorflow()
    kh, kw, ci, co = kernel_shape
    cols = x if kh * kw == 1 else tf.image.extract_patches(
        x, [1, kh, kw, 1], [1, 1, 1, 1], [1, 1, 1, 1], padding)
    dk = tf.matmul(tf.reshape(cols, [-1, kh * kw * ci]), tf.reshape(dy, [-1, co]),
                   transpose_a=True)
    return tf.reshape(dk, kernel_shape)


def conv2d(x, kernel, padding: str):
    """``tf.nn.conv2d(x, kernel, 1, padding)`` (stride 1, NHWC) whose kernel gradient is
    :func:`weight_gradient`."""
    from aixcell_automl._env import tensorflow

    tf, _, _ = tensorflow()

    @tf.custom_gradient
    def conv(x, kernel):
        def grad(dy):
            dx = tf.raw_ops.Conv2DBackpropInput(
                input_sizes=tf.shape(x), filter=kernel, out_backprop=dy,
                strides=[1, 1, 1, 1], padding=padding)
            return dx, weight_gradient(x, dy, kernel.shape, padding)

        return tf.nn.conv2d(x, kernel, 1, padding), grad

    return conv(x, tf.convert_to_tensor(kernel))


def install(model) -> int:
    """Route the stride-1, undilated, ungrouped square ``Conv2D`` layers of ``model`` through
    :func:`conv2d` where :func:`shortcut_applies`; returns how many layers can."""
    from aixcell_automl._env import tensorflow

    _, keras, _ = tensorflow()
    count = 0
    for layer in model.submodules:
        if (type(layer) is not keras.layers.Conv2D or tuple(layer.strides) != (1, 1)
                or tuple(layer.dilation_rate) != (1, 1) or layer.groups != 1
                or layer.kernel_size[0] != layer.kernel_size[1]
                or layer.padding not in ("same", "valid")
                or layer.data_format != "channels_last"):
            continue
        layer.convolution_op = types.MethodType(_convolution_op, layer)
        count += 1
    return count


def _convolution_op(layer, inputs, kernel):
    if shortcut_applies(tuple(inputs.shape), layer.kernel_size[0], inputs.dtype):
        return conv2d(inputs, kernel, layer.padding.upper())
    return type(layer).convolution_op(layer, inputs, kernel)
