"""A grouped 2-D convolution that TensorFlow runs natively (and tf2onnx exports), on every CPU.

Keras' TensorFlow backend runs every grouped convolution (``Conv2D(groups > 1)``) inside an XLA
``tf.function`` because TensorFlow's CPU kernel once lacked groups. The TensorFlow we pin runs
``tf.nn.convolution`` with ``in/groups`` kernel channels natively on CPU, 2–3× faster than that
XLA call (RegNetX's widths, 64² input), and tf2onnx converts it to an ONNX ``Conv`` with
``group`` — while the XLA call stays a ``StatefulPartitionedCall`` that ONNX Runtime cannot run.

The backward pass depends on the CPU's kernel family. TensorFlow's oneDNN kernels (on by default
only on CPUs with AVX-512 VNNI/AMX, else ``TF_ENABLE_ONEDNN_OPTS=1``) have a grouped backward;
its default Eigen kernels (most AMD, ARM and older Intel CPUs) raise "Gradients for grouped
convolutions are not supported on CPU". Which one this process has is probed once, on first use
(``native_grouped_gradient``). Where it is missing, the forward stays the one native op (so the
exported graph is unchanged) and its gradient is computed group by group with the ungrouped
backward ops, which every kernel family has (``_grouped_backward``).
"""

from __future__ import annotations

import keras

_NATIVE_GRADIENT: bool | None = None


def native_grouped_gradient() -> bool:
    """Whether TensorFlow's kernels on the default device have a grouped-conv backward.

    Probed once per process with a 3×3×2 input and 2 groups (a few ms) and cached. Where the
    probe fails, TensorFlow logs one "Local rendezvous is aborting" warning (hidden at the
    CLIs' default ``TF_CPP_MIN_LOG_LEVEL=2``).

    Returns:
        True on oneDNN CPU kernels and GPUs; False on TensorFlow's default Eigen CPU kernels.
    """
    global _NATIVE_GRADIENT
    if _NATIVE_GRADIENT is None:
        import tensorflow as tf

        with tf.init_scope():  # eager, even when first called while a tf.function traces
            try:
                tf.raw_ops.Conv2DBackpropInput(
                    input_sizes=[1, 3, 3, 2],
                    filter=tf.zeros([1, 1, 1, 2]),
                    out_backprop=tf.zeros([1, 3, 3, 2]),
                    strides=[1, 1, 1, 1],
                    padding="VALID",
                )
                _NATIVE_GRADIENT = True
            except tf.errors.OpError:
                _NATIVE_GRADIENT = False
    return _NATIVE_GRADIENT


def _grouped_backward(x, kernel, dy, groups: int, strides, padding: str, dilations):
    """Input and kernel gradients of a grouped NHWC convolution, one ungrouped op per group
    (per-group autodiff where dilated: TensorFlow's CPU backward ops take no dilation).

    Args:
        x: input ``[B, H, W, C_in]``.
        kernel: ``[kh, kw, C_in / groups, C_out]``.
        dy: gradient of the output ``[B, H', W', C_out]``.
        groups: number of groups.
        strides, padding, dilations: the forward's, as ``tf.nn.convolution`` takes them.

    Returns:
        ``(dx [B, H, W, C_in], dkernel [kh, kw, C_in / groups, C_out])``.
    """
    import tensorflow as tf

    if tuple(dilations) != (1, 1):  # the CPU backward ops have no dilation: autodiff per group
        with tf.GradientTape() as tape:
            tape.watch([x, kernel])
            y = tf.concat(
                [
                    tf.nn.convolution(x_g, k_g, strides, padding, dilations=dilations)
                    for x_g, k_g in zip(
                        tf.split(x, groups, axis=-1), tf.split(kernel, groups, axis=-1), strict=True
                    )
                ],
                axis=-1,
            )
        dx, dk = tape.gradient(y, [x, kernel], output_gradients=dy)
        return dx, dk
    strides4 = [1, *strides, 1]
    dx, dk = [], []
    for x_g, k_g, dy_g in zip(
        tf.split(x, groups, axis=-1),
        tf.split(kernel, groups, axis=-1),
        tf.split(dy, groups, axis=-1),
        strict=True,
    ):
        common = dict(strides=strides4, padding=padding)
        dx.append(
            tf.raw_ops.Conv2DBackpropInput(
                input_sizes=tf.shape(x_g), filter=k_g, out_backprop=dy_g, **common
            )
        )
        dk.append(
            tf.raw_ops.Conv2DBackpropFilter(
                input=x_g, filter_sizes=tf.shape(k_g), out_backprop=dy_g, **common
            )
        )
    return tf.concat(dx, axis=-1), tf.concat(dk, axis=-1)


def grouped_convolution(x, kernel, groups: int, strides, padding: str, dilations, native=None):
    """``tf.nn.convolution`` of a grouped NHWC conv, with a gradient on every kernel family.

    Args:
        x: ``[B, H, W, C_in]``.
        kernel: ``[kh, kw, C_in / groups, C_out]``.
        groups: ``C_in / kernel.shape[2]``.
        strides, dilations: two ints each.
        padding: ``"SAME"`` or ``"VALID"``.
        native: use TensorFlow's own gradient (default: ``native_grouped_gradient()``).

    Returns:
        ``[B, H', W', C_out]``.
    """
    import tensorflow as tf

    def forward(inputs, weights):
        return tf.nn.convolution(
            inputs,
            weights,
            strides=list(strides),
            padding=padding,
            dilations=list(dilations),
            data_format="NHWC",
        )

    if native is None:
        native = native_grouped_gradient()
    if native:
        return forward(x, kernel)

    @tf.custom_gradient
    def conv(inputs, weights):
        def grad(dy):
            return _grouped_backward(inputs, weights, dy, groups, strides, padding, dilations)

        return forward(inputs, weights), grad

    return conv(tf.convert_to_tensor(x), tf.convert_to_tensor(kernel))


@keras.saving.register_keras_serializable(package="centernet_keras")
class GroupedConv2D(keras.layers.Conv2D):
    """``keras.layers.Conv2D`` whose grouped convolution TensorFlow runs without XLA.

    Same arguments, kernel ``[kh, kw, C_in / groups, filters]`` and outputs as ``Conv2D``
    (``[B, H, W, C_in]`` → ``[B, H', W', filters]``). Only the TensorFlow backend with
    ``channels_last`` and ``groups > 1`` takes ``grouped_convolution``; anything else is
    ``Conv2D.convolution_op``.
    """

    def convolution_op(self, inputs, kernel):
        if (
            self.groups == 1
            or self.data_format != "channels_last"
            or keras.backend.backend() != "tensorflow"
        ):
            return super().convolution_op(inputs, kernel)
        return grouped_convolution(
            inputs,
            kernel,
            self.groups,
            self.strides,
            self.padding.upper(),
            self.dilation_rate,
        )
