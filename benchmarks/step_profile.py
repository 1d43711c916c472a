"""Where a training step's time goes: TensorFlow's profiler over a few steps of the project's
step (``make_train_step``, the model as ``train_throughput.py`` builds it, constant random
batch), summed per op type and, for the convolution weight gradients, per layer.

    .venv/bin/python benchmarks/step_profile.py --backbone resnet50 --patch 64 --batch 16 \\
        --precision bfloat16 [--short-wgrad 0]

Op times are summed over TensorFlow's threads, so they add up to about threads x the step.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import glob
import sys
import tempfile
import time

import numpy as np
from train_throughput import build


def op_times(logdir: str, steps: int) -> tuple[collections.Counter, collections.Counter]:
    """Milliseconds per step per op type, and per weight-gradient op, from a profile."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    with open(sorted(glob.glob(f"{logdir}/**/*.xplane.pb", recursive=True))[-1], "rb") as f:
        space.ParseFromString(f.read())
    by_type, by_filter_grad = collections.Counter(), collections.Counter()
    for plane in space.planes:
        for line in plane.lines:
            for ev in line.events:
                name = plane.event_metadata[ev.metadata_id].name
                if ":" not in name or "__inference" in name or name.endswith(
                        (":Process", ":Run")):  # the step's own wrappers, not ops
                    continue
                ms = ev.duration_ps / 1e9 / steps
                by_type[name.rsplit(":", 1)[1]] += ms
                if "Conv2DBackpropFilter:" in name:
                    by_filter_grad[name.split("/")[2]] += ms
    return by_type, by_filter_grad


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backbone", default="resnet50")
    ap.add_argument("--patch", type=int, default=64)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--precision", default="bfloat16")
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--top", type=int, default=12)
    ap.add_argument("--short-wgrad", type=int, default=1,
                    help="1: short bfloat16 convolutions take the matmul weight gradient "
                         "(training/short_conv.py, today's path on AMX); 0: Keras's")
    args = ap.parse_args()

    from aixcell_automl._env import tensorflow
    from aixcell_automl.training.hardware import cpu_model
    from aixcell_automl.training.loop import make_train_step

    tf, keras, _ = tensorflow()
    keras.utils.set_random_seed(0)
    model, opt, loss = build(args.backbone, 1, 2, args.precision, short=bool(args.short_wgrad))
    step = make_train_step(model, opt, loss)
    rng = np.random.default_rng(0)
    x = tf.constant(rng.random((args.batch, args.patch, args.patch, 1), np.float32))
    y = tf.one_hot(rng.integers(0, 2, (args.batch, args.patch, args.patch)), 2)
    for _ in range(3):
        step(x, y).numpy()
    t = time.perf_counter()
    for _ in range(args.steps):
        step(x, y).numpy()
    step_ms = (time.perf_counter() - t) / args.steps * 1e3
    with tempfile.TemporaryDirectory(prefix="step_profile_") as logdir:
        tf.profiler.experimental.start(logdir)
        for _ in range(args.steps):
            step(x, y).numpy()
        tf.profiler.experimental.stop()
        by_type, by_filter_grad = op_times(logdir, args.steps)
    print(f"# step_profile  {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC  {cpu_model()}  "
          f"tensorflow {tf.__version__}")
    print(f"# command: {' '.join(['python', *sys.argv])}")
    print(f"# {args.backbone}, patch {args.patch}, batch {args.batch}, {args.precision}: "
          f"{step_ms:.0f} ms per step unprofiled")
    print("| op type | ms per step |\n|---|---:|")
    for name, ms in by_type.most_common(args.top):
        print(f"| {name} | {ms:.1f} |")
    print("\n| weight gradient of | ms per step |\n|---|---:|")
    for name, ms in by_filter_grad.most_common(args.top // 2):
        print(f"| {name} | {ms:.1f} |")


if __name__ == "__main__":
    main()
