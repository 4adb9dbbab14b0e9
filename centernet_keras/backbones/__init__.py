"""Backbones: raw RGB (0–255) in, stride-32 features out, preprocessing inside.

``build_backbone(name, input_shape, weights)`` maps the names accepted by
``build_centernet(backbone=...)`` to their constructors.
"""

from __future__ import annotations

from collections.abc import Callable

import keras

from centernet_keras.backbones.dla import dla34_backbone, dla34_base
from centernet_keras.backbones.mobilenet import mobilenetv3_backbone, mobilenetv3_fpn_backbone
from centernet_keras.backbones.preprocessing import ImagePreprocessing
from centernet_keras.backbones.resnet import (
    resnet18_backbone,
    resnet18_fpn_backbone,
    resnet50_backbone,
)
from centernet_keras.backbones.weights import WeightsUnavailableError

BACKBONES: dict[str, Callable[..., keras.Model]] = {
    "resnet50": resnet50_backbone,
    "resnet18": resnet18_backbone,
    "resnet18_fpn": resnet18_fpn_backbone,
    "mobilenetv3_large": lambda input_shape, weights: mobilenetv3_backbone(
        input_shape, weights, "large"
    ),
    "mobilenetv3_small": lambda input_shape, weights: mobilenetv3_backbone(
        input_shape, weights, "small"
    ),
}
BACKBONES["mobilenetv3"] = BACKBONES["mobilenetv3_large"]
# MobileNetV3 + light skip neck: stride-4 output (64 channels), the light model for CPU / demo.
BACKBONES["mobilenetv3_small_fpn"] = lambda input_shape, weights: mobilenetv3_fpn_backbone(
    input_shape, weights, "small"
)
BACKBONES["mobilenetv3_large_fpn"] = lambda input_shape, weights: mobilenetv3_fpn_backbone(
    input_shape, weights, "large"
)
# DLA-34 DLASeg: stride-4 output (64 channels), aggregation neck included.
BACKBONES["dla34"] = lambda input_shape, weights: dla34_backbone(input_shape, weights, "dcn")
BACKBONES["dla34_plain"] = lambda input_shape, weights: dla34_backbone(
    input_shape, weights, "plain"
)


def build_backbone(
    name: str,
    input_shape: tuple[int | None, int | None, int] = (512, 512, 3),
    weights: str | None = None,
) -> keras.Model:
    """Build a backbone by name (see ``BACKBONES``).

    Returns:
        A model mapping ``[B, H, W, 3]`` raw RGB to ``[B, H/32, W/32, C]``.
    """
    if name not in BACKBONES:
        raise ValueError(f"Unknown backbone {name!r}; choose one of {sorted(BACKBONES)}")
    return BACKBONES[name](input_shape=input_shape, weights=weights)


__all__ = [
    "BACKBONES",
    "ImagePreprocessing",
    "WeightsUnavailableError",
    "build_backbone",
    "dla34_backbone",
    "dla34_base",
    "mobilenetv3_backbone",
    "mobilenetv3_fpn_backbone",
    "resnet18_backbone",
    "resnet18_fpn_backbone",
    "resnet50_backbone",
]
