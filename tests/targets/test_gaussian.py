"""Gaussian radius and drawing against the CenterNet reference (fixtures 1 and 2)."""

import math

import numpy as np
import pytest
import tensorflow as tf
from reference_data import load_json, load_npz

from centernet_keras.targets import draw_gaussian, gaussian2d, gaussian_radius
from centernet_keras.targets.centernet import _box_radius

RADIUS_CASES = load_json("gaussian_radius.json")["cases"]
DRAW = load_npz("draw_gaussian.npz")
DRAW_CASES = [name[: -len("__heatmap")] for name in sorted(DRAW) if name.endswith("__heatmap")]


def test_fixture_sizes() -> None:
    assert len(RADIUS_CASES) == 121
    assert len(DRAW_CASES) == 15


@pytest.mark.parametrize("case", RADIUS_CASES, ids=lambda c: f"h{c['h']}_w{c['w']}")
def test_gaussian_radius_matches_reference(case: dict) -> None:
    radius = gaussian_radius(case["h"], case["w"], case["min_overlap"])
    np.testing.assert_allclose(radius, case["radius_float"], rtol=1e-6, atol=0)
    assert max(0, int(radius)) == case["radius_int"]


def test_gaussian_radius_broadcasts_arrays() -> None:
    h = np.array([c["h"] for c in RADIUS_CASES])
    w = np.array([c["w"] for c in RADIUS_CASES])
    expected = np.array([c["radius_float"] for c in RADIUS_CASES])
    radius = gaussian_radius(h, w)
    assert radius.shape == (121,) and radius.dtype == np.float64
    np.testing.assert_allclose(radius, expected, rtol=1e-6, atol=0)
    # A column of heights against a row of widths gives the full table.
    table = gaussian_radius(h[:, None], w[None, :])
    assert table.shape == (121, 121)
    np.testing.assert_allclose(np.diag(table), expected, rtol=1e-6, atol=0)


def test_tf_radius_path_matches_reference_ints() -> None:
    h = tf.constant([c["h"] for c in RADIUS_CASES], tf.float32)
    w = tf.constant([c["w"] for c in RADIUS_CASES], tf.float32)
    radius = _box_radius(h, w).numpy()
    assert radius.dtype == np.int32
    np.testing.assert_array_equal(radius, [c["radius_int"] for c in RADIUS_CASES])
    # Fractional sizes go through ceil() first, as in ctdet.py.
    frac = _box_radius(tf.constant([12.2, 0.3]), tf.constant([7.01, 0.9])).numpy()
    expected = [max(0, int(gaussian_radius(13, 8))), max(0, int(gaussian_radius(1, 1)))]
    np.testing.assert_array_equal(frac, expected)


def test_tf_radius_path_matches_numpy_in_corrected_mode() -> None:
    h = np.array([c["h"] for c in RADIUS_CASES], np.float32)
    w = np.array([c["w"] for c in RADIUS_CASES], np.float32)
    radius = _box_radius(tf.constant(h), tf.constant(w), 0.7, "corrected").numpy()
    expected = np.maximum(0, gaussian_radius(h, w, mode="corrected").astype(np.int32))
    np.testing.assert_array_equal(radius, expected)


def test_corrected_radius_by_hand() -> None:
    # h = w = 10, min_overlap = 0.7. Third quadratic: a = 4·0.7 = 2.8, b = −2·0.7·20 = −28,
    # c = (0.7 − 1)·100 = −30, so b² − 4ac = 784 + 336 = 1120 and the corrected root is
    # r3 = (−28 + sqrt(1120)) / (2·2.8) ≈ 0.976. The other corrected roots,
    # (20 + sqrt(400 − 4·30/1.7)) / 2 ≈ 19.07 and (40 + sqrt(1600 − 16·30)) / 8 ≈ 9.18, are larger.
    by_hand = (-28 + math.sqrt(1120)) / 5.6
    assert by_hand == pytest.approx(0.976143, abs=1e-6)
    np.testing.assert_allclose(gaussian_radius(10, 10, mode="corrected"), by_hand, rtol=1e-12)
    # The shipped formula divides r3 by 2 instead of 5.6: ≈ 2.733, radius_int 2 in the fixture.
    np.testing.assert_allclose(gaussian_radius(10, 10), (-28 + math.sqrt(1120)) / 2, rtol=1e-12)


def test_corrected_mode_differs_from_cornernet() -> None:
    h = np.array([c["h"] for c in RADIUS_CASES], np.float64)
    w = np.array([c["w"] for c in RADIUS_CASES], np.float64)
    cornernet = gaussian_radius(h, w)
    corrected = gaussian_radius(h, w, mode="corrected")
    assert np.all(corrected < cornernet)
    assert np.any(corrected.astype(int) != cornernet.astype(int))


def test_bad_radius_mode_raises() -> None:
    with pytest.raises(ValueError, match="mode"):
        gaussian_radius(10, 10, mode="mmdet")
    with pytest.raises(ValueError, match="mode"):
        _box_radius(tf.constant([1.0]), tf.constant([1.0]), 0.7, "bogus")


@pytest.mark.parametrize("diameter", [1, 3, 7, 11])
def test_gaussian2d_kernels(diameter: int) -> None:
    kernel = gaussian2d(diameter)
    expected = DRAW[f"gaussian2D_d{diameter}"]
    assert kernel.shape == expected.shape == (diameter, diameter)
    assert kernel.dtype == np.float64
    np.testing.assert_allclose(kernel, expected, rtol=0, atol=1e-6)
    assert kernel[diameter // 2, diameter // 2] == 1.0


@pytest.mark.parametrize("case", DRAW_CASES)
def test_draw_gaussian_matches_reference(case: str) -> None:
    heatmap = np.zeros((24, 40), np.float32)
    for center, radius in zip(DRAW[f"{case}__centers_xy"], DRAW[f"{case}__radii"], strict=True):
        returned = draw_gaussian(heatmap, tuple(center), int(radius))
        assert returned is heatmap
    assert heatmap.dtype == np.float32
    np.testing.assert_allclose(heatmap, DRAW[f"{case}__heatmap"], rtol=0, atol=1e-6)


def test_draw_gaussian_outside_map_is_noop() -> None:
    heatmap = np.zeros((8, 10), np.float32)
    draw_gaussian(heatmap, (-1, 3), 2)
    draw_gaussian(heatmap, (10, 3), 2)
    draw_gaussian(heatmap, (3, 8), 2)
    assert not heatmap.any()
