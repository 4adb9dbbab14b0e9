"""CenterNet decoding (reference ``ctdet_decode``) in ``keras.ops``: TF, JAX and PyTorch backends.

Pipeline: 3×3 max-pool peak keep → top-K over ``H·W·C`` → centre + offset → ``centre ± size/2``
→ × stride, then an optional score threshold and class-wise greedy NMS. The output always has
``max_detections`` rows per image (a static shape, also with dynamic ``H, W``); invalid rows are
padded with ``-1`` after the valid ones (the KerasHub convention).
"""

from __future__ import annotations

from collections.abc import Mapping

import keras
from keras import ops

from centernet_keras.decoding.base import Decoder
from centernet_keras.decoding.common import class_nms, compact_rows
from centernet_keras.gather import gather_feature


def peak_keep(heatmap: keras.KerasTensor, kernel: int = 3) -> keras.KerasTensor:
    """Zero every pixel that is not the maximum of its ``kernel × kernel`` window (ref. ``_nms``).

    Border pixels are compared only with pixels inside the map ("same" max-pool padding).

    Args:
        heatmap: Class probabilities ``[B, H, W, C]``.
        kernel: Window size (odd).

    Returns:
        ``[B, H, W, C]`` float32 heatmap with non-peaks set to 0.
    """
    heatmap = ops.cast(heatmap, "float32")
    hmax = ops.max_pool(heatmap, pool_size=kernel, strides=1, padding="same")
    return ops.where(ops.equal(hmax, heatmap), heatmap, 0.0)


def topk_peaks(
    heatmap: keras.KerasTensor, k: int
) -> tuple[keras.KerasTensor, keras.KerasTensor, keras.KerasTensor, keras.KerasTensor]:
    """Top-``k`` entries of a (peak-kept) heatmap over ``H·W·C`` jointly.

    Flat NHWC index ``(y·W + x)·C + c``. When the map has fewer than ``k`` entries the result is
    padded with score ``-inf`` and spatial index ``H·W`` (out of range: mark those rows invalid).

    Args:
        heatmap: ``[B, H, W, C]`` scores.
        k: Number of entries (static Python int).

    Returns:
        ``scores [B, k]`` float32 (descending), ``spatial [B, k]`` int32 (``y·W + x``),
        ``classes [B, k]`` int32 and ``num_entries`` (``H·W·C``, a scalar int32).
    """
    shape = ops.shape(heatmap)
    batch, height, width, channels = shape[0], shape[1], shape[2], shape[3]
    flat = ops.reshape(ops.cast(heatmap, "float32"), (batch, -1))  # [B, H*W*C]
    # Pad so top_k always has k candidates, whatever the (possibly dynamic) map size.
    flat = ops.concatenate([flat, ops.full((batch, k), float("-inf"), "float32")], axis=1)
    scores, idx = ops.top_k(flat, k=k, sorted=True)  # [B, k]
    idx = ops.cast(idx, "int32")
    channels = ops.cast(channels, "int32")
    num_entries = ops.cast(height * width, "int32") * channels
    spatial = ops.minimum(idx, num_entries) // channels
    classes = ops.where(idx < num_entries, idx % channels, -1)
    return scores, spatial, classes, num_entries


def gather_at(feature_map: keras.KerasTensor, spatial: keras.KerasTensor) -> keras.KerasTensor:
    """``[B, H, W, D]`` map at ``[B, K]`` flat indices (padding rows clipped into range) →
    ``[B, K, D]`` float32."""
    shape = ops.shape(feature_map)
    last = ops.cast(shape[1] * shape[2] - 1, "int32")
    return ops.cast(gather_feature(feature_map, ops.minimum(spatial, last)), "float32")


def box_peaks(
    heatmap: keras.KerasTensor,
    size: keras.KerasTensor,
    offset: keras.KerasTensor | None,
    k: int,
) -> tuple[keras.KerasTensor, ...]:
    """Peak keep, top-``k`` and the box at each peak, in output-map cells (ref. ``ctdet_decode``).

    Args:
        heatmap: Class probabilities ``[B, H, W, C]``.
        size: ``(w, h)`` ``[B, H, W, 2]``.
        offset: Sub-pixel centre offset ``[B, H, W, 2]``; ``None`` → centre + 0.5.
        k: Number of peaks (static Python int).

    Returns:
        ``scores [B, k]``, ``spatial [B, k]`` int32 (``y·W + x``), ``classes [B, k]`` int32 (−1
        for rows padding a map smaller than ``k``), the peak's grid cell ``xs, ys [B, k]`` float32
        (integers, no offset) and ``boxes [B, k, 4]`` float32 xyxy on the output map.
    """
    width = ops.cast(ops.shape(heatmap)[2], "int32")
    scores, spatial, classes, _ = topk_peaks(peak_keep(heatmap), k)
    grid_x = ops.cast(spatial % width, "float32")  # [B, K]
    grid_y = ops.cast(spatial // width, "float32")
    if offset is None:
        xs, ys = grid_x + 0.5, grid_y + 0.5
    else:
        off = gather_at(offset, spatial)  # [B, K, 2]
        xs, ys = grid_x + off[..., 0], grid_y + off[..., 1]
    wh = gather_at(size, spatial)  # [B, K, 2]
    half_w, half_h = wh[..., 0] / 2.0, wh[..., 1] / 2.0
    boxes = ops.stack([xs - half_w, ys - half_h, xs + half_w, ys + half_h], axis=-1)
    return scores, spatial, classes, grid_x, grid_y, boxes


def valid_rows(
    scores: keras.KerasTensor, classes: keras.KerasTensor, score_threshold: float
) -> keras.KerasTensor:
    """``[B, K]`` bool: the top-K rows that are detections.

    Not a detection: rows that padded a map smaller than K, and suppressed non-peaks (score 0,
    whose order among themselves is arbitrary and differs between backends).
    """
    real = ops.logical_and(classes >= 0, scores > 0.0)
    return ops.logical_and(real, scores >= score_threshold)


def decode_centernet(
    heatmap: keras.KerasTensor,
    size: keras.KerasTensor,
    offset: keras.KerasTensor | None = None,
    max_detections: int = 100,
    score_threshold: float = 0.0,
    iou_threshold: float | None = None,
    stride: int = 4,
) -> dict[str, keras.KerasTensor]:
    """Decode CenterNet head outputs into padded per-image detections.

    Args:
        heatmap: Class probabilities (after sigmoid) ``[B, H, W, C]``; ``H, W`` may be dynamic.
        size: ``(w, h)`` on the output map ``[B, H, W, 2]``.
        offset: Sub-pixel centre offset ``(dx, dy)`` ``[B, H, W, 2]``; ``None`` → centre + 0.5.
        max_detections: ``K``, rows per image in the output. Maps with fewer than ``K`` entries
            (``H·W·C < K``) yield only ``H·W·C`` valid rows.
        score_threshold: Detections with ``score >= score_threshold`` are valid (0.0 keeps every
            peak; non-peaks, whose score is 0 after the peak keep, are never detections).
        iou_threshold: If set, class-wise greedy NMS: a box is removed when its IoU with a
            higher-scoring kept box of the same class is ``> iou_threshold``.
        stride: Output-map stride; boxes are multiplied by it to give input pixels.

    Returns:
        ``boxes [B, K, 4]`` float32 xyxy input pixels, ``scores [B, K]`` float32, ``classes
        [B, K]`` int32 and ``num_detections [B]`` int32. Valid rows come first, sorted by score
        descending; the rest are ``-1``.
    """
    scores, _, classes, _, _, boxes = box_peaks(heatmap, size, offset, int(max_detections))
    boxes = boxes * float(stride)  # [B, K, 4]
    valid = valid_rows(scores, classes, score_threshold)  # [B, K]
    if iou_threshold is not None:
        valid = class_nms(boxes, classes, valid, float(iou_threshold))
    boxes, scores, classes = compact_rows(valid, boxes, scores, classes)
    num_detections = ops.sum(ops.cast(valid, "int32"), axis=1)
    return {
        "boxes": boxes,
        "scores": scores,
        "classes": ops.cast(classes, "int32"),
        "num_detections": ops.cast(num_detections, "int32"),
    }


@keras.saving.register_keras_serializable(package="centernet_keras")
class CenterNetDecoder(Decoder):
    """CenterNet boxes (``decode_centernet``).

    Call: ``{"heatmap" probabilities [B, H, W, C], "size" [B, H, W, 2], "offset" [B, H, W, 2]}``
    → ``{"boxes" [B, K, 4], "scores" [B, K], "classes" [B, K], "num_detections" [B]}``.
    """

    def call(self, maps: Mapping[str, keras.KerasTensor]) -> dict[str, keras.KerasTensor]:
        return decode_centernet(
            maps["heatmap"],
            maps["size"],
            maps.get("offset"),
            max_detections=self.max_detections,
            score_threshold=self.score_threshold,
            iou_threshold=self.iou_threshold,
            stride=self.stride,
        )
