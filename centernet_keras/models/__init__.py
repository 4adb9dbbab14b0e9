"""Detectors: the ``Detector`` base and the models built on it."""

from centernet_keras.models.centernet import CenterNet, build_centernet
from centernet_keras.models.detector import Detector
from centernet_keras.models.fcos import FCOS, build_fcos
from centernet_keras.models.pose import CenterNetPose, build_centernet_pose

__all__ = [
    "FCOS",
    "CenterNet",
    "CenterNetPose",
    "Detector",
    "build_centernet",
    "build_centernet_pose",
    "build_fcos",
]
