"""A split's objects as the network sees them: boxes in input pixels after the letterbox or
resize (``boxes.boxes_to_input``, the pipeline's placement), the images' sizes and byte hashes,
and the joints' visibility."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from centernet_keras.boxes import boxes_to_input, points_to_input
from centernet_keras.data.annotations import ImageRecord
from centernet_keras.data.image_io import read_encoded, read_image_size


@dataclass
class Survey:
    """One split, measured at the network input.

    Attributes:
        input_hw: the network input ``(H, W)``.
        letterbox: whether images are letterboxed (else stretched).
        image_hw: ``[I, 2]`` original ``(height, width)`` of each image (0 where unreadable).
        unreadable: ``[I]`` bool, images whose file cannot be read.
        digests: ``[I]`` the images' byte hashes (``""`` where unreadable).
        image: ``[N]`` the image index of each object (difficult objects left out: they are
            not trained on).
        classes: ``[N]`` class ids.
        boxes: ``[N, 4]`` ``[x1, y1, x2, y2]`` input pixels, clipped to the input.
        keypoints: ``[N, J, 3]`` joints in input pixels (``J = 0``: box data).
    """

    input_hw: tuple[int, int]
    letterbox: bool
    image_hw: np.ndarray
    unreadable: np.ndarray
    digests: list[str]
    image: np.ndarray
    classes: np.ndarray
    boxes: np.ndarray
    keypoints: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 3), np.float32))

    @property
    def sizes(self) -> np.ndarray:
        """``[N, 2]`` box ``(width, height)`` in input pixels."""
        return self.boxes[:, 2:] - self.boxes[:, :2]

    @property
    def objects_per_image(self) -> np.ndarray:
        """``[I]`` the objects of each image."""
        return np.bincount(self.image, minlength=len(self.image_hw))


def _image_facts(record: ImageRecord) -> tuple[tuple[int, int], str]:
    """``((height, width), byte hash)`` of a record's image; ``((0, 0), "")`` if unreadable."""
    try:
        digest = hashlib.sha1(read_encoded(record.path)).hexdigest()
        if record.width and record.height:
            return (int(record.height), int(record.width)), digest
        width, height = read_image_size(record.path)
    except Exception:  # PIL raises many kinds for broken files: counted
        return (0, 0), ""
    return (int(height), int(width)), digest


def survey(records: Sequence[ImageRecord], input_hw: Sequence[int], letterbox: bool) -> Survey:
    """Measure ``records`` at the network input ``input_hw`` (``letterbox`` or stretch)."""
    input_hw = (int(input_hw[0]), int(input_hw[1]))
    facts = [_image_facts(r) for r in records]
    image_hw = np.array([hw for hw, _ in facts], np.int64).reshape(-1, 2)
    unreadable = np.array([not digest for _, digest in facts], bool)
    images, classes, boxes, joints = [], [], [], []
    for index, record in enumerate(records):
        keep = ~record.difficult
        if unreadable[index] or not keep.any():
            continue
        hw = image_hw[index]
        images.append(np.full(int(keep.sum()), index))
        classes.append(record.classes[keep])
        boxes.append(boxes_to_input(record.boxes[keep], hw, input_hw, letterbox))
        if record.keypoints is not None and record.keypoints.shape[1]:
            points = record.keypoints[keep]
            moved = points_to_input(points[..., :2], hw, input_hw, letterbox)
            joints.append(np.concatenate([moved, points[..., 2:]], -1))
    num_joints = joints[0].shape[1] if joints else 0
    return Survey(
        input_hw,
        bool(letterbox),
        image_hw,
        unreadable,
        [digest for _, digest in facts],
        np.concatenate(images).astype(np.int64) if images else np.zeros(0, np.int64),
        np.concatenate(classes).astype(np.int32) if classes else np.zeros(0, np.int32),
        np.concatenate(boxes).astype(np.float32) if boxes else np.zeros((0, 4), np.float32),
        np.concatenate(joints).astype(np.float32) if joints else np.zeros((0, num_joints, 3)),
    )
