"""Are images smaller than every patch size learnable? (issue 18, docs/dataset_format.md)

Writes 60 synthetic 40 x 50 px images (demo cells rendered at 64 px and cropped; 3 classes) and
trains a ResNet-18 U-Net (batch 8, lr 1e-3, flips) for a fixed number of steps at each given
patch size; images are mirror-padded up to the patch. Prints the validation IoU every 10 steps
and the test IoU on whole images, with the best constant predictor's IoU for comparison.

    python benchmarks/small_images.py [--steps 40] [--patches 64,128] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import yaml

from aixcell_automl.core.dataset import load_dataset, split_dataset
from aixcell_automl.core.demo_data import CLASS_NAMES, synth_image
from aixcell_automl.pipelines.train.nodes import trivial_iou
from aixcell_automl.training.loop import Budget, Settings, best_model, train_trial
from aixcell_automl.training.predict import evaluate
from aixcell_automl.training.trial_data import make_trial_data


def write_small_dataset(root: Path, n: int = 60) -> Path:
    if (root / "dataset.yaml").exists():
        return root
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        img, mask = synth_image(64, rng, n_cells=3)
        iio.imwrite(root / "images" / f"s{i:03d}.png", img[12:52, 7:57])
        iio.imwrite(root / "masks" / f"s{i:03d}.png", mask[12:52, 7:57])
    (root / "dataset.yaml").write_text(yaml.safe_dump({"class_names": CLASS_NAMES}))
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--patches", default="64,128")
    parser.add_argument("--work", default=None)
    args = parser.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="small_images_"))
    ds = load_dataset(write_small_dataset(work / "small40x50"))
    split = split_dataset(ds, seed=0)
    data = make_trial_data(ds, split, 0)
    index = {s: i for i, s in enumerate(ds.stems)}
    test_masks = [ds.mask(index[s]) for s in split["test"]]
    for patch in (int(p) for p in args.patches.split(",")):
        cfg = {"patch_size": patch, "batch_size": 8, "learning_rate": 0.001,
               "backbone": "resnet18", "flip": 0.5, "brightness_blur": 0.0,
               "grid_distortion": 0.0, "config_id": f"p{patch}"}
        run = work / f"p{patch}_s{args.steps}"
        state = train_trial(cfg, data, run, Budget(pixels=args.steps * 8 * patch * patch),
                            Settings(eval_every_pixels=10 * 8 * patch * patch,
                                     val_pixels=2**21, early_stopping=False))
        model, info = best_model(run, data)
        test = evaluate(model, info, [ds.image(index[s]) for s in split["test"]], test_masks)
        print(json.dumps({
            "images": len(ds), "size": "40x50", "split": [len(split[p]) for p in split],
            "patch": patch, "steps": state["steps"],
            "val_iou_every_10_steps": [round(h["val_score"], 3) for h in state["history"]],
            "test_iou": round(test["mean_iou"], 3),
            "constant_predictor_test_iou": round(trivial_iou(test_masks, 3)[0], 3)}))


if __name__ == "__main__":
    main()
