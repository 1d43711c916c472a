"""What device and software train: short descriptions recorded with every result."""

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


def threads() -> int:
    """TensorFlow's intra-op threads in this process: its configuration's, else
    ``TF_NUM_INTRAOP_THREADS`` (a worker's cap, :mod:`aixcell_automl.training.executors`), else
    one per core. Training results depend on it (the order of floating-point sums)."""
    from aixcell_automl._env import tensorflow

    tf, _, _ = tensorflow()
    return int(tf.config.threading.get_intra_op_parallelism_threads()
               or os.environ.get("TF_NUM_INTRAOP_THREADS") or os.cpu_count() or 1)


def cpu_model() -> str:
    """The CPU's model name and widest vector extension (``/proc/cpuinfo`` on Linux), recorded
    beside :func:`hardware`: two CPUs of one ``hardware`` string can differ several-fold in
    speed (docs/metabase.md). E.g. ``"AMD EPYC, avx512"``."""
    info = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                info.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    name = info.get("model name") or platform.processor() or platform.machine()
    flags = set(info.get("flags", "").split())
    isa = next((i for i, f in (("avx512", "avx512f"), ("avx2", "avx2"), ("avx", "avx"))
                if f in flags), None)
    return f"{name}, {isa}" if isa else name


def library_versions() -> dict[str, str]:
    """Versions of the libraries that train and score (``"missing"`` where not installed) and
    of Python, recorded beside :func:`hardware` with every result."""
    from importlib import metadata

    out = {}
    for pkg in ("aixcell-automl", "tensorflow", "tf-keras", "segmentation-models",
                "albumentations", "numpy"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "missing"
    out["python"] = platform.python_version()
    return out
