"""Train one configuration on a real dataset for a fixed wall-clock budget and report the
validation IoU per evaluation, the best, per-class IoU and the whole-image test IoU.

    .venv/bin/python benchmarks/train_budget.py ../shared/datasets/coelho_u2os --minutes 5
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import sys
import tempfile
import time


def _rounded(pairs) -> dict:
    return {k: round(float(v), 3) for k, v in pairs if v is not None}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset")
    ap.add_argument("--minutes", type=float, default=5)
    ap.add_argument("--backbone", default="resnet18")
    ap.add_argument("--patch", type=int, default=128)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=0.001)
    ap.add_argument("--eval-every-patches", type=int, default=512)
    ap.add_argument("--val-patches", type=int, default=300)
    ap.add_argument("--run-dir", default=None, help="keep/resume the run here (default: temp)")
    args = ap.parse_args()

    from aixcell_automl.core.dataset import load_dataset, split_dataset
    from aixcell_automl.core.search_space import config_id
    from aixcell_automl.training.hardware import hardware
    from aixcell_automl.training.loop import Budget, Settings, train_trial
    from aixcell_automl.training.model import build_model
    from aixcell_automl.training.predict import evaluate
    from aixcell_automl.training.trial_data import make_trial_data

    ds = load_dataset(args.dataset)
    split = split_dataset(ds, seed=0)
    data = make_trial_data(ds, split, seed=0)
    cfg = {"patch_size": args.patch, "batch_size": args.batch, "learning_rate": args.lr,
           "backbone": args.backbone, "flip": 0.0, "brightness_blur": 0.0, "grid_distortion": 0.0}
    cfg["config_id"] = config_id(cfg)
    run_dir = args.run_dir or tempfile.mkdtemp(prefix="budget_")
    px = args.patch * args.patch
    settings = Settings(eval_every_pixels=args.eval_every_patches * px,
                        val_pixels=args.val_patches * px, es_patience=10**6)
    t = time.perf_counter()
    state = train_trial(cfg, data, run_dir, Budget(seconds=args.minutes * 60), settings)
    wall = time.perf_counter() - t
    model = build_model(cfg["backbone"], data.train.channels, data.num_classes)
    model.load_weights(os.path.join(run_dir, "best.weights.h5"))
    info = {"channels": data.train.channels, "patch_size": args.patch,
            "num_classes": data.num_classes, "class_names": data.class_names}
    index = {s: i for i, s in enumerate(ds.stems)}
    test = evaluate(model, info, [ds.image(index[s]) for s in split["test"]],
                    [ds.mask(index[s]) for s in split["test"]])

    print(f"# train_budget  {dt.datetime.now():%Y-%m-%d %H:%M}  {hardware()}  "
          f"{platform.machine()} {os.cpu_count()} CPUs")
    print(f"# command: python {' '.join(sys.argv)}")
    print(f"dataset {ds.name} ({ds.num_classes} classes, channels {data.train.channels}), "
          f"config {json.dumps(cfg)}")
    print(f"wall {wall:.0f} s (overhead {state.get('overhead_seconds', 0):.0f} s), "
          f"{state['patches_seen']} patches, {state['steps']} steps, epoch {state['epoch']}")
    for h in state["history"]:
        pc = ", ".join(f"{v:.3f}" if v is not None else "-" for v in h["per_class_score"])
        print(f"  eval {h['eval']:>2}  t={h['train_seconds']:6.0f}s  patches={h['patches']:>6}  "
              f"val IoU={h['val_score']:.3f}  per class [{pc}]")
    best = state["history"][state["best_eval"] - 1]
    print(f"best validation IoU {state['best_score']:.3f} (eval {state['best_eval']}), per class "
          f"{_rounded(zip(data.class_names, best['per_class_score'], strict=True))}")
    print(f"test IoU (whole images, {len(split['test'])} images): {test['mean_iou']:.3f} "
          f"per class {_rounded(test['per_class_iou'].items())}")
    if not args.run_dir:
        shutil.rmtree(run_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
