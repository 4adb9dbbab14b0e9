"""Per-channel (depthwise) transposed convolution with torch ``ConvTranspose2d`` semantics.

The reference upsamples with ``ConvTranspose2d(C, C, kernel=2f, stride=f, padding=f//2,
groups=C, bias=False)`` initialised to bilinear interpolation. Keras' ``Conv2DTranspose`` has no
``groups``, so this is computed polyphase: output pixel ``f·a + r`` only receives input pixels
``a − 1``, ``a`` and ``a + 1``, so one 3×3 depthwise convolution with ``f²`` outputs per channel
(one per phase ``(ry, rx)``) followed by a depth-to-space interleave gives the exact transposed
convolution at ~9 multiply-adds per output instead of the ``(2f)²`` of zero-insertion.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops


def _phase_taps(factor: int) -> tuple[np.ndarray, np.ndarray]:
    """Kernel row read by tap ``t`` (input row ``a + t − 1``) for output phase ``r``.

    torch: ``out[f·a + r] = Σ_i x[i] · w[f·a + r + p − f·i]``, ``p = f // 2``.

    Returns:
        ``index [3, f]`` (clipped into range) and ``valid [3, f]`` (the tap exists).
    """
    t = np.arange(3)[:, None]
    r = np.arange(factor)[None, :]
    index = factor * (1 - t) + r + factor // 2
    valid = (index >= 0) & (index < 2 * factor)
    return np.clip(index, 0, 2 * factor - 1), valid


def polyphase_kernel(kernel, factor: int):
    """Rearrange a ``[2f, 2f, C, 1]`` transposed-conv kernel into ``[3, 3, C, f²]`` phases.

    Entry ``[ty, tx, c, ry·f + rx]`` weighs input pixel ``(a + ty − 1, b + tx − 1)`` in output
    pixel ``(f·a + ry, f·b + rx)``.
    """
    size = 2 * factor
    index, valid = _phase_taps(factor)
    flat_index = index[:, None, :, None] * size + index[None, :, None, :]  # [3, 3, f, f]
    mask = (valid[:, None, :, None] & valid[None, :, None, :]).astype("float32")
    channels = int(kernel.shape[2])
    flat = ops.reshape(kernel, (size * size, channels))
    taps = ops.take(flat, flat_index.reshape(-1), axis=0)  # [3·3·f·f, C]
    taps = ops.reshape(taps, (3, 3, factor, factor, channels))
    taps = taps * ops.convert_to_tensor(mask[..., None], taps.dtype)
    taps = ops.transpose(taps, (0, 1, 4, 2, 3))  # [3, 3, C, f, f]
    return ops.reshape(taps, (3, 3, channels, factor * factor))


def depthwise_conv_transpose(inputs, kernel, factor: int):
    """Depthwise transposed conv, kernel ``2f``, stride ``f``, padding ``f // 2`` (torch).

    Args:
        inputs: ``[B, H, W, C]``.
        kernel: ``[2f, 2f, C, 1]`` (torch weight ``[C, 1, 2f, 2f]`` transposed ``(2, 3, 0, 1)``).
        factor: the stride ``f`` (even, ≥ 2).

    Returns:
        ``[B, f·H, f·W, C]``.
    """
    shape = ops.shape(inputs)
    h, w, c = shape[1], shape[2], int(inputs.shape[-1])
    phases = polyphase_kernel(ops.cast(kernel, inputs.dtype), factor)
    y = ops.depthwise_conv(inputs, phases, strides=1, padding="same")  # [B, H, W, C·f²]
    y = ops.reshape(y, (-1, h, w, c, factor, factor))
    y = ops.transpose(y, (0, 1, 4, 2, 5, 3))  # [B, H, ry, W, rx, C]
    return ops.reshape(y, (-1, h * factor, w * factor, c))


@keras.saving.register_keras_serializable(package="centernet_keras")
class BilinearUpsampling(keras.initializers.Initializer):
    """The reference's ``fill_up_weights``: a bilinear kernel, the same for every channel.

    For kernel size ``K``: ``f = ceil(K / 2)``, ``c = (2f − 1 − f % 2) / (2f)``,
    ``w[i, j] = (1 − |i/f − c|) · (1 − |j/f − c|)``. Shape ``[K, K, C, M]``.
    """

    def __call__(self, shape, dtype=None):
        size = int(shape[0])
        f = math.ceil(size / 2)
        centre = (2 * f - 1 - f % 2) / (2.0 * f)
        line = 1.0 - np.abs(np.arange(size) / f - centre)
        kernel = np.outer(line, line)[:, :, None, None] * np.ones((1, 1, *shape[2:]))
        return ops.convert_to_tensor(kernel.astype("float32"), dtype=dtype or "float32")

    def get_config(self) -> dict:
        return {}


@keras.saving.register_keras_serializable(package="centernet_keras")
class DepthwiseConv2DTranspose(keras.layers.Layer):
    """``ConvTranspose2d(C, C, 2f, stride=f, padding=f//2, groups=C, bias=False)`` in Keras.

    Input ``[B, H, W, C]`` → output ``[B, f·H, f·W, C]``. Weight ``kernel [2f, 2f, C, 1]``,
    bilinear-initialised and trainable by default.

    Args:
        factor: upsampling factor ``f`` (stride), even and ≥ 2.
        kernel_initializer: default ``BilinearUpsampling()``.
    """

    def __init__(self, factor: int = 2, kernel_initializer=None, **kwargs):
        super().__init__(**kwargs)
        if factor < 2 or factor % 2:
            raise ValueError(f"factor must be even and >= 2, got {factor}")
        self.factor = int(factor)
        self.kernel_initializer = keras.initializers.get(
            BilinearUpsampling() if kernel_initializer is None else kernel_initializer
        )

    def build(self, input_shape):
        size = 2 * self.factor
        self.kernel = self.add_weight(
            name="kernel",
            shape=(size, size, int(input_shape[-1]), 1),
            initializer=self.kernel_initializer,
        )

    def call(self, inputs):
        return depthwise_conv_transpose(inputs, self.kernel, self.factor)

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        f = self.factor
        return (b, None if h is None else h * f, None if w is None else w * f, c)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "factor": self.factor,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }
