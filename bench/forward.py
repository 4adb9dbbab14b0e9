"""Forward / predict latency of a CenterNet box or pose model on this machine (CPU by default).

Prints one JSON line per backbone: median latencies (ms) of the traced forward pass, of the
traced forward + decode (what ``predict_step`` runs), of the decode alone, the decode share, and
``model.predict`` per call for comparison. With several backbones, all models are timed
round-robin in the same loop, so machine drift hits every model alike (``--models`` mixes
detectors: any of the registry's, ``models.registry``). ``--detector pose`` times the pose
model (its default COCO-17 joints, ``PoseDecoder``) instead of the box model.

    python bench/forward.py                      # ResNet50 @512, batch 1
    python bench/forward.py --backbone resnet18 --size 384 --runs 10
    python bench/forward.py --backbones resnet50,dla34,dla34_plain
    python bench/forward.py --backbones dla34_plain --detector pose --runs 10
    python bench/forward.py --models centernet:resnet50,fcos:regnetx_400mf   # one interleaved run
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

from centernet_keras.models.registry import detector_class, detector_names, untrained_detector
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
        choices=detector_names(),
        default="centernet",
        help="centernet: boxes (--num-classes); pose: multi-person pose, COCO-17 joints; "
        "fcos: FCOS boxes (--num-classes)",
    )
    parser.add_argument(
        "--models",
        help="comma-separated DETECTOR:BACKBONE pairs timed in one interleaved run, e.g. "
        "centernet:resnet50,fcos:regnetx_400mf (instead of --detector and --backbone(s))",
    )
    parser.add_argument("--num-classes", type=int, default=20, help="centernet and fcos")
    parser.add_argument(
        "--pre-nms-top-k",
        type=int,
        default=None,
        help="fcos: candidates per level before the NMS (default: the model's, 300); the "
        "detectors whose decoder has no such setting ignore it",
    )
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument(
        "--iou-threshold",
        "--nms-iou",
        dest="iou_threshold",
        type=float,
        default=None,
        help="decoder NMS IoU (default: the decoder class's own: none for CenterNet and pose, "
        "0.6 for FCOS)",
    )
    args = parser.parse_args()
    if args.models:
        pairs = [tuple(item.split(":", 1)) for item in args.models.split(",")]
        if any(len(p) != 2 or p[0] not in detector_names() for p in pairs):
            parser.error(f"--models wants DETECTOR:BACKBONE pairs, got {args.models!r}")
    else:
        names = args.backbones.split(",") if args.backbones else [args.backbone]
        pairs = [(args.detector, name) for name in names]
    decoders = {d: detector_class(d).decoder_class() for d, _ in pairs}  # their defaults
    images = np.random.default_rng(0).uniform(0, 255, (args.batch, args.size, args.size, 3))
    images = tf.constant(images.astype("float32"))
    shape, size = (args.size, args.size, 3), (args.size, args.size)

    models, fns = {}, {}
    for key in pairs:
        detector, name = key
        iou = decoders[detector].iou_threshold if args.iou_threshold is None else args.iou_threshold
        settings = {"iou_threshold": iou}
        if args.pre_nms_top_k is not None and "pre_nms_top_k" in decoders[detector].get_config():
            settings["pre_nms_top_k"] = args.pre_nms_top_k
        model = untrained_detector(detector, args.num_classes, backbone=name, input_shape=shape,
                                   **settings)  # fmt: skip
        forward = tf.function(lambda x, m=model: m(x, training=False))
        predict_step = tf.function(lambda x, m=model: m.detect(x))
        raw = forward(images)
        model.predict(images, verbose=0)  # build the predict function once
        models[key] = model
        decode = tf.function(lambda r, m=model: m.decode(m.activate(r), size))
        fns[(key, "forward")] = lambda f=forward: to_host(f(images))  # incl. the host copy
        fns[(key, "predict_step")] = lambda f=predict_step: to_host(f(images))
        fns[(key, "decode")] = lambda f=decode, r=raw: to_host(f(r))
        fns[(key, "model_predict")] = lambda m=model: to_host(m.predict(images, verbose=0))
    ms = interleaved_medians(fns, args.runs, args.warmup)

    for key, model in models.items():
        result = {
            "bench": "forward",
            "detector": key[0],
            "backbone": key[1],
            "input": [args.batch, args.size, args.size, 3],
            "params": model.count_params(),
            "forward_ms": round(ms[(key, "forward")], 1),
            "predict_step_ms": round(ms[(key, "predict_step")], 1),
            "decode_ms": round(ms[(key, "decode")], 2),
            "decode_share": round(ms[(key, "decode")] / ms[(key, "predict_step")], 4),
            "model_predict_ms": round(ms[(key, "model_predict")], 1),
            "iou_threshold": model.decoder.iou_threshold,
            "pre_nms_top_k": model.decoder.get_config().get("pre_nms_top_k"),  # FCOS's only
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
