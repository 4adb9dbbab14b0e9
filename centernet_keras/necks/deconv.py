"""Deconvolution neck: stride-32 features → stride-4 map (three 2× transposed convs)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from keras import layers

from centernet_keras.layers.conv_bn import batch_norm


def deconv_neck(pyramid: Mapping, filters: Sequence[int] = (256, 128, 64), name: str = "neck"):
    """Apply ``len(filters)`` × [Conv2DTranspose(k4, s2, no bias) → BN → ReLU].

    Args:
        pyramid: the backbone's levels; only ``"P5"`` ``[B, H/32, W/32, C]`` is used.
        filters: output channels of each transposed conv (reference: 256/256/256; this
            project's default 256/128/64).
        name: layer-name prefix.

    Returns:
        ``[B, H/32 · 2^n, W/32 · 2^n, filters[-1]]``; with three stages, stride 4.
    """
    x = pyramid["P5"]
    for i, f in enumerate(filters):
        x = layers.Conv2DTranspose(
            f, 4, strides=2, padding="same", use_bias=False, name=f"{name}_deconv{i}"
        )(x)
        x = batch_norm(x, f"{name}_bn{i}")
        x = layers.ReLU(name=f"{name}_relu{i}")(x)
    return x
