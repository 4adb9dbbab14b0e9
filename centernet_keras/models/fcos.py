"""FCOS (Tian et al., "Fully Convolutional One-Stage") on the ``Detector`` base; ``build_fcos``.

Backbone (C3–C5 = the pyramid's P3–P5) → FPN (``necks/fpn.py``) → one head shared by the three
levels (``heads/fcos.py``) → outputs flat over the ``L`` locations of P3, P4, P5
(``centernet_keras.locations``). Targets ``encode_fcos_targets``, loss ``fcos_loss``, decoder
``FCOSDecoder`` (which needs the network input size: set from a fixed input shape when the
model is built, else passed by ``decode`` from the images).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
from keras import ops

from centernet_keras.backbones import build_backbone
from centernet_keras.decoder_defaults import FCOS_IOU_THRESHOLD
from centernet_keras.decoding.base import Decoder
from centernet_keras.decoding.fcos import FCOSDecoder, merge_fcos_flip
from centernet_keras.heads.fcos import fcos_head, fcos_head_outputs
from centernet_keras.locations import FCOS_STRIDES, fcos_level_shapes
from centernet_keras.losses.fcos import FCOS_LOSS_TERMS, fcos_loss
from centernet_keras.models.detector import Detector
from centernet_keras.models.features import neck_pyramid, resolve
from centernet_keras.models.registry import register_detector
from centernet_keras.necks import FPN_LEVELS

#: Candidates per level before the decoder's NMS (``FCOSDecoder.pre_nms_top_k``) in the models
#: built here. torchvision's 1000 per level makes N = 3000 candidates at 512² (20 classes) and
#: an NMS over N² pairs: 71 ms per image on 2 CPU cores, against 12.8 ms with 300 (N = 900)
#: and 5.1 ms with 100 (decode alone, traced, batch 1; ``bench/forward.py --pre-nms-top-k``);
#: 300 per level still leaves 9× the 100 detections kept.
DEFAULT_PRE_NMS_TOP_K = 300


@register_detector
@keras.saving.register_keras_serializable(package="centernet_keras")
class FCOS(Detector):
    """FCOS boxes on the ``Detector`` base.

    Call: raw RGB ``[B, H, W, 3]`` (0–255, H and W multiples of 32) → ``{"classes" [B, L, C]
    logits, "deltas" [B, L, 4] (l, t, r, b ≥ 0 in units of each location's stride),
    "centerness" [B, L] logits}``, ``L = Σ (H/s)·(W/s)`` over the strides 8, 16, 32, levels
    concatenated, row-major inside each.

    ``fit`` takes targets of ``centernet_keras.targets.encode_fcos_targets`` (batched); the loss
    is ``fcos_loss`` (``class_loss``, ``box_loss``, ``centerness_loss`` logged). ``predict``
    returns the detections of ``model.decoder`` (an ``FCOSDecoder``), in input pixels.

    Args:
        backbone: a model mapping raw RGB to a pyramid with ``"P3"``, ``"P4"``, ``"P5"``
            (strides 8, 16, 32; see ``centernet_keras.backbones``).
        num_classes: number of object classes.
        neck: a pyramid neck of ``centernet_keras.necks`` (``"fpn"``).
        fpn_channels: width of the FPN and so of the head's input.
        stem_channels: widths of the 3×3 convs of the classification and box stems.
        group_norm: GroupNorm in the stems (FCOS's; the head is shared by levels, so no BN).
        loss_weights: ``(class, box, centerness)`` weights of ``fcos_loss``.
        center_sampling_radius: ``encode_fcos_targets``'s centre sampling (``None``: off, as
            the reference write-up; torchvision uses 1.5).
        decoder: an ``FCOSDecoder`` (default: torchvision's settings, ``pre_nms_top_k``
            ``DEFAULT_PRE_NMS_TOP_K``); its ``image_size`` is set to a fixed input size.
        **kwargs: ``Detector`` arguments (``class_names``, ``image_resize``,
            ``pretrained_layers``) and ``keras.Model`` ones (``name``).
    """

    detector_name = "fcos"
    decoder_class = FCOSDecoder
    loss_terms = FCOS_LOSS_TERMS
    decode_needs_input_size = True
    strides = FCOS_STRIDES

    def __init__(
        self,
        backbone: keras.Model,
        num_classes: int,
        neck: str = "fpn",
        fpn_channels: int = 64,
        stem_channels: Sequence[int] = (64, 64),
        group_norm: bool = True,
        loss_weights: Sequence[float] = (1.0, 1.0, 1.0),
        center_sampling_radius: float | None = None,
        decoder: FCOSDecoder | None = None,
        **kwargs,
    ):
        inputs = keras.Input(shape=backbone.input_shape[1:], name="image")
        strides = dict(zip(FPN_LEVELS, FCOS_STRIDES, strict=True))
        levels = neck_pyramid(backbone, inputs, neck, strides, channels=fpn_channels)
        head = fcos_head(num_classes, fpn_channels, stem_channels, group_norm)
        outputs = fcos_head_outputs(levels, head)
        kwargs.setdefault("name", "fcos")
        super().__init__(
            inputs,
            outputs,
            decoder=_fixed_size_decoder(decoder, backbone.input_shape[1:3]),
            backbone=backbone,
            num_classes=num_classes,
            **kwargs,
        )
        self.neck = neck
        self.fpn_channels = int(fpn_channels)
        self.stem_channels = tuple(int(c) for c in stem_channels)
        self.group_norm = bool(group_norm)
        self.loss_weights = tuple(float(w) for w in loss_weights)
        self.center_sampling_radius = (
            None if center_sampling_radius is None else float(center_sampling_radius)
        )

    @classmethod
    def from_settings(
        cls,
        num_classes: int,
        keypoint_spec=None,
        neck_filters: Sequence[int] | None = None,
        head_channels: int | None = None,
        **settings,
    ) -> FCOS:
        """``build_fcos``: ``neck_filters`` (``--neck-filters``) is the FPN's one width,
        ``head_channels`` (``--head-channels``) the width of both stem convs; a keypoints
        file's joints are not used.

        Raises:
            ValueError: more than one ``neck_filters`` value.
        """
        del keypoint_spec
        if neck_filters is not None:
            if len(neck_filters) != 1:
                raise ValueError(
                    "FCOS's FPN has one width: pass one --neck-filters value, got "
                    f"{list(neck_filters)}"
                )
            settings["fpn_channels"] = int(neck_filters[0])
        if head_channels is not None:
            settings["stem_channels"] = (int(head_channels),) * 2
        return build_fcos(num_classes, **settings)

    def detector_losses(self, y_true, y_pred) -> dict:
        return fcos_loss(y_true, y_pred, self.loss_weights)

    def activate(self, outputs) -> dict:
        """Sigmoid probabilities of ``classes`` and ``centerness``; ``deltas`` as they are."""
        return {
            "classes": ops.sigmoid(outputs["classes"]),
            "deltas": outputs["deltas"],
            "centerness": ops.sigmoid(outputs["centerness"]),
        }

    def maps(self, images: keras.KerasTensor, flip_test: bool = False) -> dict:
        """As ``Detector.maps``; the flip test mirrors each level of the images' size."""
        if not flip_test:
            return super().maps(images)
        return self.merge_flip(*self.maps_and_mirrored(images), image_size=self.input_hw(images))

    def merge_flip(self, maps, flipped, image_size: Sequence[int] | None = None) -> dict:
        """``merge_fcos_flip``: each level mirrored back, class and centerness probabilities
        averaged, deltas averaged with l and r swapped (exact when W is a multiple of 32).

        Args:
            maps, flipped: activated maps of the images and of their mirror images.
            image_size: the input ``(H, W)`` (default the model's fixed input size).
        """
        size = self.input_hw() if image_size is None else image_size
        if size is None:
            raise ValueError(
                "the flip test of a model with a dynamic input size needs the image size: "
                "run maps(images, flip_test=True) or pass image_size"
            )
        return merge_fcos_flip(maps, flipped, fcos_level_shapes(size, self.strides))

    def decode(self, maps, image_hw=None, decoder: Decoder | None = None) -> dict:
        """The ``FCOSDecoder`` with the input size the maps were computed on (``image_hw``;
        without it, the decoder's own ``image_size``)."""
        decoder = decoder or self.decoder
        if image_hw is None:
            return decoder(maps)
        return decoder(maps, image_size=tuple(int(v) for v in image_hw))

    def target_encoder(self, max_objects: int) -> Callable[..., dict]:
        """``encode_fcos_targets`` of one image (dense over the ``L`` locations: every box is
        trained on, ``max_objects`` is unused; see ``target_slots``)."""
        from centernet_keras.targets import encode_fcos_targets  # TF ops: only for targets

        del max_objects
        strides, radius = self.strides, self.center_sampling_radius

        def encode(boxes, classes, image_hw, keypoints=None):  # joints are not a box target
            size = tuple(int(v) for v in image_hw)
            return encode_fcos_targets(boxes, classes, size, strides, radius)

        return encode

    def target_slots(self, max_objects: int) -> None:
        """``None``: the dense targets take every box, whatever ``max_objects``."""
        return None

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "neck": self.neck,
            "fpn_channels": self.fpn_channels,
            "stem_channels": list(self.stem_channels),
            "group_norm": self.group_norm,
            "loss_weights": list(self.loss_weights),
            "center_sampling_radius": self.center_sampling_radius,
        }


def _fixed_size_decoder(decoder: FCOSDecoder | None, input_hw: Sequence[int | None]):
    """The model's decoder, its ``image_size`` set to a fixed input size.

    Raises:
        TypeError: not an ``FCOSDecoder``.
        ValueError: its strides are not the model's, or its ``image_size`` is another size.
    """
    decoder = FCOSDecoder(pre_nms_top_k=DEFAULT_PRE_NMS_TOP_K) if decoder is None else decoder
    if not isinstance(decoder, FCOSDecoder):
        raise TypeError(f"an FCOS model decodes with an FCOSDecoder, got {type(decoder).__name__}")
    if decoder.strides != FCOS_STRIDES:
        raise ValueError(f"the decoder's strides {decoder.strides} are not FCOS's {FCOS_STRIDES}")
    if any(d is None for d in input_hw):
        return decoder
    hw = (int(input_hw[0]), int(input_hw[1]))
    if decoder.image_size is None:
        return decoder.replace(image_size=hw)
    if decoder.image_size != hw:
        raise ValueError(f"the decoder's image_size {decoder.image_size} is not the input {hw}")
    return decoder


def build_fcos(
    num_classes: int,
    backbone: str | keras.Model = "regnetx_400mf",
    input_shape: tuple[int | None, int | None, int] = (512, 512, 3),
    weights: str | None = None,
    neck: str | None = None,
    max_detections: int = 100,
    score_threshold: float = 0.05,
    iou_threshold: float | None = FCOS_IOU_THRESHOLD,
    pre_nms_top_k: int = DEFAULT_PRE_NMS_TOP_K,
    **kwargs,
) -> FCOS:
    """Build an FCOS detector.

    Args:
        num_classes: number of object classes.
        backbone: a name of ``centernet_keras.backbones.BACKBONES`` giving P3–P5
            (``"regnetx_400mf"``, ``"resnet50"``, ``"resnet18"``, ``"mobilenetv3_small"``,
            ``"mobilenetv3_large"``, ``"dla34"``), or a ready ``keras.Model`` giving such a
            pyramid.
        input_shape: ``(H, W, 3)``, H and W multiples of 32 (``None`` for any size; the
            decoder then takes the size from the images).
        weights: backbone weights: ``None``, ``"imagenet"`` or a local file path.
        neck: a pyramid neck (default and only one so far: ``"fpn"``).
        max_detections, score_threshold, iou_threshold, pre_nms_top_k: settings of the model's
            ``FCOSDecoder`` (torchvision's, but ``pre_nms_top_k``: see
            ``DEFAULT_PRE_NMS_TOP_K``).
        **kwargs: passed to ``FCOS`` (``fpn_channels``, ``stem_channels``, ``group_norm``,
            ``loss_weights``, ``center_sampling_radius``, ``class_names``, ``image_resize``…).

    Returns:
        An uncompiled ``FCOS``.
    """
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    if len(input_shape) != 3 or input_shape[-1] != 3:
        raise ValueError(f"input_shape must be (H, W, 3), got {input_shape}")
    if any(dim is not None and dim % 32 for dim in input_shape[:2]):
        raise ValueError(
            f"input height and width must be multiples of 32 (the FPN's coarsest stride), got "
            f"{input_shape[:2]}; letterbox/resize images to e.g. 512x512"
        )
    kwargs["decoder"] = FCOSDecoder(
        max_detections, score_threshold, iou_threshold, pre_nms_top_k, FCOS_STRIDES
    )
    neck = neck or "fpn"
    if isinstance(backbone, str):
        name, neck = resolve(backbone, neck)
        backbone = build_backbone(name, input_shape, weights)
    return FCOS(backbone, num_classes, neck=neck, **kwargs)
