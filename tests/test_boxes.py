"""Tests for centernet_keras.boxes: IoU (keras.ops) and letterbox / resize box conversions."""

import keras
import numpy as np
import pytest

from centernet_keras.boxes import box_iou, boxes_to_input, boxes_to_original, letterbox_params


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return keras.ops.convert_to_numpy(box_iou(np.asarray(a, "float32"), np.asarray(b, "float32")))


def test_iou_known_pairs() -> None:
    a = [[0, 0, 10, 10]]
    b = [[0, 0, 10, 10], [20, 20, 30, 30], [5, 0, 15, 10], [10, 0, 20, 10], [0, 0, 5, 5]]
    got = _iou(a, b)
    assert got.shape == (1, 5)
    np.testing.assert_allclose(got[0], [1.0, 0.0, 50 / 150, 0.0, 0.25], rtol=1e-6)


def test_iou_zero_area_and_symmetry(rng: np.random.Generator) -> None:
    degenerate = [[3, 3, 3, 3], [5, 5, 5, 9]]
    got = _iou(degenerate, degenerate)
    assert np.all(np.isfinite(got)) and np.all(got == 0.0)
    xy = rng.uniform(0, 50, size=(2, 6, 2))
    wh = rng.uniform(1, 30, size=(2, 6, 2))
    boxes = np.concatenate([xy, xy + wh], -1)  # batched [2, 6, 4]
    iou = _iou(boxes, boxes)
    assert iou.shape == (2, 6, 6)
    np.testing.assert_allclose(iou, np.swapaxes(iou, -1, -2), atol=1e-7)
    np.testing.assert_allclose(np.diagonal(iou, axis1=1, axis2=2), 1.0, rtol=1e-6)
    assert np.all((iou >= 0) & (iou <= 1 + 1e-6))


def test_letterbox_params_convention() -> None:
    assert letterbox_params((300, 600), (512, 512)) == (512 / 600, 0, 128, 512, 256)
    scale, px, py, nw, nh = letterbox_params((500, 375), (512, 512))
    assert scale == pytest.approx(512 / 500)
    assert (nw, nh) == (int(375 * 512 / 500), 512)
    assert (px, py) == ((512 - nw) // 2, 0)


@pytest.mark.parametrize("image_hw", [(300, 640), (640, 300), (512, 512), (333, 517)])
@pytest.mark.parametrize("letterbox", [True, False])
def test_round_trip(image_hw: tuple[int, int], letterbox: bool, rng: np.random.Generator) -> None:
    h, w = image_hw
    x1, y1 = rng.uniform(0, w / 2, 8), rng.uniform(0, h / 2, 8)
    boxes = np.stack([x1, y1, x1 + rng.uniform(1, w / 2, 8), y1 + rng.uniform(1, h / 2, 8)], -1)
    fwd = boxes_to_input(boxes, image_hw, (512, 384), letterbox=letterbox)
    assert np.all(fwd[:, 0::2] <= 384) and np.all(fwd[:, 1::2] <= 512)
    back = boxes_to_original(fwd, image_hw, (512, 384), letterbox=letterbox)
    np.testing.assert_allclose(back, boxes, atol=1e-6)


def test_letterbox_forward_values() -> None:
    # 300x600 (h, w) into 512x512: scale 512/600, content 512x256 at pad_y 128.
    boxes = np.array([[0.0, 0.0, 600.0, 300.0], [300.0, 150.0, 450.0, 225.0]])
    fwd = boxes_to_input(boxes, (300, 600), (512, 512))
    s = 512 / 600
    np.testing.assert_allclose(fwd[0], [0, 128, 512, 128 + 300 * s], atol=1e-9)
    np.testing.assert_allclose(fwd[1], [300 * s, 150 * s + 128, 450 * s, 225 * s + 128], atol=1e-9)


def test_plain_resize_per_axis() -> None:
    back = boxes_to_original(np.array([[64.0, 128.0, 128.0, 256.0]]), (100, 400), (256, 512), False)
    np.testing.assert_allclose(back, [[50.0, 50.0, 100.0, 100.0]])


def test_padding_rows_preserved_and_batched() -> None:
    boxes = np.full((2, 4, 4), -1.0, "float32")
    boxes[0, 0] = [10, 140, 100, 200]
    boxes[1, :2] = [[130, 0, 180, 60], [100, 100, 200, 220]]
    sizes = np.array([[300, 600], [512, 256]])
    back = boxes_to_original(boxes, sizes, (512, 512))
    assert back.dtype == np.float32 and back.shape == boxes.shape
    assert np.all(back[0, 1:] == -1) and np.all(back[1, 2:] == -1)
    for b in range(2):
        single = boxes_to_original(boxes[b], tuple(sizes[b]), (512, 512))
        np.testing.assert_allclose(back[b], single, rtol=1e-6)
    # 512x256 (h, w) into 512x512: scale 1, pad_x 128.
    np.testing.assert_allclose(back[1, 0], [2.0, 0.0, 52.0, 60.0], atol=1e-5)


def test_clipping() -> None:
    # Boxes that reach into the letterbox padding or past the input are clipped to the image.
    boxes = np.array([[-20.0, 100.0, 600.0, 300.0]])
    back = boxes_to_original(boxes, (300, 600), (512, 512))
    s = 512 / 600
    np.testing.assert_allclose(back, [[0.0, 0.0, 600.0, (300 - 128) / s]], atol=1e-4)
    fwd = boxes_to_input(np.array([[-5.0, -5.0, 700.0, 350.0]]), (300, 600), (512, 512))
    np.testing.assert_allclose(fwd, [[0.0, 128 - 5 * s, 512.0, 128 + 350 * s]], atol=1e-4)
