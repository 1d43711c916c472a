"""Where the matmul weight gradient of ``training/short_conv.py`` pays: for each layer shape and
number of batch x height x width positions, milliseconds of TensorFlow's
``Conv2DBackpropFilter`` against ``short_conv.weight_gradient`` (``extract_patches(x)^T @ dy``),
in bfloat16 and float32.
``short_conv.MAX_POSITIONS`` holds the crossovers this measured on a 2-core AMX Xeon
(docs/performance.md, "Short weight gradients").

    .venv/bin/python benchmarks/wgrad_crossover.py
    .venv/bin/python benchmarks/wgrad_crossover.py --dtypes bfloat16 --reps 4
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time

# (channels in, channels out, kernel): ResNet-18 / ResNet-50 U-Net layers
SHAPES = [(64, 64, 3), (128, 128, 3), (256, 256, 3), (512, 512, 3), (1024, 256, 1),
          (256, 1024, 1), (2048, 512, 1)]
# (batch, side): 32 to 4096 positions
GRIDS = [(8, 2), (16, 2), (8, 4), (16, 4), (8, 8), (16, 8), (8, 16), (16, 16)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dtypes", default="bfloat16,float32")
    ap.add_argument("--reps", type=int, default=8)
    args = ap.parse_args()

    from aixcell_automl._env import tensorflow
    from aixcell_automl.training.hardware import cpu_model
    from aixcell_automl.training.short_conv import weight_gradient

    tf, _, _ = tensorflow()

    def ms(fn, *a) -> float:
        fn(*a), fn(*a)
        t = time.perf_counter()
        for _ in range(args.reps):
            out = fn(*a)
        _ = out.numpy()
        return (time.perf_counter() - t) / args.reps * 1e3

    print(f"# wgrad_crossover  {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC  {cpu_model()}  "
          f"tensorflow {tf.__version__}")
    print(f"# command: {' '.join(['python', *sys.argv])}")
    print("# ms per weight gradient, Conv2DBackpropFilter / patches + matmul, by positions")
    print("| dtype | in -> out, kernel | " + " | ".join(str(b * s * s) for b, s in GRIDS) + " |")
    print("|---|---|" + "---:|" * len(GRIDS))
    for name in args.dtypes.split(","):
        dtype = tf.as_dtype(name)
        for ci, co, k in SHAPES:
            bpf = tf.function(lambda x, dy, ci=ci, co=co, k=k: tf.raw_ops.Conv2DBackpropFilter(
                input=x, filter_sizes=[k, k, ci, co], out_backprop=dy, strides=[1, 1, 1, 1],
                padding="SAME"))

            matmul = tf.function(lambda x, dy, ci=ci, co=co, k=k: weight_gradient(
                x, dy, (k, k, ci, co), "SAME"))

            cells = []
            for b, s in GRIDS:
                x = tf.cast(tf.random.normal([b, s, s, ci]), dtype)
                dy = tf.cast(tf.random.normal([b, s, s, co]), dtype)
                cells.append(f"{ms(bpf, x, dy):.1f} / {ms(matmul, x, dy):.1f}")
            print(f"| {name} | {ci} -> {co}, {k}x{k} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
