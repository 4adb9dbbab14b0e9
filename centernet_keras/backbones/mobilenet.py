"""MobileNetV3 backbones from ``keras.applications`` (light models for CPU / mobile)."""

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
        A model mapping raw RGB ``[B, H, W, 3]`` to ``[B, H/32, W/32, 576 | 960]``.
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
    backbone = set_batchnorm_momentum(keras.Model(model.input, model.output, name=name))
    return mark_pretrained(backbone, model if weights is not None else None)


def _stage_indices(variant: str, strides: tuple[int, ...]) -> list[int]:
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


def mobilenetv3_fpn_backbone(
    input_shape: tuple[int | None, int | None, int] = (512, 512, 3),
    weights: str | None = None,
    variant: str = "small",
    filters: tuple[int, int, int] = (96, 64, 64),
) -> keras.Model:
    """MobileNetV3 with a light skip neck (``necks.skip``): raw RGB → stride-4 features.

    The light model of this toolkit: from scratch it learns a small dataset in minutes on a
    CPU (``make demo``). ``build_centernet`` uses it with ``neck_filters=()`` (the ``*_fpn``
    backbone names).

    Returns:
        A model mapping raw RGB ``[B, H, W, 3]`` to ``[B, H/4, W/4, filters[-1]]``.
    """
    from centernet_keras.necks.skip import skip_neck

    base = mobilenetv3_backbone(input_shape, weights, variant)
    inner = base.layers  # same order as the applications model's layers
    features = [inner[i].output for i in _stage_indices(variant, (4, 8, 16))] + [base.output]
    neck = skip_neck(features, filters)
    model = set_batchnorm_momentum(keras.Model(base.input, neck, name=f"mobilenetv3_{variant}_fpn"))
    model.pretrained_layers = base.pretrained_layers  # the neck is new
    return model
