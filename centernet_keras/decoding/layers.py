"""Decoders as small serialisable Keras layers over the pure functions of ``decoding``.

A detector holds one decoder (``model.decoder``), saved with the model; ``predict``, the
``Predictor``, export and the training mAP callback all run it. A caller who wants other
settings makes a changed copy with ``decoder.replace(...)``; the model is never mutated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import keras

from centernet_keras.decoding.centernet import decode_centernet
from centernet_keras.decoding.fcos import decode_fcos
from centernet_keras.decoding.pose import KEYPOINT_THRESHOLD, decode_pose
from centernet_keras.locations import FCOS_STRIDES


class Decoder(keras.layers.Layer):
    """Base of the decoders: activated head maps → padded detections in input pixels.

    Args:
        max_detections: rows per image in the output (``K``).
        score_threshold: detections scored below it are padding.
        iou_threshold: class-wise greedy NMS IoU, or ``None`` for no NMS.
        stride: output-map stride (map cells → input pixels).
    """

    def __init__(
        self,
        max_detections: int = 100,
        score_threshold: float = 0.0,
        iou_threshold: float | None = None,
        stride: int = 4,
        **kwargs,
    ):
        super().__init__(trainable=False, **kwargs)
        if int(max_detections) < 1:
            raise ValueError(f"max_detections must be >= 1, got {max_detections}")
        if iou_threshold is not None and not 0.0 < float(iou_threshold) <= 1.0:
            raise ValueError(f"iou_threshold must be in (0, 1] or None, got {iou_threshold}")
        self.max_detections = int(max_detections)
        self.score_threshold = float(score_threshold)
        self.iou_threshold = None if iou_threshold is None else float(iou_threshold)
        self.stride = int(stride)

    def replace(self, **changes) -> Decoder:
        """A copy with some settings changed (``iou_threshold=None`` switches NMS off)."""
        config = self.get_config()
        config.pop("name", None)
        unknown = sorted(set(changes) - set(config))
        if unknown:
            raise TypeError(f"{type(self).__name__} has no setting(s) {unknown}")
        return type(self).from_config({**config, **changes})

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("trainable", None)
        config.pop("dtype", None)
        return {
            **config,
            "max_detections": self.max_detections,
            "score_threshold": self.score_threshold,
            "iou_threshold": self.iou_threshold,
            "stride": self.stride,
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


@keras.saving.register_keras_serializable(package="centernet_keras")
class PoseDecoder(Decoder):
    """CenterNet multi-person pose (``decode_pose``).

    Args:
        max_detections: people per image (``K``), also the peaks taken per joint heatmap.
        score_threshold: people scored below it are padding.
        keypoint_threshold: a joint-heatmap peak must score above it to be snapped to.
        stride: output-map stride (map cells → input pixels).
        iou_threshold: class-wise greedy NMS IoU over the person boxes, or ``None`` (the
            default, as the reference: no NMS).

    Call: ``{"heatmap" [B, H, W, C], "size" [B, H, W, 2], "offset" [B, H, W, 2], "keypoints"
    [B, H, W, 2J], "keypoint_heatmap" [B, H, W, J], "keypoint_offset" [B, H, W, 2]}`` (heatmaps
    as probabilities; ``offset``, ``keypoint_heatmap`` and ``keypoint_offset`` may be missing)
    → ``{"boxes" [B, K, 4], "scores" [B, K], "classes" [B, K], "keypoints" [B, K, J, 2],
    "keypoint_scores" [B, K, J], "num_detections" [B]}``.
    """

    def __init__(
        self,
        max_detections: int = 100,
        score_threshold: float = 0.0,
        keypoint_threshold: float = KEYPOINT_THRESHOLD,
        stride: int = 4,
        iou_threshold: float | None = None,
        **kwargs,
    ):
        super().__init__(max_detections, score_threshold, iou_threshold, stride, **kwargs)
        self.keypoint_threshold = float(keypoint_threshold)

    def get_config(self) -> dict:
        return {**super().get_config(), "keypoint_threshold": self.keypoint_threshold}

    def call(self, maps: Mapping[str, keras.KerasTensor]) -> dict[str, keras.KerasTensor]:
        return decode_pose(
            maps["heatmap"],
            maps["size"],
            maps.get("offset"),
            maps["keypoints"],
            maps.get("keypoint_heatmap"),
            maps.get("keypoint_offset"),
            max_detections=self.max_detections,
            score_threshold=self.score_threshold,
            keypoint_threshold=self.keypoint_threshold,
            stride=self.stride,
            iou_threshold=self.iou_threshold,
        )


@keras.saving.register_keras_serializable(package="centernet_keras")
class FCOSDecoder(Decoder):
    """FCOS boxes (``decode_fcos``) from the model's activated maps.

    The model activates before the decoder, as for CenterNet: its ``activate`` applies the
    sigmoid to ``classes`` and ``centerness`` (the flip test averages those probabilities,
    ``merge_fcos_flip``) and passes ``deltas`` through; this decoder reads probabilities.

    Args:
        max_detections: rows per image in the output (``K``).
        score_threshold: a detection needs ``sqrt(p_class · p_centerness) > score_threshold``.
        iou_threshold: class-wise greedy NMS IoU, or ``None`` for no NMS.
        pre_nms_top_k: (location, class) candidates per level before the NMS.
        strides: stride of each pyramid level.
        image_size: ``(height, width)`` of the network input the maps belong to (the locations
            and the clipping window); ``None`` when the model's input size is not fixed, then
            each call passes it.

    Call: ``{"classes" probabilities [B, L, C], "deltas" [B, L, 4] (stride units),
    "centerness" probabilities [B, L]}`` and optionally ``image_size=(H, W)`` (overrides the
    setting) → ``{"boxes" [B, K, 4], "scores" [B, K], "classes" [B, K], "num_detections" [B]}``.
    """

    def __init__(
        self,
        max_detections: int = 100,
        score_threshold: float = 0.05,
        iou_threshold: float | None = 0.6,
        pre_nms_top_k: int = 1000,
        strides: Sequence[int] = FCOS_STRIDES,
        image_size: Sequence[int] | None = None,
        **kwargs,
    ):
        strides = tuple(int(s) for s in strides)
        if not strides or any(s < 1 for s in strides):
            raise ValueError(f"strides must be positive, got {strides}")
        if int(pre_nms_top_k) < 1:
            raise ValueError(f"pre_nms_top_k must be >= 1, got {pre_nms_top_k}")
        super().__init__(max_detections, score_threshold, iou_threshold, strides[0], **kwargs)
        self.pre_nms_top_k = int(pre_nms_top_k)
        self.strides = strides
        self.image_size = None if image_size is None else tuple(int(v) for v in image_size)

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("stride")
        return {
            **config,
            "pre_nms_top_k": self.pre_nms_top_k,
            "strides": list(self.strides),
            "image_size": None if self.image_size is None else list(self.image_size),
        }

    def call(
        self, maps: Mapping[str, keras.KerasTensor], image_size: Sequence[int] | None = None
    ) -> dict[str, keras.KerasTensor]:
        size = self.image_size if image_size is None else image_size
        if size is None:
            raise ValueError("FCOSDecoder needs image_size: set it, or pass it to the call")
        return decode_fcos(
            maps["classes"],
            maps["deltas"],
            maps["centerness"],
            image_size=tuple(int(v) for v in size),
            strides=self.strides,
            max_detections=self.max_detections,
            score_threshold=self.score_threshold,
            iou_threshold=self.iou_threshold,
            pre_nms_top_k=self.pre_nms_top_k,
            from_logits=False,
        )
