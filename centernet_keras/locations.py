"""FCOS feature-pyramid locations (NumPy): the points the targets, loss and decoder share.

A location of level ``l`` (stride ``s``) is the input-pixel point ``s · (col + 0.5, row + 0.5)``
of its map cell. The levels' maps are ``ceil(H / s) × ceil(W / s)`` (what stride-2 convolutions
with ``"same"`` or torch ``padding=1`` give; exactly ``H / s × W / s`` for inputs that are
multiples of the largest stride, which the FPN's 2× top-down merge needs). The flat location
order is level by level (P3, P4, P5, …), row-major inside a level (``index = row · W_l + col``),
the order of the head outputs ``[B, L, ·]`` reshaped from the NHWC level maps and concatenated.

Everything here is computed from Python ints, so the arrays are constants to TensorFlow (target
encoding in ``tf.data``) and to ``keras.ops`` (decoding, on any backend).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

FCOS_STRIDES = (8, 16, 32)


def fcos_level_shapes(
    image_size: Sequence[int], strides: Sequence[int] = FCOS_STRIDES
) -> list[tuple[int, int]]:
    """``(H_l, W_l)`` of each level's map: ``(ceil(H / s), ceil(W / s))``.

    Args:
        image_size: ``(height, width)`` of the network input, Python ints.
        strides: Stride of each level, ascending.

    Returns:
        One ``(H_l, W_l)`` per level.

    Raises:
        ValueError: If a size or stride is not positive.
    """
    height, width = (int(v) for v in image_size)
    if height < 1 or width < 1 or any(int(s) < 1 for s in strides) or not len(strides):
        raise ValueError(f"need positive image_size and strides, got {image_size}, {strides}")
    return [(math.ceil(height / int(s)), math.ceil(width / int(s))) for s in strides]


def fcos_locations(image_size: Sequence[int], strides: Sequence[int] = FCOS_STRIDES) -> np.ndarray:
    """The locations of all levels, concatenated.

    Args:
        image_size: ``(height, width)`` of the network input, Python ints.
        strides: Stride of each level.

    Returns:
        ``[L, 2]`` float32 ``(x, y)`` input pixels, ``L = Σ H_l · W_l``.
    """
    points = []
    for stride, (h, w) in zip(strides, fcos_level_shapes(image_size, strides), strict=True):
        rows, cols = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")  # [h, w] each
        xy = np.stack([cols.reshape(-1), rows.reshape(-1)], axis=-1)  # [h·w, 2] row-major
        points.append(((xy + 0.5) * int(stride)).astype(np.float32))
    return np.concatenate(points, axis=0)


def fcos_location_strides(
    image_size: Sequence[int], strides: Sequence[int] = FCOS_STRIDES
) -> np.ndarray:
    """The stride of each location's level.

    Returns:
        ``[L]`` float32, aligned with :func:`fcos_locations`.
    """
    shapes = fcos_level_shapes(image_size, strides)
    counts = [h * w for h, w in shapes]
    return np.repeat(np.asarray(strides, np.float32), counts)


def fcos_size_ranges(strides: Sequence[int] = FCOS_STRIDES) -> list[tuple[float, float]]:
    """The open range of ``max(l, t, r, b)`` each level is responsible for.

    ``(4·s, 8·s)``, except that the first level starts at 0 and the last is unbounded: for
    strides 8/16/32, ``(0, 64)``, ``(64, 128)``, ``(128, ∞)`` (FCOS, torchvision, the EECS 498
    write-up). A box whose ``max(l, t, r, b)`` equals a bound is matched on neither side.

    Returns:
        One ``(lower, upper)`` per level, both exclusive.
    """
    n = len(strides)
    return [
        (0.0 if i == 0 else 4.0 * s, math.inf if i == n - 1 else 8.0 * s)
        for i, s in enumerate(int(v) for v in strides)
    ]
