"""Does batch-norm momentum explain the jumps of validation IoU between evaluations?

Trains the same configuration twice per momentum value (same seed, data and evaluation sample)
and prints the validation IoU series and the mean absolute change between consecutive
evaluations.

    .venv/bin/python benchmarks/bn_momentum.py ../shared/datasets/coelho_u2os --minutes 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset")
    ap.add_argument("--minutes", type=float, default=3)
    ap.add_argument("--momenta", default="0.99,0.9")
    args = ap.parse_args()

    import aixcell_automl.training.model as model_module
    from aixcell_automl.core.dataset import load_dataset, split_dataset
    from aixcell_automl.training.hardware import hardware
    from aixcell_automl.training.loop import Budget, Settings, release_models, train_trial
    from aixcell_automl.training.trial_data import make_trial_data

    ds = load_dataset(args.dataset, check_pixels=False)
    data = make_trial_data(ds, split_dataset(ds, seed=0), seed=0)
    cfg = {"config_id": "bn", "patch_size": 128, "batch_size": 8, "learning_rate": 0.001,
           "backbone": "resnet18", "flip": 0.0, "brightness_blur": 0.0, "grid_distortion": 0.0}
    settings = Settings(eval_every_pixels=256 * 128 * 128, val_pixels=300 * 128 * 128,
                        es_patience=10**6)
    print(f"# bn_momentum  {dt.datetime.now():%Y-%m-%d %H:%M}  {hardware()}")
    print(f"# command: python {' '.join(sys.argv)}")
    for m in [float(v) for v in args.momenta.split(",")]:
        model_module.BN_MOMENTUM = m
        state = train_trial(cfg, data, tempfile.mkdtemp(), Budget(seconds=args.minutes * 60),
                            settings)
        ious = np.array([h["val_score"] for h in state["history"]])
        jumps = np.abs(np.diff(ious[1:])) if len(ious) > 2 else np.array([np.nan])
        print(f"momentum {m}: {len(ious)} evaluations, IoU {np.round(ious, 3).tolist()}, "
              f"mean |change| after the first {jumps.mean():.3f}, min after the first "
              f"{ious[1:].min() if len(ious) > 1 else float('nan'):.3f}, best {ious.max():.3f}")
        release_models()


if __name__ == "__main__":
    main()
