"""The one BatchNorm setting and conv → BN [→ ReLU] builder shared by backbones, necks and heads.

``BN_KWARGS`` is torch's BatchNorm (eps 1e-5, momentum 0.1 = Keras momentum 0.9), the setting of
the reference networks whose weights are ported here. ``conv_bn`` pads like torch
(``kernel // 2`` on every side): ``"same"`` at stride 1 (odd kernels pad symmetrically), an
explicit ``ZeroPadding2D`` before a strided conv (Keras ``"same"`` would pad only after).
"""

from __future__ import annotations

from keras import layers

BN_KWARGS = {"epsilon": 1e-5, "momentum": 0.9}


def batch_norm(x, name: str):
    """``BatchNormalization(**BN_KWARGS)`` applied to ``x`` ``[B, H, W, C]``."""
    return layers.BatchNormalization(**BN_KWARGS, name=name)(x)


def conv_bn(
    x,
    filters: int,
    kernel: int,
    stride: int = 1,
    *,
    conv: str,
    bn: str | None,
    relu: str | None = None,
    pad: str | None = None,
    use_bias: bool = False,
):
    """Conv (torch padding ``kernel // 2``) → BN (unless ``bn`` is None) → ReLU (if named).

    Args:
        x: ``[B, H, W, C_in]`` Keras tensor.
        filters, kernel, stride: of the convolution.
        conv, bn, relu: layer names (``bn=None``: no BN; ``relu=None``: no activation).
        pad: name of the explicit padding layer of a strided conv (default ``f"{conv}_pad"``).
        use_bias: conv bias (the reference's layout where there is no BN).

    Returns:
        ``[B, ceil(H/stride), ceil(W/stride), filters]``.
    """
    padding = "same"
    if stride > 1 and kernel > 1:
        x = layers.ZeroPadding2D(kernel // 2, name=pad or f"{conv}_pad")(x)
        padding = "valid"
    x = layers.Conv2D(
        filters, kernel, strides=stride, padding=padding, use_bias=use_bias, name=conv
    )(x)
    if bn is not None:
        x = batch_norm(x, bn)
    return layers.ReLU(name=relu)(x) if relu else x
