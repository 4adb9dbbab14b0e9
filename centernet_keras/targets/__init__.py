"""Training targets: gaussian radius and drawing (NumPy); CenterNet, pose and FCOS targets (TF)."""

from centernet_keras.locations import fcos_locations
from centernet_keras.targets.centernet import encode_targets
from centernet_keras.targets.fcos import encode_fcos_targets
from centernet_keras.targets.gaussian import draw_gaussian, gaussian2d, gaussian_radius
from centernet_keras.targets.pose import encode_pose_targets

__all__ = [
    "draw_gaussian",
    "encode_fcos_targets",
    "encode_pose_targets",
    "encode_targets",
    "fcos_locations",
    "gaussian2d",
    "gaussian_radius",
]
