"""DepthwiseConv2DTranspose: torch ConvTranspose2d(groups=C) semantics, bilinear init, saving."""

import keras
import numpy as np
import pytest

from centernet_keras.layers import (
    BilinearUpsampling,
    DepthwiseConv2DTranspose,
    depthwise_conv_transpose,
)

pytestmark = pytest.mark.kernels


def _naive_transpose(x: np.ndarray, kernel: np.ndarray, factor: int) -> np.ndarray:
    """Scatter form of a grouped transposed conv: out[i·f − p + k] += x[i] · w[k]."""
    b, h, w, c = x.shape
    size, pad = 2 * factor, factor // 2
    full = np.zeros((b, (h - 1) * factor + size, (w - 1) * factor + size, c), np.float64)
    for i in range(h):
        for j in range(w):
            full[:, i * factor : i * factor + size, j * factor : j * factor + size, :] += (
                x[:, i, j, None, None, :] * kernel[None, :, :, :, 0]
            )
    out_h, out_w = (h - 1) * factor - 2 * pad + size, (w - 1) * factor - 2 * pad + size
    return full[:, pad : pad + out_h, pad : pad + out_w, :]


def _bilinear_half_pixel(x: np.ndarray, factor: int) -> np.ndarray:
    """align_corners=False bilinear upsampling; NaN where a source pixel is off the map."""

    def axis_weights(n):
        src = (np.arange(n * factor) + 0.5) / factor - 0.5
        lo = np.floor(src).astype(int)
        m = np.zeros((n * factor, n))
        for o, (k, t) in enumerate(zip(lo, src - lo, strict=True)):
            if k < 0 or k + 1 >= n:
                m[o] = np.nan
            else:
                m[o, k], m[o, k + 1] = 1 - t, t
        return m

    my, mx = axis_weights(x.shape[1]), axis_weights(x.shape[2])
    return np.einsum("yi,xj,bijc->byxc", my, mx, x)


@pytest.mark.parametrize(("factor", "hw"), [(2, (5, 7)), (4, (3, 4)), (8, (2, 3))])
def test_matches_naive_transposed_conv(factor, hw, rng):
    x = rng.normal(size=(2, *hw, 3)).astype("float32")
    kernel = rng.normal(size=(2 * factor, 2 * factor, 3, 1)).astype("float32")
    got = np.asarray(depthwise_conv_transpose(x, kernel, factor))
    want = _naive_transpose(x, kernel, factor)
    assert got.shape == (2, hw[0] * factor, hw[1] * factor, 3) == want.shape
    np.testing.assert_allclose(got, want, atol=1e-5)


@pytest.mark.parametrize("factor", [2, 4])
def test_matches_torch_conv_transpose2d(factor, rng):
    torch = pytest.importorskip("torch")
    x = rng.normal(size=(1, 6, 5, 4)).astype("float32")
    weight = rng.normal(size=(4, 1, 2 * factor, 2 * factor)).astype("float32")  # torch layout
    conv = torch.nn.ConvTranspose2d(4, 4, 2 * factor, factor, factor // 2, groups=4, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(weight))
        want = conv(torch.from_numpy(x.transpose(0, 3, 1, 2))).numpy().transpose(0, 2, 3, 1)
    got = np.asarray(depthwise_conv_transpose(x, weight.transpose(2, 3, 0, 1), factor))
    np.testing.assert_allclose(got, want, atol=1e-5)


@pytest.mark.parametrize("factor", [2, 4])
def test_bilinear_init_is_bilinear_upsampling_inside(factor, rng):
    layer = DepthwiseConv2DTranspose(factor)
    x = rng.uniform(0, 10, (1, 6, 7, 3)).astype("float32")
    got = np.asarray(layer(x))
    want = _bilinear_half_pixel(x.astype(np.float64), factor)
    inside = ~np.isnan(want)
    assert inside.sum() > 0.5 * want.size
    np.testing.assert_allclose(got[inside], want[inside], atol=1e-5)
    # the reference's fill_up_weights for f = 2: outer([.25, .75, .75, .25])
    if factor == 2:
        line = np.array([0.25, 0.75, 0.75, 0.25])
        np.testing.assert_allclose(layer.kernel.numpy()[:, :, 1, 0], np.outer(line, line))
    assert layer.kernel.trainable and layer.kernel.shape == (2 * factor, 2 * factor, 3, 1)


def test_dynamic_shapes_config_and_saving(tmp_path, rng):
    inputs = keras.Input((None, None, 5))
    outputs = DepthwiseConv2DTranspose(4, name="up")(inputs)
    assert outputs.shape == (None, None, None, 5)
    model = keras.Model(inputs, outputs)
    model.get_layer("up").kernel.assign(rng.normal(size=(8, 8, 5, 1)).astype("float32"))
    x = rng.normal(size=(2, 3, 5, 5)).astype("float32")
    path = tmp_path / "up.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))
    assert loaded(x).shape == (2, 12, 20, 5)
    assert isinstance(loaded.get_layer("up").kernel_initializer, BilinearUpsampling)
    with pytest.raises(ValueError, match="even"):
        DepthwiseConv2DTranspose(3)
