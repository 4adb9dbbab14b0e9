"""Track objects through a video or a folder of frames: stable ids, MOTChallenge tracks.txt.

    centernet track --model m.keras --input clip.mp4 --output clip_tracks/
    centernet track --model pose.keras --input frames/ --output frames_tracks/ --max-frames 100
    centernet track --model m.keras --input clip.mp4 --output out/ --high-threshold 0.6

Each frame's detections (down to --score-threshold) go to a ByteTrack-style tracker
(centernet_keras.tracking.Tracker): detections scoring at least --high-threshold are matched
to the tracks first (Kalman-predicted boxes, IoU, same class) and start new tracks; weaker
ones only continue tracks (an occluded object keeps its id); a track unmatched for
--lost-frames frames ends. Writes <output>/<video stem>.mp4 (a folder input: the annotated
frames in <output>/<folder name>/) with each track drawn in its id's colour and labelled
"<id> <class> <score>" (a pose model's people as skeletons in that colour), and
<output>/tracks.txt in the MOTChallenge format (frame from 1, id, x, y, w, h, score, -1, -1,
-1); prints the tracks per class and the frames of each track.
"""

from __future__ import annotations

import argparse
import os
import sys
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
from centernet_keras.data.video_io import image_files, open_video
from centernet_keras.startup import help_requested

if not help_requested():  # Keras/TF: loaded to run, not for --help (as the package's import)
    from centernet_keras.tracking import Tracker
    from centernet_keras.visualize import keypoint_spec_of
    from centernet_keras.visualize.tracked import track_video

DEFAULT_DIR = Path("track_out")


def build_parser() -> argparse.ArgumentParser:
    parser = new_parser(__doc__)
    add_model_arguments(parser)
    parser.add_argument("--input", required=True, help="video file, or folder of frame images")
    parser.add_argument(
        "--output",
        default=os.fspath(DEFAULT_DIR),
        help="output folder: <video stem>.mp4 or <folder name>/, and tracks.txt",
    )
    add_score_threshold_argument(
        parser, 0.1, help="lowest detection score given to the tracker (its low threshold)"
    )
    parser.add_argument(
        "--high-threshold",
        type=float,
        default=0.5,
        help="detections scoring at least this are matched first and start tracks",
    )
    parser.add_argument(
        "--new-threshold",
        type=float,
        default=None,
        help="a detection unmatched scoring at least this starts a track (default: "
        "--high-threshold + 0.1, ByteTrack's)",
    )
    parser.add_argument(
        "--lost-frames",
        type=int,
        default=30,
        help="frames a track unmatched is kept, to be found again under its id",
    )
    add_inference_arguments(parser)
    add_tile_arguments(parser)
    add_runtime_arguments(parser)
    parser.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    parser.add_argument(
        "--no-boxes",
        action="store_true",
        help="pose models: draw the skeletons only, without boxes and labels",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def input_refusal(args: argparse.Namespace) -> str | None:
    """Why --input / --output cannot be used (before the model loads), else ``None``."""
    source = Path(args.input)
    if not source.exists():
        return f"--input {source}: no such video file or folder"
    if source.is_dir() and not image_files(source):
        return f"--input {source}: the folder holds no image files"
    if source.is_file():
        try:
            open_video(os.fspath(source)).release()
        except ValueError:
            return f"--input {source}: not a video OpenCV can read (or a folder of images)"
    out = Path(args.output) / (source.name if source.is_dir() else f"{source.stem}.mp4")
    if out.exists() and os.path.samefile(out, source):
        return (
            f"--output {args.output}: the annotated output {out} would replace the --input "
            f"{source} (give another --output)"
        )
    return None


def run(args: argparse.Namespace) -> int:
    """Load the model, track, print the counts."""
    predictor = predictor_from_args(args)
    spec = keypoint_spec_of(predictor)
    if args.no_boxes and spec is None:
        raise ValueError("--no-boxes is for pose models; this model draws boxes only")
    tracker = Tracker(
        high_threshold=args.high_threshold,
        low_threshold=args.score_threshold,
        new_threshold=args.new_threshold,
        lost_frames=args.lost_frames,
    )
    report = track_video(
        predictor, args.input, args.output, tracker, max_frames=args.max_frames,
        progress=not args.no_progress, keypoint_spec=spec, draw_boxes=not args.no_boxes,
    )  # fmt: skip
    for path, reason in report.skipped:
        print(f"skipped unreadable file {path}: {reason}", file=sys.stderr)
    for line in report.counts.lines():
        print(line)
    print(
        f"{report.frames} frames at {report.fps:.1f} FPS; annotated: {report.output}; "
        f"tracks: {report.tracks_file}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not 0.0 <= args.score_threshold <= args.high_threshold <= 1.0:
        parser.error("need 0 <= --score-threshold <= --high-threshold <= 1")
    if args.lost_frames < 0 or (args.max_frames is not None and args.max_frames < 1):
        parser.error("--lost-frames must be >= 0 and --max-frames >= 1")
    refusal = input_refusal(args)
    if refusal:  # before the model loads or anything is written
        print(f"error: {refusal}", file=sys.stderr)
        return 2
    return run_reporting_errors(run, args)


if __name__ == "__main__":
    sys.exit(main())
