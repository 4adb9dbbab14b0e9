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
    Computed as the fixed point of ``keep_j = valid_j ∧ ¬∃ i < j: overlap_ij ∧ keep_i``,
    iterated from ``keep = valid`` until it stops changing: greedy NMS is that recursion's one
    solution, and after ``t`` steps the first ``t`` rows are final, so it ends after at most
    ``K`` steps — in practice after the longest chain of suppressions plus one (a few), each one
    ``[B, K] × [B, K, K]`` product, instead of ``K`` sequential row steps.

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
    positions = ops.arange(k, dtype="int32")
    earlier = ops.expand_dims(positions, 1) < ops.expand_dims(positions, 0)  # [K, K]: i < j
    overlap = ops.logical_and(ops.logical_and(overlap, both_valid), earlier)
    overlap = ops.cast(overlap, "float32")  # [B, K, K]: row i suppresses row j if i is kept
    first = ops.cast(valid, "float32")

    def step(keep: keras.KerasTensor, _changed) -> tuple:
        hits = ops.squeeze(ops.matmul(ops.expand_dims(keep, 1), overlap), 1)  # [B, K]
        new = first * ops.cast(hits < 0.5, "float32")
        return new, ops.any(ops.not_equal(new, keep))

    keep, _ = ops.while_loop(
        lambda _keep, changed: changed,
        step,
        (first, ops.convert_to_tensor(True)),
        maximum_iterations=k,
    )
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
