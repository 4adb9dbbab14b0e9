"""CenterNet boxes: backbone → neck → heads on the ``Detector`` base; ``build_centernet``."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
from keras import ops

from centernet_keras.decoder_defaults import auto_iou_threshold
from centernet_keras.decoding.centernet import CenterNetDecoder
from centernet_keras.heads.centernet import centernet_heads
from centernet_keras.losses import centernet_loss
from centernet_keras.models.detector import Detector
from centernet_keras.models.features import backbone_and_neck, neck_output
from centernet_keras.models.registry import register_detector

OUTPUT_STRIDE = 4
#: CenterNet's decoder settings in configs saved before the decoder was a layer.
_LEGACY_DECODER_KEYS = ("max_detections", "score_threshold", "nms_iou")


@register_detector
@keras.saving.register_keras_serializable(package="centernet_keras")
class CenterNet(Detector):
    """CenterNet ("Objects as Points") boxes on the ``Detector`` base.

    Call: raw RGB ``[B, H, W, 3]`` (0–255, H and W multiples of 32) →
    ``{"heatmap": logits [B, H/4, W/4, C], "size": [B, H/4, W/4, 2], "offset": [B, H/4, W/4, 2]}``.

    ``fit`` takes ``(images, targets)`` with targets from
    ``centernet_keras.targets.encode_targets`` (batched); the loss is ``centernet_loss``
    (``heatmap_loss``, ``size_loss`` and ``offset_loss`` logged). ``predict`` returns the
    detections of ``model.decoder`` (a ``CenterNetDecoder``), boxes in network-input pixels.

    Args:
        backbone: a model mapping raw RGB to a feature pyramid ``{"P2": …, "P5": …}`` (see
            ``centernet_keras.backbones``), or to one stride-32 map (read as ``"P5"``).
        num_classes: number of object classes.
        neck: a name of ``centernet_keras.necks.NECKS`` (its output must be stride 4), or
            ``None``: the backbone's single output, through ``deconv`` if ``neck_filters``
            are given, as is otherwise (models saved before necks had names).
        neck_filters: filters of the ``deconv`` / ``skip`` neck's three upsampling stages
            (``()`` for the DLA necks).
        head_channels: width of each head's 3×3 conv.
        head_batchnorm: BN in the heads (default) or the reference's conv bias.
        loss_weights: (heatmap, size, offset) loss weights.
        decoder: the decoder (default ``CenterNetDecoder()``: K 100, no threshold, no NMS).
        **kwargs: ``Detector`` arguments (``class_names``, ``image_resize``,
            ``pretrained_layers``) and ``keras.Model`` ones (``name``).
    """

    detector_name = "centernet"
    decoder_class = CenterNetDecoder
    loss_terms = ("heatmap_loss", "size_loss", "offset_loss")
    output_stride = OUTPUT_STRIDE
    strides = (OUTPUT_STRIDE,)

    def __init__(
        self,
        backbone: keras.Model,
        num_classes: int,
        neck: str | None = "deconv",
        neck_filters: Sequence[int] = (256, 128, 64),
        head_channels: int = 64,
        head_batchnorm: bool = True,
        loss_weights: Sequence[float] = (1.0, 0.1, 1.0),
        decoder: CenterNetDecoder | None = None,
        **kwargs,
    ):
        inputs = keras.Input(shape=backbone.input_shape[1:], name="image")
        x = neck_output(backbone, inputs, neck, neck_filters, OUTPUT_STRIDE)
        outputs = centernet_heads(x, num_classes, head_channels, head_batchnorm)
        kwargs.setdefault("name", "centernet")
        super().__init__(
            inputs,
            outputs,
            decoder=CenterNetDecoder() if decoder is None else decoder,
            backbone=backbone,
            num_classes=num_classes,
            **kwargs,
        )
        self.neck = neck
        self.neck_filters = tuple(int(f) for f in neck_filters)
        self.head_channels = int(head_channels)
        self.head_batchnorm = bool(head_batchnorm)
        self.loss_weights = tuple(float(w) for w in loss_weights)

    @classmethod
    def from_settings(cls, num_classes: int, keypoint_spec=None, **settings) -> CenterNet:
        """``build_centernet`` (boxes: a keypoints file's joints are not used)."""
        del keypoint_spec
        return build_centernet(num_classes, **settings)

    def detector_losses(self, y_true, y_pred) -> dict:
        return centernet_loss(y_true, y_pred, self.loss_weights)

    def activate(self, outputs) -> dict:
        return {
            "heatmap": ops.sigmoid(outputs["heatmap"]),
            "size": outputs["size"],
            "offset": outputs["offset"],
        }

    def merge_flip(self, maps, flipped) -> dict:
        """The reference flip test: average heatmap probabilities and sizes; offsets of the
        unflipped image."""
        return {
            "heatmap": (maps["heatmap"] + ops.flip(flipped["heatmap"], axis=2)) / 2.0,
            "size": (maps["size"] + ops.flip(flipped["size"], axis=2)) / 2.0,
            "offset": maps["offset"],
        }

    def target_encoder(self, max_objects: int) -> Callable[..., dict]:
        from centernet_keras.targets import encode_targets  # TF ops: only where targets are made

        num_classes = self.num_classes

        def encode(boxes, classes, image_hw, keypoints=None):  # joints are not a box target
            return encode_targets(boxes, classes, image_hw, num_classes, max_objects)

        return encode

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "neck": self.neck,
            "neck_filters": list(self.neck_filters),
            "head_channels": self.head_channels,
            "head_batchnorm": self.head_batchnorm,
            "loss_weights": list(self.loss_weights),
        }

    @classmethod
    def from_config(cls, config: dict) -> CenterNet:
        config = dict(config)
        config.setdefault("neck", None)  # saved before necks had names: single-output backbone
        if "decoder" not in config:  # saved before the decoder was a layer
            config["decoder"] = keras.saving.serialize_keras_object(_legacy_decoder(config))
        for key in _LEGACY_DECODER_KEYS:
            config.pop(key, None)
        return super().from_config(config)


def _legacy_decoder(config: dict) -> CenterNetDecoder:
    """The decoder of a config saved by earlier versions (settings as model attributes).

    Those versions' ``Predictor`` applied NMS 0.5 to ResNet backbones when the model had
    none ("auto"); that default is now the decoder's own setting.
    """
    iou = config.get("nms_iou")
    if iou is None:
        iou = auto_iou_threshold(config["backbone"].get("config", {}).get("name", ""))
    return CenterNetDecoder(
        max_detections=config.get("max_detections", 100),
        score_threshold=config.get("score_threshold", 0.0),
        iou_threshold=iou,
    )


def build_centernet(
    num_classes: int,
    backbone: str | keras.Model = "resnet50",
    input_shape: tuple[int | None, int | None, int] = (512, 512, 3),
    weights: str | None = None,
    neck: str | None = None,
    max_detections: int = 100,
    score_threshold: float = 0.0,
    iou_threshold: float | str | None = "auto",
    **kwargs,
) -> CenterNet:
    """Build a CenterNet detector.

    Args:
        num_classes: number of object classes (heatmap channels).
        backbone: a name of ``centernet_keras.backbones.BACKBONES`` (``"resnet50"``,
            ``"resnet18"``, ``"mobilenetv3_small"``, ``"mobilenetv3_large"``, ``"dla34"``,
            ``"regnetx_400mf"``…),
            a former name of a backbone with its neck (``"resnet18_fpn"``,
            ``"mobilenetv3_*_fpn"``: the ``skip`` neck; ``"dla34_plain"``: ``dla_up_plain``),
            or a ready ``keras.Model`` giving a pyramid (or one stride-32 map).
        input_shape: ``(H, W, 3)``, H and W multiples of 32 (``None`` for any size).
        weights: backbone weights: ``None``, ``"imagenet"`` or a local file path.
        neck: a name of ``centernet_keras.necks.NECKS``; default ``"dla_up"`` (CenterNet's
            DLASeg, deformable convs) for ``dla34``, ``"skip"`` for ``regnetx_400mf``,
            ``"deconv"`` otherwise. With the DLA necks ``neck_filters`` is ``()`` and
            ``head_channels`` defaults to the reference's 256; ``neck_filters`` defaults to
            ``(256, 128, 64)`` for ``deconv`` and ``(96, 64, 64)`` for ``skip``
            (``(128, 64, 64)`` on ``resnet18``).
        max_detections, score_threshold: settings of the model's ``CenterNetDecoder``.
        iou_threshold: the decoder's class-wise NMS IoU, ``None`` for none, or ``"auto"``
            (``auto_iou_threshold``): 0.5 for the ResNet backbones (``resnet*``, as the Keras
            CenterNet ports), none otherwise.
        **kwargs: passed to ``CenterNet`` (neck_filters, head_channels, class_names…).

    Returns:
        An uncompiled ``CenterNet``.
    """
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    if len(input_shape) != 3 or input_shape[-1] != 3:
        raise ValueError(f"input_shape must be (H, W, 3), got {input_shape}")
    for dim in input_shape[:2]:
        if dim is not None and dim % 32:
            raise ValueError(
                f"input height and width must be multiples of 32 (stride of the backbone), "
                f"got {input_shape[:2]}; letterbox/resize images to e.g. 512x512"
            )
    if iou_threshold == "auto":
        iou_threshold = auto_iou_threshold(backbone if isinstance(backbone, str) else backbone.name)
    kwargs["decoder"] = CenterNetDecoder(max_detections, score_threshold, iou_threshold)
    backbone, neck = backbone_and_neck(backbone, neck, input_shape, weights, kwargs)
    return CenterNet(backbone, num_classes, neck=neck, **kwargs)
