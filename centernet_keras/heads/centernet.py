"""CenterNet heads: heatmap (class logits), size (w, h) and offset (dx, dy) on the stride-4 map."""

from __future__ import annotations

import keras
from keras import layers

from centernet_keras.layers.conv_bn import conv_bn

HEATMAP_BIAS = -2.19  # log((1 - 0.1) / 0.1): initial foreground probability ≈ 0.1


def conv_head(x, out_channels: int, channels: int, batchnorm: bool, name: str, bias_init):
    """3×3 conv(``channels``) [+ BN] + ReLU + 1×1 conv(``out_channels``, float32) named ``name``."""
    bn = f"{name}_bn" if batchnorm else None
    x = conv_bn(
        x, channels, 3, conv=f"{name}_conv", bn=bn, relu=f"{name}_relu", use_bias=not batchnorm
    )
    # Final conv in float32 so mixed-precision training keeps the logits/regressions exact.
    return layers.Conv2D(out_channels, 1, bias_initializer=bias_init, dtype="float32", name=name)(x)


def centernet_heads(features, num_classes: int, channels: int = 64, batchnorm: bool = True) -> dict:
    """Build the three heads on a stride-4 feature map.

    Each head is 3×3 conv(``channels``) [+ BN] + ReLU + 1×1 conv. ``batchnorm=False`` gives
    the reference layout (3×3 conv with bias, no BN).

    Args:
        features: ``[B, h, w, F]`` neck output (Keras tensor).
        num_classes: heatmap channels.
        channels: width of the 3×3 conv.
        batchnorm: BN after the 3×3 conv (this project's default) or bias (reference).

    Returns:
        ``{"heatmap": [B, h, w, num_classes] logits, "size": [B, h, w, 2],
        "offset": [B, h, w, 2]}``.
    """
    return {
        "heatmap": conv_head(
            features,
            num_classes,
            channels,
            batchnorm,
            "heatmap",
            keras.initializers.Constant(HEATMAP_BIAS),
        ),
        "size": conv_head(features, 2, channels, batchnorm, "size", "zeros"),
        "offset": conv_head(features, 2, channels, batchnorm, "offset", "zeros"),
    }
