"""Training losses, written with ``keras.ops`` only (TF, JAX and PyTorch backends).

``centernet``: CenterNet box and multi-person pose losses (reference xingyizhou/CenterNet).
``fcos``: FCOS losses (torchvision ``sigmoid_focal_loss``, ``generalized_box_iou_loss``,
centerness BCE) and their total, :func:`fcos_loss`.
"""

from centernet_keras.gather import gather_feature  # noqa: F401  (importable here, as before)
from centernet_keras.losses.centernet import (
    POSE_LOSS_TERMS,
    centernet_loss,
    focal_loss,
    pose_loss,
    reg_l1_loss,
)
from centernet_keras.losses.fcos import (
    FCOS_LOSS_TERMS,
    centerness_loss,
    fcos_loss,
    giou_loss,
    sigmoid_focal_loss,
)

__all__ = [
    "FCOS_LOSS_TERMS",
    "POSE_LOSS_TERMS",
    "centerness_loss",
    "centernet_loss",
    "fcos_loss",
    "focal_loss",
    "giou_loss",
    "pose_loss",
    "reg_l1_loss",
    "sigmoid_focal_loss",
]
