"""ResNet backbones: raw RGB in, the feature pyramid ``{"P2": C2, …, "P5": C5}`` out.

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
from centernet_keras.layers.conv_bn import conv_bn

#: The last layer of each stage of ``keras.applications.ResNet50`` (strides 4, 8, 16, 32).
_RESNET50_STAGES = ("conv2_block3_out", "conv3_block4_out", "conv4_block6_out", "conv5_block3_out")


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
        A model mapping raw RGB ``[B, H, W, 3]`` (0–255) to the pyramid ``{"P2": [B, H/4, W/4,
        256], "P3": …512, "P4": …1024, "P5": [B, H/32, W/32, 2048]}``.
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
    pyramid = {f"P{i}": model.get_layer(n).output for i, n in enumerate(_RESNET50_STAGES, 2)}
    backbone = set_batchnorm_momentum(keras.Model(inputs, pyramid, name="resnet50"))
    return mark_pretrained(backbone, model if weights is not None else None)


def _conv_bn(x, filters: int, kernel: int, stride: int, name: str, relu: bool = True):
    relu_name = f"{name}_relu" if relu else None
    return conv_bn(x, filters, kernel, stride, conv=f"{name}_conv", bn=f"{name}_bn", relu=relu_name)


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
        A model mapping raw RGB ``[B, H, W, 3]`` (0–255) to the pyramid ``{"P2": [B, H/4, W/4,
        64], "P3": …128, "P4": …256, "P5": [B, H/32, W/32, 512]}`` (the last block of each
        stage, ``layer{1..4}_1_out``).
    """
    if weights == "imagenet":
        raise ValueError(
            "keras.applications has no ImageNet ResNet-18. Pass weights=None (--weights "
            "none), or a local weights file saved from this backbone (--weights FILE; e.g. "
            "converted from torchvision)."
        )
    inputs = keras.Input(shape=input_shape, name="image")
    x = ImagePreprocessing("torch", name="preprocess")(inputs)
    x = _conv_bn(x, 64, 7, 2, "stem")
    x = layers.ZeroPadding2D(1, name="stem_pool_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="stem_pool")(x)
    pyramid = {}
    for stage, filters in enumerate((64, 128, 256, 512), start=1):
        for block in range(2):
            stride = 2 if (stage > 1 and block == 0) else 1
            x = _basic_block(x, filters, stride, f"layer{stage}_{block}")
        pyramid[f"P{stage + 1}"] = x
    model = keras.Model(inputs, pyramid, name="resnet18")
    if weights is not None:
        load_local_weights(model, weights)
    return mark_pretrained(model, model if weights is not None else None)
