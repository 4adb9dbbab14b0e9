"""Objects no output location can learn: the detector's own target encoder and decoder
(``evaluation.oracle``) round trip each image's ground truth; an object that no decoded box of
its class overlaps at IoU 0.5 is lost by the encoding, whatever the training does (FCOS: no
location inside the box at its level; CenterNet: another object of its class on its centre
cell; any detector: more objects than its decoder outputs)."""

from __future__ import annotations

import numpy as np
from keras import ops

from centernet_keras.boxes import iou_matrix
from centernet_keras.doctor.survey import Survey
from centernet_keras.evaluation.oracle import oracle_maps

#: The IoU at which a decoded oracle box recovers its object (VOC's match).
RECOVERED_IOU = 0.5


def recovered(boxes: np.ndarray, classes: np.ndarray, found: dict) -> np.ndarray:
    """``[N]`` bool: each object matched, one to one and greedily by IoU, by a decoded box of
    its class at IoU ``RECOVERED_IOU``; ``found``: one image's decoder output (numpy)."""
    count = int(found["num_detections"])
    iou = iou_matrix(boxes, np.asarray(found["boxes"][:count], np.float32))
    iou[classes[:, None] != np.asarray(found["classes"][:count])[None]] = 0.0
    matched = np.zeros(len(boxes), bool)
    while iou.size and iou.max() >= RECOVERED_IOU:
        n, k = np.unravel_index(int(iou.argmax()), iou.shape)
        matched[n] = True
        iou[n, :] = 0.0
        iou[:, k] = 0.0
    return matched


def learnable(
    model, data: Survey, max_objects: int = 128, limit: int | None = None
) -> np.ndarray | None:
    """``[N]`` bool per object of ``data``: whether ``model``'s targets keep it; ``None`` for a
    detector whose targets the oracle cannot turn into maps (``oracle_maps``: CenterNet- and
    FCOS-style targets), so not checked.

    Args:
        model: a detector built for ``data.input_hw`` (its ``target_encoder`` and ``decode``;
            the weights do not matter).
        data: the split's survey.
        max_objects: the target slots of an image (``--max-objects``: the objects past them
            are not trained on).
        limit: round trip only the first ``limit`` images (the others' objects count as
            learnable); ``None``: all.
    """
    keep = np.ones(len(data.classes), bool)
    images = np.unique(data.image)
    for index in images[:limit] if limit is not None else images:
        rows = np.flatnonzero(data.image == index)
        joints = data.keypoints[rows] if data.keypoints.shape[1] else None
        boxes, classes = data.boxes[rows], data.classes[rows]
        try:
            maps = oracle_maps(model, boxes, classes, data.input_hw, joints, max_objects)
        except NotImplementedError:  # another target layout: said in the table, not guessed
            return None
        out = model.decode({k: ops.convert_to_tensor(v) for k, v in maps.items()}, data.input_hw)
        found = {k: ops.convert_to_numpy(v)[0] for k, v in out.items()}
        keep[rows] = recovered(boxes, classes, found)
    return keep
