"""Pieces every decoder shares (``keras.ops``): class-wise greedy NMS and row compaction."""

from __future__ import annotations

import keras
from keras import ops

from centernet_keras.boxes import box_iou
from centernet_keras.gather import take_rows


def class_nms(
    boxes: keras.KerasTensor,
    classes: keras.KerasTensor,
    valid: keras.KerasTensor,
    iou_threshold: float,
) -> keras.KerasTensor:
    """Exact class-wise greedy NMS over rows already sorted by descending score.

    Row ``j`` is suppressed iff some kept row ``i < j`` of the same class has IoU > threshold.

    Args:
        boxes: ``[B, K, 4]`` xyxy boxes.
        classes: ``[B, K]`` int class ids.
        valid: ``[B, K]`` bool, rows taking part (invalid rows neither suppress nor are kept).
        iou_threshold: IoU above which a lower-scoring box is removed.

    Returns:
        ``[B, K]`` bool keep mask.
    """
    k = ops.shape(boxes)[1]
    same_class = ops.equal(ops.expand_dims(classes, 2), ops.expand_dims(classes, 1))
    both_valid = ops.logical_and(ops.expand_dims(valid, 2), ops.expand_dims(valid, 1))
    overlap = ops.logical_and(box_iou(boxes, boxes) > iou_threshold, same_class)
    overlap = ops.cast(ops.logical_and(overlap, both_valid), "float32")  # [B, K, K]
    positions = ops.arange(k, dtype="int32")

    def body(i: int, keep: keras.KerasTensor) -> keras.KerasTensor:
        row = ops.take(overlap, i, axis=1)  # [B, K]: rows suppressed by row i
        keep_i = ops.expand_dims(ops.take(keep, i, axis=1), -1)  # [B, 1]
        later = ops.cast(positions > i, "float32")  # [K]
        return keep * (1.0 - row * keep_i * later)

    keep = ops.fori_loop(0, k, body, ops.cast(valid, "float32"))
    return keep > 0.5


def compact_rows(valid: keras.KerasTensor, *tensors: keras.KerasTensor) -> list[keras.KerasTensor]:
    """Move valid rows first (keeping their order) along axis 1 and set the others to -1.

    Args:
        valid: ``[B, K]`` bool.
        *tensors: ``[B, K, ...]`` tensors of any rank >= 2.

    Returns:
        The tensors, rows reordered, invalid rows ``-1``.
    """
    k = ops.shape(valid)[1]
    positions = ops.expand_dims(ops.arange(k, dtype="int32"), 0)
    keys = ops.where(valid, positions, positions + k)  # unique keys: stable without a stable sort
    order = ops.argsort(keys, axis=1)
    valid_sorted = take_rows(valid, order)
    out = []
    for t in tensors:
        v = valid_sorted
        for _ in range(len(t.shape) - 2):  # broadcast over the trailing axes
            v = ops.expand_dims(v, -1)
        g = take_rows(t, order)
        out.append(ops.where(v, g, ops.cast(-1, g.dtype)))
    return out
