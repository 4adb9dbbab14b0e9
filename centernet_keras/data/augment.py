"""Geometric and colour augmentation in TF ops (for ``tf.data``), boxes moved with the image.

The training geometry is that of the Keras CenterNet ports: a random scale 0.25–2 of the
input size with aspect jitter, placed at a random offset on a gray (128) canvas, optionally
flipped; validation uses a centred letterbox (``boxes.letterbox_placement``, the geometry of
``Predictor``) or a plain resize. Both are one affine map ``x_out = x_in · s_x + d_x`` (and
``y``), applied to the image by a single ``tf.image.crop_and_resize``: bilinear, pixel-centre
aligned; inside the placed image, samples up to half a pixel beyond the source repeat its edge
pixels (as ``cv2.resize`` in ``Predictor``), outside it is the fill.
"""

from __future__ import annotations

import tensorflow as tf

from centernet_keras.boxes import LETTERBOX_FILL, letterbox_placement
from centernet_keras.data.augment_config import AugmentConfig  # noqa: F401  (defined there)


def letterbox_geometry(image_hw: tf.Tensor, input_hw: tuple[int, int], mode: str = "letterbox"):
    """Deterministic placement ``(new_w, new_h, dx, dy)`` (float32) of an image.

    ``"letterbox"``: ``centernet_keras.boxes.letterbox_placement`` (exact integer arithmetic;
    the same placement as ``boxes.letterbox_params`` and ``Predictor``); ``"resize"``
    stretches. Elementwise: ``image_hw`` may be ``[2]`` or ``[2, N]``.
    """
    h, w = int(input_hw[0]), int(input_hw[1])
    if mode == "resize":
        return tf.constant(float(w)), tf.constant(float(h)), tf.constant(0.0), tf.constant(0.0)
    ih, iw = tf.cast(image_hw[0], tf.int64), tf.cast(image_hw[1], tf.int64)
    in_h, in_w = tf.constant(h, tf.int64), tf.constant(w, tf.int64)
    placement = letterbox_placement(ih, iw, in_h, in_w, minimum=tf.minimum, maximum=tf.maximum)
    return tuple(tf.cast(v, tf.float32) for v in placement)


def random_geometry(
    image_hw: tf.Tensor,
    input_hw: tuple[int, int],
    seed: tf.Tensor,
    jitter: float = 0.3,
    scale_range: tuple[float, float] = (0.25, 2.0),
):
    """Random placement ``(new_w, new_h, dx, dy)`` of the Keras CenterNet ports.

    Aspect ratio ``iw/ih · U(1−j, 1+j) / U(1−j, 1+j)``, size ``U(0.25, 2)`` × the input size on
    the longer side, offset ``U(0, in − new)`` (negative when the image is larger: cropped).

    Args:
        image_hw: ``[2]`` original height, width.
        input_hw: network input (height, width).
        seed: ``[2]`` int stateless seed.
    """
    ih, iw = tf.cast(image_hw[0], tf.float32), tf.cast(image_hw[1], tf.float32)
    h, w = float(input_hw[0]), float(input_hw[1])
    u = tf.random.stateless_uniform([5], seed=seed)
    ratio = (1 - jitter + 2 * jitter * u[0]) / (1 - jitter + 2 * jitter * u[1])
    aspect = iw / ih * ratio
    scale = scale_range[0] + (scale_range[1] - scale_range[0]) * u[2]
    nh_tall, nw_wide = tf.floor(scale * h), tf.floor(scale * w)
    nw = tf.maximum(tf.where(aspect < 1, tf.floor(nh_tall * aspect), nw_wide), 1.0)
    nh = tf.maximum(tf.where(aspect < 1, nh_tall, tf.floor(nw_wide / aspect)), 1.0)
    dx = tf.floor(u[3] * (w - nw))
    dy = tf.floor(u[4] * (h - nh))
    return nw, nh, dx, dy


def warp_image(
    image, image_hw, geometry, input_hw, flip=False, fill: float = float(LETTERBOX_FILL)
):
    """Place ``image`` ``[ih, iw, 3]`` on an ``input_hw`` canvas per ``geometry``.

    Bilinear and pixel-centre aligned, like ``cv2.resize(..., INTER_LINEAR)``: output pixel
    centre ``u + 0.5`` samples the source at ``(u + 0.5 − dx)·iw/nw − 0.5``. Inside the placed
    image ``[dx, dx + nw) × [dy, dy + nh)`` a sample beyond the source's outer pixel centres
    repeats the edge pixel (upscaling); every pixel outside it is ``fill``.

    Returns:
        ``[h, w, 3]`` float32, flipped left-right if ``flip``.
    """
    nw, nh, dx, dy = geometry
    ih, iw = tf.cast(image_hw[0], tf.float32), tf.cast(image_hw[1], tf.float32)
    h, w = input_hw
    # One repeated edge pixel on each side: source coordinate s is s + 1 in ``padded``.
    # crop_and_resize reads any integer / float dtype (output float32): no float copy here.
    padded = tf.pad(image, [[1, 1], [1, 1], [0, 0]], mode="SYMMETRIC")
    sx, sy = iw / nw, ih / nh
    x1 = ((0.5 - dx) * sx + 0.5) / (iw + 1)
    x2 = ((w - 0.5 - dx) * sx + 0.5) / (iw + 1)
    y1 = ((0.5 - dy) * sy + 0.5) / (ih + 1)
    y2 = ((h - 0.5 - dy) * sy + 0.5) / (ih + 1)
    flip = tf.cast(flip, tf.bool)
    x1, x2 = tf.cond(flip, lambda: (x2, x1), lambda: (x1, x2))
    box = tf.stack([y1, x1, y2, x2])[None]
    out = tf.image.crop_and_resize(padded[None], box, [0], [h, w], extrapolation_value=fill)[0]
    cols = tf.range(w, dtype=tf.float32)
    cols = tf.where(flip, w - 1 - cols, cols)  # output column → column before the flip
    rows = tf.range(h, dtype=tf.float32)
    inside_x = (cols >= dx) & (cols < dx + nw)
    inside_y = (rows >= dy) & (rows < dy + nh)
    inside = inside_y[:, None, None] & inside_x[None, :, None]
    return tf.where(inside, out, fill)


def warp_boxes(boxes, geometry, image_hw, input_hw, flip=False):
    """Move ``[N, 4]`` xyxy boxes with ``warp_image`` and clip them to the canvas."""
    nw, nh, dx, dy = geometry
    ih, iw = tf.cast(image_hw[0], tf.float32), tf.cast(image_hw[1], tf.float32)
    h, w = float(input_hw[0]), float(input_hw[1])
    x1 = boxes[:, 0] * nw / iw + dx
    x2 = boxes[:, 2] * nw / iw + dx
    y1 = boxes[:, 1] * nh / ih + dy
    y2 = boxes[:, 3] * nh / ih + dy
    flip = tf.cast(flip, tf.bool)
    x1, x2 = tf.where(flip, w - x2, x1), tf.where(flip, w - x1, x2)
    out = tf.stack([x1, y1, x2, y2], axis=-1)
    return tf.clip_by_value(out, 0.0, tf.stack([w, h, w, h]))


def warp_keypoints(keypoints, geometry, image_hw, input_hw, flip=False, flip_permutation=None):
    """Move ``[N, K, 3]`` ``(x, y, v)`` joints with ``warp_image``.

    The same map as ``warp_boxes`` (continuous pixel coordinates: ``x → x·nw/iw + dx``, flipped
    ``x → w − x``). A flip also swaps left and right joints: joint ``i`` of the flipped
    person is joint ``flip_permutation[i]`` of the original. ``v`` stays the annotation's,
    as in the reference (``multi_pose.py`` counts ``num_kpts`` before the crop): a labelled
    joint that lands outside the canvas (``x ∉ [0, w)`` or ``y ∉ [0, h)``) keeps ``v`` and its
    off-canvas coordinates; ``encode_pose_targets`` drops it from the joint targets but still
    trains the person's box. An unlabelled joint (``v = 0``) becomes ``(0, 0, 0)``.

    Args:
        keypoints: ``[N, K, 3]`` float32 in image pixels.
        flip_permutation: ``[K]`` ints (``KeypointSpec.flip_permutation()``); required with
            ``K > 0`` when ``flip`` may be true.
    """
    nw, nh, dx, dy = geometry
    ih, iw = tf.cast(image_hw[0], tf.float32), tf.cast(image_hw[1], tf.float32)
    w = float(input_hw[1])
    x = keypoints[..., 0] * nw / iw + dx
    y = keypoints[..., 1] * nh / ih + dy
    v = keypoints[..., 2]
    flip = tf.cast(flip, tf.bool)
    x = tf.where(flip, w - x, x)
    moved = tf.stack([x, y, v], axis=-1)
    if flip_permutation is not None:
        swapped = tf.gather(moved, tf.constant(flip_permutation, tf.int32), axis=1)
        moved = tf.where(flip, swapped, moved)
    return tf.where(moved[..., 2:] > 0, moved, 0.0)


def drop_tiny_boxes(boxes, classes, min_size: float = 1.0):
    """Mark boxes no larger than ``min_size`` px on either side as padding (class −1)."""
    keep = (boxes[:, 2] - boxes[:, 0] > min_size) & (boxes[:, 3] - boxes[:, 1] > min_size)
    return tf.where(keep, classes, -1)


def hsv_jitter(image, seed, hue: float = 0.1, sat: float = 1.5, val: float = 1.5):
    """Random hue shift ``U(−hue, hue)`` (fraction of the colour wheel), saturation and value
    factors in ``[1/sat, sat]`` / ``[1/val, val]`` (each above or below 1 with probability ½).

    Args:
        image: ``[H, W, 3]`` float32 RGB 0–255.
        seed: ``[2]`` int stateless seed.
    """
    u = tf.random.stateless_uniform([5], seed=seed)

    def factor(a, b, limit):
        f = 1.0 + (limit - 1.0) * a
        return tf.where(b < 0.5, f, 1.0 / f)

    x = image / 255.0
    x = tf.image.adjust_hue(x, (2 * u[0] - 1) * hue)
    x = tf.image.adjust_saturation(x, factor(u[1], u[2], sat))
    x = x * factor(u[3], u[4], val)
    return tf.clip_by_value(x, 0.0, 1.0) * 255.0
