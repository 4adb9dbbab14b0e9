"""DeformConv2D / deform_conv2d (DCNv2) against an independent NumPy loop, on TF and torch."""

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from centernet_keras.layers import DeformConv2D, deform_conv2d


def _naive_dcn(x, offsets, mask, kernel, bias):
    """Direct DCNv2: per output pixel and kernel point, bilinear sample (zero outside)."""
    b, h, w, c = x.shape
    k = kernel.shape[0]
    out = np.zeros((b, h, w, kernel.shape[-1]), np.float64)

    def pixel(n, yy, xx):
        return x[n, yy, xx].astype(np.float64) if 0 <= yy < h and 0 <= xx < w else np.zeros(c)

    for n in range(b):
        for y in range(h):
            for xq in range(w):
                for i in range(k):
                    for j in range(k):
                        p = i * k + j
                        py = y + i - k // 2 + offsets[n, y, xq, 2 * p]
                        px = xq + j - k // 2 + offsets[n, y, xq, 2 * p + 1]
                        y0, x0 = int(np.floor(py)), int(np.floor(px))
                        ly, lx = py - y0, px - x0
                        value = (
                            (1 - ly) * (1 - lx) * pixel(n, y0, x0)
                            + (1 - ly) * lx * pixel(n, y0, x0 + 1)
                            + ly * (1 - lx) * pixel(n, y0 + 1, x0)
                            + ly * lx * pixel(n, y0 + 1, x0 + 1)
                        )
                        out[n, y, xq] += mask[n, y, xq, p] * value @ kernel[i, j]
    return out + bias


OFFSET_CASES = {
    "inside": lambda rng, s: rng.uniform(-0.9, 0.9, s),
    "across_borders": lambda rng, s: rng.uniform(-3.5, 3.5, s),
    "integers": lambda rng, s: rng.integers(-2, 3, s).astype(float),
    "fully_outside": lambda rng, s: np.where(rng.random(s) < 0.5, -40.0, 55.0),
}


@pytest.mark.kernels
@pytest.mark.parametrize("case", sorted(OFFSET_CASES))
@pytest.mark.parametrize("k", [3, 5])
def test_matches_naive_loop(case, k, rng):
    x = rng.normal(size=(2, 5, 6, 3)).astype("float32")
    offsets = OFFSET_CASES[case](rng, (2, 5, 6, 2 * k * k)).astype("float32")
    mask = rng.uniform(0, 1, (2, 5, 6, k * k)).astype("float32")
    kernel = rng.normal(size=(k, k, 3, 4)).astype("float32")
    bias = rng.normal(size=(4,)).astype("float32")
    got = np.asarray(deform_conv2d(x, offsets, mask, kernel, bias))
    want = _naive_dcn(x, offsets, mask, kernel, bias)
    assert got.shape == (2, 5, 6, 4)
    np.testing.assert_allclose(got, want, atol=1e-4)
    if case == "fully_outside":
        np.testing.assert_allclose(got, np.broadcast_to(bias, got.shape), atol=1e-6)


def test_zero_offsets_half_mask_is_half_a_plain_conv(rng):
    layer = DeformConv2D(4)
    x = rng.normal(size=(2, 7, 5, 3)).astype("float32")
    layer.build(x.shape)  # fresh layer: offset conv is zero → offsets 0, mask 0.5
    layer.bias.assign(rng.normal(size=(4,)).astype("float32"))
    out = np.asarray(layer(x))
    plain = np.asarray(keras.ops.conv(x, layer.kernel, padding="same"))
    np.testing.assert_allclose(out, 0.5 * plain + layer.bias.numpy(), atol=1e-5)


def test_offset_channel_layout_is_interleaved_dy_dx_then_mask(rng):
    """Channel 2n = dy, 2n + 1 = dx of kernel point n (row-major), 2·9 + n = its mask logit."""
    layer = DeformConv2D(2, use_bias=False)
    x = rng.normal(size=(1, 4, 5, 2)).astype("float32")
    layer.build(x.shape)
    kernel = np.zeros((3, 3, 2, 2), np.float32)
    kernel[1, 1] = np.eye(2)  # only the centre point (n = 4), identity
    layer.kernel.assign(kernel)
    bias = np.zeros(27, np.float32)
    bias[18:] = -30.0  # masks ≈ 0 ...
    bias[18 + 4] = 30.0  # ... except the centre's ≈ 1
    bias[2 * 4 + 1] = 1.0  # centre dx = +1: read the right neighbour
    layer.offset_bias.assign(bias)
    shifted = np.zeros_like(x)
    shifted[:, :, :-1] = x[:, :, 1:]
    np.testing.assert_allclose(np.asarray(layer(x)), shifted, atol=1e-5)
    bias[2 * 4 + 1], bias[2 * 4] = 0.0, -1.0  # centre dy = −1: read the pixel above
    layer.offset_bias.assign(bias)
    shifted = np.zeros_like(x)
    shifted[:, 1:] = x[:, :-1]
    np.testing.assert_allclose(np.asarray(layer(x)), shifted, atol=1e-5)


def _random_offset_layer(rng, channels_in=3, filters=4) -> DeformConv2D:
    layer = DeformConv2D(filters, name="dcn")
    layer.build((None, None, None, channels_in))
    layer.offset_kernel.assign(rng.normal(0, 0.5, layer.offset_kernel.shape).astype("float32"))
    layer.offset_bias.assign(rng.normal(0, 1.0, layer.offset_bias.shape).astype("float32"))
    layer.bias.assign(rng.normal(size=layer.bias.shape).astype("float32"))
    return layer


@pytest.mark.kernels
def test_layer_uses_its_offset_conv_and_has_gradients(rng):
    layer = _random_offset_layer(rng)
    x = rng.normal(size=(2, 6, 5, 3)).astype("float32")
    offsets, mask = (np.asarray(t) for t in layer.offsets_and_mask(x))
    assert offsets.shape == (2, 6, 5, 18) and mask.shape == (2, 6, 5, 9)
    assert np.abs(offsets).max() > 1.0  # offsets cross pixel and image borders
    want = _naive_dcn(x, offsets, mask, layer.kernel.numpy(), layer.bias.numpy())
    np.testing.assert_allclose(np.asarray(layer(x)), want, atol=1e-4)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(layer(x)))
    grads = tape.gradient(loss, layer.trainable_weights)
    assert [w.name for w in layer.trainable_weights] == [
        "kernel",
        "bias",
        "offset_kernel",
        "offset_bias",
    ]
    for weight, grad in zip(layer.trainable_weights, grads, strict=True):
        assert grad is not None and np.all(np.isfinite(grad)), weight.name
        assert np.abs(np.asarray(grad)).max() > 0, weight.name


def test_dynamic_shapes_and_safe_mode_round_trip(tmp_path, rng):
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, DeformConv2D(4, name="dcn")(inputs))
    assert model.output.shape == (None, None, None, 4)
    source = _random_offset_layer(rng)
    model.get_layer("dcn").set_weights(source.get_weights())
    x = rng.normal(size=(1, 6, 9, 3)).astype("float32")
    path = tmp_path / "dcn.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))
    assert loaded.get_layer("dcn").get_config() == model.get_layer("dcn").get_config()


TORCH_SIDE = textwrap.dedent(
    """
    import sys
    import keras
    import numpy as np
    assert keras.backend.backend() == "torch"
    import centernet_keras.layers  # registers the layers
    model = keras.saving.load_model(sys.argv[1] + ".keras", safe_mode=True)
    x = np.load(sys.argv[1] + ".npy")
    np.save(sys.argv[1] + ".out.npy", keras.ops.convert_to_numpy(model(x)))
    """
)


@pytest.mark.slow
def test_torch_backend_matches_tensorflow(tmp_path, rng):
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, DeformConv2D(4, name="dcn")(inputs))
    model.get_layer("dcn").set_weights(_random_offset_layer(rng).get_weights())
    x = rng.normal(size=(2, 7, 6, 3)).astype("float32")
    stem = str(tmp_path / "dcn")
    model.save(stem + ".keras")
    np.save(stem + ".npy", x)
    env = {**os.environ, "KERAS_BACKEND": "torch", "CUDA_VISIBLE_DEVICES": ""}
    subprocess.run([sys.executable, "-c", TORCH_SIDE, stem], env=env, check=True, timeout=300)
    np.testing.assert_allclose(np.load(stem + ".out.npy"), np.asarray(model(x)), atol=1e-4)
