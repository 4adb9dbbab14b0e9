"""The CenterNet detector: backbone → deconv neck → heads, with loss and decoding attached."""

from __future__ import annotations

import copy
from collections.abc import Sequence

import keras
from keras import ops

from centernet_keras.backbones import build_backbone
from centernet_keras.decoding import decode_centernet
from centernet_keras.heads.centernet import centernet_heads
from centernet_keras.losses import centernet_loss
from centernet_keras.necks.deconv import deconv_neck

OUTPUT_STRIDE = 4
IMAGE_RESIZE_MODES = ("letterbox", "resize")


@keras.saving.register_keras_serializable(package="centernet_keras")
class CenterNet(keras.Model):
    """CenterNet ("Objects as Points") as a functional ``keras.Model`` subclass.

    Call: raw RGB ``[B, H, W, 3]`` (0–255, H and W multiples of 32) →
    ``{"heatmap": logits [B, H/4, W/4, C], "size": [B, H/4, W/4, 2], "offset": [B, H/4, W/4, 2]}``.

    ``fit`` takes ``(images, targets)`` with targets from
    ``centernet_keras.targets.encode_targets`` (batched); ``compute_loss`` is
    ``centernet_loss`` and logs ``heatmap_loss``, ``size_loss`` and ``offset_loss``.
    ``predict`` returns decoded detections (see ``decode_centernet``), boxes in
    network-input pixels.

    Args:
        backbone: a model mapping raw RGB to stride-32 features (or stride-4 features, e.g. a
            DLA-34 with its own aggregation neck, together with ``neck_filters=()``).
        num_classes: number of object classes.
        neck_filters: filters of the 2× transposed convs (three for a stride-32 backbone,
            none for a stride-4 one).
        head_channels: width of each head's 3×3 conv.
        head_batchnorm: BN in the heads (default) or the reference's conv bias.
        loss_weights: (heatmap, size, offset) loss weights.
        max_detections: K of the decoder.
        score_threshold: decoder score threshold (detections below it are padding).
        nms_iou: class-wise NMS IoU in the decoder, or ``None`` for none.
        class_names: optional names of the classes, saved with the model.
        image_resize: how images are fitted to the input during training and so at inference:
            ``"letterbox"`` (keep aspect, pad gray) or ``"resize"`` (stretch); saved with the model.
        pretrained_layers: names of the backbone's layers that hold pretrained weights (what
            the training's freeze phase freezes); default: the backbone's own record
            (``backbone.pretrained_layers``, set by the backbone builders), else none.
    """

    def __init__(
        self,
        backbone: keras.Model,
        num_classes: int,
        neck_filters: Sequence[int] = (256, 128, 64),
        head_channels: int = 64,
        head_batchnorm: bool = True,
        loss_weights: Sequence[float] = (1.0, 0.1, 1.0),
        max_detections: int = 100,
        score_threshold: float = 0.0,
        nms_iou: float | None = None,
        class_names: Sequence[str] | None = None,
        image_resize: str = "letterbox",
        pretrained_layers: Sequence[str] | None = None,
        **kwargs,
    ):
        if class_names is not None and len(class_names) != num_classes:
            raise ValueError(
                f"{len(class_names)} class names given for a model of {num_classes} classes"
            )
        if image_resize not in IMAGE_RESIZE_MODES:
            raise ValueError(
                f"image_resize must be one of {IMAGE_RESIZE_MODES}, got {image_resize!r}"
            )
        inputs = keras.Input(shape=backbone.input_shape[1:], name="image")
        features = backbone(inputs)
        _check_stride(backbone, len(neck_filters))
        x = deconv_neck(features, neck_filters) if neck_filters else features
        outputs = centernet_heads(x, num_classes, head_channels, head_batchnorm)
        kwargs.setdefault("name", "centernet")
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        self.backbone = backbone
        self.num_classes = int(num_classes)
        self.neck_filters = tuple(int(f) for f in neck_filters)
        self.head_channels = int(head_channels)
        self.head_batchnorm = bool(head_batchnorm)
        self.loss_weights = tuple(float(w) for w in loss_weights)
        self.max_detections = int(max_detections)
        self.score_threshold = float(score_threshold)
        self.nms_iou = None if nms_iou is None else float(nms_iou)
        self.class_names = None if class_names is None else tuple(str(c) for c in class_names)
        self.image_resize = image_resize
        if pretrained_layers is None:
            pretrained_layers = getattr(backbone, "pretrained_layers", ())
        self.pretrained_layers = tuple(str(name) for name in pretrained_layers)
        self.heatmap_loss_tracker = keras.metrics.Mean(name="heatmap_loss")
        self.size_loss_tracker = keras.metrics.Mean(name="size_loss")
        self.offset_loss_tracker = keras.metrics.Mean(name="offset_loss")

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Total CenterNet loss for a batch; updates the per-component trackers."""
        del x, sample_weight, training
        losses = centernet_loss(y, y_pred, self.loss_weights)
        self.heatmap_loss_tracker.update_state(losses["heatmap_loss"])
        self.size_loss_tracker.update_state(losses["size_loss"])
        self.offset_loss_tracker.update_state(losses["offset_loss"])
        total = losses["loss"]
        if self.losses:  # weight regularisers, if any
            total = total + ops.sum(ops.stack(self.losses))
        return _scale_for_replicas(total)

    def decode(self, outputs: dict) -> dict:
        """Decode raw head outputs into padded detections (input-pixel boxes).

        Returns:
            ``{"boxes" [B, K, 4], "scores" [B, K], "classes" [B, K], "num_detections" [B]}``.
        """
        return decode_centernet(
            ops.sigmoid(outputs["heatmap"]),
            outputs["size"],
            outputs["offset"],
            max_detections=self.max_detections,
            score_threshold=self.score_threshold,
            nms_iou=self.nms_iou,
            stride=OUTPUT_STRIDE,
        )

    def set_decoding(
        self,
        max_detections: int | None = None,
        score_threshold: float | None = None,
        nms_iou: float | str | None = "keep",
    ) -> None:
        """Change the decoder settings used by ``predict`` (forces a retrace).

        Args:
            max_detections: new K, or ``None`` to keep.
            score_threshold: new threshold, or ``None`` to keep.
            nms_iou: new NMS IoU, ``None`` to switch NMS off, or ``"keep"``.
        """
        if max_detections is not None:
            self.max_detections = int(max_detections)
        if score_threshold is not None:
            self.score_threshold = float(score_threshold)
        if nms_iou != "keep":
            self.nms_iou = None if nms_iou is None else float(nms_iou)
        self.predict_function = None  # the traced predict used the old settings

    def predict_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self.decode(self(x, training=False))

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "num_classes": self.num_classes,
            "neck_filters": list(self.neck_filters),
            "head_channels": self.head_channels,
            "head_batchnorm": self.head_batchnorm,
            "loss_weights": list(self.loss_weights),
            "max_detections": self.max_detections,
            "score_threshold": self.score_threshold,
            "nms_iou": self.nms_iou,
            "class_names": None if self.class_names is None else list(self.class_names),
            "image_resize": self.image_resize,
            "pretrained_layers": list(self.pretrained_layers),
        }

    @classmethod
    def from_config(cls, config: dict) -> CenterNet:
        config = copy.deepcopy(config)  # deserialisation consumes the nested dicts
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        return cls(**config)


def _scale_for_replicas(loss):
    """Divide by the number of tf.distribute replicas, as Keras's own losses do.

    Under a ``MirroredStrategy`` the gradients of the replicas are summed, so each replica's
    loss is scaled by ``1 / num_replicas`` (Keras logs the unscaled value). Other backends and
    the default strategy: unchanged.
    """
    if keras.backend.backend() != "tensorflow":
        return loss
    import tensorflow as tf  # only on the TF backend

    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return loss if replicas == 1 else loss * (1.0 / replicas)


def _check_stride(backbone: keras.Model, num_upsamplings: int) -> None:
    """Raise if backbone stride / 2^num_upsamplings is not the output stride 4.

    Checked on a probe of the backbone's static input shape (a multiple-of-32 square when the
    input shape is dynamic).
    """
    in_shape = backbone.input_shape[1:3]
    probe = tuple(d if d is not None else 64 for d in in_shape)
    out_shape = backbone.compute_output_shape((1, *probe, 3))
    if isinstance(out_shape, list | tuple) and isinstance(out_shape[0], list | tuple):
        raise ValueError("the backbone must have a single output (a feature map)")
    stride = probe[0] // out_shape[1] if out_shape[1] else None
    if stride != OUTPUT_STRIDE * 2**num_upsamplings:
        raise ValueError(
            f"backbone stride {stride} with {num_upsamplings} 2x upsampling(s) does not give "
            f"the output stride {OUTPUT_STRIDE}: use 3 neck_filters for a stride-32 backbone "
            f"and none for a stride-4 one"
        )


def build_centernet(
    num_classes: int,
    backbone: str | keras.Model = "resnet50",
    input_shape: tuple[int | None, int | None, int] = (512, 512, 3),
    weights: str | None = None,
    **kwargs,
) -> CenterNet:
    """Build a CenterNet detector.

    Args:
        num_classes: number of object classes (heatmap channels).
        backbone: ``"resnet50"``, ``"resnet18"``, ``"mobilenetv3"`` (= large),
            ``"mobilenetv3_large"``, ``"mobilenetv3_small"``, ``"dla34"`` (DLA-34 DLASeg with
            deformable convs), ``"dla34_plain"`` (dlav0, plain convs), or a ready
            ``keras.Model`` mapping raw RGB to stride-32 features. The DLA backbones output
            stride 4 themselves, so for them ``neck_filters`` defaults to ``()`` and
            ``head_channels`` to the reference's 256.
        input_shape: ``(H, W, 3)``, H and W multiples of 32 (``None`` for any size).
        weights: backbone weights: ``None``, ``"imagenet"`` or a local file path.
        **kwargs: passed to ``CenterNet`` (neck_filters, head_channels, decoder settings…).

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
    if isinstance(backbone, str):
        if backbone.endswith("_fpn"):  # stride-4 backbones with their own light skip neck
            kwargs.setdefault("neck_filters", ())
        if backbone.startswith("dla"):  # stride-4 DLASeg backbones carry their own neck
            kwargs.setdefault("neck_filters", ())
            kwargs.setdefault("head_channels", 256)
        backbone = build_backbone(backbone, input_shape, weights)
    return CenterNet(backbone, num_classes, **kwargs)
