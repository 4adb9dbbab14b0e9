"""Latency of the full detect path vs the network alone, and Keras vs ONNX Runtime (CPU).

Prints one JSON line with median latencies (ms) of

- ``detect``: ``Predictor(path)``: JPEG on disk → decode, letterbox, traced forward + decoder
  (+ class-wise NMS for ResNet), boxes mapped back to the image;
- ``forward``: the traced ``tf.function`` of the model alone on a ready input;
- ``onnx_forward``: the same weights exported to ONNX (raw maps, no decoder) in onnxruntime;

and the ratios ``detect_overhead = detect / forward − 1`` (target ≤ 0.10) and
``onnx_vs_keras = onnx_forward / forward``, and the process's peak memory ``peak_rss_mb``
(Linux: ``ru_maxrss`` is in KiB). The variants are timed round-robin, so machine
noise hits them alike.

    python bench/predict.py                          # ResNet50 @512, batch 1
    python bench/predict.py --backbone resnet18 --size 384 --runs 10
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf
from PIL import Image

from centernet_keras.export import export_model
from centernet_keras.inference import Predictor
from centernet_keras.models import build_centernet
from centernet_keras.timing import interleaved_medians


def _onnx_session(path: Path):
    """``fn(uint8 batch) → {name: array}`` on an onnxruntime session whose idle threads do not
    spin (by default they busy-wait after each run, stealing the CPU from the next variant).
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(os.fspath(path), options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return lambda images: dict(zip(names, session.run(None, {"images": images}), strict=True))


def _test_jpeg(path: Path, height: int = 480, width: int = 640) -> None:
    """A smooth synthetic photo-like JPEG (noise compresses unrealistically badly)."""
    rng = np.random.default_rng(0)
    small = rng.uniform(0, 255, (height // 16, width // 16, 3)).astype(np.uint8)
    Image.fromarray(small).resize((width, height), Image.BICUBIC).save(path, quality=90)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="resnet50")
    parser.add_argument("--size", type=int, default=512, help="square input size (px)")
    parser.add_argument("--num-classes", type=int, default=20)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--no-onnx", action="store_true", help="skip the ONNX Runtime variant")
    args = parser.parse_args()

    model = build_centernet(args.num_classes, args.backbone, (args.size, args.size, 3))
    predictor = Predictor(model)  # drawing defaults: score threshold 0.3, the model's NMS
    with tempfile.TemporaryDirectory() as tmp:
        jpeg = Path(tmp) / "image.jpg"
        _test_jpeg(jpeg)
        batch, _ = predictor.preprocess(jpeg)
        images = tf.constant(batch.astype(np.float32))
        forward = tf.function(lambda x: model(x, training=False))

        variants = {
            "detect": lambda: predictor(jpeg),
            "forward": lambda: keras.tree.map_structure(np.asarray, forward(images)),
        }
        if not args.no_onnx:
            rss_before = _peak_rss_mb()
            start = time.perf_counter()
            onnx_path = export_model(model, Path(tmp) / "model.onnx", "onnx", decode=False)
            export_s = time.perf_counter() - start
            weights_mb = sum(int(np.asarray(v).nbytes) for v in model.weights) / 2**20
            export_growth = max(_peak_rss_mb() - rss_before, 0) / weights_mb
            onnx = _onnx_session(onnx_path)
            variants["onnx_forward"] = lambda: onnx(batch)
            keras_maps = forward(images)
            diff = max(
                float(np.max(np.abs(onnx(batch)[k] - np.asarray(keras_maps[k]))))
                for k in keras_maps
            )
        ms = interleaved_medians(variants, args.runs, args.warmup)

    result = {
        "bench": "predict",
        "backbone": args.backbone,
        "input": [1, args.size, args.size, 3],
        "image": [480, 640],
        "detect_ms": round(ms["detect"], 1),
        "forward_ms": round(ms["forward"], 1),
        "detect_overhead": round(ms["detect"] / ms["forward"] - 1.0, 4),
        "iou_threshold": predictor.iou_threshold,
    }
    if not args.no_onnx:
        result |= {
            "onnx_forward_ms": round(ms["onnx_forward"], 1),
            "onnx_vs_keras": round(ms["onnx_forward"] / ms["forward"], 4),
            "onnx_max_abs_diff": diff,
            "onnx_export_s": round(export_s, 1),
            # peak memory the export added, in multiples of the weights (53x before the fix)
            "onnx_export_peak_growth_x_weights": round(export_growth, 1),
        }
    result |= {
        "runs": args.runs,
        "peak_rss_mb": round(_peak_rss_mb()),
        "device": "cpu" if not tf.config.list_physical_devices("GPU") else "gpu",
        "cpu_count": os.cpu_count(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "machine": platform.machine(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
