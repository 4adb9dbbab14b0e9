"""Custom Keras layers (registered for ``safe_mode`` loading): DCNv2, depthwise upsampling,
the exportable grouped conv; the shared conv → BN builder."""

from centernet_keras.layers.conv_bn import BN_KWARGS, batch_norm, conv_bn
from centernet_keras.layers.deform_conv import DCNv2, DeformConv2D, deform_conv2d
from centernet_keras.layers.depthwise_conv_transpose import (
    BilinearUpsampling,
    DepthwiseConv2DTranspose,
    depthwise_conv_transpose,
)
from centernet_keras.layers.grouped_conv import GroupedConv2D
from centernet_keras.layers.passthrough import PassThrough

__all__ = [
    "BN_KWARGS",
    "BilinearUpsampling",
    "DCNv2",
    "DeformConv2D",
    "DepthwiseConv2DTranspose",
    "GroupedConv2D",
    "PassThrough",
    "batch_norm",
    "conv_bn",
    "deform_conv2d",
    "depthwise_conv_transpose",
]
