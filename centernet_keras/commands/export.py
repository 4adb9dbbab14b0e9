"""Write a trained detector for deployment, with its decoder: keras, saved_model, tflite, onnx.

    centernet export --model logs/best.keras --format onnx --output model.onnx
    centernet export --model logs/best.keras --format tflite --score-threshold 0.1

Every format takes uint8 RGB images [B, H, W, 3] (H x W the model's input size; for a model with
a dynamic input size --input-size, default 512 x 512) and returns the decoded detections (boxes
in input pixels, scores, classes, num_detections; a pose model also keypoints). The same as
``predict.py --mode export``. Images must be resized (letterboxed or stretched as in training)
to the input size before they go in.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from centernet_keras.cli import (
    add_decoder_arguments,
    add_model_arguments,
    add_score_threshold_argument,
    input_side,
    new_parser,
    predictor_from_args,
    run_reporting_errors,
)
from centernet_keras.export import FORMATS, SUFFIXES, export_model

DEFAULT_DIR = Path("predict_out")


def build_parser() -> argparse.ArgumentParser:
    """The flags of ``centernet export``."""
    parser = new_parser(__doc__)
    add_model_arguments(parser)
    parser.add_argument("--format", choices=FORMATS, default="saved_model", help="what to write")
    parser.add_argument(
        "--output", help="file or folder to write (default: predict_out/<model name><suffix>)"
    )
    add_score_threshold_argument(parser, 0.3, help="score threshold of the exported detections")
    add_decoder_arguments(parser)
    parser.add_argument(
        "--input-size",
        type=input_side,
        default=None,
        metavar="N",
        help="input N x N (rounded up to a multiple of 32) of a model with a dynamic input "
        "size (default 512); a model with a fixed input size always uses its own",
    )
    return parser


def export_from_args(args: argparse.Namespace, predictor) -> Path:
    """Export ``predictor``'s model and decoder as ``args.format`` to ``args.output``.

    Args:
        args: ``--model``, ``--format``, ``--output`` and ``--input-size``.
        predictor: the ``Predictor`` whose model and decoder settings are exported.

    Returns:
        The path written.
    """
    out = (
        Path(args.output)
        if args.output
        else DEFAULT_DIR / f"{Path(args.model).stem}{SUFFIXES[args.format]}"
    )
    export_model(
        predictor.model,
        out,
        args.format,
        decoder=predictor.decoder,
        class_names=predictor.class_names,
        input_size=None if args.input_size is None else predictor.model_hw,  # rounded to 32
    )
    print(f"exported {args.format} to {out}")
    return out


def run(args: argparse.Namespace) -> int:
    """Load the model with the decoder settings of the flags, export it."""
    args.flip_test, args.letterbox = False, None  # not part of an exported graph
    export_from_args(args, predictor_from_args(args))  # --classes checked: names are exported
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``centernet export``; exit code 0, or 1/2 with a one-line error."""
    return run_reporting_errors(run, build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
