"""Forward / predict latency of a CenterNet box or pose model on this machine (CPU by default).

Prints one JSON line per backbone: median latencies (ms) of the traced forward pass, of the
traced forward + decode (what ``predict_step`` runs), of the decode alone, the decode share, and
``model.predict`` per call for comparison. With several backbones, all models are timed
round-robin in the same loop, so machine drift hits every backbone alike. ``--detector pose``
times ``build_centernet_pose`` (COCO-17 joints, ``PoseDecoder``) instead of the box model.

    python bench/forward.py                      # ResNet50 @512, batch 1
    python bench/forward.py --backbone resnet18 --size 384 --runs 10
    python bench/forward.py --backbones resnet50,dla34,dla34_plain
    python bench/forward.py --backbones dla34_plain --detector pose --runs 10
"""

from __future__ import annotations

import argparse
import json
import os
import platform

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf

from centernet_keras.models import build_centernet
from centernet_keras.models.pose import build_centernet_pose
from centernet_keras.timing import interleaved_medians, to_host


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="resnet50", help="one backbone")
    parser.add_argument(
        "--backbones", default=None, help="comma-separated backbones (overrides --backbone)"
    )
    parser.add_argument("--size", type=int, default=512, help="square input size (px)")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument(
        "--detector",
        choices=("centernet", "pose"),
        default="centernet",
        help="centernet: boxes (--num-classes); pose: multi-person pose, COCO-17 joints",
    )
    parser.add_argument("--num-classes", type=int, default=20, help="centernet only")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument(
        "--iou-threshold",
        "--nms-iou",
        dest="iou_threshold",
        type=float,
        default=None,
        help="decoder NMS IoU (default none, for every backbone; centernet only: the pose "
        "decoder has no NMS)",
    )
    args = parser.parse_args()
    if args.detector == "pose" and args.iou_threshold is not None:
        parser.error("--iou-threshold: the pose decoder has no NMS")

    names = args.backbones.split(",") if args.backbones else [args.backbone]
    images = np.random.default_rng(0).uniform(0, 255, (args.batch, args.size, args.size, 3))
    images = tf.constant(images.astype("float32"))

    models, fns = {}, {}
    for name in names:
        shape = (args.size, args.size, 3)
        if args.detector == "pose":
            model = build_centernet_pose(17, name, shape)
        else:
            model = build_centernet(args.num_classes, name, shape, iou_threshold=args.iou_threshold)
        forward = tf.function(lambda x, m=model: m(x, training=False))
        predict_step = tf.function(lambda x, m=model: m.detect(x))
        raw = forward(images)
        model.predict(images, verbose=0)  # build the predict function once
        models[name] = model
        decode = tf.function(lambda r, m=model: m.decoder(m.activate(r)))
        fns[(name, "forward")] = lambda f=forward: to_host(f(images))  # incl. the host copy
        fns[(name, "predict_step")] = lambda f=predict_step: to_host(f(images))
        fns[(name, "decode")] = lambda f=decode, r=raw: to_host(f(r))
        fns[(name, "model_predict")] = lambda m=model: to_host(m.predict(images, verbose=0))
    ms = interleaved_medians(fns, args.runs, args.warmup)

    for name, model in models.items():
        result = {
            "bench": "forward",
            "detector": args.detector,
            "backbone": name,
            "input": [args.batch, args.size, args.size, 3],
            "params": model.count_params(),
            "forward_ms": round(ms[(name, "forward")], 1),
            "predict_step_ms": round(ms[(name, "predict_step")], 1),
            "decode_ms": round(ms[(name, "decode")], 2),
            "decode_share": round(ms[(name, "decode")] / ms[(name, "predict_step")], 4),
            "model_predict_ms": round(ms[(name, "model_predict")], 1),
            "iou_threshold": args.iou_threshold,
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
