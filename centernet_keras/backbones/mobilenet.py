"""MobileNetV3 backbones from ``keras.applications`` (light models for CPU / mobile)."""

from __future__ import annotations

import keras

from centernet_keras.backbones.weights import (
    build_with_imagenet,
    load_local_weights,
    set_batchnorm_momentum,
)

_WEIGHT_FILES = {
    "small": "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5",
    "large": "weights_mobilenet_v3_large_224_1.0_float_no_top_v2.h5",
}


def mobilenetv3_backbone(
    input_shape: tuple[int | None, int | None, int] = (512, 512, 3),
    weights: str | None = None,
    variant: str = "large",
) -> keras.Model:
    """MobileNetV3 Small/Large; its own Rescaling layer maps raw RGB 0–255 to [−1, 1].

    Args:
        input_shape: ``(H, W, 3)``; ``None`` dims allowed.
        weights: ``None``, ``"imagenet"`` or a local weights file.
        variant: ``"small"`` or ``"large"``.

    Returns:
        A model mapping raw RGB ``[B, H, W, 3]`` to ``[B, H/32, W/32, 576 | 960]``.
    """
    if variant not in _WEIGHT_FILES:
        raise ValueError(f"variant must be 'small' or 'large', got {variant!r}")
    ctor = (
        keras.applications.MobileNetV3Small
        if variant == "small"
        else keras.applications.MobileNetV3Large
    )

    def build(weights):
        return ctor(
            input_shape=input_shape,
            include_top=False,
            weights=weights,
            include_preprocessing=True,
        )

    name = f"mobilenetv3_{variant}"
    if weights == "imagenet":
        model = build_with_imagenet(build, name, _WEIGHT_FILES[variant])
    else:
        model = build(None)
        if weights is not None:
            load_local_weights(model, weights)
    return set_batchnorm_momentum(keras.Model(model.input, model.output, name=name))
