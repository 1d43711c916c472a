"""Time every meta-feature extractor family per dataset (no cache), and check how well a
20-image radiomics sample approximates the all-images radiomics similarity vector.

    .venv/bin/python benchmarks/meta_features.py --root ../shared/datasets \\
        coelho_u2os drosophila_vnc_em sperm_parsing \\
        --similarity coelho_u2os dsb2018_stage1test sperm_parsing

Timing columns: ``load`` = open + validate the folder (every pixel checked), ``hash`` = content
hash (the cache key), then one column per registered extractor, computed from scratch. The
similarity check fits the radiomics space on ``--table`` (the committed meta-feature table,
20-image vectors) and places each dataset's 20-image and all-images vectors in it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shlex
import sys
import time
from pathlib import Path


def _time_dataset(root: Path, name: str, sample_size: int, seed: int) -> dict:
    from aixcell_automl.core.dataset import load_dataset
    from aixcell_automl.metafeatures import radiomics
    from aixcell_automl.metafeatures.table import extract_dataset_features

    radiomics._MEMO.clear()  # no in-process reuse either
    t0 = time.perf_counter()
    ds = load_dataset(root / name)
    t1 = time.perf_counter()
    h = ds.content_hash()
    t2 = time.perf_counter()
    timings: dict[str, float] = {}
    extract_dataset_features(ds, {"sample_size": sample_size, "seed": seed}, cache_dir=None,
                             dataset_hash=h, timings=timings)
    img = ds.image(0)
    return {"dataset": name, "images": len(ds),
            "mpx": round(img.shape[0] * img.shape[1] / 1e6, 2), "load": t1 - t0, "hash": t2 - t1,
            **timings, "total": time.perf_counter() - t0}


def _similarity_check(root: Path, names: list[str], table: Path, sample_size: int, seed: int):
    import numpy as np
    import pandas as pd

    from aixcell_automl.core.dataset import load_dataset
    from aixcell_automl.metafeatures import radiomics

    space = radiomics.RadiomicsSpace.from_meta_features(pd.read_csv(table))
    out = {}
    for name in names:
        ds = load_dataset(root / name, check_pixels=False)
        t = time.perf_counter()
        full = radiomics.radiomics_image_table(ds, None, seed)
        t_full = time.perf_counter() - t
        sample = full.loc[[ds.stems[i] for i in radiomics.sample_indices(len(ds), sample_size,
                                                                          seed,
                                                                          radiomics.image_strata(ds))
                           if ds.stems[i] in full.index]]
        s_sample = space.transform(radiomics.dataset_vector(sample))[1]
        s_full = space.transform(radiomics.dataset_vector(full))[1]
        frame = pd.DataFrame({f"{sample_size} images": s_sample, f"all {len(ds)}": s_full})
        frame["abs diff"] = (frame.iloc[:, 0] - frame.iloc[:, 1]).abs()
        frame.index = [i.removeprefix("sim_") for i in frame.index]
        out[name] = (frame, float(np.max(frame["abs diff"])), t_full)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("datasets", nargs="+", help="dataset folder names under --root")
    ap.add_argument("--root", default="../shared/datasets")
    ap.add_argument("--sample-size", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--similarity", nargs="*", default=[],
                    help="datasets for the 20-image vs all-images similarity check")
    ap.add_argument("--table", default="data/04_feature/meta_features.csv")
    args = ap.parse_args()

    import pandas as pd

    root = Path(args.root)
    print(f"# {dt.datetime.now().isoformat(timespec='seconds')}  {platform.node()}  "
          f"{os.cpu_count()} CPUs  python {platform.python_version()}")
    print("$ " + " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv]))
    rows = [_time_dataset(root, n, args.sample_size, args.seed) for n in args.datasets]
    frame = pd.DataFrame(rows).set_index("dataset")
    frame["images"] = frame["images"].astype(str)
    print(f"\nseconds per dataset (radiomics sample {args.sample_size}, seed {args.seed}, "
          "no cache):")
    print(frame.to_markdown(floatfmt=".2f") if _has_tabulate() else frame.round(2).to_string())
    if args.similarity:
        print(f"\nradiomics similarity: {args.sample_size}-image sample vs all images "
              f"(space fitted on {args.table})")
        for name, (sim, worst, t_full) in _similarity_check(
                root, args.similarity, Path(args.table), args.sample_size, args.seed).items():
            print(f"\n{name}: max |difference| = {worst:.4f}  (all-images radiomics "
                  f"{t_full:.1f} s)")
            print(sim.round(4).to_string())


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main()
