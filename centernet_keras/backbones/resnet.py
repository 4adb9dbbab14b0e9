"""ResNet backbones (raw RGB in, stride-32 C5 features out).

``resnet50`` wraps ``keras.applications.ResNet50`` (its ImageNet weights expect caffe
preprocessing). ``resnet18`` is built here in the torchvision layout (explicit padding,
no conv biases, BN eps 1e-5 / momentum 0.9) so that torch weights can be ported and so a
light ResNet exists for CPU training; it uses torch (mean/std) preprocessing.
"""

from __future__ import annotations

import keras
from keras import layers

from centernet_keras.backbones.preprocessing import ImagePreprocessing
from centernet_keras.backbones.weights import (
    build_with_imagenet,
    load_local_weights,
    mark_pretrained,
    set_batchnorm_momentum,
)

BN_KWARGS = {"epsilon": 1e-5, "momentum": 0.9}


def resnet50_backbone(
    input_shape: tuple[int | None, int | None, int] = (512, 512, 3),
    weights: str | None = None,
) -> keras.Model:
    """ResNet-50 from ``keras.applications`` with caffe preprocessing inside.

    Args:
        input_shape: ``(H, W, 3)``; ``None`` dims allowed.
        weights: ``None``, ``"imagenet"`` (downloads; a clear error offline) or a local
            weights file (e.g. ``resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5``).

    Returns:
        A model mapping raw RGB ``[B, H, W, 3]`` (0–255) to C5 ``[B, H/32, W/32, 2048]``.
    """
    inputs = keras.Input(shape=input_shape, name="image")
    x = ImagePreprocessing("caffe", name="preprocess")(inputs)

    def build(weights):
        return keras.applications.ResNet50(include_top=False, weights=weights, input_tensor=x)

    if weights == "imagenet":
        model = build_with_imagenet(
            build, "resnet50", "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
        )
    else:
        model = build(None)
        if weights is not None:
            load_local_weights(model, weights)
    backbone = set_batchnorm_momentum(keras.Model(inputs, model.output, name="resnet50"))
    return mark_pretrained(backbone, model if weights is not None else None)


def _conv_bn(x, filters: int, kernel: int, stride: int, name: str, relu: bool = True):
    pad = kernel // 2
    if pad:
        x = layers.ZeroPadding2D(pad, name=f"{name}_pad")(x)
    x = layers.Conv2D(filters, kernel, strides=stride, use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(**BN_KWARGS, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x) if relu else x


def _basic_block(x, filters: int, stride: int, name: str):
    shortcut = x
    if stride != 1 or x.shape[-1] != filters:
        shortcut = _conv_bn(x, filters, 1, stride, f"{name}_down", relu=False)
    y = _conv_bn(x, filters, 3, stride, f"{name}_1")
    y = _conv_bn(y, filters, 3, 1, f"{name}_2", relu=False)
    y = layers.Add(name=f"{name}_add")([y, shortcut])
    return layers.ReLU(name=f"{name}_out")(y)


def resnet18_backbone(
    input_shape: tuple[int | None, int | None, int] = (512, 512, 3),
    weights: str | None = None,
) -> keras.Model:
    """ResNet-18 (torchvision layout) with torch preprocessing inside.

    Args:
        input_shape: ``(H, W, 3)``; ``None`` dims allowed.
        weights: ``None`` or a local weights file saved from this backbone.
            (Keras ships no ImageNet ResNet-18; ``"imagenet"`` raises ValueError.)

    Returns:
        A model mapping raw RGB ``[B, H, W, 3]`` (0–255) to C5 ``[B, H/32, W/32, 512]``.
    """
    if weights == "imagenet":
        raise ValueError(
            "keras.applications has no ImageNet ResNet-18. Pass weights=None, or a local "
            "weights file saved from this backbone (e.g. converted from torchvision)."
        )
    inputs = keras.Input(shape=input_shape, name="image")
    x = ImagePreprocessing("torch", name="preprocess")(inputs)
    x = _conv_bn(x, 64, 7, 2, "stem")
    x = layers.ZeroPadding2D(1, name="stem_pool_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="stem_pool")(x)
    for stage, filters in enumerate((64, 128, 256, 512), start=1):
        for block in range(2):
            stride = 2 if (stage > 1 and block == 0) else 1
            x = _basic_block(x, filters, stride, f"layer{stage}_{block}")
    model = keras.Model(inputs, x, name="resnet18")
    if weights is not None:
        load_local_weights(model, weights)
    return mark_pretrained(model, model if weights is not None else None)


def resnet18_fpn_backbone(
    input_shape: tuple[int | None, int | None, int] = (512, 512, 3),
    weights: str | None = None,
    filters: tuple[int, int, int] = (128, 64, 64),
) -> keras.Model:
    """ResNet-18 with the light skip neck (``necks.skip``): raw RGB → stride-4 features.

    Returns:
        A model mapping raw RGB ``[B, H, W, 3]`` to ``[B, H/4, W/4, filters[-1]]``.
    """
    from centernet_keras.necks.skip import skip_neck

    base = resnet18_backbone(input_shape, weights)
    features = [base.get_layer(f"layer{i}_1_out").output for i in (1, 2, 3)] + [base.output]
    model = keras.Model(base.input, skip_neck(features, filters), name="resnet18_fpn")
    model.pretrained_layers = base.pretrained_layers  # the neck is new
    return model
