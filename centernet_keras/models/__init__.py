"""Detectors: the ``Detector`` base and the models built on it."""

from centernet_keras.models.centernet import CenterNet, build_centernet
from centernet_keras.models.detector import Detector

__all__ = ["CenterNet", "Detector", "build_centernet"]
