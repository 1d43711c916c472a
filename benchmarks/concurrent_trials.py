"""Two trials at once against one alone: does a machine's total training throughput grow when
trials share its cores? The meta-base collector runs one trial at a time; this measures what
running two at once (``executor: ray`` with ``max_cpus`` 2) would give. The same real trial as
``benchmarks/trial_speed.py`` (its ``CHILD``), in fresh processes:

* ``alone``: one process, TensorFlow's default threads;
* ``two``: two processes started together, default threads each;
* ``two x 1 thread``: two processes, one intra-op, inter-op and OpenMP thread each.

Total throughput is the sum of the processes' pixels per second of pure training (they run
side by side from start to end). Stop other jobs first (the meta-base collector: SIGSTOP):

    .venv/bin/python benchmarks/concurrent_trials.py --backbone resnet18 --patch 64 --batch 4
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

sys.path.insert(0, os.path.dirname(__file__))
from trial_speed import CHILD  # noqa: E402

from aixcell_automl.training.executors import THREAD_VARIABLES  # noqa: E402

ONE_THREAD = dict.fromkeys(THREAD_VARIABLES, "1")  # as the collector's workers get them


def run_together(args, n: int, extra_env: dict) -> list[dict]:
    """``n`` trial processes started at once; their results."""
    env = {**os.environ, "PYTHONPATH": os.path.abspath("src"),
           "AIXCELL_AUTOML_NO_ENTRYPOINTS": "1", **extra_env}
    with tempfile.TemporaryDirectory() as tmp:
        procs = [subprocess.Popen([sys.executable, "-c", CHILD, args.dataset, args.backbone,
                                   str(args.patch), str(args.batch), str(args.steps),
                                   os.path.join(tmp, str(i))], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True) for i in range(n)]
        outs = [p.communicate()[0] for p in procs]
    return [json.loads(o.strip().splitlines()[-1]) for o in outs]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="../shared/datasets/coelho_u2os")
    ap.add_argument("--backbone", default="resnet18")
    ap.add_argument("--patch", type=int, default=64)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--steps", type=int, default=60)
    args = ap.parse_args()
    modes = {"alone": (1, {}), "two": (2, {}), "two x 1 thread": (2, ONE_THREAD)}
    print(f"# concurrent_trials  {dt.datetime.now():%Y-%m-%d %H:%M}  "
          f"{platform.processor() or platform.machine()} {os.cpu_count()} CPUs")
    print(f"# command: {' '.join([sys.executable.split('/')[-1], *sys.argv])}")
    print(f"{args.dataset}, {args.backbone}, patch {args.patch}, batch {args.batch}, "
          f"{args.steps} steps (the first, which traces, not counted)")
    base = None
    for name, (n, env) in modes.items():
        runs = run_together(args, n, env)
        each = [r["pixels"] / r["seconds"] / 1e3 for r in runs]
        total = sum(each)
        base = base or total
        print(f"{name}: {total:.1f} kpx/s in all ({total / base:.2f}x alone; each "
              f"{[round(v, 1) for v in each]}), val IoU {[round(r['val_score'], 4) for r in runs]}")


if __name__ == "__main__":
    main()
