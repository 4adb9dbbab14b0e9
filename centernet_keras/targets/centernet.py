"""CenterNet training targets (heatmap, size, offset, indices, mask) in TensorFlow ops.

Reproduces the target construction of xingyizhou/CenterNet ``src/lib/datasets/sample/ctdet.py``
(see ``tests/data/reference/README.md``, section 3) without a Python loop over boxes, so
:func:`encode_targets` runs inside ``tf.data.Dataset.map`` as well as eagerly.
"""

from typing import Any

import tensorflow as tf

from centernet_keras.targets.gaussian import RADIUS_MODES, _radius


def _box_radius(
    height: tf.Tensor, width: tf.Tensor, min_overlap: float = 0.7, mode: str = "cornernet"
) -> tf.Tensor:
    """Integer gaussian radius of ``ctdet.py``: ``max(0, int(gaussian_radius(ceil(h), ceil(w))))``.

    Args:
        height: ``[N]`` float box heights in output-map pixels.
        width: ``[N]`` float box widths.
        min_overlap: See :func:`centernet_keras.targets.gaussian_radius`.
        mode: ``"cornernet"`` or ``"corrected"``.

    Returns:
        ``[N]`` int32 radii.
    """
    h = tf.cast(tf.math.ceil(height), tf.float64)
    w = tf.cast(tf.math.ceil(width), tf.float64)
    radius = _radius(h, w, min_overlap, mode, tf.sqrt, tf.minimum)
    return tf.maximum(tf.cast(radius, tf.int32), 0)  # float -> int truncates toward zero


def _axis_gaussian(center: tf.Tensor, radius: tf.Tensor, length: int) -> tf.Tensor:
    """One axis of each box's separable gaussian, zero outside ``|d| ≤ radius``.

    Args:
        center: ``[N]`` int32 integer centres along the axis.
        radius: ``[N]`` int32 radii.
        length: Map size along the axis.

    Returns:
        ``[N, length]`` float64 values ``exp(−d² / 2σ²)`` with ``σ = (2r + 1) / 6``.
    """
    d = tf.range(length, dtype=tf.int32)[None, :] - center[:, None]  # [N, L]
    sigma = tf.cast(2 * radius + 1, tf.float64)[:, None] / 6.0  # [N, 1]
    d64 = tf.cast(d, tf.float64)
    values = tf.exp(-(d64 * d64) / (2.0 * sigma * sigma))
    return tf.where(tf.abs(d) <= radius[:, None], values, tf.zeros_like(values))


def _output_size(image_size: tuple[int, int], stride: int) -> tuple[int, int]:
    """``(H_out, W_out)`` of an input ``(height, width)``; raises ValueError unless divisible."""
    in_h, in_w = (int(v) for v in image_size)
    if in_h % stride or in_w % stride:
        raise ValueError(f"image_size {image_size} must be divisible by stride {stride}")
    return in_h // stride, in_w // stride


def _clipped_centres(
    boxes: tf.Tensor, out_h: int, out_w: int, reference_clip: bool = False
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Clip output-map boxes to the map and return their sizes and centres.

    The map spans ``[0, W_out] × [0, H_out]`` (pixel edges: cell ``i`` is ``[i, i + 1)``), so
    boxes are clipped there. ``ctdet.py`` / ``multi_pose.py`` clip to ``[0, W_out − 1]`` (the
    last cell's left edge) instead: a box touching the right or bottom edge loses up to one cell
    (4 input px) and its centre moves half a cell, while its mirror image, touching the left
    edge, loses nothing — the flip test then sees two centres. ``reference_clip`` reproduces it.

    Args:
        boxes: ``[n, 4]`` float32 ``[x1, y1, x2, y2]`` in output-map pixels.
        out_h: Output map height; y is clipped to ``[0, H_out]`` (reference: ``H_out − 1``).
        out_w: Output map width; x is clipped to ``[0, W_out]`` (reference: ``W_out − 1``).
        reference_clip: clip as the reference does.

    Returns:
        ``size [n, 2]`` float32 ``(w, h)`` after clipping, ``centre [n, 2]`` float32 ``(x, y)``
        and ``centre_int [n, 2]`` int32 (truncated; the clipped centre is never negative, and
        below ``W_out`` / ``H_out`` for a box of positive size).
    """
    last = 1.0 if reference_clip else 0.0
    x1 = tf.clip_by_value(boxes[:, 0], 0.0, out_w - last)
    x2 = tf.clip_by_value(boxes[:, 2], 0.0, out_w - last)
    y1 = tf.clip_by_value(boxes[:, 1], 0.0, out_h - last)
    y2 = tf.clip_by_value(boxes[:, 3], 0.0, out_h - last)
    size = tf.stack([x2 - x1, y2 - y1], axis=-1)
    centre = tf.stack([(x1 + x2) / 2, (y1 + y2) / 2], axis=-1)
    return size, centre, tf.cast(centre, tf.int32)


def _flat_index(xy_int: tf.Tensor, out_w: int) -> tf.Tensor:
    """Flat spatial index ``y · W_out + x`` of ``[..., 2]`` int32 ``(x, y)`` points."""
    return xy_int[..., 1] * out_w + xy_int[..., 0]


def _draw_heatmaps(
    centre_int: tf.Tensor,
    radius: tf.Tensor,
    channel: tf.Tensor,
    num_channels: int,
    out_h: int,
    out_w: int,
) -> tf.Tensor:
    """Max-combine one gaussian per row into a ``[H_out, W_out, C]`` map (``draw_umich_gaussian``).

    Each gaussian is separable and restricted to the ``(2r + 1)²`` window around its centre;
    rows are combined by an element-wise max per channel. Memory is ``n · H_out · W_out``.

    Args:
        centre_int: ``[n, 2]`` int32 ``(x, y)`` centres inside the map.
        radius: ``[n]`` int32 radii.
        channel: ``[n]`` int32 channel of each row; ``num_channels`` for a row not drawn.
        num_channels: Number of channels ``C``.
        out_h: Map height.
        out_w: Map width.

    Returns:
        ``[H_out, W_out, C]`` float32 map, zero where nothing was drawn.
    """
    gx = _axis_gaussian(centre_int[:, 0], radius, out_w)  # [n, W_out] float64
    gy = _axis_gaussian(centre_int[:, 1], radius, out_h)  # [n, H_out] float64
    per_row = tf.cast(gy[:, :, None] * gx[:, None, :], tf.float32)  # [n, H_out, W_out]
    per_row = tf.reshape(per_row, [-1, out_h * out_w])  # [n, H_out·W_out]
    per_channel = tf.math.unsorted_segment_max(per_row, channel, num_channels + 1)
    heatmap = tf.maximum(per_channel[:num_channels], 0.0)  # empty channels: lowest float
    return tf.reshape(tf.transpose(heatmap), [out_h, out_w, num_channels])


def _pad_slots(values: tf.Tensor, max_objects: int) -> tf.Tensor:
    """Zero-pad ``[n, ...]`` (``n ≤ max_objects``) to a static ``[max_objects, ...]``."""
    extra = max_objects - tf.shape(values)[0]
    paddings = [[0, extra]] + [[0, 0]] * (values.shape.rank - 1)
    padded = tf.pad(values, paddings)
    return tf.reshape(padded, [max_objects, *values.shape[1:]])


def encode_targets(
    boxes: Any,
    classes: Any,
    image_size: tuple[int, int],
    num_classes: int,
    max_objects: int = 100,
    stride: int = 4,
    is_point: Any = None,
    point_radius: int = 3,
    radius_mode: str = "cornernet",
    min_overlap: float = 0.7,
    reference_clip: bool = False,
) -> dict[str, tf.Tensor]:
    """Build the CenterNet targets of one image on the stride-``stride`` output map.

    Slot ``k`` belongs to input row ``k`` (only the first ``max_objects`` rows are read); a
    skipped row leaves its slot zero, slots are not compacted. A row is skipped when its class is
    ``-1`` (padding) or ``>= num_classes``, or when, after clipping to the output map
    (x to ``[0, W_out]``, y to ``[0, H_out]``; the reference: ``W_out − 1``, ``H_out − 1``, see
    ``_clipped_centres``), it has no positive width and height.
    Rows flagged in ``is_point`` are kept despite zero size (unless the point lies outside the
    input image, ``0 ≤ x < W``, ``0 ≤ y < H``), get radius ``point_radius`` and size ``(0, 0)``.

    Args:
        boxes: ``[N, 4]`` float ``[x1, y1, x2, y2]`` in input pixels; ``N`` may be 0 or dynamic.
        classes: ``[N]`` int class ids, ``-1`` for padding rows.
        image_size: ``(height, width)`` of the network input, Python ints divisible by ``stride``.
        num_classes: Number of heatmap channels ``C``.
        max_objects: Number of slots ``K``.
        stride: Output stride of the network.
        is_point: Optional ``[N]`` bool, True for rows that are point annotations.
        point_radius: Gaussian radius of point rows.
        radius_mode: ``"cornernet"`` (as shipped) or ``"corrected"``, see ``gaussian_radius``.
        min_overlap: ``min_overlap`` of ``gaussian_radius``.
        reference_clip: clip boxes to ``[0, W_out − 1]`` as ``ctdet.py`` (off: to the map,
            ``[0, W_out]``, so boxes touching the right/bottom edge keep their size and the
            flip test sees one centre).

    Returns:
        A dict with ``heatmap`` float32 ``[H_out, W_out, C]``; ``size`` float32 ``[K, 2]`` (w, h);
        ``offset`` float32 ``[K, 2]`` (centre minus integer centre); ``indices`` int32 ``[K]``
        (``y · W_out + x``); ``mask`` float32 ``[K]`` (1 for a filled slot).

    Raises:
        ValueError: If ``image_size`` is not divisible by ``stride`` or ``radius_mode`` is unknown.
    """
    out_h, out_w = _output_size(image_size, stride)
    if radius_mode not in RADIUS_MODES:
        raise ValueError(f"radius_mode must be one of {RADIUS_MODES}, got {radius_mode!r}")

    boxes = tf.reshape(tf.cast(boxes, tf.float32), [-1, 4])[:max_objects]  # [n, 4]
    classes = tf.reshape(tf.cast(classes, tf.int32), [-1])[:max_objects]  # [n]
    if is_point is None:
        is_point = tf.zeros_like(classes, dtype=tf.bool)
    else:
        is_point = tf.reshape(tf.cast(is_point, tf.bool), [-1])[:max_objects]

    # Unclipped centre in input pixels: a point outside the image is skipped.
    cx_in = (boxes[:, 0] + boxes[:, 2]) / 2
    cy_in = (boxes[:, 1] + boxes[:, 3]) / 2
    in_h, in_w = out_h * stride, out_w * stride
    point_inside = (cx_in >= 0) & (cx_in < in_w) & (cy_in >= 0) & (cy_in < in_h)

    size, ct, ct_int = _clipped_centres(boxes / stride, out_h, out_w, reference_clip)
    w, h = size[:, 0], size[:, 1]  # [n]

    known_class = (classes >= 0) & (classes < num_classes)
    valid = known_class & tf.where(is_point, point_inside, (h > 0) & (w > 0))  # [n]

    radius = tf.where(
        is_point,
        tf.fill(tf.shape(classes), tf.constant(point_radius, tf.int32)),
        _box_radius(h, w, min_overlap, radius_mode),
    )
    # Invalid rows go to channel C, which is not drawn.
    segment = tf.where(valid, classes, num_classes)
    heatmap = _draw_heatmaps(ct_int, radius, segment, num_classes, out_h, out_w)

    keep = valid[:, None]  # [n, 1]
    zeros2 = tf.zeros_like(ct)
    box_size = tf.where(keep & ~is_point[:, None], size, zeros2)  # [n, 2]
    offset = tf.where(keep, ct - tf.cast(ct_int, tf.float32), zeros2)  # [n, 2]
    indices = tf.where(valid, _flat_index(ct_int, out_w), 0)  # [n]
    return {
        "heatmap": heatmap,
        "size": _pad_slots(box_size, max_objects),
        "offset": _pad_slots(offset, max_objects),
        "indices": _pad_slots(indices, max_objects),
        "mask": _pad_slots(tf.cast(valid, tf.float32), max_objects),
    }
