"""The machine factor: how fast this machine trains, relative to a nominal machine.

Rows and traces from CPUs several-fold apart (docs/metabase.md, Speed) are only comparable once
their speeds are divided by the speed of the machine that made them. :func:`measure` times a short,
fixed reference workload (a ResNet-18 U-Net, 128-px patches, batch 8, 3 channels, 2 classes,
Adam, ``STEPS`` steps after ``WARMUP``) in a precision; the factor is its pixels per second over
``NOMINAL_PX_S`` (float32 on the nominal machine). A normalised speed is ``pixels_per_second /
machine_factor`` with the factor of the precision the row trained in: the speed the configuration
would have on the nominal machine in float32. So a bfloat16 row and a float32 row of the same
configuration normalise to about the same speed, and a search that trains bfloat16 converts its
budget with the bfloat16 factor (1.47x the float32 one on a 2-core AMD EPYC with AVX512-BF16,
docs/performance.md).

The result is cached per machine (CPU model, device, threads, TensorFlow version, the training
step's version) and precision in
``$AIXCELL_AUTOML_MACHINE_CACHE`` (default ``~/.cache/aixcell-automl/machine.json``), so it is
measured once; :func:`cached` reads it without measuring. Measure on an otherwise idle machine: a
factor measured while the load average exceeds the core count is used but not cached.
``$AIXCELL_AUTOML_MACHINE_FACTOR`` sets the factor instead (the tests set it, so that a loaded
test run never measures, nor caches what it measured).
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

from aixcell_automl.core.atomic import atomic_write_json

log = logging.getLogger(__name__)

NOMINAL_PX_S = 100_000.0  # reference workload on the nominal machine (factor 1.0)
PATCH, BATCH, WARMUP, STEPS = 128, 8, 2, 8
# the training step's version: raised when the step itself gets faster (2: the fused Adam update;
# 3: matmul weight gradients of short bfloat16 convolutions on AMX),
# so that a cached factor measured on the slower step is measured again
STEP_VERSION = 3


def cache_path() -> Path:
    default = Path.home() / ".cache" / "aixcell-automl" / "machine.json"
    return Path(os.environ.get("AIXCELL_AUTOML_MACHINE_CACHE", default))


def signature(precision: str = "float32") -> str:
    """What identifies a machine (and a 16-bit precision) for the cache."""
    from aixcell_automl._env import tensorflow
    from aixcell_automl.training.hardware import cpu_model, hardware

    tf, _, _ = tensorflow()
    threads = tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count()
    sig = (f"{hardware()} | {cpu_model()} | threads {threads} | tf {tf.__version__} | "
           f"step {STEP_VERSION}")
    return sig if precision == "float32" else f"{sig} | {precision}"


def default_precision() -> str:
    """The precision ``auto`` trains in on this machine (:mod:`.precision`)."""
    from aixcell_automl.training.precision import resolve

    return resolve("auto")[0]


def cached(precision: str = "float32") -> dict | None:
    """This machine's cached measurement in ``precision`` (``{"machine_factor",
    "reference_px_s", ...}``), or None if it was never measured here."""
    path = cache_path()
    try:
        entry = json.loads(path.read_text()).get(signature(precision))
    except (OSError, ValueError, AttributeError):
        return None
    return entry


def reference_speed(precision: str = "float32") -> float:
    """Pixels per second of the reference workload on this machine in ``precision`` (see
    module doc)."""
    import numpy as np

    from aixcell_automl._env import tensorflow
    from aixcell_automl.training.loop import make_train_step
    from aixcell_automl.training.model import build_model, focal_loss, make_optimizer
    from aixcell_automl.training.precision import built_in

    tf, keras, _ = tensorflow()
    keras.utils.set_random_seed(0)
    model = built_in(precision, lambda: build_model("resnet18", 3, 2))
    step = make_train_step(model, make_optimizer(1e-3), focal_loss())
    rng = np.random.default_rng(0)
    x = tf.constant(rng.random((BATCH, PATCH, PATCH, 3), np.float32))
    y = tf.one_hot(rng.integers(0, 2, (BATCH, PATCH, PATCH)), 2)
    for _ in range(WARMUP):
        float(step(x, y))
    t0 = time.perf_counter()
    for _ in range(STEPS):
        float(step(x, y))
    seconds = time.perf_counter() - t0
    keras.backend.clear_session()
    return STEPS * BATCH * PATCH * PATCH / seconds


def load_average() -> float:
    """The 1-minute load average (0 where the OS has none)."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return 0.0


def recorded_factor(precision: str) -> float | None:
    """The factor a row, trace or evaluation run records: this machine's in ``precision``
    from the cache, never measured here (None where it never was)."""
    entry = machine_factor(False, precision)
    return entry["machine_factor"] if entry else None


def machine_factor(measure_if_missing: bool = True, precision: str | None = None
                   ) -> dict | None:
    """This machine's ``{"machine_factor", "reference_px_s", "signature", "measured_utc"}`` in
    ``precision`` (None: :func:`default_precision`), from the cache, else measured (and
    cached) when ``measure_if_missing``."""
    if os.environ.get("AIXCELL_AUTOML_MACHINE_FACTOR"):
        return {"machine_factor": float(os.environ["AIXCELL_AUTOML_MACHINE_FACTOR"]),
                "reference_px_s": None, "signature": "set by AIXCELL_AUTOML_MACHINE_FACTOR"}
    precision = precision or default_precision()
    entry = cached(precision)
    if entry is not None or not measure_if_missing:
        return entry
    import datetime as dt

    sig = signature(precision)
    load, cores = load_average(), os.cpu_count() or 1
    log.info("measuring this machine's speed on the reference workload in %s (once per "
             "machine)", precision)
    px_s = reference_speed(precision)
    entry = {"machine_factor": round(px_s / NOMINAL_PX_S, 4), "reference_px_s": round(px_s, 1),
             "signature": sig,
             "measured_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    if load > cores:  # other work on every core: a low factor, not to be kept
        log.warning("machine factor %.3f in %s measured with a load average of %.1f on %d "
                    "cores: used for this run, not cached (measured again next run)",
                    entry["machine_factor"], precision, load, cores)
        return entry
    path = cache_path()
    try:
        table = json.loads(path.read_text())
    except (OSError, ValueError):
        table = {}
    table[sig] = entry
    atomic_write_json(path, table)
    log.info("machine factor %.3f in %s (%.0f px/s on the reference workload)",
             entry["machine_factor"], precision, px_s)
    return entry
