"""CenterNet multi-person pose (``multi_pose``) on the ``Detector`` base; ``build_centernet_pose``.

Each person is a centre on a one-class heatmap with its box size, centre offset and the
regressed offsets of its ``J`` joints; per-joint heatmaps and a shared joint sub-pixel offset
let the decoder (``PoseDecoder``) snap each regressed joint to the nearest joint peak.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import keras
from keras import ops

from centernet_keras.decoder_defaults import KEYPOINT_THRESHOLD, POSE_IOU_THRESHOLD
from centernet_keras.decoding.pose import PoseDecoder
from centernet_keras.heads.pose import pose_heads
from centernet_keras.keypoints import KeypointSpec
from centernet_keras.losses import pose_loss
from centernet_keras.models.detector import Detector
from centernet_keras.models.features import backbone_and_neck, neck_output
from centernet_keras.models.registry import register_detector

OUTPUT_STRIDE = 4


@register_detector
@keras.saving.register_keras_serializable(package="centernet_keras")
class CenterNetPose(Detector):
    """CenterNet multi-person pose estimation.

    Call: raw RGB ``[B, H, W, 3]`` (0–255, H and W multiples of 32) → ``{"heatmap" [B, h, w, 1],
    "size" [B, h, w, 2], "offset" [B, h, w, 2], "keypoints" [B, h, w, 2J], "keypoint_heatmap"
    [B, h, w, J], "keypoint_offset" [B, h, w, 2]}`` with ``h, w = H/4, W/4`` (heatmaps as
    logits). ``fit`` takes targets of ``centernet_keras.targets.encode_pose_targets``; the loss
    is ``pose_loss`` (each term logged). ``predict`` returns the ``PoseDecoder``'s people.

    Args:
        backbone: a model giving a feature pyramid (see ``centernet_keras.backbones``).
        keypoint_spec: the joints (names, flip pairs, skeleton, OKS sigmas); default COCO-17.
        neck, neck_filters: as ``CenterNet``.
        head_channels: width of each head's 3×3 conv.
        head_batchnorm: BN in the heads (default) or the reference's conv bias.
        loss_weights: ``pose_loss`` weights (dict or five values), ``None`` for its defaults.
        decoder: default ``PoseDecoder()``.
        **kwargs: ``Detector`` arguments (``class_names`` default ``("person",)``…).
    """

    detector_name = "pose"
    decoder_class = PoseDecoder
    #: the default joints (an instance holds its own): a keypoint detector
    keypoint_spec = KeypointSpec.coco17()
    loss_terms = (
        "heatmap_loss", "size_loss", "offset_loss", "keypoint_loss", "keypoint_heatmap_loss",
        "keypoint_offset_loss",
    )  # fmt: skip
    output_stride = OUTPUT_STRIDE
    strides = (OUTPUT_STRIDE,)

    def __init__(
        self,
        backbone: keras.Model,
        keypoint_spec: KeypointSpec | Mapping | None = None,
        neck: str | None = "deconv",
        neck_filters: Sequence[int] = (256, 128, 64),
        head_channels: int = 64,
        head_batchnorm: bool = True,
        loss_weights: Mapping[str, float] | Sequence[float] | None = None,
        decoder: PoseDecoder | None = None,
        **kwargs,
    ):
        if keypoint_spec is None:
            keypoint_spec = KeypointSpec.coco17()
        elif not isinstance(keypoint_spec, KeypointSpec):
            keypoint_spec = KeypointSpec.from_config(keypoint_spec)
        inputs = keras.Input(shape=backbone.input_shape[1:], name="image")
        x = neck_output(backbone, inputs, neck, neck_filters, OUTPUT_STRIDE)
        outputs = pose_heads(x, keypoint_spec.num_joints, head_channels, head_batchnorm)
        if kwargs.pop("num_classes", 1) != 1:
            raise ValueError("a pose model has one class (person); num_classes must be 1")
        kwargs.setdefault("name", "centernet_pose")
        kwargs.setdefault("class_names", ("person",))
        super().__init__(
            inputs,
            outputs,
            decoder=PoseDecoder() if decoder is None else decoder,
            backbone=backbone,
            num_classes=1,
            **kwargs,
        )
        self.keypoint_spec = keypoint_spec
        self.neck = neck
        self.neck_filters = tuple(int(f) for f in neck_filters)
        self.head_channels = int(head_channels)
        self.head_batchnorm = bool(head_batchnorm)
        self.loss_weights = loss_weights

    @classmethod
    def from_settings(
        cls, num_classes: int, keypoint_spec=None, class_names=None, **settings
    ) -> CenterNetPose:
        """``build_centernet_pose``: one class, the joints of the data (``keypoint_spec``).

        Raises:
            ValueError: no keypoint spec (the data has no joints) or more than one class.
        """
        if keypoint_spec is None:
            raise ValueError(
                "--detector pose trains on keypoints: give --train-json with a COCO keypoints "
                "file (person_keypoints_*.json, categories with 'keypoints')"
            )
        if num_classes != 1:
            raise ValueError(
                f"the pose model finds one class (e.g. person); the data has {num_classes}: "
                f"{list(class_names or [])[:10]}: pass --classes with the one keypoint class"
            )
        return build_centernet_pose(
            keypoint_spec.num_joints, keypoint_spec=keypoint_spec, class_names=class_names,
            **settings,
        )  # fmt: skip

    def detector_losses(self, y_true, y_pred) -> dict:
        return pose_loss(y_true, y_pred, self.loss_weights)

    def activate(self, outputs) -> dict:
        maps = dict(outputs)
        maps["heatmap"] = ops.sigmoid(outputs["heatmap"])
        maps["keypoint_heatmap"] = ops.sigmoid(outputs["keypoint_heatmap"])
        return maps

    def merge_flip(self, maps, flipped) -> dict:
        """The flip test: average the heatmaps, sizes and joint regressions with those of the
        mirrored image (mirrored back, left/right joints swapped); offsets of the unflipped image.

        A joint regression is relative to the centre's cell: ``dx = x_joint − i`` in cell ``i``.
        Mirrored (``x → W_out − x``), cell ``i`` is cell ``W_out − 1 − i``, so the mirror
        image's ``dx'`` at that cell means ``dx = 1 − dx'``. The reference (``flip_lr_off``)
        takes ``−dx'``, which moves every regressed joint one output cell (4 input px) left
        and lowered the keypoint AP of perfect maps from 0.965 to 0.901 (issue 21).
        """
        swap = self.keypoint_spec.flip_permutation()
        back = {k: ops.flip(v, axis=2) for k, v in flipped.items()}
        shape = ops.shape(back["keypoints"])
        joints = ops.reshape(back["keypoints"], (*shape[:3], -1, 2))
        mirror = ops.convert_to_tensor([-1.0, 1.0]), ops.convert_to_tensor([1.0, 0.0])
        joints = ops.take(joints * mirror[0] + mirror[1], swap, axis=3)
        return {
            "heatmap": (maps["heatmap"] + back["heatmap"]) / 2.0,
            "size": (maps["size"] + back["size"]) / 2.0,
            "offset": maps["offset"],
            "keypoints": (maps["keypoints"] + ops.reshape(joints, shape)) / 2.0,
            "keypoint_heatmap": (
                maps["keypoint_heatmap"] + ops.take(back["keypoint_heatmap"], swap, axis=3)
            )
            / 2.0,
            "keypoint_offset": maps["keypoint_offset"],
        }

    def target_encoder(self, max_objects: int) -> Callable[..., dict]:
        import tensorflow as tf  # TF ops: only where targets are made

        from centernet_keras.targets import encode_pose_targets  # TF ops: only for targets

        num_joints = self.keypoint_spec.num_joints

        def encode(boxes, classes, image_hw, keypoints=None):
            if keypoints is None:
                raise ValueError(
                    "a pose model trains on keypoints: give it a COCO keypoints file "
                    "(person_keypoints_*.json), not box annotations"
                )
            if keypoints.shape[1] is not None and keypoints.shape[1] != num_joints:
                raise ValueError(
                    f"the data has {keypoints.shape[1]} joints per person, the model {num_joints}"
                )
            # a row the pipeline dropped (class −1: left the canvas, too small) is padding
            boxes = tf.where(tf.cast(classes, tf.int32)[:, None] >= 0, boxes, -1.0)
            return encode_pose_targets(boxes, keypoints, image_hw, max_objects)

        return encode

    def get_config(self) -> dict:
        weights = self.loss_weights
        return {
            **super().get_config(),
            "keypoint_spec": self.keypoint_spec.get_config(),
            "neck": self.neck,
            "neck_filters": list(self.neck_filters),
            "head_channels": self.head_channels,
            "head_batchnorm": self.head_batchnorm,
            "loss_weights": dict(weights) if isinstance(weights, Mapping) else weights,
        }


def build_centernet_pose(
    num_keypoints: int = 17,
    backbone: str | keras.Model = "dla34",
    input_shape: tuple[int | None, int | None, int] = (512, 512, 3),
    weights: str | None = None,
    neck: str | None = None,
    keypoint_spec: KeypointSpec | None = None,
    max_detections: int = 100,
    score_threshold: float = 0.0,
    keypoint_threshold: float = KEYPOINT_THRESHOLD,
    iou_threshold: float | None = POSE_IOU_THRESHOLD,
    **kwargs,
) -> CenterNetPose:
    """Build a CenterNet pose model (any backbone / neck of ``build_centernet``).

    Args:
        num_keypoints: joints per person; 17 gives the COCO spec, another number needs
            ``keypoint_spec``.
        backbone, input_shape, weights, neck: as ``build_centernet``.
        keypoint_spec: the joints; default ``KeypointSpec.coco17()``.
        max_detections, score_threshold, keypoint_threshold, iou_threshold: the
            ``PoseDecoder`` settings (no NMS unless ``iou_threshold`` is set, as the reference).
        **kwargs: passed to ``CenterNetPose`` (head_channels, class_names, loss_weights…).

    Raises:
        ValueError: ``keypoint_spec`` does not have ``num_keypoints`` joints, or no spec for a
            non-COCO joint count.
    """
    if keypoint_spec is None:
        if num_keypoints != 17:
            raise ValueError(
                f"num_keypoints={num_keypoints}: pass keypoint_spec= (names, flip pairs, sigmas) "
                f"for a joint set other than COCO's 17"
            )
        keypoint_spec = KeypointSpec.coco17()
    if keypoint_spec.num_joints != num_keypoints:
        raise ValueError(
            f"keypoint_spec has {keypoint_spec.num_joints} joints, num_keypoints={num_keypoints}"
        )
    kwargs["decoder"] = PoseDecoder(
        max_detections, score_threshold, keypoint_threshold, iou_threshold=iou_threshold
    )
    backbone, neck = backbone_and_neck(backbone, neck, input_shape, weights, kwargs)
    return CenterNetPose(backbone, keypoint_spec, neck=neck, **kwargs)
