"""IoU parity of mixed precision (speed issue #36): each dataset's plan trained to the same
training pixels in float32 and in ``--precision`` (default ``auto``: what this machine would
train), for each seed; prints test IoU per run and, per dataset, the difference of the means
against the seeds' spread.

    .venv/bin/python benchmarks/precision_parity.py                      # 3 datasets, 2 seeds, 2^25
    .venv/bin/python benchmarks/precision_parity.py --datasets coelho_u2os --pixels-log2 22

Where the precision resolves to float32 (``auto`` without AMX-BF16 or a GPU; ``bfloat16`` on a
CPU without bf16 instructions) there is nothing to compare and it says so. A 16-bit run that
diverged and fell back to float32 is marked in the table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import tempfile
import time

import numpy as np

# three kinds: fluorescence nuclei, DIC whole cells, H&E (RGB) nuclei
DEFAULT_DATASETS = "coelho_u2os,bbbc030_cho_dic,glioma_he"


def run_one(ds, split, plan, precision: str, seed: int, pixels: int) -> dict:
    """Train ``plan``'s configuration to ``pixels`` in ``precision``; its test IoU and record."""
    from aixcell_automl.training.loop import Budget, Settings, best_model, train_trial
    from aixcell_automl.training.predict import evaluate_on_test
    from aixcell_automl.training.trial_data import make_trial_data

    data = make_trial_data(ds, split, seed=0, plan=plan)
    with tempfile.TemporaryDirectory(prefix="parity_") as run_dir:
        t = time.perf_counter()
        state = train_trial(dict(plan["configuration"]), data, run_dir, Budget(pixels=pixels),
                            Settings(early_stopping=False, precision=precision), seed=seed)
        wall = time.perf_counter() - t
        if state["status"] == "failed":
            return {"test_iou": float("nan"), "wall": wall, "note": f"failed: {state['reason']}"}
        test = evaluate_on_test(best_model(run_dir, data), ds, split)
    return {"test_iou": float(test["mean_iou"]), "wall": wall,
            "note": state.get("precision_fallback") and "fell back to float32" or ""}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", default="../shared/datasets")
    ap.add_argument("--datasets", default=DEFAULT_DATASETS)
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--pixels-log2", type=int, default=25)
    ap.add_argument("--precision", default="auto", help="compared with float32")
    args = ap.parse_args()

    from aixcell_automl.core.dataset import load_dataset, split_dataset
    from aixcell_automl.search.plan import dataset_fingerprint, plan_dataset
    from aixcell_automl.training.hardware import hardware
    from aixcell_automl.training.precision import resolve

    other, why = resolve(args.precision, parameter="--precision")
    print(f"# precision_parity  {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC  {hardware()}  "
          f"{platform.machine()} {os.cpu_count()} CPUs")
    print(f"# command: python {' '.join(sys.argv)}")
    print(f"# {args.precision} -> {other} ({why})")
    if other == "float32":
        print("nothing to compare: this machine trains float32 either way")
        return
    seeds = [int(s) for s in args.seeds.split(",")]
    pixels = 2**args.pixels_log2
    print(f"\n| dataset | seed | float32 IoU | {other} IoU | float32 s | {other} s | note |")
    print("|---|---:|---:|---:|---:|---:|---|")
    verdicts = []
    for name in args.datasets.split(","):
        ds = load_dataset(os.path.join(args.root, name))
        split = split_dataset(ds, seed=0)
        plan = plan_dataset(dataset_fingerprint(ds, split["train"]))
        scores: dict[str, list[float]] = {"float32": [], other: []}
        for seed in seeds:
            runs = {p: run_one(ds, split, plan, p, seed, pixels) for p in ("float32", other)}
            for p, r in runs.items():
                scores[p].append(r["test_iou"])
            print(f"| {name} | {seed} | {runs['float32']['test_iou']:.3f} | "
                  f"{runs[other]['test_iou']:.3f} | {runs['float32']['wall']:.0f} | "
                  f"{runs[other]['wall']:.0f} | {runs[other]['note']} |", flush=True)
        diff = float(np.mean(scores[other]) - np.mean(scores["float32"]))
        spread = float(np.ptp(scores["float32"])) if len(seeds) > 1 else float("nan")
        verdicts.append(f"{name}: {other} - float32 = {diff:+.3f} (mean of {len(seeds)} seeds); "
                        f"float32 seeds' spread {spread:.3f}: "
                        + ("within" if abs(diff) <= spread else "OUTSIDE"))
    print(f"\nat 2^{args.pixels_log2} training pixels, the plan's configuration, test IoU "
          f"on whole test images:")
    print("\n".join(f"- {v}" for v in verdicts))


if __name__ == "__main__":
    main()
