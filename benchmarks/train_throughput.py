"""Training throughput of the project's input pipeline + step vs a bare ``model.fit`` on the same
in-memory arrays (same model, batch, patch), measured alternately in one process; and inference
seconds per megapixel (sliding window) for ResNet-18 and ResNet-50.

    .venv/bin/python benchmarks/train_throughput.py --dataset ../shared/datasets/coelho_u2os
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="../shared/datasets/coelho_u2os")
    ap.add_argument("--backbone", default="resnet18")
    ap.add_argument("--patch", type=int, default=128)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    from aixcell_automl._env import tensorflow
    from aixcell_automl.core.dataset import load_dataset, split_dataset
    from aixcell_automl.training.data_pipeline import PatchStream, cut
    from aixcell_automl.training.loop import make_train_step
    from aixcell_automl.training.model import build_model, focal_loss, make_optimizer
    from aixcell_automl.training.predict import predict_probabilities
    from aixcell_automl.training.trial_data import make_trial_data

    tf, keras, _ = tensorflow()
    ds = load_dataset(args.dataset, check_pixels=False)
    data = make_trial_data(ds, split_dataset(ds, seed=0), seed=0)
    index, _, images = data.patches(args.patch)
    n = args.steps * args.batch
    stream = PatchStream(images, index, args.batch, seed=0, augment={"flip": 0.5})
    x_mem, y_mem = cut(images, index.rows[:n], args.patch)
    y_mem = np.eye(data.num_classes, dtype=np.float32)[y_mem]

    model = build_model(args.backbone, data.train.channels, data.num_classes)
    opt, loss = make_optimizer(1e-3), focal_loss()
    step = make_train_step(model, opt, loss)
    model.compile(optimizer=opt, loss=loss)
    it = stream.tensors(data.num_classes)
    step(*next(it))  # trace both paths once
    model.fit(x_mem[:args.batch], y_mem[:args.batch], batch_size=args.batch, verbose=0)

    ours, bare = [], []
    for _ in range(args.repeats):
        t = time.perf_counter()
        for _ in range(args.steps):
            step(*next(it)).numpy()
        ours.append(n / (time.perf_counter() - t))
        t = time.perf_counter()
        model.fit(x_mem, y_mem, batch_size=args.batch, epochs=1, verbose=0, shuffle=False)
        bare.append(n / (time.perf_counter() - t))
    ratio = np.median(ours) / np.median(bare)

    rng = np.random.default_rng(0)
    img = rng.uniform(size=(1024, 1024, data.train.channels)).astype(np.float32)
    infer = {}
    for bb in ("resnet18", "resnet50"):
        m = build_model(bb, data.train.channels, data.num_classes)
        predict_probabilities(m, img[:256, :256], args.patch)  # warm-up
        t = time.perf_counter()
        predict_probabilities(m, img, args.patch)
        infer[bb] = (time.perf_counter() - t) / (img.shape[0] * img.shape[1] / 1e6)

    print(f"# train_throughput  {dt.date.today()}  {platform.machine()} {os.cpu_count()} CPUs  "
          f"tensorflow {tf.__version__}  gpu={bool(tf.config.list_physical_devices('GPU'))}")
    print(f"# command: {' '.join([sys.executable.split('/')[-1], *sys.argv])}")
    print(f"dataset {ds.name}, {args.backbone}, patch {args.patch}, batch {args.batch}, "
          f"{args.steps} steps x {args.repeats} alternating repeats")
    print(f"project pipeline (batches + augmentation + step): {np.median(ours):7.1f} patches/s "
          f"{[round(v, 1) for v in ours]}")
    print(f"bare model.fit on in-memory arrays:               {np.median(bare):7.1f} patches/s "
          f"{[round(v, 1) for v in bare]}")
    print(f"ratio project / bare: {ratio:.3f}")
    for bb, s in infer.items():
        print(f"inference {bb} (1024x1024, windows of the patch size, 25 % overlap): "
              f"{s:.2f} s/Mpx")


if __name__ == "__main__":
    main()
