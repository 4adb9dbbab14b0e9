"""Box utilities: IoU in ``keras.ops`` (in-graph) and NumPy coordinate conversions (host side).

Boxes are ``[x1, y1, x2, y2]`` in absolute pixels, without the legacy ``+1`` on widths.
Detections padded with ``-1`` (all four coordinates) are passed through the conversions unchanged.

Letterbox convention (as in the Keras CenterNet ports, computed exactly in integers): the image
``(h, w)`` is resized to ``new_w = min(in_w, ⌊w·in_h / h⌋)``, ``new_h = min(in_h, ⌊h·in_w / w⌋)``
(so the limiting side fills the input exactly; at least 1 pixel) and pasted at
``((in_w − new_w) // 2, (in_h − new_h) // 2)``; boxes map as ``x_in = x·new_w/w + pad_x``
(and ``y_in = y·new_h/h + pad_y``), exactly as the resized pixels do. ``letterbox_placement``
is the one implementation: the ``tf.data`` pipeline (``data.augment.letterbox_geometry``),
these conversions and ``Predictor`` all call it.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from keras import ops

_PAD_VALUE = -1.0
#: Gray level of the letterbox padding, in the ``tf.data`` pipeline and in ``Predictor``.
LETTERBOX_FILL = 128


def box_iou(boxes1: keras.KerasTensor, boxes2: keras.KerasTensor) -> keras.KerasTensor:
    """Pairwise IoU of two sets of ``xyxy`` boxes (``keras.ops``; any backend).

    Args:
        boxes1: ``[..., N, 4]`` boxes.
        boxes2: ``[..., M, 4]`` boxes (same leading dims as ``boxes1``, or broadcastable).

    Returns:
        ``[..., N, M]`` float32 IoU; 0 where the union is empty (zero-area boxes).
    """
    b1 = ops.cast(boxes1, "float32")
    b2 = ops.cast(boxes2, "float32")
    x1a, y1a, x2a, y2a = (ops.expand_dims(b1[..., i], -1) for i in range(4))  # [..., N, 1]
    x1b, y1b, x2b, y2b = (ops.expand_dims(b2[..., i], -2) for i in range(4))  # [..., 1, M]
    area_a = ops.maximum(x2a - x1a, 0.0) * ops.maximum(y2a - y1a, 0.0)
    area_b = ops.maximum(x2b - x1b, 0.0) * ops.maximum(y2b - y1b, 0.0)
    inter_w = ops.maximum(ops.minimum(x2a, x2b) - ops.maximum(x1a, x1b), 0.0)
    inter_h = ops.maximum(ops.minimum(y2a, y2b) - ops.maximum(y1a, y1b), 0.0)
    inter = inter_w * inter_h  # [..., N, M]
    union = area_a + area_b - inter
    return ops.where(union > 0.0, inter / ops.maximum(union, 1e-12), 0.0)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU in NumPy (host side): every box of ``a`` ``[N, 4]`` with every box of ``b``
    ``[M, 4]`` (``[x1, y1, x2, y2]``); ``[N, M]`` float64, 0 where the union is empty."""
    a = np.asarray(a, np.float64).reshape(-1, 4)[:, None]
    b = np.asarray(b, np.float64).reshape(-1, 4)[None]
    w = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    h = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = w * h
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return inter / np.maximum(area_a + area_b - inter, 1e-9)


def letterbox_placement(h, w, in_h, in_w, minimum=min, maximum=max):
    """The letterbox placement ``(new_w, new_h, pad_x, pad_y)`` in exact integer arithmetic.

    ``new_w = max(min(in_w, (w·in_h) // h), 1)``, ``new_h = max(min(in_h, (h·in_w) // w), 1)``,
    ``pad = (in − new) // 2``: the limiting side fills the input exactly and the other is the
    exact floor of the scaled side (float ``floor(size · scale)`` loses a pixel for some sizes).
    The one geometry of the package, for Python / NumPy integers and, with ``tf.minimum`` and
    ``tf.maximum``, for integer tensors of any shape (elementwise) in the ``tf.data`` pipeline.

    Args:
        h, w: image height and width (integers or integer tensors, ≥ 1).
        in_h, in_w: network input height and width (integers).
        minimum, maximum: elementwise min / max for the argument types.

    Returns:
        ``(new_w, new_h, pad_x, pad_y)``, of the arguments' integer type.
    """
    new_w = maximum(minimum(in_w, (w * in_h) // h), 1)
    new_h = maximum(minimum(in_h, (h * in_w) // w), 1)
    return new_w, new_h, (in_w - new_w) // 2, (in_h - new_h) // 2


def letterbox_params(
    image_hw: Sequence[int], input_hw: Sequence[int]
) -> tuple[float, int, int, int, int]:
    """Resize-and-pad parameters that fit an image into the network input, keeping aspect.

    Args:
        image_hw: Original image ``(height, width)`` (integers).
        input_hw: Network input ``(height, width)``.

    Returns:
        ``(scale, pad_x, pad_y, new_w, new_h)`` with ``scale = min(in_w / w, in_h / h)`` and
        the integer placement of ``letterbox_placement`` (``new_w = ⌊w·scale⌋`` and
        ``new_h = ⌊h·scale⌋`` computed exactly, at least 1; ``pad = (in − new) // 2``).
    """
    h, w = (round(float(v)) for v in image_hw)
    in_h, in_w = (int(v) for v in input_hw)
    new_w, new_h, pad_x, pad_y = letterbox_placement(h, w, in_h, in_w)
    return min(in_w / w, in_h / h), pad_x, pad_y, new_w, new_h


def _affine(
    image_hw: Sequence[int] | np.ndarray, input_hw: Sequence[int], letterbox: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-image forward map ``x_in = x·sx + px`` as arrays ``(sx, sy, px, py)`` of shape [...]."""
    hw = np.asarray(image_hw, dtype=np.float64)
    flat = hw.reshape(-1, 2)
    params = np.empty((flat.shape[0], 4), dtype=np.float64)
    in_h, in_w = (float(v) for v in input_hw)
    for i, (h, w) in enumerate(flat):
        if letterbox:
            # The pasted image is new_w × new_h pixels, so each axis scales by new / old
            # (within a pixel of ``scale``; exactly what the input pipeline does).
            _, pad_x, pad_y, new_w, new_h = letterbox_params((h, w), input_hw)
            params[i] = (new_w / w, new_h / h, pad_x, pad_y)
        else:
            params[i] = (in_w / w, in_h / h, 0.0, 0.0)
    params = params.reshape((*hw.shape[:-1], 4))
    return params[..., 0], params[..., 1], params[..., 2], params[..., 3]


def _apply(
    coords: np.ndarray,
    image_hw: Sequence[int] | np.ndarray,
    input_hw: Sequence[int],
    letterbox: bool,
    inverse: bool,
) -> np.ndarray:
    """Map ``[..., 2n]`` interleaved ``x, y`` coordinates (boxes ``[..., 4]``, points
    ``[..., 2]``) between image and input pixels, clipped to the target image; all ``-1``
    rows (padding) stay ``-1``. Per-image parameters ``[B]`` broadcast over the axes after B.
    """
    b = np.asarray(coords)
    out_dtype = b.dtype if np.issubdtype(b.dtype, np.floating) else np.float32
    b = b.astype(np.float64)
    sx, sy, px, py = _affine(image_hw, input_hw, letterbox)

    def per_image(v):  # [B] (or []) → [B, 1, …, 1] against coordinates [B, …, 2n]
        v = np.asarray(v)
        return v.reshape(v.shape + (1,) * (b.ndim - v.ndim))

    sx, sy, px, py = (per_image(v) for v in (sx, sy, px, py))
    if inverse:
        hw = np.asarray(image_hw, dtype=np.float64)
        lim_w, lim_h = per_image(hw[..., 1]), per_image(hw[..., 0])
        xs = (b[..., 0::2] - px) / sx
        ys = (b[..., 1::2] - py) / sy
    else:
        lim_h, lim_w = (float(v) for v in input_hw)
        xs = b[..., 0::2] * sx + px
        ys = b[..., 1::2] * sy + py
    xs = np.clip(xs, 0.0, lim_w)
    ys = np.clip(ys, 0.0, lim_h)
    out = np.stack([xs, ys], axis=-1).reshape(b.shape)  # x, y interleaved again
    padding = np.all(b == _PAD_VALUE, axis=-1, keepdims=True)
    return np.where(padding, _PAD_VALUE, out).astype(out_dtype)


def boxes_to_original(
    boxes: np.ndarray,
    image_hw: Sequence[int] | np.ndarray,
    input_hw: Sequence[int],
    letterbox: bool = True,
) -> np.ndarray:
    """Map boxes from network-input pixels back to original-image pixels (NumPy, host side).

    Undoes the letterbox (subtract the pad, divide by ``scale``) or a plain resize (per-axis
    scale), then clips to the image. Rows whose four coordinates are all ``-1`` (padding) stay
    ``-1``.

    Args:
        boxes: ``[K, 4]`` or batched ``[B, K, 4]`` boxes in input pixels.
        image_hw: Original ``(height, width)``; for batched boxes either one pair for all
            images or an array ``[B, 2]`` of per-image sizes.
        input_hw: Network input ``(height, width)``.
        letterbox: ``True`` for aspect-preserving resize + pad, ``False`` for a plain resize.

    Returns:
        Boxes of the same shape in original-image pixels (float dtype of the input, or float32).
    """
    return _apply(boxes, image_hw, input_hw, letterbox, inverse=True)


def boxes_to_input(
    boxes: np.ndarray,
    image_hw: Sequence[int] | np.ndarray,
    input_hw: Sequence[int],
    letterbox: bool = True,
) -> np.ndarray:
    """Map boxes from original-image pixels to network-input pixels (inverse of the above).

    Args:
        boxes: ``[K, 4]`` or ``[B, K, 4]`` boxes in original-image pixels.
        image_hw: Original ``(height, width)``, or ``[B, 2]`` per-image sizes.
        input_hw: Network input ``(height, width)``.
        letterbox: ``True`` for aspect-preserving resize + pad, ``False`` for a plain resize.

    Returns:
        Boxes of the same shape in input pixels, clipped to the input; ``-1`` rows preserved.
    """
    return _apply(boxes, image_hw, input_hw, letterbox, inverse=False)


def points_to_original(
    points: np.ndarray,
    image_hw: Sequence[int] | np.ndarray,
    input_hw: Sequence[int],
    letterbox: bool = True,
) -> np.ndarray:
    """Map points (e.g. pose joints) from network-input pixels to original-image pixels.

    The mapping of ``boxes_to_original`` (same letterbox / resize inverse, clipped to the
    image), for ``(x, y)`` pairs; a point that is exactly ``(-1, -1)`` (padding) stays ``-1``.

    Args:
        points: ``[..., 2]`` points in input pixels, e.g. joints ``[K, J, 2]``, or batched
            ``[B, K, J, 2]`` with ``image_hw`` ``[B, 2]``.
        image_hw: Original ``(height, width)``, or ``[B, 2]`` per-image sizes.
        input_hw: Network input ``(height, width)``.
        letterbox: ``True`` for aspect-preserving resize + pad, ``False`` for a plain resize.

    Returns:
        Points of the same shape in original-image pixels (float dtype of the input, or float32).
    """
    return _apply(points, image_hw, input_hw, letterbox, inverse=True)


def points_to_input(
    points: np.ndarray,
    image_hw: Sequence[int] | np.ndarray,
    input_hw: Sequence[int],
    letterbox: bool = True,
) -> np.ndarray:
    """Map points (e.g. pose joints) from original-image pixels to network-input pixels.

    The mapping of ``boxes_to_input`` for ``(x, y)`` pairs (the inverse of
    ``points_to_original``); a point that is exactly ``(-1, -1)`` (padding) stays ``-1``.

    Args:
        points: ``[..., 2]`` points in original-image pixels, e.g. joints ``[K, J, 2]``.
        image_hw: Original ``(height, width)``, or ``[B, 2]`` per-image sizes.
        input_hw: Network input ``(height, width)``.
        letterbox: ``True`` for aspect-preserving resize + pad, ``False`` for a plain resize.

    Returns:
        Points of the same shape in input pixels, clipped to the input.
    """
    return _apply(points, image_hw, input_hw, letterbox, inverse=False)
