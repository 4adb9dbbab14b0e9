"""Modulated deformable convolution (DCNv2) written in ``keras.ops`` (runs on every backend).

Offset / mask channel layout (the one of the reference's ``DCN`` module, which is also the
mmcv / torchvision ``deform_conv2d`` convention, so its weights port without reordering):
the offset conv outputs ``3·k·k`` channels (27 for a 3×3 kernel):

* channels ``[0, 2·k·k)`` are the offsets, **interleaved** per kernel point:
  channel ``2·n`` is ``dy`` and ``2·n + 1`` is ``dx`` of kernel point ``n = i·k + j``
  (row ``i``, column ``j`` of the kernel, row-major), in input pixels;
* channels ``[2·k·k, 3·k·k)`` are the mask logits of kernel points ``n = 0 … k·k − 1``;
  the mask is their sigmoid.

(The reference's ``DCN.forward`` splits the 27 channels into ``o1, o2, mask`` and
re-concatenates ``o1, o2``, which leaves exactly this order.)

Kernel point ``n`` of output pixel ``(y, x)`` samples the input at
``(y + i − k//2 + dy, x + j − k//2 + dx)`` by bilinear interpolation; each of the four
neighbouring pixels that lies outside the image reads as zero (as DCNv2's
``dmcn_im2col_bilinear``). The sample is multiplied by the mask, and the ``k·k·C_in`` samples of
a pixel are contracted with the kernel. Stride 1, "same" padding, dilation 1, one deformable
group.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops


def _kernel_grid(k: int) -> tuple[np.ndarray, np.ndarray]:
    """Row / column displacement of each kernel point ``n = i·k + j``, both ``[k·k]``."""
    i, j = np.divmod(np.arange(k * k), k)
    return (i - k // 2).astype("float32"), (j - k // 2).astype("float32")


def deform_conv2d(inputs, offsets, mask, kernel, bias=None):
    """Modulated deformable 2-D convolution (DCNv2), stride 1, "same" padding.

    Args:
        inputs: ``[B, H, W, C_in]``.
        offsets: ``[B, H, W, 2·k·k]``, interleaved ``(dy, dx)`` per kernel point (see the
            module docstring), in input pixels.
        mask: ``[B, H, W, k·k]`` modulation scalars (already through the sigmoid).
        kernel: ``[k, k, C_in, C_out]``, ``k`` odd.
        bias: ``[C_out]`` or ``None``.

    Returns:
        ``[B, H, W, C_out]``.
    """
    k = int(kernel.shape[0])
    n = k * k
    dtype = inputs.dtype
    pos = "float32"  # sampling positions and weights in float32, also under mixed precision
    shape = ops.shape(inputs)
    b, h, w, c = shape[0], shape[1], shape[2], int(inputs.shape[-1])
    offsets = ops.reshape(ops.cast(offsets, pos), (b, h, w, n, 2))
    mask = ops.cast(mask, pos)
    grid_y, grid_x = _kernel_grid(k)
    rows = ops.reshape(ops.cast(ops.arange(h), pos), (1, -1, 1, 1))
    cols = ops.reshape(ops.cast(ops.arange(w), pos), (1, 1, -1, 1))
    py = rows + ops.convert_to_tensor(grid_y, pos) + offsets[..., 0]  # [B, H, W, n]
    px = cols + ops.convert_to_tensor(grid_x, pos) + offsets[..., 1]  # [B, H, W, n]
    y0, x0 = ops.floor(py), ops.floor(px)
    fy, fx = py - y0, px - x0
    h_max, w_max = ops.cast(h, pos) - 1.0, ops.cast(w, pos) - 1.0
    first = ops.reshape(ops.arange(b) * (h * w), (-1, 1, 1, 1))  # [B, 1, 1, 1] flat row of image
    flat = ops.reshape(inputs, (-1, c))  # [B·H·W, C_in]
    sampled = None
    for yy, wy in ((y0, 1.0 - fy), (y0 + 1.0, fy)):
        for xx, wx in ((x0, 1.0 - fx), (x0 + 1.0, fx)):
            inside = (yy >= 0) & (yy <= h_max) & (xx >= 0) & (xx <= w_max)
            weight = ops.cast(wy * wx * mask * ops.cast(inside, pos), dtype)  # [B, H, W, n]
            yi = ops.cast(ops.clip(yy, 0.0, h_max), "int32")
            xi = ops.cast(ops.clip(xx, 0.0, w_max), "int32")
            index = first + yi * w + xi  # [B, H, W, n]
            values = ops.take(flat, ops.reshape(index, (-1,)), axis=0)  # [B·H·W·n, C_in]
            term = ops.reshape(values, (b, h, w, n, c)) * weight[..., None]
            sampled = term if sampled is None else sampled + term
    columns = ops.reshape(sampled, (b, h, w, n * c))  # order (i, j, c) = kernel's
    out = ops.matmul(columns, ops.reshape(ops.cast(kernel, dtype), (n * c, -1)))
    return out if bias is None else out + ops.cast(bias, dtype)


@keras.saving.register_keras_serializable(package="centernet_keras")
class DeformConv2D(keras.layers.Layer):
    """DCNv2 layer: a zero-initialised conv predicts offsets and mask, then ``deform_conv2d``.

    The equivalent of the reference's ``DCN(chi, cho, kernel_size=3, padding=1)``: weights
    ``kernel [k, k, C_in, filters]``, ``bias [filters]``, ``offset_kernel [k, k, C_in, 3·k·k]``,
    ``offset_bias [3·k·k]`` (torch ``weight``, ``bias``, ``conv_offset_mask.weight`` / ``.bias``
    with the conv weights transposed ``(2, 3, 1, 0)``). At initialisation the offsets are 0 and
    the mask is 0.5, so the layer is half a plain convolution.

    Input ``[B, H, W, C_in]`` → output ``[B, H, W, filters]`` (stride 1, "same" padding).

    Args:
        filters: output channels.
        kernel_size: odd kernel size ``k``.
        use_bias: add ``bias`` (the reference's DCN has one).
        kernel_initializer: initialiser of ``kernel``; ``None``: torch DCN's
            ``U(−1/sqrt(fan_in), 1/sqrt(fan_in))``.
        bias_initializer: initialiser of ``bias``.
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int = 3,
        use_bias: bool = True,
        kernel_initializer=None,
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.use_bias = bool(use_bias)
        if kernel_initializer is None:
            kernel_initializer = keras.initializers.VarianceScaling(1.0 / 3.0, "fan_in", "uniform")
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        k, c = self.kernel_size, int(input_shape[-1])
        self.kernel = self.add_weight(
            name="kernel", shape=(k, k, c, self.filters), initializer=self.kernel_initializer
        )
        self.bias = (
            self.add_weight(name="bias", shape=(self.filters,), initializer=self.bias_initializer)
            if self.use_bias
            else None
        )
        self.offset_kernel = self.add_weight(
            name="offset_kernel", shape=(k, k, c, 3 * k * k), initializer="zeros"
        )
        self.offset_bias = self.add_weight(
            name="offset_bias", shape=(3 * k * k,), initializer="zeros"
        )

    def offsets_and_mask(self, inputs):
        """The offset conv: ``[B, H, W, C_in]`` → offsets ``[B, H, W, 2·k·k]`` and the mask
        ``[B, H, W, k·k]`` (sigmoid of the last ``k·k`` channels)."""
        n = self.kernel_size**2
        raw = ops.conv(inputs, self.offset_kernel, padding="same") + self.offset_bias
        return raw[..., : 2 * n], ops.sigmoid(raw[..., 2 * n :])

    def call(self, inputs):
        offsets, mask = self.offsets_and_mask(inputs)
        return deform_conv2d(inputs, offsets, mask, self.kernel, self.bias)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }


DCNv2 = DeformConv2D  # the paper's name for the same layer
