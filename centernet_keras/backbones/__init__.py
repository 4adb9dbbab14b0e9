"""Backbones: raw RGB (0–255) in, preprocessing inside, a feature pyramid out.

Every backbone maps ``[B, H, W, 3]`` to ``{"P2": …, "P3": …, "P4": …, "P5": …}`` (level ``l``
at stride ``2**l``) and records in ``pretrained_layers`` which of its layers hold pretrained
weights. Necks (``centernet_keras.necks``) are chosen by the detector, never built here.
``build_backbone(name, input_shape, weights)`` maps the names to their constructors;
``load_torchvision_weights`` loads torchvision's ImageNet weights into ``regnetx_400mf``.
"""

from __future__ import annotations

from collections.abc import Callable

import keras

from centernet_keras.backbones.dla import dla34_backbone, dla34_base
from centernet_keras.backbones.mobilenet import mobilenetv3_backbone
from centernet_keras.backbones.preprocessing import ImagePreprocessing
from centernet_keras.backbones.regnet import load_torchvision_weights, regnetx_400mf
from centernet_keras.backbones.resnet import resnet18_backbone, resnet50_backbone
from centernet_keras.backbones.weights import WeightsUnavailableError

BACKBONES: dict[str, Callable[..., keras.Model]] = {
    "resnet50": resnet50_backbone,
    "resnet18": resnet18_backbone,
    "mobilenetv3_large": lambda input_shape, weights: mobilenetv3_backbone(
        input_shape, weights, "large"
    ),
    "mobilenetv3_small": lambda input_shape, weights: mobilenetv3_backbone(
        input_shape, weights, "small"
    ),
    "dla34": dla34_backbone,
    "regnetx_400mf": regnetx_400mf,
}
BACKBONES["mobilenetv3"] = BACKBONES["mobilenetv3_large"]


def build_backbone(
    name: str,
    input_shape: tuple[int | None, int | None, int] = (512, 512, 3),
    weights: str | None = None,
) -> keras.Model:
    """Build a backbone by name (see ``BACKBONES``).

    Returns:
        A model mapping ``[B, H, W, 3]`` raw RGB to ``{"P2": [B, H/4, W/4, C2], …,
        "P5": [B, H/32, W/32, C5]}``.
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
    "load_torchvision_weights",
    "mobilenetv3_backbone",
    "regnetx_400mf",
    "resnet18_backbone",
    "resnet50_backbone",
]
