"""Training targets: gaussian radius and drawing (NumPy), CenterNet box and pose targets (TF)."""

from centernet_keras.targets.centernet import encode_targets
from centernet_keras.targets.gaussian import draw_gaussian, gaussian2d, gaussian_radius
from centernet_keras.targets.pose import encode_pose_targets

__all__ = [
    "draw_gaussian",
    "encode_pose_targets",
    "encode_targets",
    "gaussian2d",
    "gaussian_radius",
]
