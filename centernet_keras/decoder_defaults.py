"""The decoder settings a newly built model holds, as plain numbers: the builders use them and
``--help`` shows them without importing Keras."""

from __future__ import annotations

#: A pose joint snaps to a joint-heatmap peak scoring above this (the reference's value).
KEYPOINT_THRESHOLD = 0.1
#: ``build_fcos``'s class-wise NMS IoU.
FCOS_IOU_THRESHOLD = 0.6
#: ``build_centernet_pose``'s NMS IoU: none, as the reference.
POSE_IOU_THRESHOLD = None


def auto_iou_threshold(backbone_name: str) -> float | None:
    """The NMS IoU ``iou_threshold="auto"`` gives a CenterNet on this backbone: 0.5 for the
    ResNet backbones (``resnet*``, as the Keras CenterNet ports), else none."""
    return 0.5 if backbone_name.startswith("resnet") else None
