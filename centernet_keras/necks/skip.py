"""Light upsampling neck with lateral skips (FPN-style) for small backbones.

From the stride-32 map, each stage upsamples 2× with a transposed conv (k4, s2) + BN + ReLU and
adds a 1×1 conv + BN projection of the backbone feature at the new stride, then ReLU. The skips
give the stride-4 map precise positions, which a plain deconv neck must learn from a 4×4 map at
128 px input — the difference between minutes and hours when training from scratch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from keras import layers

from centernet_keras.layers.conv_bn import batch_norm, conv_bn


def skip_neck(pyramid: Mapping, filters: Sequence[int] = (96, 64, 64), name: str = "neck"):
    """Aggregate backbone features to stride 4.

    Args:
        pyramid: the backbone's levels ``"P2"`` … ``"P5"`` (strides 4, 8, 16, 32).
        filters: channels after each of the three upsampling stages (32→16→8→4).
        name: layer-name prefix.

    Returns:
        ``[B, H/4, W/4, filters[-1]]``.
    """
    if len(filters) != 3:
        raise ValueError(f"the skip neck upsamples 32 -> 4 in 3 stages: 3 filters, got {filters}")
    features = [pyramid[f"P{level}"] for level in range(2, 6)]
    x = features[-1]
    skips = list(features[:-1])[::-1]  # strides 16, 8, 4
    for i, (f, skip) in enumerate(zip(filters, skips, strict=True)):
        x = layers.Conv2DTranspose(
            f, 4, strides=2, padding="same", use_bias=False, name=f"{name}_up{i}"
        )(x)
        x = layers.ReLU(name=f"{name}_up{i}_relu")(batch_norm(x, f"{name}_up{i}_bn"))
        s = conv_bn(skip, f, 1, conv=f"{name}_skip{i}", bn=f"{name}_skip{i}_bn")
        x = layers.Add(name=f"{name}_merge{i}")([x, s])
        x = layers.ReLU(name=f"{name}_merge{i}_relu")(x)
    return x
