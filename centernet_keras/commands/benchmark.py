"""Time a detector on this machine: preprocess, forward, decode and the whole image → boxes path.

    centernet benchmark --model logs/best.keras --input street.jpg
    centernet benchmark --detector fcos --backbone regnetx_400mf --input-size 512 --runs 10

A trained model (--model), or an untrained one of an architecture (--detector, --backbone;
random weights: the time is the same, the detections are not). Prints the median milliseconds of
each step (timed round-robin, so machine noise hits every step alike) and the frames per second
of the whole path, file to boxes. Without --input, a random 640 x 480 image is used.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

import numpy as np

from centernet_keras.cli import (
    add_model_arguments,
    new_parser,
    predictor_from_args,
    run_reporting_errors,
)

DETECTOR_CHOICES = ("centernet", "pose", "fcos")


def build_parser() -> argparse.ArgumentParser:
    """The flags of ``centernet benchmark``."""
    parser = new_parser(__doc__)
    add_model_arguments(parser, required=False)  # or --detector
    parser.add_argument(
        "--detector",
        choices=DETECTOR_CHOICES,
        help="time an untrained model of this detector instead of --model",
    )
    parser.add_argument("--backbone", default="resnet50", help="with --detector")
    parser.add_argument("--num-classes", type=int, default=20, help="with --detector (boxes)")
    parser.add_argument("--input", help="image file to time (default: a random 640 x 480 image)")
    parser.add_argument(
        "--input-size",
        type=int,
        default=None,
        metavar="N",
        help="network input N x N (rounded up to 32) for a model with a dynamic input size, and "
        "the size of a --detector model (default: the image scaled to 512 on its longer side; "
        "--detector: 512)",
    )
    parser.add_argument("--runs", type=int, default=20, help="timed rounds")
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls first")
    parser.add_argument("--json", action="store_true", help="print one JSON line instead")
    return parser


def _untrained_predictor(args: argparse.Namespace):
    """A ``Predictor`` on a new, untrained model of ``--detector`` / ``--backbone``."""
    from centernet_keras.inference import Predictor
    from centernet_keras.keypoints import KeypointSpec
    from centernet_keras.training.config import DETECTORS, KEYPOINT_DETECTORS

    size = int(np.ceil((args.input_size or 512) / 32.0)) * 32
    pose = args.detector in KEYPOINT_DETECTORS
    num_classes = 1 if pose else args.num_classes
    extra = {"keypoint_spec": KeypointSpec.coco17()} if pose else {}
    model = DETECTORS[args.detector](
        num_classes,
        backbone=args.backbone,
        input_shape=(size, size, 3),
        weights=None,
        class_names=[f"class{i}" for i in range(num_classes)],
        **extra,
    )
    return Predictor(model, score_threshold=0.3)


def run(args: argparse.Namespace) -> int:
    """Time every step of the predictor the flags describe; print the table (or JSON)."""
    from centernet_keras.timing import interleaved_medians

    if args.detector:
        predictor = _untrained_predictor(args)
    else:
        args.score_threshold, args.iou_threshold, args.max_detections = 0.3, "auto", None
        args.flip_test, args.letterbox = False, None
        predictor = predictor_from_args(args)
    image = args.input
    if image is None:
        image = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    ms = interleaved_medians(predictor.benchmark_steps(image), args.runs, args.warmup)
    result = {f"{step}_ms": round(value, 2) for step, value in ms.items()}
    result["fps"] = round(1000.0 / ms["total"], 2)
    result["input_hw"] = list(predictor.preprocess(image)[0].shape[1:3])
    if args.json:
        print(json.dumps(result))
        return 0
    name = args.model or f"{args.detector}:{args.backbone} (untrained)"
    print(f"{name}, input {result['input_hw'][0]} x {result['input_hw'][1]}, {args.runs} runs:")
    for step in ms:
        print(f"  {step:<10} {ms[step]:9.2f} ms")
    print(f"  {result['fps']:.1f} FPS (file to boxes)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``centernet benchmark``; exit code 0, or 1/2 with a one-line error."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if bool(args.model) == bool(args.detector):
        parser.error("give --model (a trained model) or --detector (an untrained one)")
    return run_reporting_errors(run, args)


if __name__ == "__main__":
    sys.exit(main())
