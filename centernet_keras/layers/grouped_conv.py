"""A grouped 2-D convolution that TensorFlow runs natively (and tf2onnx exports).

Keras' TensorFlow backend runs every grouped convolution (``Conv2D(groups > 1)``) inside an XLA
``tf.function`` because TensorFlow's CPU kernel once lacked groups. The TensorFlow we pin runs
``tf.nn.convolution`` with ``in/groups`` kernel channels natively on CPU, forward and backward,
2–3× faster than that XLA call (RegNetX's widths, 64² input), and tf2onnx converts it to an ONNX
``Conv`` with ``group`` — while the XLA call stays a ``StatefulPartitionedCall`` that ONNX Runtime
cannot run. ``GroupedConv2D`` is ``keras.layers.Conv2D`` with that call made directly; weights,
config and every other backend are Conv2D's.
"""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="centernet_keras")
class GroupedConv2D(keras.layers.Conv2D):
    """``keras.layers.Conv2D`` whose grouped convolution TensorFlow runs without XLA.

    Same arguments, kernel ``[kh, kw, C_in / groups, filters]`` and outputs as ``Conv2D``
    (``[B, H, W, C_in]`` → ``[B, H', W', filters]``). Only the TensorFlow backend with
    ``channels_last`` and ``groups > 1`` takes the direct ``tf.nn.convolution``; anything else
    is ``Conv2D.convolution_op``.
    """

    def convolution_op(self, inputs, kernel):
        if (
            self.groups == 1
            or self.data_format != "channels_last"
            or keras.backend.backend() != "tensorflow"
        ):
            return super().convolution_op(inputs, kernel)
        import tensorflow as tf

        return tf.nn.convolution(
            inputs,
            kernel,
            strides=list(self.strides),
            padding=self.padding.upper(),
            dilations=list(self.dilation_rate),
            data_format="NHWC",
        )
