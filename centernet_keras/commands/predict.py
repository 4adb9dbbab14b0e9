"""Detect objects with a trained detector: images, folders, video, timing, heatmaps, export.

    centernet predict --model m.keras --mode image --input street.jpg
    centernet predict --model m.keras --mode dir --input imgs/ --output imgs_out/ --count
    centernet predict --model m.keras --mode dir --input imgs/ --json imgs.json  # COCO results
    centernet predict --model m.keras --mode video --input clip.mp4 --output clip_out.mp4
    centernet predict --model m.keras --mode video --input 0            # camera 0, Ctrl-C stops
    centernet predict --model m.keras --mode fps --input street.jpg --runs 50
    centernet predict --model m.keras --mode heatmap --input street.jpg
    centernet predict --model m.keras --mode export --format onnx --output m.onnx

``python predict.py ...`` (the top-level script) runs the same program with the same flags.

Outputs go to --output (default: predict_out/ with the input's name). Boxes are drawn with
"<class> <score>" labels, one colour per class. A pose model's people are drawn as skeletons
(limbs green on the left, blue on the right, magenta in the middle; joints as dots) over their
boxes (--no-boxes leaves the boxes out), and its --mode heatmap shows the joint heatmap.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from pathlib import Path

from centernet_keras.cli import (  # quiets TensorFlow's start-up log (centernet_keras.startup)
    add_inference_arguments,
    add_model_arguments,
    add_runtime_arguments,
    add_score_threshold_argument,
    add_tile_arguments,
    new_parser,
    predictor_from_args,
    run_reporting_errors,
)
from centernet_keras.commands.export import DEFAULT_DIR, export_from_args
from centernet_keras.export import FORMATS
from centernet_keras.io import atomic_write_text

MODES = ("image", "dir", "video", "fps", "heatmap", "export")


def build_parser() -> argparse.ArgumentParser:
    parser = new_parser(__doc__)
    add_model_arguments(parser)
    parser.add_argument(
        "--mode",
        choices=MODES,
        default="image",
        help="image: one image; dir: every image of a folder; video: a video file or camera "
        "index (the FPS printed and drawn leave out the one-time setup: the first frame is "
        "detected once untimed first); fps: time one image, file to boxes, and its stages "
        "(preprocess, detect, postprocess; 3 untimed calls first); heatmap: overlay the class "
        "heatmap on an image (a pose model: the joint heatmap, max over joints); export: write "
        "the model for deployment",
    )
    parser.add_argument(
        "--input", help="image, folder, video file or camera index (0, 1, ...), per --mode"
    )
    parser.add_argument(
        "--output",
        help="output image / folder / video file / export path (default: under predict_out/)",
    )
    add_score_threshold_argument(
        parser, 0.3, help="score threshold of the drawn (and --json) or exported detections"
    )
    add_inference_arguments(parser)
    add_tile_arguments(parser)
    add_runtime_arguments(parser)
    parser.add_argument(
        "--crop",
        action="store_true",
        help="image/dir: also save each detection as its own image (in <output>/crops)",
    )
    parser.add_argument(
        "--no-boxes",
        action="store_true",
        help="image/dir/video, pose models: draw the skeletons only, without boxes and labels "
        "(an error for a box model, which draws nothing but boxes)",
    )
    parser.add_argument(
        "--count", action="store_true", help="image/dir/video: print the detections per class"
    )
    parser.add_argument(
        "--json",
        nargs="?",
        const="",
        default=None,
        metavar="FILE",
        help="image/dir/video: also write the detections drawn to FILE as JSON in the COCO "
        "results format (image_id, category_id, bbox [x, y, w, h] in image pixels, score, "
        "category_name, file_name; a pose model's keypoints too), one file for the whole folder "
        "or video (frame index = image_id); without FILE: next to --output with the suffix "
        ".json (dir: <output>/detections.json)",
    )
    parser.add_argument("--runs", type=int, default=20, help="fps: timed runs")
    parser.add_argument(
        "--max-frames",
        type=int,
        default=None,
        help="video: stop after this many frames (default: the whole video; a camera runs "
        "until Ctrl-C)",
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="saved_model",
        help="export: keras (.keras), saved_model (TF SavedModel folder), tflite, onnx "
        "(all take uint8 RGB [B, H, W, 3] and return decoded detections; H x W is the model's "
        "input size, for a model with a dynamic one --input-size or 512 x 512)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def _output(args: argparse.Namespace) -> Path:
    """What --mode image / dir / video / heatmap writes: --output, else its default."""
    if args.mode == "dir":
        default = DEFAULT_DIR
    elif args.mode == "video":
        stem = f"camera{args.input}" if args.input.isdigit() else Path(args.input).stem
        default = DEFAULT_DIR / f"{stem}.mp4"
    elif args.mode == "heatmap":
        default = DEFAULT_DIR / f"{Path(args.input).stem}_heatmap.png"
    else:
        default = DEFAULT_DIR / Path(args.input).name
    return Path(args.output) if args.output else default


def _json_output(args: argparse.Namespace) -> Path | None:
    """Where --json writes the detections, or ``None`` without --json."""
    if getattr(args, "json", None) is None:
        return None
    if args.json:
        return Path(args.json)
    out = _output(args)
    return out / "detections.json" if args.mode == "dir" else out.with_suffix(".json")


def _same(a: Path, b: Path) -> bool:
    """Whether two paths name one existing file or folder."""
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def overwritten_input(args: argparse.Namespace) -> str | None:
    """Why the outputs of --mode image / dir / video / heatmap would replace an --input file
    (the output is the input file, or the input folder, or its crops folder), else ``None``."""
    if args.mode not in ("image", "dir", "video", "heatmap") or not args.input:
        return None
    source, out = Path(args.input), _output(args)
    if args.mode == "dir":
        if _same(out, source):
            return (
                f"--output {out} is the --input folder: the annotated images would replace "
                "the originals (give another --output folder)"
            )
        if args.crop and _same(out / "crops", source):
            return f"--crop writes into {out / 'crops'}, the --input folder (give another --output)"
    elif _same(out, source):
        return f"--output {out} is the --input file: it would be replaced (give another --output)"
    json_out = _json_output(args)
    if json_out is not None and _same(json_out, source):
        return f"--json {json_out} is the --input file: it would be replaced (give another FILE)"
    return None


def _print_counts(counts, class_names) -> None:
    for name in class_names:
        if counts.get(name):
            print(f"{name}: {counts[name]}")
    print(f"total: {sum(counts.values())}")


def run(args: argparse.Namespace) -> int:
    """Dispatch one mode (each a single library call)."""
    from centernet_keras import visualize  # Keras/TF: --help must not load them

    predictor = predictor_from_args(args)  # --classes checked: other names would relabel
    names = predictor.class_names
    spec = visualize.keypoint_spec_of(predictor)
    if args.no_boxes and spec is None:
        raise ValueError("--no-boxes is for pose models; this model draws boxes only")
    drawing = {"keypoint_spec": spec, "draw_boxes": not args.no_boxes}
    results: list[dict] = []  # --json: the COCO results of every image or frame
    if args.mode == "image":
        out = _output(args)
        crop_dir = out.parent / "crops" if args.crop else None
        detections = visualize.annotate_image(predictor, args.input, out, crop_dir, **drawing)
        results = detections.to_coco_results(1, file_name=Path(args.input).name)
        for box, name, score in zip(
            detections.boxes, detections.class_names, detections.scores, strict=True
        ):
            print(f"{name} {score:.3f} [{', '.join(f'{v:.1f}' for v in box)}]")
        if args.count:
            _print_counts(Counter(detections.class_names), names)
        print(f"saved {out}")
    elif args.mode == "dir":
        out = _output(args)
        annotated: list[str] = []

        def collect(path: Path, found) -> None:  # image ids 1, 2, ... in the order annotated
            annotated.append(path.name)
            results.extend(found.to_coco_results(len(annotated), file_name=path.name))

        report = visualize.annotate_folder(
            predictor, args.input, out, crop=args.crop, progress=not args.no_progress,
            on_detections=collect, **drawing,
        )  # fmt: skip
        for path, reason in report.failed:
            print(f"skipped unreadable file {path}: {reason}", file=sys.stderr)
        if args.count:
            _print_counts(report.counts, names)
        print(f"{report.summary()}; results in {out}")
    elif args.mode == "video":
        out = _output(args)
        name = f"camera{args.input}" if args.input.isdigit() else Path(args.input).name
        report = visualize.annotate_video(
            predictor, args.input, out, args.max_frames, progress=not args.no_progress,
            on_detections=lambda frame, found: results.extend(
                found.to_coco_results(frame, file_name=name)
            ),
            **drawing,
        )  # fmt: skip
        if args.count:
            _print_counts(report.counts, names)
        print(f"{report.frames} frames at {report.fps:.1f} FPS saved to {out}")
    elif args.mode == "fps":
        ms = predictor.benchmark(args.input, runs=args.runs)
        print(json.dumps({k: round(v, 2) for k, v in ms.items()}))
        print(f"{1000.0 / ms['total_ms']:.1f} FPS (file to boxes)")
    elif args.mode == "heatmap":
        out = _output(args)
        visualize.save_heatmap(predictor, args.input, out)
        print(f"saved {out}")
    else:
        export_from_args(args, predictor)
    json_out = _json_output(args)
    if json_out is not None:
        atomic_write_text(json_out, json.dumps(results))
        print(f"{len(results)} detection(s) written to {json_out} (COCO results format)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.mode != "export" and not args.input:
        parser.error(f"--mode {args.mode} needs --input")
    if args.mode == "export" and args.flip_test:
        parser.error(
            "--flip-test is not exported: exported models run the plain forward pass "
            "(drop --flip-test, or use it with the other modes)"
        )
    if args.tile is not None and args.mode in ("export", "heatmap"):
        parser.error(
            f"--tile is for detections (image, dir, video, fps), not --mode {args.mode}: "
            "it runs the model on tiles of each image and merges what they find"
        )
    if args.mode == "export" and args.letterbox is not None:
        parser.error(
            "--letterbox is not exported: exported models take images already resized to "
            "their input size (letterbox or stretch them as the model was trained; "
            "drop --letterbox / --no-letterbox)"
        )
    if args.mode == "export" and (args.runtime != "keras" or args.quantize):
        parser.error(
            "--runtime and --quantize choose how predictions run; --mode export writes the "
            "model itself (--format onnx for an ONNX file)"
        )
    if args.json is not None and args.mode not in ("image", "dir", "video"):
        parser.error(f"--json writes the detections of --mode image, dir or video, not {args.mode}")
    refusal = overwritten_input(args)
    if refusal:  # before the model loads or anything is written
        print(f"error: {refusal}", file=sys.stderr)
        return 2
    return run_reporting_errors(run, args)


if __name__ == "__main__":
    sys.exit(main())
