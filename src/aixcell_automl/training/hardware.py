"""What device trains: a short description recorded with every result."""

from __future__ import annotations

import os
import platform


def hardware() -> str:
    """A short description of the device that trains."""
    from aixcell_automl._env import tensorflow

    tf, _, _ = tensorflow()
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        name = tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU")
        return f"gpu:{len(gpus)}x{name}"
    return f"cpu:{os.cpu_count()}x{platform.processor() or platform.machine()}"
