"""Sliding-window inference speed of the two predict engines, TensorFlow (the Keras model) and
ONNX Runtime (the same model converted by tf2onnx), side by side in one process.

For each backbone a random-weight U-Net is built and converted; then the project's whole-image
inference (:func:`aixcell_automl.training.predict.predict_probabilities`, windows of the patch size
with 25 % overlap) runs on one image, alternating TF and ONNX ``--repeats`` times. Prints seconds
per megapixel (median and all repeats) and the throughput ratio ONNX / TF, plus how far the two
engines' softmax and masks differ.

    .venv/bin/python benchmarks/inference.py --size 1024 --patch 128 --repeats 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backbones", nargs="+", default=["resnet18", "resnet50"])
    ap.add_argument("--size", type=int, default=1024, help="image side in pixels")
    ap.add_argument("--patch", type=int, default=128)
    ap.add_argument("--channels", type=int, default=1)
    ap.add_argument("--classes", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    from aixcell_automl._env import tensorflow
    from aixcell_automl.export.weights import to_onnx
    from aixcell_automl.training.engines import OnnxModel
    from aixcell_automl.training.hardware import hardware
    from aixcell_automl.training.model import build_model
    from aixcell_automl.training.predict import predict_probabilities

    tf, _, _ = tensorflow()
    import onnxruntime

    print(f"# {dt.datetime.now():%Y-%m-%d %H:%M}, {hardware()} (ONNX Runtime: CPU), "
          f"TensorFlow {tf.__version__}, ONNX Runtime {onnxruntime.__version__}; "
          f"{args.size}x{args.size} image, {args.channels} channel(s), {args.classes} classes, "
          f"patch {args.patch}, 25 % overlap, random weights")
    rng = np.random.default_rng(0)
    image = rng.uniform(size=(args.size, args.size, args.channels)).astype(np.float32)
    mpx = args.size * args.size / 1e6
    print("| backbone | TensorFlow s/Mpx (median; repeats) | ONNX Runtime s/Mpx | "
          "throughput ONNX / TF | max |Δp| | mask agreement |")
    print("|---|---:|---:|---:|---:|---:|")
    for backbone in args.backbones:
        tf.keras.utils.set_random_seed(0)
        model = build_model(backbone, args.channels, args.classes)
        t = time.perf_counter()
        onnx = OnnxModel(to_onnx(model, args.channels))
        convert_s = time.perf_counter() - t
        engines = {"tf": model, "onnx": onnx}
        for m in engines.values():  # warm-up: tracing, session optimisation
            predict_probabilities(m, image[:2 * args.patch, :2 * args.patch], args.patch)
        times: dict[str, list[float]] = {"tf": [], "onnx": []}
        probs = {}
        for _ in range(args.repeats):
            for name, m in engines.items():
                t = time.perf_counter()
                probs[name] = predict_probabilities(m, image, args.patch)
                times[name].append((time.perf_counter() - t) / mpx)
        med = {k: float(np.median(v)) for k, v in times.items()}
        diff = float(np.abs(probs["tf"] - probs["onnx"]).max())
        agree = float((probs["tf"].argmax(-1) == probs["onnx"].argmax(-1)).mean())
        fmt = {k: f"{med[k]:.2f} ({', '.join(f'{x:.2f}' for x in v)})" for k, v in times.items()}
        print(f"| {backbone} | {fmt['tf']} | {fmt['onnx']} | **{med['tf'] / med['onnx']:.2f}×** "
              f"| {diff:.1e} | {agree:.6f} |", flush=True)
        print(f"#   {backbone}: tf2onnx conversion {convert_s:.1f} s")


if __name__ == "__main__":
    main()
