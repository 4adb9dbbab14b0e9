"""GroupedConv2D: Conv2D's grouped convolution (per-group reference), run by TensorFlow without
Keras' XLA call, so tf2onnx gives one ONNX ``Conv`` with ``group``; saved and loaded by name.
Its gradient on both CPU kernel families: the one this process runs (``make test`` runs this file
under ``TF_ENABLE_ONEDNN_OPTS=0`` and ``=1``) and the per-group fallback, forced."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from centernet_keras.layers import GroupedConv2D
from centernet_keras.layers.grouped_conv import grouped_convolution

pytestmark = pytest.mark.kernels

GROUPS = 4  # 64 channels, group width 16 (RegNetX's)


def _per_group(x: np.ndarray, kernel: np.ndarray, stride: int, padding: str) -> np.ndarray:
    """Each group convolved on its own (plain convs, no groups), concatenated."""
    width = kernel.shape[2]
    per_out = kernel.shape[3] // GROUPS
    parts = [
        tf.nn.conv2d(
            x[..., g * width : (g + 1) * width],
            kernel[..., g * per_out : (g + 1) * per_out],
            stride,
            padding.upper(),
        )
        for g in range(GROUPS)
    ]
    return tf.concat(parts, -1).numpy()


@pytest.mark.parametrize("stride, padding", [(1, "same"), (2, "valid")])
def test_equals_per_group_convolution_and_keras_conv2d(stride, padding) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 9, 11, 64)).astype(np.float32)
    layer = GroupedConv2D(32, 3, strides=stride, padding=padding, groups=GROUPS, use_bias=False)
    got = layer(x).numpy()
    want = _per_group(x, layer.kernel.numpy(), stride, padding)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    plain = keras.layers.Conv2D(32, 3, strides=stride, padding=padding, groups=GROUPS)
    plain.build(x.shape)
    plain.set_weights([layer.kernel.numpy(), np.zeros(32, np.float32)])
    np.testing.assert_allclose(got, plain(x).numpy(), rtol=1e-5, atol=1e-5)


def test_gradients_equal_keras_conv2d() -> None:
    """Backward on CPU without XLA: the same input and kernel gradients as Keras' XLA path."""
    rng = np.random.default_rng(1)
    x = tf.constant(rng.normal(size=(2, 8, 8, 64)).astype(np.float32))
    grads = []
    kernel = rng.normal(size=(3, 3, 16, 32)).astype(np.float32)
    for cls in (GroupedConv2D, keras.layers.Conv2D):
        layer = cls(32, 3, padding="same", groups=GROUPS, use_bias=False)
        layer.build(x.shape)
        layer.set_weights([kernel])
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(tf.square(layer(x)))
        grads.append([g.numpy() for g in tape.gradient(loss, [x, layer.kernel])])
    for mine, theirs in zip(*grads, strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize(
    "stride, padding, dilation", [(1, "SAME", 1), (2, "SAME", 1), (2, "VALID", 1), (1, "SAME", 2)]
)
def test_per_group_fallback_gradient_equals_ungrouped_convs(stride, padding, dilation) -> None:
    """The gradient used where the kernels have no grouped backward (forced here): equal to the
    gradient of per-group ungrouped convs, which every kernel family has; same forward."""
    rng = np.random.default_rng(4)
    x = tf.constant(rng.normal(size=(2, 9, 11, 64)).astype(np.float32))
    kernel = tf.constant(rng.normal(size=(3, 3, 16, 32)).astype(np.float32))
    dy = tf.constant(rng.normal(size=(2, 9, 11, 32)).astype(np.float32))

    def per_group(x, kernel):
        parts = [
            tf.nn.convolution(
                x[..., g * 16 : (g + 1) * 16],
                kernel[..., g * 8 : (g + 1) * 8],
                strides=stride,
                padding=padding,
                dilations=dilation,
            )
            for g in range(GROUPS)
        ]
        return tf.concat(parts, -1)

    results = []
    for fn in (
        per_group,
        lambda a, b: grouped_convolution(
            a, b, GROUPS, (stride,) * 2, padding, (dilation,) * 2, native=False
        ),
    ):
        with tf.GradientTape() as tape:
            tape.watch([x, kernel])
            y = fn(x, kernel)
            loss = tf.reduce_sum(y * dy[:, : y.shape[1], : y.shape[2]])
        results.append([y.numpy(), *(g.numpy() for g in tape.gradient(loss, [x, kernel]))])
    for mine, theirs in zip(results[1], results[0], strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-4)


def _traced_ops(layer) -> set[str]:
    fn = tf.function(layer).get_concrete_function(tf.TensorSpec([1, 8, 8, 64], tf.float32))
    return {op.type for op in fn.graph.get_operations()}


def test_no_xla_function_call_in_the_graph() -> None:
    """What tf2onnx sees: a Conv2D op, not Keras' jit-compiled function call."""
    mine = _traced_ops(GroupedConv2D(32, 3, padding="same", groups=GROUPS))
    theirs = _traced_ops(keras.layers.Conv2D(32, 3, padding="same", groups=GROUPS))
    assert "Conv2D" in mine and not mine & {"StatefulPartitionedCall", "PartitionedCall"}
    assert theirs & {"StatefulPartitionedCall", "PartitionedCall"}  # why the layer exists


def test_ungrouped_is_conv2d() -> None:
    """``groups=1`` is Conv2D's own path: a 1×1 conv is a per-pixel matrix product."""
    layer = GroupedConv2D(8, 1)
    x = np.random.default_rng(3).normal(size=(1, 4, 4, 64)).astype(np.float32)
    got = layer(x).numpy()
    want = np.einsum("bhwc,co->bhwo", x, layer.kernel.numpy()[0, 0]) + layer.bias.numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_saved_and_loaded(tmp_path) -> None:
    inputs = keras.Input((8, 8, 64))
    model = keras.Model(inputs, GroupedConv2D(32, 3, groups=GROUPS, name="g")(inputs))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert type(loaded.get_layer("g")) is GroupedConv2D
    x = np.random.default_rng(2).normal(size=(1, 8, 8, 64)).astype(np.float32)
    np.testing.assert_allclose(loaded(x), model(x), rtol=1e-6, atol=1e-6)
