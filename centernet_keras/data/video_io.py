"""Video and frame-folder input and output with OpenCV: open a video or camera, write a video,
list a folder's image files (what ``predict --mode video / dir`` and ``centernet track`` read
and write)."""

from __future__ import annotations

import os
from pathlib import Path

import cv2

from centernet_keras.data.image_io import IMAGE_SUFFIXES
from centernet_keras.io import is_temp_file

#: Frames per second of a written video when the source does not say.
DEFAULT_FPS = 25.0


def open_video(source: str | int) -> cv2.VideoCapture:
    """An opened capture of a video file or a camera (an int index, or its digits as text).

    Raises:
        FileNotFoundError: a video file that does not exist.
        ValueError: a source that OpenCV cannot open (not a video, or no such camera).
    """
    if isinstance(source, str) and source.isdigit():
        source = int(source)
    if isinstance(source, str) and not Path(source).exists():
        raise FileNotFoundError(f"video not found: {source}")
    capture = cv2.VideoCapture(source)
    if not capture.isOpened():
        raise ValueError(f"cannot open video source {source!r} (not a video, or no camera)")
    return capture


def capture_fps(capture: cv2.VideoCapture) -> float:
    """The capture's frame rate, or :data:`DEFAULT_FPS` when it reports none."""
    fps = capture.get(cv2.CAP_PROP_FPS)
    return fps if fps and fps > 0 else DEFAULT_FPS


def video_writer(
    path: str | os.PathLike, fps: float, size: tuple[int, int], shown: str | os.PathLike
) -> cv2.VideoWriter:
    """An OpenCV writer of ``size`` (width, height) BGR frames to ``path`` (``.avi`` → XVID,
    else mp4v) at ``fps``; its error names ``shown`` (the output a temporary ``path`` becomes).

    Raises:
        ValueError: OpenCV cannot write there (e.g. an unknown suffix).
    """
    path = Path(path)
    fourcc = cv2.VideoWriter_fourcc(*("XVID" if path.suffix.lower() == ".avi" else "mp4v"))
    writer = cv2.VideoWriter(os.fspath(path), fourcc, fps, size)
    if not writer.isOpened():
        raise ValueError(f"cannot write video {shown} (use a .mp4 or .avi name)")
    return writer


def image_files(folder: str | os.PathLike) -> list[Path]:
    """The image files of a folder (not recursive), sorted by name: an image suffix
    (``image_io.IMAGE_SUFFIXES``), not a temporary file a killed run left
    (``io.is_temp_file``)."""
    return sorted(
        p
        for p in Path(folder).iterdir()
        if p.suffix.lower() in IMAGE_SUFFIXES and not is_temp_file(p)
    )
