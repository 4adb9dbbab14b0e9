"""Forward / predict latency of a CenterNet on this machine (CPU by default).

Prints one JSON line per backbone: median latencies (ms) of the traced forward pass, of the
traced forward + decode (what ``predict_step`` runs), of the decode alone, the decode share, and
``model.predict`` per call for comparison. With several backbones, all models are timed
round-robin in the same loop, so machine drift hits every backbone alike.

    python bench/forward.py                      # ResNet50 @512, batch 1
    python bench/forward.py --backbone resnet18 --size 384 --runs 10
    python bench/forward.py --backbones resnet50,dla34,dla34_plain
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


def _interleaved_medians(fns: dict, runs: int, warmup: int) -> dict:
    """Median ms of each ``fn(arg)``, timed round-robin so drift hits every variant alike."""
    for fn, arg in fns.values():
        for _ in range(warmup):
            keras.tree.map_structure(np.asarray, fn(arg))
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(runs):
        for name, (fn, arg) in fns.items():
            start = time.perf_counter()
            keras.tree.map_structure(np.asarray, fn(arg))  # include the device→host copy
            times[name].append(time.perf_counter() - start)
    return {name: 1000.0 * statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="resnet50", help="one backbone")
    parser.add_argument(
        "--backbones", default=None, help="comma-separated backbones (overrides --backbone)"
    )
    parser.add_argument("--size", type=int, default=512, help="square input size (px)")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--num-classes", type=int, default=20)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--nms-iou", type=float, default=None)
    args = parser.parse_args()

    names = args.backbones.split(",") if args.backbones else [args.backbone]
    images = np.random.default_rng(0).uniform(0, 255, (args.batch, args.size, args.size, 3))
    images = tf.constant(images.astype("float32"))

    models, fns = {}, {}
    for name in names:
        model = build_centernet(
            args.num_classes, name, (args.size, args.size, 3), nms_iou=args.nms_iou
        )
        forward = tf.function(lambda x, m=model: m(x, training=False))
        predict_step = tf.function(lambda x, m=model: m.decode(m(x, training=False)))
        raw = forward(images)
        model.predict(images, verbose=0)  # build the predict function once
        models[name] = model
        fns[(name, "forward")] = (forward, images)
        fns[(name, "predict_step")] = (predict_step, images)
        fns[(name, "decode")] = (tf.function(model.decode), raw)
        fns[(name, "model_predict")] = (lambda x, m=model: m.predict(x, verbose=0), images)
    ms = _interleaved_medians(fns, args.runs, args.warmup)

    for name, model in models.items():
        result = {
            "bench": "forward",
            "backbone": name,
            "input": [args.batch, args.size, args.size, 3],
            "params": model.count_params(),
            "forward_ms": round(ms[(name, "forward")], 1),
            "predict_step_ms": round(ms[(name, "predict_step")], 1),
            "decode_ms": round(ms[(name, "decode")], 2),
            "decode_share": round(ms[(name, "decode")] / ms[(name, "predict_step")], 4),
            "model_predict_ms": round(ms[(name, "model_predict")], 1),
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
