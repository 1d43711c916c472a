"""Process environment for TensorFlow and segmentation-models, and a quiet TensorFlow import."""

from __future__ import annotations

import contextlib
import logging
import os
import sys

os.environ.setdefault("SM_FRAMEWORK", "tf.keras")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@contextlib.contextmanager
def _quiet_native_stderr():
    """Send the C++ runtime's stderr (fd 2) to /dev/null while TensorFlow loads.

    TensorFlow's CUDA-stub and oneDNN start-up lines are written by absl before any log level
    applies, so ``TF_CPP_MIN_LOG_LEVEL`` cannot silence them. Python tracebacks are unaffected:
    they are printed after the descriptor is restored. ``AIXCELL_TF_VERBOSE=1`` disables this.
    """
    if os.environ.get("AIXCELL_TF_VERBOSE") == "1":
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def tensorflow():
    """Import TensorFlow, tf-keras and segmentation-models quietly; return ``(tf, keras, sm)``."""
    with _quiet_native_stderr():
        import tensorflow as tf
        import tf_keras as keras

        with contextlib.redirect_stdout(None):  # "Segmentation Models: using `tf.keras` framework."
            import segmentation_models as sm
        tf.get_logger().setLevel("ERROR")
        logging.getLogger("absl").setLevel(logging.WARNING)
        tf.config.list_physical_devices()  # device discovery logs cuInit failures on CPU hosts
    return tf, keras, sm
