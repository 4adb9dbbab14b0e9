"""The keypoints of a COCO keypoints file (``person_keypoints_*.json``): the categories'
``KeypointSpec``, each annotation's joints validated, and the joints put in a model's order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from centernet_keras.data.coco_fields import CocoRecord, is_number
from centernet_keras.keypoints import KeypointSpec
from centernet_keras.text import setting_name


def category_keypoint_spec(
    file: str,
    categories: list[dict],
    category_ids: Sequence[int | None],
    flags: Mapping[str, str] | None = None,
) -> KeypointSpec | None:
    """The ``KeypointSpec`` of the classes' keypoint categories, or ``None`` if none has any.

    Raises:
        ValueError: the keypoint categories have different joint counts, or malformed
            ``flip_pairs`` (the message names ``class_names`` as ``flags`` say).
    """
    by_id = {c["id"]: c for c in categories}
    named = [by_id[i] for i in category_ids if i is not None and by_id[i].get("keypoints")]
    if not named:
        return None
    counts = sorted({len(c["keypoints"]) for c in named})
    if len(counts) > 1:
        raise ValueError(
            f"{file}: the keypoint categories have different joint counts {counts}: "
            f"pass {setting_name('class_names', flags)} to choose categories with one joint set"
        )
    try:
        return KeypointSpec.from_coco_category(named[0])
    except ValueError as err:
        raise ValueError(f"{file}: category {named[0].get('name')!r}: {err}") from err


def align_joints(records: Sequence[CocoRecord], names: Sequence[str], file: str) -> bool:
    """Put the joints of records read from a keypoints file in the order of ``names`` (a
    model's), matched by name: records' ``keypoints``, their annotations' ``keypoints`` (what
    the OKS metric scores) and ``keypoint_spec`` (sigmas move with their joints). In place.

    Returns:
        Whether the order changed (``False``: the file already lists ``names`` in order).

    Raises:
        ValueError: the file's joint names are not ``names`` (one line naming ``file`` and the
            names found in only one of them).
    """
    spec = records[0].keypoint_spec if records else None
    if spec is None or tuple(spec.names) == tuple(names):
        return False
    if sorted(spec.names) != sorted(names):
        only_file = [n for n in spec.names if n not in names]
        only_model = [n for n in names if n not in spec.names]
        raise ValueError(
            f"{file}: its {spec.num_joints} joints are not the model's {len(names)}: only in the "
            f"file {only_file}, only in the model {only_model}"
        )
    order = [spec.names.index(name) for name in names]
    aligned = spec.reordered(names)
    for record in records:
        record.keypoints = record.keypoints[:, order]
        record.keypoint_spec = aligned
        for ann in record.annotations:
            if "keypoints" in ann:
                joints = np.reshape(ann["keypoints"], (-1, 3))[order]
                ann["keypoints"] = [float(v) for v in joints.reshape(-1)]
    return True


def read_joints(value: object, num_joints: int) -> tuple[np.ndarray, str | None]:
    """COCO ``keypoints`` ``[x1, y1, v1, ...]`` → ``[K, 3]`` float32 and a problem (or None).

    Malformed (wrong length, non-numbers): all joints unlabelled. A joint with a non-finite
    coordinate or a visibility other than 0, 1, 2 is unlabelled and reported.
    """
    joints = np.zeros((num_joints, 3), np.float32)
    if value is None:
        return joints, f"no keypoints (want {3 * num_joints} numbers)"
    if not isinstance(value, list | tuple) or len(value) != 3 * num_joints:
        size = len(value) if isinstance(value, list | tuple) else type(value).__name__
        return joints, f"keypoints has {size} values, want {3 * num_joints}: joints unlabelled"
    if not all(is_number(v) for v in value):
        return joints, "keypoints has non-numbers: joints unlabelled"
    with np.errstate(over="ignore"):  # beyond float32: inf, unlabelled below
        joints = np.asarray(value, np.float32).reshape(num_joints, 3)
    bad = ~np.isin(joints[:, 2], (0, 1, 2)) | ~np.isfinite(joints).all(axis=1)
    joints[bad] = 0
    if bad.any():
        return joints, f"joints {np.flatnonzero(bad).tolist()} malformed: unlabelled"
    return joints, None


def joints_on_image(joints: np.ndarray, width: int, height: int) -> tuple[np.ndarray, str | None]:
    """``joints`` ``[K, 3]`` with the labelled ones outside the ``width`` × ``height`` image
    (``x ∉ [0, width]`` or ``y ∉ [0, height]``) unlabelled, and what was done (or ``None``).

    The augmentation would drop them from the targets anyway, or, once the letterbox pads the
    image, train them on the padding; the scorer's copy keeps them as in the file (pycocotools
    scores them).
    """
    x, y, v = joints[:, 0], joints[:, 1], joints[:, 2]
    off = (v > 0) & ((x < 0) | (x > width) | (y < 0) | (y > height))
    if not off.any():
        return joints, None
    inside = joints.copy()
    inside[off] = 0
    return inside, (
        f"joints {np.flatnonzero(off).tolist()} outside the {width}x{height} image: "
        "unlabelled for training (scored as in the file)"
    )
