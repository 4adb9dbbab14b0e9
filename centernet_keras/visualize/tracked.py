"""Tracked outputs for a video or a folder of frames: detect, track, draw ids, write.

``track_video`` runs a detector (any callable ``RGB image → Detections``, e.g.
``inference.Predictor``) on every frame of a video file or of a folder of images (sorted by
name), feeds the detections to a ``tracking.Tracker``, draws each frame's tracks in their ids'
colours (``visualize.tracks``) and writes ``<output>/<video stem>.mp4`` (or the annotated
frames into ``<output>/<folder name>/``) and ``<output>/tracks.txt`` (MOTChallenge,
``tracking.mot``); the ``TrackReport`` holds the per-track counts (``tracking.TrackCounts``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import UnidentifiedImageError
from tqdm import tqdm

from centernet_keras.data.image_io import load_image
from centernet_keras.data.video_io import capture_fps, image_files, open_video, video_writer
from centernet_keras.io import atomic_path
from centernet_keras.keypoints import KeypointSpec
from centernet_keras.tracking import TrackCounts, Tracker, track_lines, write_lines
from centernet_keras.visualize.annotate import DetectFn, keypoint_spec_of
from centernet_keras.visualize.tracks import draw_tracks

#: The MOTChallenge file ``track_video`` writes into its output folder.
TRACKS_FILE = "tracks.txt"


@dataclass
class TrackReport:
    """Outcome of ``track_video``.

    Attributes:
        frames: frames tracked.
        fps: frames a second over the tracked frames (detection, tracking, drawing, reading
            and writing; the one-time setup left out: the first frame is detected once untimed).
        counts: tracks per class, frames per track.
        output: the annotated video, or folder of annotated frames.
        tracks_file: the MOTChallenge ``tracks.txt``.
        skipped: ``(file, reason)`` of frame files that could not be read (folder input).
    """

    frames: int = 0
    fps: float = 0.0
    counts: TrackCounts = field(default_factory=TrackCounts)
    output: Path = Path()
    tracks_file: Path = Path()
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _video_frames(capture: cv2.VideoCapture) -> Iterator[tuple[int, np.ndarray, str]]:
    """``(frame number from 1, RGB frame, "")`` of an opened capture, released at the end."""
    try:
        number, (ok, frame) = 1, capture.read()
        while ok:
            yield number, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), ""
            number, (ok, frame) = number + 1, capture.read()
    finally:
        capture.release()


def _folder_frames(
    files: list[Path], skipped: list[tuple[str, str]]
) -> Iterator[tuple[int, np.ndarray, str]]:
    """``(position from 1, RGB image, file name)`` of the readable files; the others are
    added to ``skipped`` (their positions stay unused, so frame numbers follow the files)."""
    for number, path in enumerate(files, 1):
        try:
            yield number, load_image(path), path.name
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
            skipped.append((str(path), f"{type(err).__name__}: {err}"))


def track_video(
    detector: DetectFn,
    source: str | os.PathLike,
    output_dir: str | os.PathLike,
    tracker: Tracker | None = None,
    max_frames: int | None = None,
    progress: bool = True,
    keypoint_spec: KeypointSpec | None = None,
    draw_boxes: bool = True,
) -> TrackReport:
    """Track the objects of a video file or a folder of frames and write the results.

    Args:
        detector: ``RGB image → Detections`` (give it a low score threshold, e.g. the
            tracker's ``low_threshold``: weak detections continue occluded tracks).
        source: a video file, or a folder of image files (frames in name order).
        output_dir: where ``<stem>.mp4`` (or ``<folder name>/``) and ``tracks.txt`` go.
        tracker: the ``Tracker`` (default: a new one with its default settings).
        max_frames: stop after this many frames.
        progress: show a tqdm bar.
        keypoint_spec: a pose model's joints (default: the detector's model's,
            ``visualize.keypoint_spec_of``): its people are drawn as skeletons.
        draw_boxes: with skeletons, also draw boxes and labels.

    Returns:
        A ``TrackReport``.

    Raises:
        FileNotFoundError: ``source`` does not exist.
        ValueError: a video OpenCV cannot open, or a source without a readable frame.
    """
    source, output_dir = Path(source), Path(output_dir)
    tracker = tracker if tracker is not None else Tracker()
    spec = keypoint_spec if keypoint_spec is not None else keypoint_spec_of(detector)
    threshold = getattr(getattr(detector, "decoder", None), "keypoint_threshold", None)
    drawing = {"keypoint_spec": spec, "draw_boxes": draw_boxes}
    if threshold is not None:
        drawing["keypoint_threshold"] = threshold
    report = TrackReport(tracks_file=output_dir / TRACKS_FILE)
    if source.is_dir():
        files = image_files(source)
        if not files:
            raise ValueError(f"no image files in {source}")
        frames, fps, total = _folder_frames(files, report.skipped), None, len(files)
        report.output = output_dir / source.name
    else:
        capture = open_video(os.fspath(source))
        fps, total = capture_fps(capture), int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
        frames, report.output = _video_frames(capture), output_dir / f"{source.stem}.mp4"
    lines: list[str] = []
    bar = tqdm(total=max_frames or total, unit="frame", disable=not progress, desc="track")
    writer, start = None, None
    with atomic_path(report.output) as tmp:
        try:
            for number, rgb, name in frames:
                if max_frames is not None and report.frames >= max_frames:
                    break
                if start is None:
                    detector(rgb)  # warm-up: the one-time setup is not timed
                    start = time.perf_counter()
                objects = tracker.update(detector(rgb))
                lines += track_lines(number, objects)
                report.counts.add(objects)
                drawn = draw_tracks(rgb, objects, **drawing)
                if fps is None:
                    tmp.mkdir(exist_ok=True)
                    drawn.save(tmp / name)
                else:
                    writer = writer or video_writer(tmp, fps, drawn.size, report.output)
                    writer.write(cv2.cvtColor(np.asarray(drawn), cv2.COLOR_RGB2BGR))
                report.frames += 1
                bar.update()
        finally:
            bar.close()
            frames.close()
            if writer is not None:
                writer.release()
        if not report.frames:
            raise ValueError(f"no frame could be read from {source}")
        report.fps = report.frames / max(time.perf_counter() - start, 1e-9)
    write_lines(report.tracks_file, lines)
    return report
