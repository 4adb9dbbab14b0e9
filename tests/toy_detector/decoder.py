"""The toy's decoding: a pure function and the serialisable decoder layer the model holds,
built from the package's shared decoding steps."""

from __future__ import annotations

from collections.abc import Mapping

import keras
from keras import ops

from centernet_keras.decoding.base import Decoder
from centernet_keras.decoding.centernet import box_peaks, valid_rows
from centernet_keras.decoding.common import class_nms, compact_rows


def decode_center_point(
    heatmap: keras.KerasTensor,
    size: keras.KerasTensor,
    max_detections: int = 100,
    score_threshold: float = 0.0,
    iou_threshold: float | None = None,
    stride: int = 8,
) -> dict[str, keras.KerasTensor]:
    """Heatmap peaks → boxes centred on their cell (``(cell + 0.5) · stride``) of the size there.

    Args:
        heatmap: class probabilities ``[B, h, w, C]``.
        size: box ``(w, h)`` in cells ``[B, h, w, 2]``.
        max_detections, score_threshold, iou_threshold, stride: as ``Decoder``'s.

    Returns:
        ``boxes [B, K, 4]`` float32 input pixels, ``scores [B, K]``, ``classes [B, K]`` int32,
        ``num_detections [B]`` int32; valid rows first, the rest −1.
    """
    scores, _, classes, _, _, boxes = box_peaks(heatmap, size, None, int(max_detections))
    boxes = boxes * float(stride)
    valid = valid_rows(scores, classes, score_threshold)
    if iou_threshold is not None:
        valid = class_nms(boxes, classes, valid, float(iou_threshold))
    boxes, scores, classes = compact_rows(valid, boxes, scores, classes)
    return {
        "boxes": boxes,
        "scores": scores,
        "classes": ops.cast(classes, "int32"),
        "num_detections": ops.sum(ops.cast(valid, "int32"), axis=1),
    }


@keras.saving.register_keras_serializable(package="toy_detector")
class CenterPointDecoder(Decoder):
    """``decode_center_point`` as a layer: ``{"heatmap", "size"}`` → padded detections."""

    def __init__(self, max_detections=100, score_threshold=0.0, iou_threshold=None, stride=8,
                 **kwargs):  # fmt: skip
        super().__init__(max_detections, score_threshold, iou_threshold, stride, **kwargs)

    def call(self, maps: Mapping[str, keras.KerasTensor]) -> dict[str, keras.KerasTensor]:
        return decode_center_point(
            maps["heatmap"],
            maps["size"],
            max_detections=self.max_detections,
            score_threshold=self.score_threshold,
            iou_threshold=self.iou_threshold,
            stride=self.stride,
        )
