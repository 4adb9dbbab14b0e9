"""Detectors."""

from centernet_keras.models.centernet import CenterNet, build_centernet

__all__ = ["CenterNet", "build_centernet"]
