"""The one-line-per-image annotation format of the Keras CenterNet ports, and its records.

A line is ``<image path> x1,y1,x2,y2,cls x1,y1,x2,y2,cls ...`` (boxes in absolute pixels of
the image, 0-based class ids). An optional sixth field ``,1`` marks a VOC *difficult* object
(``voc_annotation.py`` writes them unless ``--skip-difficult``): the training pipeline leaves
them out and the VOC metrics ignore them. Paths may contain spaces: box fields are read from
the right.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from centernet_keras.io import atomic_write_text
from centernet_keras.text import quote

_NUM = r"-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?"
_BOX = re.compile(rf"^{_NUM},{_NUM},{_NUM},{_NUM},\d+(?:,[01])?$")


class AnnotationError(ValueError):
    """A malformed annotation line."""


@dataclass
class ImageRecord:
    """One image and its objects.

    Attributes:
        path: image file path.
        boxes: ``[N, 4]`` float32 ``[x1, y1, x2, y2]`` in image pixels.
        classes: ``[N]`` int32 0-based class ids.
        difficult: ``[N]`` bool VOC difficult flags.
        width, height: image size if known (from the XML / JSON), else ``None``.
        keypoints: ``[N, K, 3]`` float32 ``(x, y, v)`` joints of each object in image pixels
            (``v = 0``: unlabelled; ``1``, ``2``: labelled, as COCO), from a COCO keypoints
            file; ``K = 0`` (no keypoints) for box annotations.
    """

    path: str
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    classes: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.int32))
    difficult: np.ndarray = field(default_factory=lambda: np.zeros((0,), bool))
    width: int | None = None
    height: int | None = None
    keypoints: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.boxes = np.asarray(self.boxes, np.float32).reshape(-1, 4)
        self.classes = np.asarray(self.classes, np.int32).reshape(-1)
        if len(self.difficult) == 0 and len(self.classes):
            self.difficult = np.zeros(len(self.classes), bool)
        self.difficult = np.asarray(self.difficult, bool).reshape(-1)
        if self.keypoints is None:
            self.keypoints = np.zeros((len(self.boxes), 0, 3), np.float32)
        self.keypoints = np.asarray(self.keypoints, np.float32)
        if self.keypoints.ndim != 3 or self.keypoints.shape[2] != 3:
            raise ValueError(
                f"{self.path}: keypoints must be [N, K, 3], got {self.keypoints.shape}"
            )
        lengths = {len(self.boxes), len(self.classes), len(self.difficult), len(self.keypoints)}
        if len(lengths) != 1:
            raise ValueError(
                f"{self.path}: boxes, classes, difficult and keypoints differ in length"
            )

    @property
    def num_keypoints(self) -> int:
        """``K``, the joints per object (0 without keypoints)."""
        return int(self.keypoints.shape[1])

    def select(self, keep: np.ndarray) -> None:
        """Keep only the objects where ``keep`` (``[N]`` bool) is true, in place."""
        self.boxes, self.classes = self.boxes[keep], self.classes[keep]
        self.difficult, self.keypoints = self.difficult[keep], self.keypoints[keep]


#: Decimals of a coordinate in an annotation line (0.01 px).
LINE_DECIMALS = 2


def line_value(v: float) -> float:
    """A coordinate as an annotation line holds it: rounded to ``LINE_DECIMALS`` decimals."""
    return round(float(v), LINE_DECIMALS)


def _fmt(v: float) -> str:
    v = line_value(v) + 0.0  # + 0.0: -0.0 is written 0
    return str(int(v)) if v.is_integer() else f"{v:.{LINE_DECIMALS}f}".rstrip("0").rstrip(".")


def format_line(record: ImageRecord) -> str:
    """``ImageRecord`` → annotation line (no newline).

    Lines carry boxes only: keypoints are not written (pose training reads the COCO file).
    """
    parts = [str(record.path)]
    for box, cls, diff in zip(record.boxes, record.classes, record.difficult, strict=True):
        fields = [*(_fmt(v) for v in box), str(int(cls))]
        if diff:
            fields.append("1")
        parts.append(",".join(fields))
    return " ".join(parts)


def parse_line(line: str) -> ImageRecord:
    """Annotation line → ``ImageRecord``.

    Raises:
        AnnotationError: empty line, no path, or a field that looks like a box but is malformed.
    """
    tokens = line.strip().split(" ")
    boxes, classes, difficult = [], [], []
    while len(tokens) > 1 and _BOX.match(tokens[-1]):
        values = tokens.pop().split(",")
        boxes.append([float(v) for v in values[:4]])
        classes.append(int(values[4]))
        difficult.append(len(values) == 6 and values[5] == "1")
    path = " ".join(tokens).strip()
    if not path:
        raise AnnotationError(f"no image path in line: {quote(line.strip())}")
    if "," in tokens[-1] and re.match(rf"^{_NUM},", tokens[-1]):
        raise AnnotationError(f"malformed box field {quote(tokens[-1])} (want x1,y1,x2,y2,cls)")
    return ImageRecord(path, boxes[::-1], classes[::-1], difficult[::-1])


def read_annotation_file(
    path: str | os.PathLike, root: str | os.PathLike | None = None
) -> tuple[list[ImageRecord], list[str]]:
    """Read an annotation file; malformed lines are reported, not fatal.

    Args:
        path: the ``.txt`` file.
        root: relative image paths are resolved against it (default: the current directory).

    Returns:
        ``(records, problems)``: one record per good line, one message per bad line
        (``"<file>:<line>: <reason>"``).
    """
    records, problems = [], []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = parse_line(line)
        except AnnotationError as err:
            problems.append(f"{path}:{number}: {err}")
            continue
        if root is not None and not os.path.isabs(record.path):
            record.path = os.path.join(root, record.path)
        records.append(record)
    return records, problems


def write_annotation_file(path: str | os.PathLike, records: Iterable[ImageRecord]) -> None:
    """Write records as annotation lines, atomically."""
    atomic_write_text(path, "".join(format_line(r) + "\n" for r in records))


def drop_out_of_range_classes(
    records: Iterable[ImageRecord], num_classes: int
) -> tuple[int, list[str]]:
    """Drop the boxes whose class id is outside ``0..num_classes - 1`` (a wrong classes file?).

    Records are changed in place (boxes, classes and difficult flags together).

    Args:
        records: the records to check.
        num_classes: the model's number of classes.

    Returns:
        ``(dropped boxes, one message per record that lost boxes)``.
    """
    dropped, messages = 0, []
    for record in records:
        bad = (record.classes < 0) | (record.classes >= num_classes)
        if not bad.any():
            continue
        dropped += int(bad.sum())
        ids = ", ".join(str(i) for i in sorted(set(record.classes[bad].tolist()))[:10])
        messages.append(
            f"{record.path}: {int(bad.sum())} box(es) with class id outside "
            f"0..{num_classes - 1} dropped (ids {ids}; wrong classes file?)"
        )
        record.select(~bad)
    return dropped, messages
