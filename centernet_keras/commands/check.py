r"""Check a data set for a detector and input size before training (the dataset doctor).

    centernet check --config model_data/demo_fcos_config.json --input-size 128
    centernet check --detector fcos --input-size 160 --classes model_data/shapes_classes.txt \
        --train 2007_train.txt --val 2007_val.txt
    centernet check --train-json instances_train2017.json --train-images train2017 \
        --detector centernet --input-size 512 --max-images 2000

Takes train's flags (the same command line with `check` for `train`: the data sources, the
classes and the model geometry --detector, --input-size, --image-resize; the others are
accepted and unused). Every box is measured as the network sees it, after the letterbox or
resize to the input size. Objects no output location can learn are found by the detector's own
target encoder and decoder: each image's targets, decoded, must give back each object (IoU 0.5,
its class) — FCOS loses objects with no location inside the box at their level, CenterNet an
object whose centre cell another object of its class takes.

Prints a table per split (training, validation) and writes data_report.png (box size and aspect
histograms per class, objects per image) to --output-dir.

Exit codes: 0 no failing finding; 1 a finding that silently hurts training: more than 1 % of the
objects no output location can learn, boxes of zero size at the input, a class without a
training object, unreadable images, or validation images that are also training images (the
other findings are warnings: boxes smaller than the stride, aspect ratio above 20, same-class
centres on one cell, class imbalance above 10, images without objects, duplicate images within a
split, joints labelled in under 10 % of the objects); 2 a usage error (a flag, a missing file).
"""

from __future__ import annotations

import argparse
import os
import sys

from centernet_keras.cli import new_parser, positive_int
from centernet_keras.commands.train import add_setting_flags, run_command

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter


def build_parser() -> argparse.ArgumentParser:
    """The flags of ``centernet check``: train's, and where the report goes; building it
    imports neither Keras nor TensorFlow."""
    parser = new_parser(__doc__)
    parser.add_argument("--config", help="JSON settings as train's --config (flags override it)")
    parser.add_argument(
        "--output-dir", default=".", help="where data_report.png is written (default: .)"
    )
    parser.add_argument(
        "--max-images",
        type=positive_int,
        default=None,
        help="round trip only the first N images of each split through the detector's targets "
        "(default: all; the other checks see every image)",
    )
    add_setting_flags(parser)
    parser.set_defaults(resume=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    """``centernet check``: exit code 0 (no failing finding), 1 (failing findings), 2 (usage)."""
    return run_command(build_parser().parse_args(argv), check=True)


if __name__ == "__main__":
    sys.exit(main())
