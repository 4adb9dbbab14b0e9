r"""Measure a detector's mAP on a split: VOC07 11-point AP@0.5, all-point AP@0.5, COCO AP.

    centernet val --model logs/best.keras --annotation-file 2007_val.txt
    centernet val --model m.keras --classes model_data/voc_classes.txt \
        --voc-root VOCdevkit --year 2007 --split test
    centernet val --model m.keras --coco-json instances_val2017.json --image-dir val2017
    centernet val --model pose.keras --coco-json person_keypoints_val2017.json \
        --image-dir val2017                  # pose model: keypoint AP (OKS) and box AP
    centernet val --model m.keras --tfds voc/2007:test --data-dir ~/tensorflow_datasets

``python get_map.py ...`` (the top-level script) runs the same program with the same flags.

Writes into --output-dir: summary.json, per_class.txt, coco_summary.txt, pr_curves/*.png and
detections.json, and prints the per-class table. With --coco-json the COCO metric is the
official one on that file (crowd regions ignored, its areas, its image and category ids;
categories matched to the model's class names, or --classes, by name) and coco_results.json
holds the detections in the COCO results format, to re-score or submit. A pose model on a
COCO keypoints file is also scored by OKS (keypoint AP, pycocotools, the file's joints and
sigmas; keypoints_summary.txt), and coco_results.json carries its keypoints. The file's joints
are matched to the model's by name (any order); other joint names are an error.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow loads

from centernet_keras.cli import (
    add_inference_arguments,
    add_model_arguments,
    add_runtime_arguments,
    add_score_threshold_argument,
    add_tile_arguments,
    new_parser,
    predictor_from_args,
    run_reporting_errors,
)
from centernet_keras.data.annotations import read_annotation_file
from centernet_keras.data.classes import class_list_difference, read_classes
from centernet_keras.data.coco import align_joints
from centernet_keras.data.coco_format import CocoFormatError, load_coco_json

#: Above this, a score threshold cuts the precision–recall curve short and lowers mAP.
SCORE_THRESHOLD_WARNING = 0.05
#: How ``load_split``'s (and ``read_coco``'s) messages name their settings here: the flags.
SPLIT_FLAGS = {
    "annotation_file": "--annotation-file",
    "voc_root": "--voc-root",
    "coco_json": "--coco-json",
    "image_dir": "--image-dir",
    "tfds": "--tfds",
    "class_names": "--classes",
}


def build_parser() -> argparse.ArgumentParser:
    parser = new_parser(__doc__)
    add_model_arguments(parser)
    source = parser.add_argument_group("split (give exactly one source)")
    source.add_argument(
        "--annotation-file",
        help="annotation lines ('path x1,y1,x2,y2,cls[,1] ...', e.g. 2007_val.txt); "
        "a trailing ',1' marks a difficult object (ignored by the VOC metrics)",
    )
    source.add_argument(
        "--root", help="folder that relative image paths of --annotation-file start from"
    )
    source.add_argument("--voc-root", help="folder containing VOC<year>/ (e.g. VOCdevkit)")
    source.add_argument("--year", default="2007", help="VOC year with --voc-root (default 2007)")
    source.add_argument(
        "--split", default="test", help="ImageSets/Main/<split>.txt with --voc-root (default test)"
    )
    source.add_argument(
        "--coco-json",
        "--val-json",
        dest="coco_json",
        help="COCO detection file (instances_*.json) or keypoints file (person_keypoints_*.json, "
        "pose models: keypoint AP too); scored as pycocotools scores it, detections also written "
        "to coco_results.json",
    )
    source.add_argument(
        "--image-dir", "--val-images", dest="image_dir", help="image folder of --coco-json"
    )
    source.add_argument(
        "--tfds",
        metavar="NAME:SPLIT",
        help="a TensorFlow Datasets split with the VOC/COCO 'objects' layout, prepared in "
        "--data-dir (e.g. voc/2007:test, coco/2017:validation); its classes must be the model's",
    )
    source.add_argument(
        "--data-dir", help="TFDS data folder of --tfds (default: ~/tensorflow_datasets)"
    )
    parser.add_argument("--output-dir", default="map_out", help="report folder (default map_out)")
    add_score_threshold_argument(
        parser,
        0.01,
        help="score threshold of the detections that are scored (default 0.01: keep it low, "
        f"above {SCORE_THRESHOLD_WARNING} the precision-recall curve is cut short and mAP drops)",
    )
    add_inference_arguments(parser)
    add_tile_arguments(parser)
    add_runtime_arguments(parser)
    parser.add_argument(
        "--metrics",
        nargs="+",
        choices=("voc07", "voc", "coco", "keypoints"),
        default=None,
        help="metrics to compute (default: voc07 voc coco, and keypoints (OKS AP) for a pose "
        "model on a COCO keypoints file)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_reporting_errors(run, build_parser().parse_args(argv))


def written_classes(args: argparse.Namespace) -> list[str] | None:
    """The class names ``--annotation-file`` was written with (``<name>_classes.txt`` beside
    it), else ``None``: the triage of a near-zero mAP compares them with the model's."""
    path = None if args.annotation_file is None else Path(args.annotation_file)
    written = None if path is None else path.with_name(f"{path.stem}_classes.txt")
    return read_classes(written) if written is not None and written.is_file() else None


def annotation_classes_refusal(args: argparse.Namespace, predictor) -> str | None:
    """Why the class ids of ``--annotation-file`` are not the model's classes, else ``None``.

    The ids of annotation lines are positions in the classes file they were written with:
    ``<name>_classes.txt`` beside them (``centernet convert coco`` writes it; compared when
    ``--classes`` is not given, which ``cli.names_refusal`` compares), and no id may reach the
    model's class count. Either would score the boxes as other classes (4 aeroplanes as
    'person'), or drop them one warning per image.
    """
    if args.annotation_file is None:
        return None
    path = Path(args.annotation_file)
    written = path.with_name(f"{path.stem}_classes.txt")
    stored = getattr(predictor.model, "class_names", None)
    if args.classes is None and stored is not None and written.is_file():
        difference = class_list_difference(read_classes(written), stored, written.name, "the model")
        if difference:
            return (
                f"--annotation-file {path} was written with the classes of {written}, not the "
                f"model's ({difference}): its class ids would be scored as other classes"
            )
    records, _ = read_annotation_file(path, args.root)
    names = predictor.class_names
    outside = [r for r in records if len(r.classes) and r.classes.max() >= len(names)]
    if not outside:
        return None
    boxes = sum(int((r.classes >= len(names)).sum()) for r in outside)
    top = max(int(r.classes.max()) for r in outside)
    shown = ", ".join(repr(n) for n in names[:5]) + (", ..." if len(names) > 5 else "")
    counts = f"{boxes} box{'es' * (boxes != 1)} in {len(outside)} line{'s' * (len(outside) != 1)}"
    return (
        f"--annotation-file {path} has class ids up to {top} ({counts}), but the model has "
        f"{len(names)} classes ({shown}): the lines were written with another classes file "
        "(evaluate the model trained on them, or convert the annotations with this model's "
        "classes)"
    )


def run(args: argparse.Namespace) -> int:
    """Check the arguments, read the split, run the model over it, write the reports."""
    sources = (args.annotation_file, args.voc_root, args.coco_json, args.tfds)
    if sum(x is not None for x in sources) != 1:
        print(
            "error: give exactly one of --annotation-file, --voc-root, --coco-json, --tfds",
            file=sys.stderr,
        )
        return 2
    if args.data_dir is not None and args.tfds is None:
        print("error: --data-dir is the folder of --tfds (give --tfds NAME:SPLIT)", file=sys.stderr)
        return 2
    coco_data = None  # --coco-json's content, read once
    if args.coco_json is not None:
        if args.image_dir is None:  # before the model loads
            print("error: --coco-json needs --image-dir (its image folder)", file=sys.stderr)
            return 2

        try:  # a malformed file is refused before the model loads (load_split reuses it)
            coco_data = load_coco_json(args.coco_json)
        except CocoFormatError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    if args.score_threshold > SCORE_THRESHOLD_WARNING:
        print(
            f"warning: --score-threshold {args.score_threshold} drops every detection scored "
            f"below it; "
            f"the precision-recall curve stops early and mAP is underestimated "
            f"(use <= {SCORE_THRESHOLD_WARNING}, default 0.01)",
            file=sys.stderr,
        )

    from centernet_keras.evaluation import runner  # Keras/TF: --help must not load them

    predictor = predictor_from_args(args)  # --classes checked
    refusal = annotation_classes_refusal(args, predictor)
    if refusal:  # the class ids would be scored as other classes
        print(f"error: {refusal}", file=sys.stderr)
        return 2
    records, problems = runner.load_split(
        predictor.class_names,
        annotation_file=args.annotation_file,
        voc_root=args.voc_root,
        year=args.year,
        split=args.split,
        coco_json=args.coco_json,
        image_dir=args.image_dir,
        root=args.root,
        flags=SPLIT_FLAGS,
        coco_data=coco_data,
        tfds=args.tfds,
        data_dir=args.data_dir,
    )
    pose = predictor.model.keypoint_spec
    spec = getattr(records[0], "keypoint_spec", None)
    if pose is not None and spec is not None and align_joints(records, pose.names, args.coco_json):
        print(
            f"note: {args.coco_json}: its joints are listed in another order than the model's: "
            "matched by name",
            file=sys.stderr,
        )
    metrics = args.metrics or ["voc07", "voc", "coco"] + (
        ["keypoints"] if pose is not None and spec is not None else []
    )
    if "keypoints" in metrics and (pose is None or spec is None):
        raise ValueError(
            "--metrics keypoints needs a pose model and a COCO keypoints file (--coco-json "
            "person_keypoints_*.json)"
        )
    for message in problems[:20]:
        print(f"warning: {message}", file=sys.stderr)
    if len(problems) > 20:
        print(f"... and {len(problems) - 20} more problems", file=sys.stderr)
    settings = {
        "model": os.path.abspath(args.model),
        **predictor.settings(),  # runtime, INT8, input size, flip test, thresholds, decoder
        "split_problems": problems,
    }
    summary, table, failures = runner.evaluate_split(
        predictor,
        records,
        predictor.class_names,
        args.output_dir,
        metrics,
        settings,
        progress=not args.no_progress,
        data_classes=written_classes(args),
    )
    for message in failures:
        print(f"unreadable image skipped: {message}", file=sys.stderr)
    if table:
        print(table)
    found = summary["metrics"]
    if "coco" in found:
        print("\n".join(found["coco"]["summary_text"]))
    if "keypoints" in found:
        print("Keypoints (OKS):")
        print("\n".join(found["keypoints"]["summary_text"]))
        if "coco" in found:
            print(f"box AP = {found['coco']['stats']['AP@[.5:.95]']:.4f}")
        print(f"keypoint AP = {found['keypoints']['stats']['AP@[.5:.95]']:.4f}")
    for line in summary.get("triage", {}).get("lines", []):  # mAP near zero: the causes seen
        print(line)
    print(f"reports written to {args.output_dir}/")
    if args.coco_json is not None:
        print(f"COCO results format: {os.path.join(args.output_dir, 'coco_results.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
