"""Training targets: gaussian radius and drawing (NumPy), CenterNet target encoding (TF)."""

from centernet_keras.targets.centernet import encode_targets
from centernet_keras.targets.gaussian import draw_gaussian, gaussian2d, gaussian_radius

__all__ = ["draw_gaussian", "encode_targets", "gaussian2d", "gaussian_radius"]
