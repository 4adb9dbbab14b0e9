"""MobileNetV3 backbones from ``keras.applications`` (light models for CPU / mobile): raw RGB in,
the feature pyramid ``{"P2", "P3", "P4", "P5"}`` (strides 4–32) out."""

from __future__ import annotations

import keras

from centernet_keras.backbones.weights import (
    build_with_imagenet,
    load_local_weights,
    mark_pretrained,
    set_batchnorm_momentum,
)

_WEIGHT_FILES = {
    "small": "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5",
    "large": "weights_mobilenet_v3_large_224_1.0_float_no_top_v2.h5",
}


def _applications(variant: str, input_shape, weights) -> keras.Model:
    ctor = {
        "small": keras.applications.MobileNetV3Small,
        "large": keras.applications.MobileNetV3Large,
    }
    return ctor[variant](
        input_shape=input_shape, include_top=False, weights=weights, include_preprocessing=True
    )


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
        A model mapping raw RGB ``[B, H, W, 3]`` to ``{"P2": [B, H/4, W/4, 16 | 24], "P3": …,
        "P4": …, "P5": [B, H/32, W/32, 576 | 960]}``: the last feature map at each stride.
    """
    if variant not in _WEIGHT_FILES:
        raise ValueError(f"variant must be 'small' or 'large', got {variant!r}")

    def build(weights):
        return _applications(variant, input_shape, weights)

    name = f"mobilenetv3_{variant}"
    if weights == "imagenet":
        model = build_with_imagenet(build, name, _WEIGHT_FILES[variant])
    else:
        model = build(None)
        if weights is not None:
            load_local_weights(model, weights)
    inner = model.layers
    pyramid = {f"P{i}": inner[j].output for i, j in enumerate(_stage_indices(variant), start=2)}
    pyramid["P5"] = model.output
    backbone = set_batchnorm_momentum(keras.Model(model.input, pyramid, name=name))
    return mark_pretrained(backbone, model if weights is not None else None)


def _stage_indices(variant: str, strides: tuple[int, ...] = (4, 8, 16)) -> list[int]:
    """Layer indices of the last layer at each stride (the features before each downsampling).

    Found on a 128×128 probe of the same architecture (so they hold for ``None`` input
    sizes); indices, not names, because Keras numbers auto-named layers per session.
    """
    probe = _applications(variant, (128, 128, 3), None)
    last: dict[int, int] = {}
    for index, layer in enumerate(probe.layers):
        shape = layer.output.shape
        if len(shape) == 4 and shape[1]:
            last[128 // shape[1]] = index
    return [last[s] for s in strides]
