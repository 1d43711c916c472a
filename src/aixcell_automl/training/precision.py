"""Training precision (``train.precision`` / ``search.precision``; docs/performance.md).

``auto`` picks, per device:

* a CPU with AMX-BF16 (Intel Sapphire Rapids and later) or AVX512-BF16 (e.g. AMD Zen 4):
  mixed bfloat16 (1.8-2.3x at patch 64-256 with AMX, measured in issue #36; 1.3-1.8x on a
  2-core AMD EPYC with AVX512-BF16, with test IoU within the seeds' spread:
  docs/performance.md, ``benchmarks/train_throughput.py``, ``benchmarks/precision_parity.py``);
* a CPU with neither: float32 (TensorFlow emulates bfloat16 there, 5-10x slower);
* an NVIDIA GPU of compute capability 7.x: mixed float16 with dynamic loss scaling; 8.0 and
  newer: mixed bfloat16; older: float32.

Mixed precision computes in 16 bits and keeps the variables, the softmax, the loss and every
saved weight in float32 (:func:`float32_output`). ``bfloat16`` asked for on a CPU without bf16
support warns once and trains float32; ``float16`` on a CPU is an error.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable

from aixcell_automl.core.errors import UserError

log = logging.getLogger(__name__)

CHOICES = ("auto", "float32", "bfloat16", "float16")
POLICY = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}
_warned: set[str] = set()


def cpu_flags() -> set[str]:
    """The CPU's feature flags (``/proc/cpuinfo``; empty elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.partition(":")[2].split())
    except OSError:
        pass
    return set()


def gpu_capability() -> tuple[int, int] | None:
    """Compute capability of the first GPU TensorFlow sees (None on CPU)."""
    from aixcell_automl._env import tensorflow

    tf, _, _ = tensorflow()
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return None
    cc = tf.config.experimental.get_device_details(gpus[0]).get("compute_capability")
    return tuple(cc) if cc else (0, 0)


def choose(requested: str, flags: Iterable[str], capability: tuple[int, int] | None,
           parameter: str = "train.precision") -> tuple[str, str]:
    """``(precision, reason)`` for ``requested`` on a device with CPU ``flags`` and GPU
    ``capability`` (None: no GPU); precision is one of float32, bfloat16, float16."""
    if requested not in CHOICES:
        raise UserError(f"{parameter}={requested!r} is not one of {', '.join(CHOICES)}")
    flags = set(flags)
    if capability is not None:
        if requested != "auto":
            return requested, f"{requested} asked for on a GPU (compute capability " \
                              f"{capability[0]}.{capability[1]})"
        if capability >= (8, 0):
            return "bfloat16", f"GPU compute capability {capability[0]}.{capability[1]} >= 8.0"
        if capability >= (7, 0):
            return "float16", (f"GPU compute capability {capability[0]}.{capability[1]}: "
                               f"float16 tensor cores, with loss scaling")
        return "float32", "GPU older than compute capability 7.0"
    bf16 = "amx_bf16" in flags or "avx512_bf16" in flags
    if requested == "float16":
        raise UserError(f"{parameter}=float16 needs an NVIDIA GPU; on this CPU use "
                        f"{parameter}=auto, float32" + (" or bfloat16" if bf16 else ""))
    if requested == "bfloat16":
        if bf16:
            return "bfloat16", "bfloat16 asked for; the CPU has " + (
                "AMX-BF16" if "amx_bf16" in flags else "AVX512-BF16")
        if "bfloat16" not in _warned:
            _warned.add("bfloat16")
            log.warning("%s=bfloat16: this CPU has neither AMX-BF16 nor AVX512-BF16; "
                        "training float32", parameter)
        return "float32", "bfloat16 asked for, but the CPU has no bf16 support"
    if requested == "float32":
        return "float32", "float32 asked for"
    if bf16:
        return "bfloat16", "the CPU has " + ("AMX-BF16" if "amx_bf16" in flags else "AVX512-BF16")
    return "float32", "the CPU has no bf16 support"


def resolve(requested: str, parameter: str = "train.precision") -> tuple[str, str]:
    """:func:`choose` for this machine."""
    return choose(requested, cpu_flags(), gpu_capability(), parameter)


def set_policy(precision: str) -> None:
    """Make Keras build the next models in ``precision`` (mixed for 16-bit types)."""
    from aixcell_automl._env import tensorflow

    _, keras, _ = tensorflow()
    keras.mixed_precision.set_global_policy(POLICY[precision])


def built_in(precision: str, build, matmul_wgrad: bool | None = None):
    """The model ``build()`` makes, computing in ``precision`` with a float32 softmax
    (:func:`float32_output`); the policy is float32 again afterwards, so models built
    elsewhere (saving, export) stay float32. With ``matmul_wgrad`` (None: where
    :func:`matmul_wgrad_pays`), short bfloat16 convolutions get their weight gradient as one
    matmul (:mod:`.short_conv`)."""
    set_policy(precision)
    try:
        model = build()
        if matmul_wgrad is None:
            matmul_wgrad = precision == "bfloat16" and matmul_wgrad_pays()
        if matmul_wgrad:
            from aixcell_automl.training.short_conv import install

            install(model)
        return float32_output(model)
    finally:
        set_policy("float32")


@functools.cache
def matmul_wgrad_pays() -> bool:
    """Whether this machine is one where the matmul weight gradient was measured faster: a CPU
    with AMX-BF16 and no GPU (docs/performance.md, "Short weight gradients")."""
    return "amx_bf16" in cpu_flags() and gpu_capability() is None


def float32_output(model):
    """``model`` with a float32 softmax: a final softmax ``Activation`` layer is redone in
    float32 on its input; a softmax fused into the last layer is cast to float32 after it.
    Unchanged when the model already computes in float32."""
    from aixcell_automl._env import tensorflow

    _, keras, _ = tensorflow()
    if model.output.dtype == "float32":
        return model
    last = model.layers[-1]
    if isinstance(last, keras.layers.Activation) and getattr(
            last.activation, "__name__", "") == "softmax":
        out = keras.layers.Activation("softmax", dtype="float32", name="softmax_float32")(
            last.input)
    else:
        out = keras.layers.Activation("linear", dtype="float32", name="float32_output")(
            model.output)
    return keras.Model(model.inputs, out, name=model.name)
