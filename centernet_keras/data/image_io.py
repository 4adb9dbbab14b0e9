"""The one image reader of training and inference, and its conversion rule.

Files are decoded by OpenCV (``read_image_rgb``: the training pipeline and ``Predictor`` for a
path); arrays and PIL images given to ``Predictor`` go through the same ``to_rgb8``. One rule:

* grayscale becomes three equal channels; an alpha channel is dropped (not composited);
* 8-bit values are kept; **16-bit values keep their high byte** (``v >> 8``, whatever the
  image's range: a dark 16-bit image stays dark); other dtypes are taken as 0–255 and clipped;
* the EXIF orientation is applied (the *displayed* image, as browsers and labelImg / CVAT show
  it); ``read_image_size`` gives the size in that displayed frame without decoding the pixels.

Unreadable files raise ``ImageReadError``; ``safe_read_image`` logs and counts them instead.
``load_image`` takes any of the inputs a ``Predictor`` accepts (``ImageInput``: a path, a PIL
image or an array); ``IMAGE_SUFFIXES`` are the file suffixes taken for images in a folder.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from io import BytesIO

import cv2
import numpy as np
from PIL import Image, ImageOps

log = logging.getLogger("centernet_keras.data")

#: Suffixes (lowercase; compare ``path.suffix.lower()``) of the files taken for images in a
#: folder: ``predict --mode dir``, INT8 calibration folders.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm")
#: An image as ``Predictor`` and ``load_image`` take it: a file path, a PIL image or an array.
ImageInput = str | os.PathLike | Image.Image | np.ndarray
EXIF_ORIENTATION = 0x0112
#: EXIF orientations whose displayed image is the stored one transposed (width ↔ height).
TRANSPOSING_ORIENTATIONS = frozenset({5, 6, 7, 8})
#: Image sources that are not files: a path starting with a key is read by its function
#: (``path → encoded image bytes``), e.g. a TFDS dataset (``data.tfds_source``).
BYTE_SOURCES: dict[str, Callable[[str], bytes]] = {}


def _encoded_bytes(path: str) -> bytes | None:
    """The encoded image of ``path`` from a ``BYTE_SOURCES`` entry, or ``None`` for a file."""
    for prefix, read in BYTE_SOURCES.items():
        if path.startswith(prefix):
            return read(path)
    return None


def read_encoded(path: str | os.PathLike) -> bytes:
    """The encoded image bytes of ``path``: its ``BYTE_SOURCES`` entry's, else the file's.

    Raises:
        OSError: the file is missing or unreadable.
    """
    encoded = _encoded_bytes(os.fspath(path))
    if encoded is not None:
        return encoded
    with open(path, "rb") as handle:
        return handle.read()


class ImageReadError(OSError):
    """An image file that is missing, unreadable or not a decodable image."""


def to_rgb8(image: np.ndarray) -> np.ndarray:
    """The conversion rule (module docstring) for an RGB-ordered array.

    Args:
        image: ``[H, W]``, ``[H, W, 1]``, ``[H, W, 3]`` (RGB) or ``[H, W, 4]`` (RGBA); uint8,
            uint16 (high byte kept), or any other dtype taken as 0–255.

    Returns:
        ``[H, W, 3]`` uint8 RGB, C-contiguous.

    Raises:
        ValueError: an array of another shape.
    """
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=-1)
    if arr.ndim != 3 or arr.shape[-1] not in (3, 4) or min(arr.shape[:2]) < 1:
        raise ValueError(f"expected an [H, W], [H, W, 1|3|4] image array, got {arr.shape}")
    arr = arr[..., :3]
    if arr.dtype.kind == "u" and arr.dtype.itemsize == 2:  # uint16, either byte order
        arr = arr >> 8
    elif arr.dtype != np.uint8:
        arr = np.clip(np.rint(arr.astype(np.float64)), 0, 255)
    return np.ascontiguousarray(arr.astype(np.uint8))


def exif_orientation(image: Image.Image) -> int:
    """The EXIF orientation (1–8) of an opened PIL image; 1 when absent or invalid.

    Reads the header only: the pixels are not decoded (a PNG's ``eXIf`` chunk placed after
    the pixel data, which the PNG specification does not allow, is not looked for).
    """
    if image.format == "PNG" and "exif" not in image.info:
        return 1  # PIL would decode the whole PNG to look for a late eXIf chunk
    try:
        value = int(image.getexif().get(EXIF_ORIENTATION, 1))
    except Exception:  # a malformed EXIF block is no orientation
        return 1
    return value if 1 <= value <= 8 else 1


def read_image_size(path: str | os.PathLike) -> tuple[int, int]:
    """``(width, height)`` of an image file as displayed, from its header (no decoding).

    EXIF orientations 5–8 swap the stored width and height, as ``read_image_rgb`` (and so
    the pipeline and ``Predictor``) rotate the pixels.

    Raises:
        OSError: the file is missing or is not an image PIL can identify.
    """
    encoded = _encoded_bytes(os.fspath(path))
    with Image.open(path if encoded is None else BytesIO(encoded)) as image:
        width, height = image.size
        if exif_orientation(image) in TRANSPOSING_ORIENTATIONS:
            return height, width
        return width, height


def read_image_rgb(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as RGB uint8 ``[H, W, 3]`` by the rule of the module docstring.

    OpenCV decodes (and applies the EXIF orientation); ``to_rgb8`` converts the depth.

    Raises:
        ImageReadError: the file is missing, unreadable, or not a (complete) image.
    """
    path = os.fspath(path)
    try:
        encoded = _encoded_bytes(path)
        data = np.fromfile(path, np.uint8) if encoded is None else np.frombuffer(encoded, np.uint8)
    except OSError as err:
        raise ImageReadError(f"{path}: cannot read ({err.strerror or err})") from err
    if data.size == 0:
        raise ImageReadError(f"{path}: empty file")
    image = cv2.imdecode(data, cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH)  # BGR, 8 or 16 bit
    if image is not None and image.dtype not in (np.uint8, np.uint16):
        image = cv2.imdecode(data, cv2.IMREAD_COLOR)  # float (HDR, EXR): OpenCV's own scaling
    if image is None or image.size == 0:
        raise ImageReadError(f"{path}: not a decodable image (corrupt or unknown format)")
    return to_rgb8(image[..., ::-1])


def pil_to_rgb(image: Image.Image) -> np.ndarray:
    """A PIL image → ``[H, W, 3]`` uint8 RGB by the same rule (EXIF orientation applied).

    PIL's integer modes (``I;16``, ``I;16B``, ``I``…) hold 16-bit data (PIL opens 16-bit
    PNG / TIFF / PGM files so): values are clipped to 0–65535 and keep their high byte.
    """
    image = ImageOps.exif_transpose(image)
    if image.mode.startswith("I"):
        arr = np.clip(np.asarray(image).astype(np.int64), 0, 65535).astype(np.uint16)
        return to_rgb8(arr)
    return np.asarray(image.convert("RGB"))


def load_image(image: ImageInput) -> np.ndarray:
    """Any supported image → ``[H, W, 3]`` uint8 RGB, by the training pipeline's reader.

    A path is read by ``read_image_rgb`` (the pipeline's reader: same pixels); a PIL image or
    an array is converted by the same rule (``to_rgb8``): grayscale becomes three channels, an
    alpha channel is dropped, 16-bit values keep their high byte (``>> 8``); paths and PIL
    images are EXIF-transposed. Arrays are taken as RGB (convert OpenCV's BGR first) with
    shape ``[H, W]``, ``[H, W, 1]``, ``[H, W, 3]`` or ``[H, W, 4]``; float arrays as 0–255.

    Raises:
        ValueError: an array of another shape.
        OSError: a file that is missing or not a decodable image (``ImageReadError``).
    """
    if isinstance(image, str | os.PathLike):
        return read_image_rgb(image)
    if isinstance(image, Image.Image):
        return pil_to_rgb(image)
    return to_rgb8(image)


@dataclass
class SkipLog:
    """Thread-safe record of images skipped by the pipeline.

    ``count`` counts skip events (a bad file is met again every epoch); ``paths`` holds the
    distinct files, ``messages`` the recent reasons. ``nothing_readable`` is set (a message)
    when an endless dataset stopped because none of its images decodes (``make_dataset``).
    """

    count: int = 0
    paths: set = field(default_factory=set)
    messages: deque = field(default_factory=lambda: deque(maxlen=1000))
    nothing_readable: str | None = None
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
