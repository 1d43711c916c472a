"""Training speed of one real trial (``train_trial``: batch stream, augmentation, compiled
step), in pixels per second of training with building, tracing and evaluation taken out (as the
meta-base's ``pixels_per_second``, except that the first step's pixels, whose time is counted as
tracing, are left out here too). Each repeat is a fresh process, so code revisions can be compared
side by side by alternating ``--src`` folders in one run:

    .venv/bin/python benchmarks/trial_speed.py --src /path/to/old/src --src src --repeats 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile

CHILD = """
import json, sys
from aixcell_automl.core.dataset import load_dataset, split_dataset
from aixcell_automl.training.loop import Budget, Settings, train_trial
from aixcell_automl.training.trial_data import make_trial_data
path, backbone, patch, batch, steps, run = sys.argv[1:7]
patch, batch, steps = int(patch), int(batch), int(steps)
ds = load_dataset(path, check_pixels=False)
data = make_trial_data(ds, split_dataset(ds, seed=0), seed=0)
cfg = {"config_id": "speed", "backbone": backbone, "patch_size": patch, "batch_size": batch,
       "learning_rate": 0.001, "flip": 0.5, "brightness_blur": 0.0, "grid_distortion": 0.0}
pixels = steps * batch * patch * patch
s = train_trial(cfg, data, run, Budget(pixels=pixels),
                Settings(eval_at=(pixels,), val_pixels=2**18, early_stopping=False))
net = s["train_seconds"] - s["overhead_seconds"] - s["eval_seconds"]
print(json.dumps({"pixels": s["pixels_seen"] - batch * patch * patch, "seconds": net,
                  "overhead": s["overhead_seconds"], "val_score": s["best_score"]}))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="../shared/datasets/coelho_u2os")
    ap.add_argument("--backbone", default="resnet18")
    ap.add_argument("--patch", type=int, default=64)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--src", action="append", help="source folder(s) to compare (default src)")
    args = ap.parse_args()
    srcs = args.src or ["src"]
    results: dict[str, list[dict]] = {s: [] for s in srcs}
    for _ in range(args.repeats):
        for src in srcs:  # alternating, so a slow spell of the machine hits both
            with tempfile.TemporaryDirectory() as run:
                env = {**os.environ, "PYTHONPATH": os.path.abspath(src),
                       "AIXCELL_AUTOML_NO_ENTRYPOINTS": "1"}
                out = subprocess.run([sys.executable, "-c", CHILD, args.dataset, args.backbone,
                                      str(args.patch), str(args.batch), str(args.steps), run],
                                     env=env, capture_output=True, text=True, check=True)
                results[src].append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"# trial_speed  {dt.datetime.now():%Y-%m-%d %H:%M}  {platform.machine()} "
          f"{os.cpu_count()} CPUs")
    print(f"# command: {' '.join([sys.executable.split('/')[-1], *sys.argv])}")
    print(f"{args.dataset}, {args.backbone}, patch {args.patch}, batch {args.batch}, "
          f"{args.steps} steps (the first, which traces, not counted)")
    for src, runs in results.items():
        speeds = sorted(r["pixels"] / r["seconds"] / 1e3 for r in runs)
        print(f"{src}: {speeds[len(speeds) // 2]:.1f} kpx/s (median; runs "
              f"{[round(v, 1) for v in speeds]}), overhead "
              f"{[round(r['overhead'], 1) for r in runs]} s, val IoU "
              f"{[round(r['val_score'], 4) for r in runs]}")


if __name__ == "__main__":
    main()
