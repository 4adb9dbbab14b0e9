"""Prepare a PASCAL VOC dataset for training: split it and write the annotation-line files.

    python voc_annotation.py --voc-root VOCdevkit --year 2007 --classes model_data/voc_classes.txt

Problems in the data (bad XML, missing or truncated images, unknown classes, bad boxes, ...)
are reported by file and counted; they never stop the run. See ``centernet_keras/data/voc.py``.

Difficult objects are written flagged (``x1,y1,x2,y2,cls,1``): train.py does not train on them
and get_map.py ignores them, as the VOC devkit does. Existing ImageSets/Main split files (the
official split of a real VOCdevkit) are used as they are, never replaced without --resplit.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # the package imports TensorFlow


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the flags, convert, print the report."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--voc-root", default="VOCdevkit", help="the VOCdevkit folder")
    parser.add_argument("--year", default="2007", help="uses <voc-root>/VOC<year>")
    parser.add_argument(
        "--classes",
        default="model_data/voc_classes.txt",
        help="class-name file, one name a line (# comments allowed); other classes are dropped",
    )
    parser.add_argument(
        "--mode",
        choices=("all", "split", "lines"),
        default="all",
        help="split: write ImageSets/Main/{trainval,train,val,test}.txt from the XML files "
        "(refused if split files exist, unless --resplit); lines: write "
        "<out-dir>/<year>_train.txt and <year>_val.txt from the existing ImageSets; all: both, "
        "but an existing train/val split is used as it is (unless --resplit)",
    )
    parser.add_argument(
        "--resplit",
        action="store_true",
        help="write a new random split even if ImageSets/Main already has split files "
        "(replaces them, e.g. the official VOC split)",
    )
    parser.add_argument(
        "--trainval-percent",
        type=float,
        default=0.9,
        help="share of the images in trainval (the rest is test)",
    )
    parser.add_argument(
        "--train-percent",
        type=float,
        default=0.9,
        help="share of trainval in train (the rest is val)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed of the split")
    difficult = parser.add_mutually_exclusive_group()
    difficult.add_argument(
        "--skip-difficult",
        action="store_true",
        help="leave difficult objects out of the line files; by default they are written "
        "flagged with a sixth field ',1' (not trained on; ignored by the VOC metrics, so a "
        "detection of one is not a false positive)",
    )
    difficult.add_argument(
        "--keep-difficult",
        action="store_true",
        help="no effect, kept for old scripts: difficult objects are always written (flagged)",
    )
    parser.add_argument("--out-dir", default=".", help="where the <year>_*.txt files go")
    parser.add_argument(
        "--max-messages",
        type=int,
        default=10,
        help="problem messages printed per kind (0: all)",
    )
    args = parser.parse_args(argv)

    from centernet_keras.data.classes import read_classes
    from centernet_keras.data.voc import convert_voc

    try:
        class_names = read_classes(args.classes)
        report = convert_voc(
            args.voc_root,
            args.year,
            class_names,
            mode=args.mode,
            trainval_percent=args.trainval_percent,
            train_percent=args.train_percent,
            seed=args.seed,
            keep_difficult=not args.skip_difficult,
            out_dir=args.out_dir,
            resplit=args.resplit,
        )
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(report.summary(max_messages=args.max_messages))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
