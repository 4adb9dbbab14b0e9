"""Annotations → annotation-line files (``path x1,y1,x2,y2,cls[,1] ...``), from VOC or COCO.

    centernet convert voc --voc-root VOCdevkit --year 2007 --classes model_data/voc_classes.txt
    centernet convert coco --json instances_train.json --images train2017/ --output train.txt

``voc``: split a VOCdevkit and write ``<year>_train.txt`` / ``<year>_val.txt`` (the former
``voc_annotation.py``, which still runs it). ``coco``: one COCO detection (or keypoints) JSON file
→ one line file plus its class-names file. Problems in the data (bad XML or JSON entries,
missing or unreadable images, unknown classes, bad boxes, ...) are reported by file and counted;
they never stop the run. Difficult VOC objects and COCO crowd regions are written flagged
(``x1,y1,x2,y2,cls,1``): train.py does not train on them and get_map.py ignores them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from centernet_keras.cli import new_parser
from centernet_keras.data.annotations import write_annotation_file
from centernet_keras.data.classes import read_classes
from centernet_keras.data.coco import read_coco
from centernet_keras.data.voc import convert_voc
from centernet_keras.io import atomic_write_text

VOC_DOC = """Prepare a PASCAL VOC dataset for training: split it, write the annotation-line files.

    centernet convert voc --voc-root VOCdevkit --year 2007 --classes model_data/voc_classes.txt
    python voc_annotation.py --voc-root VOCdevkit --year 2007   # the same

Problems in the data (bad XML, missing or truncated images, unknown classes, bad boxes, ...)
are reported by file and counted; they never stop the run. See ``centernet_keras/data/voc.py``.

Difficult objects are written flagged (``x1,y1,x2,y2,cls,1``): train.py does not train on them
and get_map.py ignores them, as the VOC devkit does. Existing ImageSets/Main split files (the
official split of a real VOCdevkit) are used as they are, never replaced without --resplit.
"""

COCO_DOC = r"""Convert a COCO detection or keypoints JSON file into an annotation-line file.

    centernet convert coco --json annotations/instances_val2017.json --images val2017/ \
        --output coco_val.txt

Writes --output (one line per image, absolute image paths, images without objects included) and
its class-names file (--classes-output; the categories in ascending id order, or the names of
--classes). Crowd regions (iscrowd=1) are written flagged difficult: not trained on, ignored by
the metrics (--skip-crowd leaves them out). Lines carry boxes only: to train the pose detector,
give train.py the keypoints JSON itself (--train-json).
"""


#: How ``read_coco``'s messages name its settings in ``centernet convert coco``: its flags.
COCO_FLAGS = {"image_dir": "--images", "class_names": "--classes"}


def build_voc_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The flags of ``centernet convert voc`` (and ``voc_annotation.py``)."""
    parser = new_parser(VOC_DOC, prog)
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
    _add_max_messages(parser)
    return parser


def build_coco_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The flags of ``centernet convert coco``."""
    parser = new_parser(COCO_DOC, prog)
    parser.add_argument("--json", required=True, help="COCO instances or person_keypoints file")
    parser.add_argument(
        "--images", required=True, help="folder the JSON's file_name entries are relative to"
    )
    parser.add_argument(
        "--output", help="annotation-line file to write (default: <json name>.txt here)"
    )
    parser.add_argument(
        "--classes",
        help="class-name file fixing the class ids (categories of other names are dropped and "
        "reported; default: every category, in ascending category-id order)",
    )
    parser.add_argument(
        "--classes-output",
        help="where the class names are written (default: <output name>_classes.txt)",
    )
    parser.add_argument(
        "--skip-crowd",
        action="store_true",
        help="leave crowd regions out (default: written flagged difficult, i.e. ignored)",
    )
    parser.add_argument(
        "--no-check-images",
        action="store_true",
        help="trust the JSON's image sizes and do not open the images (faster; missing or "
        "unreadable images are then not found here but when training)",
    )
    _add_max_messages(parser)
    return parser


def _add_max_messages(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-messages",
        type=int,
        default=10,
        help="problem messages printed per kind (0: all)",
    )


def voc_main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """``centernet convert voc`` / ``voc_annotation.py``: split, convert, print the report."""
    args = build_voc_parser(prog).parse_args(argv)
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


def coco_main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """``centernet convert coco``: read the JSON (problems counted), write lines and classes."""
    args = build_coco_parser(prog).parse_args(argv)
    output = Path(args.output) if args.output else Path(f"{Path(args.json).stem}.txt")
    classes_output = (
        Path(args.classes_output)
        if args.classes_output
        else output.with_name(f"{output.stem}_classes.txt")
    )
    try:
        wanted = read_classes(args.classes) if args.classes else None
        records, class_names, report = read_coco(
            args.json,
            args.images,
            wanted,
            check_images=not args.no_check_images,
            keep_crowd=not args.skip_crowd,
            flags=COCO_FLAGS,
        )
        output.parent.mkdir(parents=True, exist_ok=True)
        write_annotation_file(output, records)
        classes_output.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(classes_output, "".join(f"{name}\n" for name in class_names))
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    report.add_split(output.stem, records)
    print(report.summary(max_messages=args.max_messages))
    print(f"wrote {len(records)} lines to {output}, {len(class_names)} names to {classes_output}")
    if report.keypoint_spec is not None:
        print(
            "note: the lines carry boxes only; to train the pose detector give train.py the "
            f"keypoints file itself (--train-json {args.json} --train-images {args.images})"
        )
    return 0


SOURCES = {"voc": voc_main, "coco": coco_main}


def main(argv: Sequence[str] | None = None, prog: str | None = "centernet convert") -> int:
    """``centernet convert {voc,coco} ...``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(f"usage: {prog} {{voc,coco}} [options]\n\n{__doc__}")
        return 0 if argv else 2
    source, rest = argv[0], argv[1:]
    if source not in SOURCES:
        print(
            f"{prog}: error: the source is 'voc' or 'coco', got {source!r} (see {prog} --help)",
            file=sys.stderr,
        )
        return 2
    return SOURCES[source](rest, prog=f"{prog} {source}")
