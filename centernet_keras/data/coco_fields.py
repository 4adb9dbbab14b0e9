"""The record of one COCO image (:class:`CocoRecord`) and the fields of its entries, read
leniently: numbers, ``iscrowd``, ``bbox``, and the annotation as the official scorer reads it.

A malformed value reads as ``None`` (or, for ``iscrowd``, as COCO's default) for the reader
(:func:`~centernet_keras.data.coco.read_coco`) to report; nothing here raises.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from centernet_keras.data.annotations import ImageRecord

#: Names quoted in a message, at most.
SHOWN = 10


@dataclass
class CocoRecord(ImageRecord):
    """An :class:`ImageRecord` that remembers the JSON it came from (for the official scorer).

    Attributes:
        image_id: the image's ``id`` in the JSON.
        annotations: the JSON annotations of the record's objects (crowds too, if kept) as
            pycocotools reads them: ``id``, ``image_id``, ``category_id``, ``bbox`` ``[x, y, w,
            h]`` as in the file (not clipped), ``area`` (the file's, the box area if it has
            none) and ``iscrowd``; no segmentation.
        category_ids: the JSON category id of each class id (``None``: no category of that
            name).
        keypoint_spec: the file's ``KeypointSpec`` (keypoints files), else ``None``.
    """

    image_id: object = None
    annotations: list[dict] = field(default_factory=list)
    category_ids: tuple[int | None, ...] = ()
    keypoint_spec: object = None


def is_number(value: object) -> bool:
    """Whether ``value`` is a finite JSON number (not a bool; not an integer too large for a
    float)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def read_size(value: object) -> int | None:
    """An image's ``width`` or ``height`` as an integer, or ``None`` if not a number."""
    return int(value) if is_number(value) else None


def read_crowd(value: object) -> tuple[bool, bool]:
    """``(is a crowd, well-formed)`` of an ``iscrowd`` value: ``0``/``1`` (or ``false``/
    ``true``) as they say; anything else (``"no"``, ``2``, ``null``) is malformed and read as
    ``0``, COCO's default: the object stays an object of its own (trained on and scored) rather
    than vanishing as a crowd on a guess."""
    if isinstance(value, bool) or (is_number(value) and value in (0, 1)):
        return bool(value), True
    return False, False


def read_bbox(value: object) -> list[float] | None:
    """COCO ``[x, y, w, h]`` → ``[x1, y1, x2, y2]``, or ``None`` if malformed."""
    if not isinstance(value, list | tuple) or len(value) != 4:
        return None
    if not all(is_number(v) for v in value):
        return None
    x, y, w, h = (float(v) for v in value)
    return [x, y, x + w, y + h]


def shown(names: Sequence[str]) -> str:
    """The first ``SHOWN`` of ``names`` for a message, with how many more there are."""
    more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
    return f"{list(names[:SHOWN])}{more}"


def official_annotation(
    ann: dict,
    image_id: object,
    bbox: list,
    new_id: int,
    crowd: bool,
    joints: np.ndarray | None = None,
) -> dict:
    """An annotation as the official scorer reads it (no segmentation; defaults filled in).

    ``crowd`` is its ``iscrowd`` as read; ``joints`` ``[K, 3]`` (the validated keypoints) adds
    ``keypoints`` and ``num_keypoints``.
    """
    area = ann.get("area")
    official = {
        "id": ann["id"] if isinstance(ann.get("id"), int) else new_id,
        "image_id": image_id,
        "category_id": ann["category_id"],
        "bbox": [float(v) for v in bbox],
        "area": float(area) if is_number(area) else float(bbox[2]) * float(bbox[3]),
        "iscrowd": int(crowd),
    }
    if joints is not None:
        official["keypoints"] = [float(v) for v in joints.reshape(-1)]
        official["num_keypoints"] = int((joints[:, 2] > 0).sum())
    return official
