"""The toy detector: a three-conv backbone (stride 8), one head (heatmap + size), the
``Detector`` methods, ``from_settings`` and the registration."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
from keras import layers, ops

from centernet_keras.models.detector import Detector
from centernet_keras.models.registry import register_detector
from toy_detector.decoder import CenterPointDecoder
from toy_detector.loss import LOSS_TERMS, center_point_loss

STRIDE = 8


def tiny_backbone(input_shape: Sequence[int | None]) -> keras.Model:
    """Raw RGB ``[B, H, W, 3]`` (0–255) → ``[B, H/8, W/8, 16]`` features, random weights."""
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = layers.Rescaling(1.0 / 127.5, offset=-1.0)(inputs)
    for i, filters in enumerate((8, 16, 16)):
        x = layers.Conv2D(filters, 3, 2, padding="same", activation="relu", name=f"conv{i}")(x)
    return keras.Model(inputs, x, name="tiny_backbone")


def center_point_head(x: keras.KerasTensor, num_classes: int, channels: int) -> dict:
    """One 3×3 conv, then the 1×1 outputs ``heatmap`` (logits ``[B, h, w, C]``) and ``size``
    (``[B, h, w, 2]`` cells)."""
    x = layers.Conv2D(channels, 3, padding="same", activation="relu", name="head_conv")(x)
    prior = keras.initializers.Constant(-2.19)  # sigmoid ≈ 0.1 at the start, as CenterNet's
    return {
        "heatmap": layers.Conv2D(num_classes, 1, bias_initializer=prior, name="heatmap")(x),
        "size": layers.Conv2D(2, 1, name="size")(x),
    }


@register_detector
@keras.saving.register_keras_serializable(package="toy_detector")
class CenterPoint(Detector):
    """Objects as their centre cell at stride 8, with a box size: CenterNet without an offset.

    Args:
        backbone: a model mapping raw RGB to one stride-8 map.
        num_classes: number of object classes.
        head_channels: width of the head's 3×3 conv.
        decoder: a ``CenterPointDecoder`` (default: its defaults).
        **kwargs: ``Detector`` arguments (``class_names``, ``image_resize``...).
    """

    detector_name = "toy"
    decoder_class = CenterPointDecoder
    strides = (8,)
    loss_terms = LOSS_TERMS

    def __init__(self, backbone, num_classes, head_channels=16, decoder=None, **kwargs):
        inputs = keras.Input(shape=backbone.input_shape[1:], name="image")
        outputs = center_point_head(backbone(inputs), num_classes, head_channels)
        kwargs.setdefault("name", "center_point")
        super().__init__(
            inputs,
            outputs,
            decoder=CenterPointDecoder() if decoder is None else decoder,
            backbone=backbone,
            num_classes=num_classes,
            **kwargs,
        )
        self.head_channels = int(head_channels)

    @classmethod
    def from_settings(
        cls, num_classes, keypoint_spec=None, backbone="tiny", weights=None, head_channels=None,
        **settings,
    ) -> CenterPoint:  # fmt: skip
        """``build_center_point`` from ``train``'s settings (``--backbone tiny`` only, no
        pretrained weights; a keypoints file's joints are not used)."""
        del keypoint_spec
        if backbone != "tiny" or weights is not None:
            raise ValueError("the toy has its own backbone: --backbone tiny --weights none")
        for unused in ("neck", "neck_filters", "head_batchnorm"):
            settings.pop(unused, None)
        return build_center_point(num_classes, head_channels=head_channels or 16, **settings)

    def detector_losses(self, y_true, y_pred) -> dict:
        return center_point_loss(y_true, y_pred)

    def activate(self, outputs) -> dict:
        return {"heatmap": ops.sigmoid(outputs["heatmap"]), "size": outputs["size"]}

    def merge_flip(self, maps, flipped) -> dict:
        return {k: (maps[k] + ops.flip(flipped[k], axis=2)) / 2.0 for k in ("heatmap", "size")}

    def target_encoder(self, max_objects: int) -> Callable[..., dict]:
        from toy_detector.targets import encode_center_point_targets  # TF: only for targets

        num_classes = self.num_classes

        def encode(boxes, classes, image_hw, keypoints=None):
            return encode_center_point_targets(boxes, classes, image_hw, num_classes, STRIDE)

        return encode

    def target_slots(self, max_objects: int) -> None:
        """``None``: the dense targets take every box."""
        return None

    def get_config(self) -> dict:
        return {**super().get_config(), "head_channels": self.head_channels}


def build_center_point(
    num_classes: int,
    input_shape: Sequence[int | None] = (64, 64, 3),
    head_channels: int = 16,
    max_detections: int = 100,
    score_threshold: float = 0.0,
    iou_threshold: float | None = None,
    **kwargs,
) -> CenterPoint:
    """A ``CenterPoint`` on a new ``tiny_backbone`` (``input_shape`` ``(H, W, 3)``, multiples of
    8); the decoder settings go to its ``CenterPointDecoder``."""
    decoder = CenterPointDecoder(max_detections, score_threshold, iou_threshold, STRIDE)
    return CenterPoint(
        tiny_backbone(input_shape), num_classes, head_channels, decoder=decoder, **kwargs
    )
