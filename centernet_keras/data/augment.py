"""Geometric and colour augmentation in TF ops (for ``tf.data``), boxes moved with the image.

The training geometry is that of the Keras CenterNet ports: a random scale 0.25–2 of the
input size with aspect jitter, placed at a random offset on a gray (128) canvas, optionally
flipped; validation uses a centred letterbox (or a plain resize). Both are one affine map
``x_out = x_in · s_x + d_x`` (and ``y``), applied to the image by a single
``tf.image.crop_and_resize`` (pixel-centre aligned, out-of-image samples read as the fill).
"""

from __future__ import annotations

import tensorflow as tf


def letterbox_geometry(image_hw: tf.Tensor, input_hw: tuple[int, int], mode: str = "letterbox"):
    """Deterministic placement ``(new_w, new_h, dx, dy)`` (float32 scalars) of an image.

    ``"letterbox"`` matches ``centernet_keras.boxes.letterbox_params`` (scale = min ratio,
    ``new = int(size · scale)``, centred with ``(in − new) // 2``); ``"resize"`` stretches.
    """
    ih, iw = tf.cast(image_hw[0], tf.float32), tf.cast(image_hw[1], tf.float32)
    h, w = float(input_hw[0]), float(input_hw[1])
    if mode == "resize":
        return tf.constant(w), tf.constant(h), tf.constant(0.0), tf.constant(0.0)
    scale = tf.minimum(w / iw, h / ih)
    nw, nh = tf.floor(iw * scale), tf.floor(ih * scale)
    return nw, nh, tf.floor((w - nw) / 2), tf.floor((h - nh) / 2)


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


def warp_image(image, image_hw, geometry, input_hw, flip=False, fill: float = 128.0):
    """Place ``image`` ``[ih, iw, 3]`` on an ``input_hw`` canvas per ``geometry``.

    Returns:
        ``[h, w, 3]`` float32 (bilinear; outside the image = ``fill``), flipped left-right if
        ``flip``.
    """
    nw, nh, dx, dy = geometry
    ih, iw = tf.cast(image_hw[0], tf.float32), tf.cast(image_hw[1], tf.float32)
    h, w = input_hw
    # Output pixel centre u + 0.5 ↦ source pixel coordinate (u + 0.5 − dx)·iw/nw − 0.5.
    sx, sy = iw / nw, ih / nh
    x1 = ((0.5 - dx) * sx - 0.5) / tf.maximum(iw - 1, 1.0)
    x2 = ((w - 0.5 - dx) * sx - 0.5) / tf.maximum(iw - 1, 1.0)
    y1 = ((0.5 - dy) * sy - 0.5) / tf.maximum(ih - 1, 1.0)
    y2 = ((h - 0.5 - dy) * sy - 0.5) / tf.maximum(ih - 1, 1.0)
    x1, x2 = tf.cond(tf.cast(flip, tf.bool), lambda: (x2, x1), lambda: (x1, x2))
    box = tf.stack([y1, x1, y2, x2])[None]
    out = tf.image.crop_and_resize(
        tf.cast(image, tf.float32)[None], box, [0], [h, w], extrapolation_value=fill
    )
    return out[0]


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
