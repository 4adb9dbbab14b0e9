"""Forward / predict latency of a CenterNet on this machine (CPU by default).

Prints one JSON line: median latencies (ms) of the traced forward pass, of the traced
forward + decode (what ``predict_step`` runs), of the decode alone, the decode share, and
``model.predict`` per call for comparison.

    python bench/forward.py                      # ResNet50 @512, batch 1
    python bench/forward.py --backbone resnet18 --size 384 --runs 10
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf

from centernet_keras.models import build_centernet


def _median_ms(fn, arg, runs: int, warmup: int) -> float:
    for _ in range(warmup):
        keras.tree.map_structure(np.asarray, fn(arg))
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        keras.tree.map_structure(np.asarray, fn(arg))  # include the device→host copy
        times.append(time.perf_counter() - start)
    return 1000.0 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="resnet50")
    parser.add_argument("--size", type=int, default=512, help="square input size (px)")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--num-classes", type=int, default=20)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--nms-iou", type=float, default=None)
    args = parser.parse_args()

    model = build_centernet(
        args.num_classes, args.backbone, (args.size, args.size, 3), nms_iou=args.nms_iou
    )
    images = np.random.default_rng(0).uniform(0, 255, (args.batch, args.size, args.size, 3))
    images = tf.constant(images.astype("float32"))

    forward = tf.function(lambda x: model(x, training=False))
    predict_step = tf.function(lambda x: model.decode(model(x, training=False)))
    raw = forward(images)
    decode = tf.function(model.decode)

    forward_ms = _median_ms(forward, images, args.runs, args.warmup)
    predict_step_ms = _median_ms(predict_step, images, args.runs, args.warmup)
    decode_ms = _median_ms(decode, raw, args.runs, args.warmup)
    model.predict(images, verbose=0)
    predict_ms = _median_ms(
        lambda x: model.predict(x, verbose=0), images, max(5, args.runs // 4), 1
    )
    result = {
        "bench": "forward",
        "backbone": args.backbone,
        "input": [args.batch, args.size, args.size, 3],
        "params": model.count_params(),
        "forward_ms": round(forward_ms, 1),
        "predict_step_ms": round(predict_step_ms, 1),
        "decode_ms": round(decode_ms, 2),
        "decode_share": round(decode_ms / predict_step_ms, 4),
        "model_predict_ms": round(predict_ms, 1),
        "nms_iou": args.nms_iou,
        "runs": args.runs,
        "device": "cpu" if not tf.config.list_physical_devices("GPU") else "gpu",
        "cpu_count": os.cpu_count(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "machine": platform.machine(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
