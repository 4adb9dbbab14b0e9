"""Gaussian radius and gaussian drawing for CenterNet heatmaps (NumPy).

Reference: xingyizhou/CenterNet ``src/lib/utils/image.py`` (``gaussian_radius``, ``gaussian2D``,
``draw_umich_gaussian``). The radius formula lives in :func:`_radius`, written only with arithmetic
operators plus injected ``sqrt`` / ``minimum`` functions, so that the NumPy API here and the
TensorFlow path in :mod:`centernet_keras.targets.centernet` share one formula.
"""

from collections.abc import Callable
from typing import Any

import numpy as np

RADIUS_MODES = ("cornernet", "corrected")


def _radius(
    height: Any,
    width: Any,
    min_overlap: float,
    mode: str,
    sqrt: Callable[[Any], Any],
    minimum: Callable[[Any, Any], Any],
) -> Any:
    """Gaussian radius of the CornerNet formula, for any array library.

    Three cases (both corners inside, both outside, one each) give three quadratics
    ``a·r² + b·r + c = 0``; the radius is the smallest of their roots.

    Args:
        height: Box heights, float64 array or tensor (any shape, broadcast with ``width``).
        width: Box widths, same dtype as ``height``.
        min_overlap: Minimum IoU a box whose corners move by the radius must keep.
        mode: ``"cornernet"``: root = ``(b + sqrt(b² − 4ac)) / 2`` as shipped by CornerNet and
            CenterNet (not divided by ``2a``). ``"corrected"``: the same root divided by ``2a``.
        sqrt: Element-wise square root of the array library (``np.sqrt``, ``tf.sqrt``).
        minimum: Element-wise minimum of the array library.

    Returns:
        The radius, float, shape of the broadcast inputs.

    Raises:
        ValueError: If ``mode`` is not one of ``RADIUS_MODES``.
    """
    if mode not in RADIUS_MODES:
        raise ValueError(f"radius mode must be one of {RADIUS_MODES}, got {mode!r}")
    a1 = 1.0
    b1 = height + width
    c1 = width * height * (1 - min_overlap) / (1 + min_overlap)
    sq1 = sqrt(b1**2 - 4 * a1 * c1)

    a2 = 4.0
    b2 = 2 * (height + width)
    c2 = (1 - min_overlap) * width * height
    sq2 = sqrt(b2**2 - 4 * a2 * c2)

    a3 = 4 * min_overlap
    b3 = -2 * min_overlap * (height + width)
    c3 = (min_overlap - 1) * width * height
    sq3 = sqrt(b3**2 - 4 * a3 * c3)

    if mode == "cornernet":
        r1, r2, r3 = (b1 + sq1) / 2, (b2 + sq2) / 2, (b3 + sq3) / 2
    else:
        r1, r2, r3 = (b1 + sq1) / (2 * a1), (b2 + sq2) / (2 * a2), (b3 + sq3) / (2 * a3)
    return minimum(minimum(r1, r2), r3)


def gaussian_radius(
    height: float | np.ndarray,
    width: float | np.ndarray,
    min_overlap: float = 0.7,
    mode: str = "cornernet",
) -> np.ndarray:
    """Radius of the gaussian drawn for a box of the given size (float64 math).

    The default reproduces the shipped CenterNet/CornerNet behaviour exactly, including its slip
    of dividing every root by 2 instead of ``2a``. ``ctdet.py`` calls it with
    ``(ceil(h), ceil(w))`` and uses ``max(0, int(radius))``.

    Args:
        height: Box height(s) in output-map pixels, scalar or array.
        width: Box width(s), scalar or array broadcastable with ``height``.
        min_overlap: Minimum IoU kept by a box whose corners move by the radius.
        mode: ``"cornernet"`` (as shipped, the default) or ``"corrected"`` (roots over ``2a``).

    Returns:
        float64 array of the broadcast shape (0-d for scalar inputs).

    Raises:
        ValueError: If ``mode`` is unknown.
    """
    h = np.asarray(height, dtype=np.float64)
    w = np.asarray(width, dtype=np.float64)
    return np.asarray(_radius(h, w, min_overlap, mode, np.sqrt, np.minimum))


def gaussian2d(diameter: int) -> np.ndarray:
    """Square gaussian kernel with ``sigma = diameter / 6`` and a peak of 1 at the centre.

    Values below ``eps · max`` are zeroed as in the reference ``gaussian2D`` (this never triggers
    for an odd ``diameter = 2r + 1``: the smallest value is about ``exp(−9)``).

    Args:
        diameter: Kernel size ``d`` (``2·radius + 1``), a positive int.

    Returns:
        float64 array ``[d, d]``.
    """
    m = (diameter - 1.0) / 2.0
    sigma = diameter / 6
    y, x = np.ogrid[-m : m + 1, -m : m + 1]
    h = np.exp(-(x * x + y * y) / (2 * sigma * sigma))
    h[h < np.finfo(h.dtype).eps * h.max()] = 0
    return h


def draw_gaussian(
    heatmap: np.ndarray, center_xy: tuple[int, int] | np.ndarray, radius: int
) -> np.ndarray:
    """Max-combine a gaussian of the given radius into ``heatmap`` at ``center_xy``.

    The kernel is :func:`gaussian2d` of diameter ``2·radius + 1``, computed in float64 and clipped
    at the map borders. A centre outside the map draws nothing.

    Args:
        heatmap: ``[H, W]`` float32 map, modified in place.
        center_xy: Integer centre ``(x, y)`` = (column, row).
        radius: Non-negative integer radius.

    Returns:
        ``heatmap`` (the same array).
    """
    radius = int(radius)
    x, y = int(center_xy[0]), int(center_xy[1])
    height, width = heatmap.shape[:2]
    if not (0 <= x < width and 0 <= y < height):
        return heatmap
    gaussian = gaussian2d(2 * radius + 1)
    left, right = min(x, radius), min(width - x, radius + 1)
    top, bottom = min(y, radius), min(height - y, radius + 1)
    region = heatmap[y - top : y + bottom, x - left : x + right]
    patch = gaussian[radius - top : radius + bottom, radius - left : radius + right]
    np.maximum(region, patch, out=region)
    return heatmap
