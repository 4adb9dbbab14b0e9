"""FCOS training targets (location → box matching, LTRB deltas, centerness) in TensorFlow ops.

Reproduces the matching of the EECS 498 FCOS write-up (``fcos_match_locations_to_gt``), which
is torchvision's ``FCOS.compute_loss`` matching without centre sampling (see
``tests/data/reference/README.md``, section 8), over all pyramid levels at once and without a
Python loop over boxes, so :func:`encode_fcos_targets` runs inside ``tf.data.Dataset.map`` as
well as eagerly. Centre sampling (torchvision's ``center_sampling_radius=1.5``) is an option.
"""

from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from centernet_keras.locations import (
    FCOS_STRIDES,
    fcos_location_strides,
    fcos_locations,
    fcos_size_ranges,
)


def _level_bounds(image_size: Sequence[int], strides: Sequence[int]) -> tuple[tf.Tensor, ...]:
    """Per-location ``lower [L]`` and ``upper [L]`` bounds of ``max(l, t, r, b)`` (float32)."""
    location_strides = fcos_location_strides(image_size, strides)  # [L]
    lower = np.zeros_like(location_strides)
    upper = np.zeros_like(location_strides)
    for stride, (lo, hi) in zip(strides, fcos_size_ranges(strides), strict=True):
        at_level = location_strides == float(stride)
        lower[at_level], upper[at_level] = lo, hi
    return tf.constant(lower), tf.constant(upper)


def _centerness(ltrb: tf.Tensor) -> tf.Tensor:
    """``sqrt(min(l, r) / max(l, r) · min(t, b) / max(t, b))`` of ``[..., 4]`` positive LTRB."""
    left, top, right, bottom = tf.unstack(ltrb, axis=-1)
    lr = tf.minimum(left, right) / tf.maximum(left, right)
    tb = tf.minimum(top, bottom) / tf.maximum(top, bottom)
    return tf.sqrt(lr * tb)


def encode_fcos_targets(
    boxes: Any,
    classes: Any,
    image_size: tuple[int, int],
    strides: Sequence[int] = FCOS_STRIDES,
    center_sampling_radius: float | None = None,
) -> dict[str, tf.Tensor]:
    """Match every pyramid location of one image to at most one box; encode its targets.

    Locations are those of :func:`centernet_keras.locations.fcos_locations` (levels
    concatenated, row-major inside each). A location matches a box when

    * it lies strictly inside the box: ``min(l, t, r, b) > 0`` with ``l = x − x1``,
      ``t = y − y1``, ``r = x2 − x``, ``b = y2 − y``;
    * ``max(l, t, r, b)`` lies in its level's open range (``fcos_size_ranges``: ``(0, 64)``,
      ``(64, 128)``, ``(128, ∞)`` for strides 8/16/32);
    * with ``center_sampling_radius`` set, also ``max(|x − cx|, |y − cy|) < radius · stride``
      (``(cx, cy)`` the box centre; torchvision's centre sampling).

    Among several matching boxes the smallest area wins (ties: the first row). The reference
    ranks by ``1e8 − area`` in float32, which merges areas closer than ~8 px²; the areas here
    are compared exactly. Rows with class ``-1`` and rows whose box is all ``-1`` are padding and
    match nothing; boxes are not clipped (a box reaching outside the image keeps its size).

    Args:
        boxes: ``[N, 4]`` float ``[x1, y1, x2, y2]`` in input pixels; ``N`` may be 0 or dynamic.
        classes: ``[N]`` int class ids, ``-1`` for padding / ignored rows.
        image_size: ``(height, width)`` of the network input, Python ints.
        strides: Stride of each pyramid level, ascending.
        center_sampling_radius: ``None`` (the write-up, as the fixture) or the radius in strides.

    Returns:
        A dict over the ``L`` locations, background ``-1`` everywhere: ``classes`` int32
        ``[L]``; ``boxes`` float32 ``[L, 4]`` (the matched box); ``deltas`` float32 ``[L, 4]``
        (``(l, t, r, b) / stride``); ``centerness`` float32 ``[L]``
        (``sqrt(min(l, r) / max(l, r) · min(t, b) / max(t, b))``).
    """
    locations = tf.constant(fcos_locations(image_size, strides))  # [L, 2]
    location_strides = tf.constant(fcos_location_strides(image_size, strides))  # [L]
    lower, upper = _level_bounds(image_size, strides)  # [L] each

    # One all-zero padding row, so an image without boxes still has an axis to reduce.
    boxes = tf.reshape(tf.cast(boxes, tf.float32), [-1, 4])
    boxes = tf.concat([boxes, tf.zeros([1, 4], tf.float32)], axis=0)  # [N+1, 4]
    classes = tf.reshape(tf.cast(classes, tf.int32), [-1])
    classes = tf.concat([classes, tf.constant([-1], tf.int32)], axis=0)  # [N+1]
    real = (classes >= 0) & tf.reduce_any(tf.not_equal(boxes, -1.0), axis=1)  # [N+1]

    x = locations[:, 0:1]  # [L, 1]
    y = locations[:, 1:2]
    ltrb = tf.stack(
        [x - boxes[:, 0], y - boxes[:, 1], boxes[:, 2] - x, boxes[:, 3] - y], axis=-1
    )  # [L, N+1, 4]
    longest = tf.reduce_max(ltrb, axis=-1)  # [L, N+1]
    match = tf.reduce_min(ltrb, axis=-1) > 0.0
    match &= (longest > lower[:, None]) & (longest < upper[:, None])
    match &= real[None, :]
    if center_sampling_radius is not None:
        centres = (boxes[:, :2] + boxes[:, 2:]) / 2.0  # [N+1, 2]
        offset = tf.reduce_max(tf.abs(locations[:, None, :] - centres[None]), axis=-1)
        match &= offset < float(center_sampling_radius) * location_strides[:, None]

    # Smallest area among the matches, then the first row with that area.
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])  # [N+1]
    area = tf.where(match, area[None, :], np.inf)  # [L, N+1]
    smallest = match & tf.equal(area, tf.reduce_min(area, axis=1, keepdims=True))
    rows = tf.range(tf.shape(boxes)[0], dtype=tf.int32)[None, :]
    first = tf.reduce_min(tf.where(smallest, rows, tf.int32.max), axis=1)  # [L]
    foreground = tf.reduce_any(match, axis=1)  # [L]
    matched = tf.where(foreground, first, 0)

    fg4 = foreground[:, None]
    matched_ltrb = tf.gather(ltrb, matched[:, None], axis=1, batch_dims=1)[:, 0]  # [L, 4]
    deltas = matched_ltrb / location_strides[:, None]
    return {
        "classes": tf.where(foreground, tf.gather(classes, matched), -1),
        "boxes": tf.where(fg4, tf.gather(boxes, matched), -1.0),
        "deltas": tf.where(fg4, deltas, -1.0),
        "centerness": tf.where(foreground, _centerness(tf.where(fg4, deltas, 1.0)), -1.0),
    }
