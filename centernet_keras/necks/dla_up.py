"""DLAUp / IDAUp: iterative deep aggregation of DLA levels 2–5 into one stride-4 map.

Two variants, each the exact topology of a reference network so its weights can be ported:

``"dcn"`` — CenterNet's default ``dla_34`` (``pose_dla_dcn.DLASeg``, as in the paper):
    every projection and node is a ``DeformConv`` block (3×3 DCNv2 → BN → ReLU); IDAUp merges
    by **sum**: ``layer[i] = node(up(proj(layer[i])) + layer[i − 1])``. DLAUp (``ida_0``…``ida_2``)
    is followed by a final ``ida_up`` over the stride-4/8/16 outputs (upsampling 2× and 4×).
``"plain"`` — ``dlav0_34`` (``dlav0.DLASeg``), the no-DCN reference: a projection is a 1×1 conv →
    BN → ReLU (identity when the width already matches), a node a 3×3 conv → BN → ReLU over the
    **concatenation** ``[x, up(proj(layer[i]))]``; DLAUp alone reaches stride 4.

Upsampling is ``DepthwiseConv2DTranspose`` (torch ``ConvTranspose2d`` with ``groups=C``, kernel
``2f``, stride ``f``, padding ``f/2``, bilinear init, trainable) in both.

Layer names are the reference module paths with ``.`` → ``_``: ``dla_up.ida_1.proj_2`` →
``dla_up_ida_1_proj_2_conv`` (DCN, weights ``conv.weight/bias`` and
``conv.conv_offset_mask.weight/bias``) and ``…_actf_0`` (its BN), or ``…_proj_2_0`` (conv) and
``…_proj_2_1`` (BN) in the plain variant; ``dla_up_ida_1_up_2`` (weight ``[C, 1, k, k]`` →
kernel transposed ``(2, 3, 0, 1)``); the final IDAUp is ``ida_up_*``.
"""

from __future__ import annotations

from collections.abc import Mapping

from keras import layers

from centernet_keras.layers import DeformConv2D, DepthwiseConv2DTranspose
from centernet_keras.layers.conv_bn import batch_norm, conv_bn

VARIANTS = ("dcn", "plain")
FIRST_STRIDE = 4  # level 2 of DLA; the neck's output stride


def _deform_block(x, filters: int, name: str):
    """The reference's ``DeformConv``: DCNv2 3×3 (with bias) → BN → ReLU."""
    x = DeformConv2D(filters, 3, name=f"{name}_conv")(x)
    return layers.ReLU(name=f"{name}_actf_1")(batch_norm(x, f"{name}_actf_0"))


def _conv_block(x, filters: int, kernel: int, name: str):
    """``Sequential(Conv2d(no bias, padding k//2), BN, ReLU)`` named ``name_0/1/2``."""
    return conv_bn(x, filters, kernel, conv=f"{name}_0", bn=f"{name}_1", relu=f"{name}_2")


def _up(x, factor: int, name: str):
    return DepthwiseConv2DTranspose(factor, name=name)(x)


def ida_up_dcn(features: list, strides: list[int], start: int, filters: int, name: str) -> None:
    """``pose_dla_dcn.IDAUp`` over ``features[start:]``, in place (as the reference).

    ``features[i] ← node_k(up_k(proj_k(features[i])) + features[i − 1])`` for
    ``i = start + 1 …`` with ``k = i − start``; afterwards ``features[start + 1:]`` all have
    ``filters`` channels at ``strides[start]``.

    Args:
        features: list of ``[B, H/s_i, W/s_i, C_i]`` tensors (modified in place).
        strides: their strides ``s_i`` (modified in place).
        start: index of the finest map of this aggregation.
        filters: output channels (``features[start]`` must have them already).
        name: layer-name prefix.
    """
    for i in range(start + 1, len(features)):
        k = i - start
        y = _deform_block(features[i], filters, f"{name}_proj_{k}")
        y = _up(y, strides[i] // strides[start], f"{name}_up_{k}")
        y = layers.Add(name=f"{name}_add_{k}")([y, features[i - 1]])
        features[i] = _deform_block(y, filters, f"{name}_node_{k}")
        strides[i] = strides[start]


def ida_up_plain(features: list, strides: list[int], filters: int, name: str) -> list:
    """``dlav0.IDAUp`` (node kernel 3): project, upsample, aggregate by concatenation.

    Args:
        features: ``[B, H/s_i, W/s_i, C_i]`` tensors, finest first.
        strides: their strides ``s_i``.
        filters: output channels.
        name: layer-name prefix.

    Returns:
        The node outputs ``[B, H/s_0, W/s_0, filters]``, one per input after the first.
    """
    ups = []
    for i, x in enumerate(features):
        if x.shape[-1] != filters:
            x = _conv_block(x, filters, 1, f"{name}_proj_{i}")
        factor = strides[i] // strides[0]
        ups.append(_up(x, factor, f"{name}_up_{i}") if factor > 1 else x)
    x, nodes = ups[0], []
    for i in range(1, len(ups)):
        x = layers.Concatenate(name=f"{name}_node_{i}_cat")([x, ups[i]])
        x = _conv_block(x, filters, 3, f"{name}_node_{i}")
        nodes.append(x)
    return nodes


def dla_up_neck(pyramid: Mapping, variant: str = "dcn", name: str = "dla_up"):
    """Aggregate pyramid levels 2–5 into one stride-4 map (DLASeg's neck).

    Args:
        pyramid: ``{"P2": [B, H/4, W/4, 64], "P3": [B, H/8, W/8, 128], "P4": [B, H/16, W/16,
            256], "P5": [B, H/32, W/32, 512]}`` for DLA-34 (Keras tensors; widths as given
            are used).
        variant: ``"dcn"`` or ``"plain"`` (see the module docstring).
        name: prefix of the DLAUp layers (the DCN variant's final IDAUp is ``ida_up``).

    Returns:
        ``[B, H/4, W/4, C_0]`` with ``C_0`` the width of ``levels[0]`` (64 for DLA-34).
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    features = [pyramid[f"P{level}"] for level in range(2, 6)]
    strides = [FIRST_STRIDE * 2**i for i in range(len(features))]
    widths = [int(x.shape[-1]) for x in features]
    outputs = [features[-1]]
    for i in range(len(features) - 1):
        j = len(features) - i - 2
        if variant == "dcn":
            ida_up_dcn(features, strides, j, widths[j], f"{name}_ida_{i}")
            outputs.insert(0, features[-1])
        else:
            features[j + 1 :] = ida_up_plain(
                features[j:], strides[j:], widths[j], f"{name}_ida_{i}"
            )
            strides[j + 1 :] = [strides[j]] * (len(features) - j - 1)
    if variant == "plain":
        return features[-1]
    # pose_dla_dcn.DLASeg: a last IDAUp over the stride-4/8/16 outputs (last_level 5).
    final = outputs[:-1]
    final_strides = [FIRST_STRIDE * 2**i for i in range(len(final))]
    ida_up_dcn(final, final_strides, 0, widths[0], "ida_up")
    return final[-1]
