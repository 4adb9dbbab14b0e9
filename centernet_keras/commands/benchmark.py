"""Time a detector on this machine: the whole image → boxes path and its stages.

    centernet benchmark --model logs/best.keras --input street.jpg
    centernet benchmark --model logs/best.keras --runtime keras onnxruntime   # side by side
    centernet benchmark --detector fcos --backbone regnetx_400mf --input-size 512 --runs 10

A trained model (--model), or an untrained one of an architecture (--detector, --backbone;
random weights: the time is the same, the detections are not). Prints the milliseconds of the
whole path, file to boxes, and of its stages measured inside the same calls (preprocess; detect:
the network and its decoder as the runtime runs them; postprocess), after --warmup untimed calls
(graph build, tracing): the mean of the middle half of --runs calls ranked by total, timed
round-robin so machine noise hits every runtime alike; the stages add up to at most the total.
Also the frames per second and, with several --runtime values (and --quantize int8, which adds
ONNX Runtime INT8), each runtime's total time over the first one's. Without --input, a random
640 x 480 image is used.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

import numpy as np

from centernet_keras.cli import (
    UsageError,
    add_model_arguments,
    add_runtime_arguments,
    input_side,
    names_refusal,
    new_parser,
    report_rounded_input_size,
    run_reporting_errors,
    runtime_settings,
)
from centernet_keras.data.classes import read_classes
from centernet_keras.models.registry import detector_names, untrained_detector
from centernet_keras.timing import interleaved_stages


def build_parser() -> argparse.ArgumentParser:
    """The flags of ``centernet benchmark``."""
    parser = new_parser(__doc__)
    add_model_arguments(parser, required=False)  # or --detector
    parser.add_argument(
        "--detector",
        choices=detector_names(),
        help="time an untrained model of this detector instead of --model",
    )
    parser.add_argument("--backbone", default="resnet50", help="with --detector")
    parser.add_argument("--num-classes", type=int, default=20, help="with --detector (boxes)")
    parser.add_argument("--input", help="image file to time (default: a random 640 x 480 image)")
    parser.add_argument(
        "--input-size",
        type=input_side,
        default=None,
        metavar="N",
        help="network input N x N (rounded up to 32) for a model with a dynamic input size, and "
        "the size of a --detector model (default: the image scaled to 512 on its longer side; "
        "--detector: 512)",
    )
    add_runtime_arguments(parser, several=True)
    parser.add_argument("--runs", type=int, default=20, help="timed rounds")
    parser.add_argument(
        "--warmup", type=int, default=3, help="untimed calls first (graph build, tracing)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON line instead")
    return parser


def _untrained_model(args: argparse.Namespace):
    """A new, untrained model of ``--detector`` / ``--backbone`` (a keypoint detector: its
    default joints, one class)."""
    size = int(np.ceil((args.input_size or 512) / 32.0)) * 32
    return untrained_detector(
        args.detector, args.num_classes, backbone=args.backbone, input_shape=(size, size, 3)
    )


def _predictors(args: argparse.Namespace) -> dict:
    """Variant name → ``Predictor``: one per ``--runtime``, plus ``onnxruntime+int8`` with
    ``--quantize int8``."""
    from centernet_keras.inference import Predictor  # lazy: --help prints before Keras loads

    variants = [(name, runtime_settings(args, name)) for name in dict.fromkeys(args.runtime)]
    variants = [(n, {**v, "quantize": None}) for n, v in variants]
    if args.quantize:
        variants.append((f"onnxruntime+{args.quantize}", runtime_settings(args, "onnxruntime")))
    if args.detector:
        if args.classes:
            raise UsageError(
                "--classes names a --model's classes; with --detector give --num-classes"
            )
        model = _untrained_model(args)
        return {name: Predictor(model, **settings) for name, settings in variants}
    names = read_classes(args.classes) if args.classes else None  # before the model loads
    predictors = {
        name: Predictor.from_checkpoint(args.model, input_size=args.input_size, **settings)
        for name, settings in variants
    }
    refusal = names and names_refusal(args.classes, names, next(iter(predictors.values())).model)
    if refusal:  # --classes does what its help says in every command
        raise UsageError(refusal)
    for predictor in predictors.values():
        predictor.class_names = names or predictor.class_names
    return predictors


def run(args: argparse.Namespace) -> int:
    """Time every step of each variant in one interleaved run; print the table (or JSON)."""
    predictors = _predictors(args)
    image = args.input
    if image is None:
        image = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    calls = {name: predictor.benchmark_call(image) for name, predictor in predictors.items()}
    ms = interleaved_stages(calls, args.runs, args.warmup)
    first = next(iter(predictors))
    hw = list(predictors[first].preprocess(image)[0].shape[1:3])
    report_rounded_input_size(args.input_size, hw[0])  # the size the predictors ran at
    results = []
    for name in predictors:
        result = {"runtime": name, "input_hw": hw}
        result.update({f"{step}_ms": round(value, 2) for step, value in ms[name].items()})
        result["fps"] = round(1000.0 / ms[name]["total"], 2)
        result[f"total_vs_{first}"] = round(ms[name]["total"] / ms[first]["total"], 3)
        results.append(result)
    if args.json:
        for result in results:
            print(json.dumps(result))
        return 0
    model = args.model or f"{args.detector}:{args.backbone} (untrained)"
    print(f"{model}, input {hw[0]} x {hw[1]}, middle half of {args.runs} runs (ms):")
    step_names = list(ms[first])
    print(f"  {'runtime':<18}" + "".join(f"{s:>12}" for s in step_names) + f"{'FPS':>8}  ratio")
    for result in results:
        cells = "".join(f"{result[f'{s}_ms']:>12.2f}" for s in step_names)
        ratio = result[f"total_vs_{first}"]
        print(f"  {result['runtime']:<18}{cells}{result['fps']:>8.1f}  {ratio:.2f}")
    if any(name != "keras" for name in predictors):
        print("  (detect: the network and its decoder, one ONNX graph in ONNX Runtime, the INT8")
        print("   graph then the Keras decoder; total is the path a user runs, file to boxes;")
        print("   ratio = total / the first runtime's)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``centernet benchmark``; exit code 0, or 1/2 with a one-line error."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if bool(args.model) == bool(args.detector):
        parser.error("give --model (a trained model) or --detector (an untrained one)")
    if args.quantize and "onnxruntime" not in args.runtime:
        parser.error("--quantize int8 is an ONNX Runtime variant: add --runtime onnxruntime")
    return run_reporting_errors(run, args)


if __name__ == "__main__":
    sys.exit(main())
