"""Training throughput per precision x patch x backbone, side by side in one process, with the
FLOP utilisation against this machine's measured matmul peak, and the per-step dispatch share.

For every backbone and patch size (batch: 16 at 64 px, else 8, as the plan sets it) and every
precision, the project's own step (``make_train_step``, the model built as ``train_trial``
builds it) is fed by the project's ``PatchStream`` for ``--steps`` steps after two warm-up
steps; float32 is today's path, the others are compared with it. Utilisation is the achieved
training FLOP/s (3 x the forward FLOPs that TensorFlow's profiler counts) over the peak of a
4096 x 4096 matmul in the same precision. ``--optimizers keras,fused`` (the default) runs
every cell with Keras's Adam (the path before the fused update, the first row of a cell) and
with the project's fused Adam, and times each optimizer's update alone; bfloat16 runs once more
with the matmul weight gradients of short convolutions (``--short-wgrad 1``, the default: today's
path on an AMX CPU; ``training/short_conv.py``). The dispatch share
compares ``--chunk`` steps run one ``tf.function`` call each with the same steps run inside one
call, on constant tensors; the data-pipeline share times the ``PatchStream`` batches (every
augmentation on) against that step.

    .venv/bin/python benchmarks/train_throughput.py --dataset ../shared/datasets/coelho_u2os
    .venv/bin/python benchmarks/train_throughput.py --precisions float32,bfloat16 --steps 8
    .venv/bin/python benchmarks/train_throughput.py --optimizers fused   # today's path only
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time

import numpy as np


def matmul_peak(tf, dtype, n: int = 4096, reps: int = 5) -> float:
    """FLOP/s of an ``n x n`` matmul in ``dtype`` (best of ``reps``)."""
    a = tf.random.uniform((n, n), dtype=tf.float32)
    a = tf.cast(a, dtype)
    mm = tf.function(lambda x: tf.matmul(x, x))
    mm(a).numpy()
    best = np.inf
    for _ in range(reps):
        t = time.perf_counter()
        mm(a).numpy()
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best


def forward_flops(tf, model, patch: int, channels: int) -> float:
    """Forward FLOPs of one ``patch`` x ``patch`` image (TensorFlow's profiler)."""
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    fn = tf.function(lambda x: model(x, training=False)).get_concrete_function(
        tf.TensorSpec([1, patch, patch, channels], tf.float32))
    opts = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    opts["output"] = "none"
    graph = convert_variables_to_constants_v2(fn).graph
    return float(tf.compat.v1.profiler.profile(graph=graph, options=opts).total_float_ops)


def optimizer(name: str):
    """The project's optimizer (``fused``) or the one it replaced (``keras``: Keras's Adam)."""
    from aixcell_automl._env import tensorflow
    from aixcell_automl.training.model import make_optimizer

    _, keras, _ = tensorflow()
    return make_optimizer(1e-3) if name == "fused" else keras.optimizers.Adam(learning_rate=1e-3)


def build(backbone: str, channels: int, classes: int, precision: str, opt: str = "fused",
          short: bool = False):
    """A model as ``train_trial`` builds it; ``short``: with the matmul weight gradients of
    :mod:`aixcell_automl.training.short_conv`, whatever the CPU."""
    from aixcell_automl.training.model import build_model, focal_loss
    from aixcell_automl.training.precision import built_in

    model = built_in(precision, lambda: build_model(backbone, channels, classes), short)
    return model, optimizer(opt), focal_loss()


def update_seconds(tf, model, opt, reps: int = 8) -> float:
    """Seconds of one optimizer update of every trainable variable (constant gradients)."""
    grads = [tf.ones_like(v) * 1e-3 for v in model.trainable_variables]
    apply = tf.function(lambda: opt.apply_gradients(
        zip(grads, model.trainable_variables, strict=True)))
    apply()
    t = time.perf_counter()
    for _ in range(reps):
        apply()
    return (time.perf_counter() - t) / reps


def dispatch_share(tf, model, opt, loss, x, y, chunk: int) -> tuple[float, float]:
    """Seconds per step with one call per step, and with ``chunk`` steps in one call."""
    from aixcell_automl.training.loop import make_train_step

    step = make_train_step(model, opt, loss)

    @tf.function
    def steps(x, y):
        total = tf.constant(0.0)
        for _ in tf.range(chunk):
            with tf.GradientTape() as tape:
                value = loss(y, model(x, training=True))
            grads = tape.gradient(value, model.trainable_variables)
            opt.apply_gradients(zip(grads, model.trainable_variables, strict=True))
            total += value
        return total

    step(x, y).numpy()
    steps(x, y).numpy()
    t = time.perf_counter()
    for _ in range(chunk):
        step(x, y).numpy()
    single = (time.perf_counter() - t) / chunk
    t = time.perf_counter()
    steps(x, y).numpy()
    fused = (time.perf_counter() - t) / chunk
    return single, fused


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="../shared/datasets/coelho_u2os")
    ap.add_argument("--backbones", default="resnet18,resnet50")
    ap.add_argument("--patches", default="64,128,256")
    ap.add_argument("--precisions", default="float32,bfloat16")
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--optimizers", default="keras,fused",
                    help="keras: Keras's Adam (the path before the fused update); fused: today's")
    ap.add_argument("--short-wgrad", type=int, default=1,
                    help="1: also run bfloat16 with the matmul weight gradients of short "
                         "convolutions (training/short_conv.py), the last row of a cell")
    ap.add_argument("--chunk", type=int, default=16, help="steps per call for the dispatch share")
    args = ap.parse_args()

    from aixcell_automl._env import tensorflow
    from aixcell_automl.core.dataset import load_dataset, split_dataset
    from aixcell_automl.training.data_pipeline import PatchStream
    from aixcell_automl.training.hardware import cpu_model, hardware
    from aixcell_automl.training.loop import make_train_step
    from aixcell_automl.training.machine import machine_factor
    from aixcell_automl.training.precision import POLICY, resolve
    from aixcell_automl.training.trial_data import make_trial_data

    tf, keras, _ = tensorflow()
    ds = load_dataset(args.dataset, check_pixels=False)
    data = make_trial_data(ds, split_dataset(ds, seed=0), seed=0)
    precisions = args.precisions.split(",")
    peaks = {p: matmul_peak(tf, tf.bfloat16 if p == "bfloat16" else
                            tf.float16 if p == "float16" else tf.float32) for p in precisions}
    factor = (machine_factor(measure_if_missing=False) or {}).get("machine_factor")
    print(f"# train_throughput  {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC  {hardware()}  "
          f"{cpu_model()}  tensorflow {tf.__version__}  machine factor {factor}")
    print(f"# command: {' '.join([sys.executable.split('/')[-1], *sys.argv])}")
    print(f"# precision auto here: {resolve('auto')[0]} ({resolve('auto')[1]})")
    print("# matmul peak (4096^2): " + ", ".join(f"{p} {v / 1e9:.0f} GFLOP/s"
                                                for p, v in peaks.items()))
    optimizers = args.optimizers.split(",")
    cells = [(o, p, False) for o in optimizers for p in precisions] + [
        (optimizers[-1], p, True) for p in precisions if p == "bfloat16" and args.short_wgrad]
    print(f"# dataset {ds.name}; {args.steps} timed steps after 2 warm-up steps, the project's "
          f"PatchStream feeding the project's step; 'vs first' is against the first row of the "
          f"cell ({optimizers[0]} Adam, {precisions[0]})")
    print("| backbone | patch | batch | Adam | short wgrad | precision | kpx/s | vs first | "
          "train GFLOP/s | of peak |")
    print("|---|---:|---:|---|---|---|---:|---:|---:|---:|")
    for backbone in args.backbones.split(","):
        for patch in (int(p) for p in args.patches.split(",")):
            batch = 16 if patch == 64 else 8
            index, _, images = data.patches(patch)
            base = None
            for opt_name, precision, short in cells:
                keras.utils.set_random_seed(0)
                model, opt, loss = build(backbone, data.train.channels, data.num_classes,
                                         precision, opt_name, short)
                fwd = forward_flops(tf, model, patch, data.train.channels) / patch**2
                step = make_train_step(model, opt, loss)
                it = PatchStream(images, index, batch, seed=0, augment={"flip": 0.5}).tensors(
                    data.num_classes)
                for _ in range(2):
                    step(*next(it)).numpy()
                t = time.perf_counter()
                for _ in range(args.steps):
                    step(*next(it)).numpy()
                pps = args.steps * batch * patch**2 / (time.perf_counter() - t)
                base = base or pps
                gflops = 3 * fwd * pps / 1e9
                print(f"| {backbone} | {patch} | {batch} | {opt_name} | "
                      f"{'matmul' if short else 'Keras'} | {POLICY[precision]} | "
                      f"{pps / 1e3:.0f} | {pps / base:.2f}x | {gflops:.0f} | "
                      f"{gflops * 1e9 / peaks[precision]:.0%} |", flush=True)
                keras.backend.clear_session()
    for backbone in args.backbones.split(","):
        times = {}
        for opt_name in optimizers:
            model, opt, _ = build(backbone, data.train.channels, data.num_classes, "float32",
                                  opt_name)
            times[opt_name] = update_seconds(tf, model, opt)
            keras.backend.clear_session()
        print(f"# optimizer update alone ({backbone}, float32 variables): " + ", ".join(
            f"{o} Adam {t * 1e3:.0f} ms" for o, t in times.items()) + " per step")
    keras.utils.set_random_seed(0)
    model, opt, loss = build("resnet18", data.train.channels, data.num_classes, "float32")
    index, _, images = data.patches(64)
    x, y = next(PatchStream(images, index, 16, seed=0, augment={}).tensors(data.num_classes))
    single, fused = dispatch_share(tf, model, opt, loss, x, y, args.chunk)
    print(f"# dispatch share (resnet18, patch 64, batch 16, float32): {single * 1e3:.0f} ms per "
          f"step one call each, {fused * 1e3:.0f} ms inside one call of {args.chunk} steps: "
          f"{1 - fused / single:.0%} of a step is per-call overhead")
    every = {"flip": 0.5, "brightness_blur": 0.5, "grid_distortion": 0.5}
    it = PatchStream(images, index, 16, seed=0, augment=every).tensors(data.num_classes)
    next(it)
    t = time.perf_counter()
    for _ in range(args.chunk):
        next(it)
    batch_s = (time.perf_counter() - t) / args.chunk
    print(f"# data pipeline share (the same step, PatchStream with flip, brightness_blur and "
          f"grid_distortion at 0.5): {batch_s * 1e3:.1f} ms per batch, "
          f"{batch_s / (single + batch_s):.1%} of a step")


if __name__ == "__main__":
    main()
