"""Robust image reading for the input pipeline: unreadable files are logged and counted."""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass, field

import cv2
import numpy as np

log = logging.getLogger("centernet_keras.data")


class ImageReadError(OSError):
    """An image file that is missing, unreadable or not a decodable image."""


def read_image_rgb(path: str) -> np.ndarray:
    """Read an image file as RGB uint8 ``[H, W, 3]``.

    Grayscale, RGBA and 16-bit files become 8-bit RGB; the EXIF orientation is applied.

    Raises:
        ImageReadError: the file is missing, unreadable, or not a (complete) image.
    """
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as err:
        raise ImageReadError(f"{path}: cannot read ({err.strerror or err})") from err
    if data.size == 0:
        raise ImageReadError(f"{path}: empty file")
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        raise ImageReadError(f"{path}: not a decodable image (corrupt or unknown format)")
    return np.ascontiguousarray(image[..., ::-1])


@dataclass
class SkipLog:
    """Thread-safe record of images skipped by the pipeline.

    ``count`` counts skip events (a bad file is met again every epoch); ``paths`` holds the
    distinct files, ``messages`` the recent reasons.
    """

    count: int = 0
    paths: set = field(default_factory=set)
    messages: deque = field(default_factory=lambda: deque(maxlen=1000))
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, path: str, message: str) -> None:
        with self._lock:
            self.count += 1
            first = path not in self.paths
            self.paths.add(path)
            self.messages.append(message)
        if first:  # once per file, not once per epoch
            log.warning("skipped image: %s", message)


def safe_read_image(path: bytes | str, skips: SkipLog | None = None) -> tuple[np.ndarray, bool]:
    """``read_image_rgb`` that never raises: returns ``(image, True)`` or ``(1×1 black, False)``.

    Failures are added to ``skips`` (and logged with the path).
    """
    path = path.decode() if isinstance(path, bytes) else str(path)
    try:
        return read_image_rgb(path), True
    except Exception as err:  # corrupt data can raise anything from cv2; never kill an epoch
        if skips is not None:
            skips.add(path, str(err) if isinstance(err, ImageReadError) else f"{path}: {err}")
        return np.zeros((1, 1, 3), np.uint8), False
