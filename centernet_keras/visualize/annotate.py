"""Annotated outputs for images, folders and videos, and heatmap images.

``annotate_image`` / ``annotate_folder`` / ``annotate_video`` run a detector (any callable
``image → Detections``, e.g. ``inference.Predictor``) and write the drawn results: boxes, or for
a pose model's people skeletons (``drawer``, ``visualize.pose.draw_skeletons``).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from centernet_keras.data.image_io import load_image
from centernet_keras.data.video_io import capture_fps, image_files, open_video, video_writer
from centernet_keras.detections import Detections
from centernet_keras.io import atomic_path
from centernet_keras.keypoints import KeypointSpec
from centernet_keras.models.detector import Detector
from centernet_keras.visualize.draw import (
    crop_detections,
    draw_detections,
    draw_fps,
    heatmap_overlay,
)
from centernet_keras.visualize.pose import draw_skeletons

#: What the annotate functions run: ``RGB image [H, W, 3] → Detections`` (e.g. a
#: ``Predictor``).
DetectFn = Callable[[np.ndarray], Detections]
Drawer = Callable[[np.ndarray, Detections], Image.Image]
#: ``on_detections(key, detections)``: each image's (or frame's) detections as they are drawn;
#: ``key`` is the image's path (``annotate_folder``) or the frame index (``annotate_video``).
OnDetections = Callable[[object, Detections], None]


def keypoint_spec_of(detector) -> KeypointSpec | None:
    """The ``KeypointSpec`` of a detector's model (e.g. a ``Predictor`` of a pose model), else
    ``None``."""
    model = getattr(detector, "model", None)  # a Predictor's; a plain function has none
    return model.keypoint_spec if isinstance(model, Detector) else None


def drawer(
    detector=None, keypoint_spec: KeypointSpec | None = None, draw_boxes: bool = True
) -> Drawer:
    """What the annotate functions draw: ``(image, detections) → PIL image``.

    Detections that carry joints are drawn as skeletons (``visualize.pose.draw_skeletons``,
    boxes and labels unless ``draw_boxes`` is false) when there is a keypoint spec:
    ``keypoint_spec``, else the detector's model's (``keypoint_spec_of``); other detections as
    boxes and labels (``draw_detections``). Joints scored below the detector's decoder's
    ``keypoint_threshold`` (a ``Predictor``'s, e.g. ``--keypoint-threshold``) are not drawn.

    Raises:
        ValueError: ``draw_boxes=False`` without a keypoint spec (boxes are all a box detector
            draws).
    """
    spec = keypoint_spec if keypoint_spec is not None else keypoint_spec_of(detector)
    if not draw_boxes and spec is None:
        raise ValueError(
            "leaving out the boxes (--no-boxes) is for pose models; this detector draws boxes only"
        )

    threshold = getattr(getattr(detector, "decoder", None), "keypoint_threshold", None)
    hide = {} if threshold is None else {"keypoint_threshold": threshold}

    def draw(image, detections: Detections) -> Image.Image:
        if spec is not None and detections.keypoints is not None:
            return draw_skeletons(image, detections, spec, draw_boxes=draw_boxes, **hide)
        return draw_detections(image, detections)

    return draw


def annotate_image(
    detector: DetectFn,
    image,
    output_path: str | os.PathLike,
    crop_dir: str | os.PathLike | None = None,
    keypoint_spec: KeypointSpec | None = None,
    draw_boxes: bool = True,
) -> Detections:
    """Detect, draw and save one image; optionally save each detection as its own image.

    Args:
        detector: ``image → Detections`` (e.g. a ``Predictor``).
        image: path, PIL image or RGB array.
        output_path: the annotated image file (format from its suffix).
        crop_dir: if set, crops are saved there as ``<stem>_<i>_<class>.png``.
        keypoint_spec, draw_boxes: how people of a pose model are drawn (see ``drawer``).

    Returns:
        The detections.
    """
    draw = drawer(detector, keypoint_spec, draw_boxes)
    return _annotate(detector, load_image(image), output_path, crop_dir, draw)


def _annotate(
    detector: DetectFn, rgb: np.ndarray, output_path, crop_dir, draw: Drawer
) -> Detections:
    detections = detector(rgb)
    output_path = Path(output_path)
    with atomic_path(output_path) as tmp:
        draw(rgb, detections).save(tmp)
    if crop_dir is not None:
        crop_dir = Path(crop_dir)
        crop_dir.mkdir(parents=True, exist_ok=True)
        crops = crop_detections(rgb, detections)
        for i, (crop, name) in enumerate(zip(crops, detections.class_names, strict=True)):
            with atomic_path(crop_dir / f"{output_path.stem}_{i}_{_slug(name)}.png") as tmp:
                crop.save(tmp)
    return detections


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "object"


@dataclass
class FolderReport:
    """Outcome of ``annotate_folder``.

    Attributes:
        processed: images annotated.
        failed: ``(path, reason)`` of files that could not be read.
        counts: detections per class name over the folder.
        seconds: wall time.
    """

    processed: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    def summary(self) -> str:
        """One line for the end of a run."""
        line = f"{self.processed} image(s) annotated, {len(self.failed)} skipped"
        return f"{line} in {self.seconds:.1f} s"


def annotate_folder(
    detector: DetectFn,
    input_dir: str | os.PathLike,
    output_dir: str | os.PathLike,
    crop: bool = False,
    progress: bool = True,
    keypoint_spec: KeypointSpec | None = None,
    draw_boxes: bool = True,
    on_detections: OnDetections | None = None,
) -> FolderReport:
    """Annotate every image file of a folder (not recursive) into ``output_dir``.

    Files with an image suffix that cannot be decoded are reported and skipped; other files are
    ignored, and so are the temporary files a killed run may have left (``io.is_temp_file``).
    Outputs keep the input file names, each written atomically; crops go to
    ``output_dir/crops``.
    ``keypoint_spec``, ``draw_boxes``: how people of a pose model are drawn (see ``drawer``).
    ``on_detections(path, detections)`` sees each annotated image's detections, in the sorted
    order of the files.

    Returns:
        A ``FolderReport``.
    """
    draw = drawer(detector, keypoint_spec, draw_boxes)
    files = image_files(input_dir)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    report, start = FolderReport(), time.perf_counter()
    for path in tqdm(files, unit="img", disable=not progress, desc="predict"):
        try:
            rgb = load_image(path)
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
            report.failed.append((str(path), f"{type(err).__name__}: {err}"))
            continue
        crop_dir = output_dir / "crops" if crop else None
        detections = _annotate(detector, rgb, output_dir / path.name, crop_dir, draw)
        if on_detections is not None:
            on_detections(path, detections)
        report.processed += 1
        report.counts.update(detections.class_names)
    report.seconds = time.perf_counter() - start
    return report


@dataclass
class VideoReport:
    """Outcome of ``annotate_video``: frames written, their mean FPS, per-class counts."""

    frames: int = 0
    fps: float = 0.0
    counts: Counter = field(default_factory=Counter)


def annotate_video(
    detector: DetectFn,
    source: str | int,
    output_path: str | os.PathLike,
    max_frames: int | None = None,
    progress: bool = True,
    keypoint_spec: KeypointSpec | None = None,
    draw_boxes: bool = True,
    on_detections: OnDetections | None = None,
) -> VideoReport:
    """Annotate a video file or camera (an int index) into a video file, FPS drawn on frames.

    The FPS leave out the one-time setup (an ONNX Runtime graph build, TensorFlow tracing):
    the first frame is detected once untimed (a warm-up), then every frame is timed. Drawn on
    each frame: detection and drawing, smoothed; reported (``VideoReport.fps``): frames over
    the time of the timed loop (reading and writing included).

    Args:
        detector: ``RGB image → Detections``.
        source: a video path, or a camera index (``0`` or ``"0"``).
        output_path: the output video (``.mp4`` → mp4v, ``.avi`` → XVID), written atomically:
            it appears when the video is complete (Ctrl-C on a camera completes it), and a run
            that fails mid-way leaves none.
        max_frames: stop after this many frames (a camera otherwise runs until Ctrl-C).
        progress: show a tqdm bar.
        keypoint_spec, draw_boxes: how people of a pose model are drawn (see ``drawer``).
        on_detections: ``(frame index, detections)`` of each written frame (index 0: the
            first frame; the untimed warm-up detection is not reported).

    Raises:
        FileNotFoundError: a video file that does not exist.
        ValueError: a source that OpenCV cannot open, or an output it cannot write.
    """
    draw = drawer(detector, keypoint_spec, draw_boxes)
    capture = open_video(source)
    writer = None
    report, smoothed = VideoReport(), 0.0
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    bar = tqdm(total=max_frames or total, unit="frame", disable=not progress, desc="video")
    start = None
    with atomic_path(output_path) as tmp:  # renamed to output_path when the video is complete
        try:
            ok, frame = capture.read()
            if ok and max_frames != 0:
                detector(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))  # warm-up, not timed
            start = time.perf_counter()
            while ok and (max_frames is None or report.frames < max_frames):
                tick = time.perf_counter()
                rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
                detections = detector(rgb)
                if on_detections is not None:
                    on_detections(report.frames, detections)
                drawn = draw(rgb, detections)
                rate = 1.0 / max(time.perf_counter() - tick, 1e-6)
                smoothed = rate if report.frames == 0 else 0.9 * smoothed + 0.1 * rate
                drawn = np.asarray(draw_fps(drawn, smoothed))
                if writer is None:
                    size = (drawn.shape[1], drawn.shape[0])
                    writer = video_writer(tmp, capture_fps(capture), size, output_path)
                writer.write(cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR))
                report.frames += 1
                report.counts.update(detections.class_names)
                bar.update()
                ok, frame = capture.read()
        except KeyboardInterrupt:  # stop a camera cleanly (the video is kept)
            pass
        finally:
            bar.close()
            capture.release()
            if writer is not None:
                writer.release()
        if start is not None:
            report.fps = report.frames / max(time.perf_counter() - start, 1e-9)
    return report


def save_heatmap(
    predictor, image, output_path: str | os.PathLike, alpha: float = 0.5
) -> np.ndarray:
    """Overlay ``predictor.heatmap(image)`` on the image and save it: the class-max centre
    probability, or for a pose model the joint-max probability (``Predictor.heatmap``).

    Returns:
        The ``[H, W]`` heatmap in original-image pixels.
    """
    rgb = load_image(image)
    heat = predictor.heatmap(rgb)
    with atomic_path(output_path) as tmp:
        heatmap_overlay(rgb, heat, alpha).save(tmp)
    return heat
