"""The toy's training targets of one image (TensorFlow ops: ``tf.data`` maps them)."""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf


def encode_center_point_targets(
    boxes, classes, image_hw: Sequence[int], num_classes: int, stride: int
) -> dict[str, tf.Tensor]:
    """Boxes → the cell of each box centre on the ``stride`` grid.

    Args:
        boxes: ``[N, 4]`` xyxy input pixels; rows with class −1 (padding) are ignored.
        classes: ``[N]`` int class ids.
        image_hw: the input ``(H, W)``, multiples of ``stride``.
        num_classes: heatmap channels ``C``.
        stride: the output stride.

    Returns:
        ``{"heatmap" [h, w, C] (1 at each centre cell, else 0), "size" [h, w, 2] (box w, h in
        cells at the centre cells), "mask" [h, w] (1 at the centre cells)}``, ``h, w = H, W /
        stride``.
    """
    h, w = int(image_hw[0]) // stride, int(image_hw[1]) // stride
    boxes = tf.reshape(tf.cast(boxes, tf.float32), (-1, 4))
    classes = tf.reshape(tf.cast(classes, tf.int32), (-1,))
    keep = (classes >= 0) & (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    boxes, classes = tf.boolean_mask(boxes, keep), tf.boolean_mask(classes, keep)
    centre = (boxes[:, :2] + boxes[:, 2:]) / (2.0 * stride)
    col = tf.clip_by_value(tf.cast(tf.floor(centre[:, 0]), tf.int32), 0, w - 1)
    row = tf.clip_by_value(tf.cast(tf.floor(centre[:, 1]), tf.int32), 0, h - 1)
    cells = tf.stack([row, col], axis=1)
    ones = tf.ones_like(col, tf.float32)
    heatmap = tf.tensor_scatter_nd_max(
        tf.zeros((h, w, num_classes)), tf.concat([cells, classes[:, None]], axis=1), ones
    )
    size = tf.tensor_scatter_nd_update(
        tf.zeros((h, w, 2)), cells, (boxes[:, 2:] - boxes[:, :2]) / stride
    )
    mask = tf.tensor_scatter_nd_max(tf.zeros((h, w)), cells, ones)
    return {"heatmap": heatmap, "size": size, "mask": mask}
