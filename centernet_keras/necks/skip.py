"""Light upsampling neck with lateral skips (FPN-style) for small backbones.

From the stride-32 map, each stage upsamples 2× with a transposed conv (k4, s2) + BN + ReLU and
adds a 1×1 conv + BN projection of the backbone feature at the new stride, then ReLU. The skips
give the stride-4 map precise positions, which a plain deconv neck must learn from a 4×4 map at
128 px input — the difference between minutes and hours when training from scratch.
"""

from __future__ import annotations

from collections.abc import Sequence

from keras import layers

BN_KWARGS = {"epsilon": 1e-5, "momentum": 0.9}


def skip_neck(features: Sequence, filters: Sequence[int] = (96, 64, 64), name: str = "neck"):
    """Aggregate backbone features to stride 4.

    Args:
        features: Keras tensors at strides 4, 8, 16, 32 (highest resolution first).
        filters: channels after each of the three upsampling stages (32→16→8→4).
        name: layer-name prefix.

    Returns:
        ``[B, H/4, W/4, filters[-1]]``.
    """
    if len(features) != len(filters) + 1:
        raise ValueError(f"need {len(filters) + 1} feature maps, got {len(features)}")
    x = features[-1]
    skips = list(features[:-1])[::-1]  # strides 16, 8, 4
    for i, (f, skip) in enumerate(zip(filters, skips, strict=True)):
        x = layers.Conv2DTranspose(
            f, 4, strides=2, padding="same", use_bias=False, name=f"{name}_up{i}"
        )(x)
        x = layers.BatchNormalization(**BN_KWARGS, name=f"{name}_up{i}_bn")(x)
        x = layers.ReLU(name=f"{name}_up{i}_relu")(x)
        s = layers.Conv2D(f, 1, use_bias=False, name=f"{name}_skip{i}")(skip)
        s = layers.BatchNormalization(**BN_KWARGS, name=f"{name}_skip{i}_bn")(s)
        x = layers.Add(name=f"{name}_merge{i}")([x, s])
        x = layers.ReLU(name=f"{name}_merge{i}_relu")(x)
    return x
