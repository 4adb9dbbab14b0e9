"""One letterbox: the pipeline, ``boxes.py`` and the Predictor place an image identically, and
the validation pipeline's network input equals the Predictor's."""

import numpy as np
import pytest
import tensorflow as tf

from centernet_keras.boxes import boxes_to_input, letterbox_params
from centernet_keras.data.augment import letterbox_geometry, warp_boxes
from centernet_keras.data.pipeline import PipelineConfig, transform_example
from centernet_keras.inference import PAD_VALUE, fit_to_input

# Sides that exposed the float rounding (e.g. 1×141, 1×197, 3×1058 into 512), VOC and
# COCO-like sizes, tiny and extreme ones, and a spread of others.
SIDES = sorted(
    {1, 2, 3, 7, 19, 63, 64, 65, 96, 127, 128, 141, 197, 239, 333, 375, 427, 480, 500, 511}
    | {512, 513, 612, 640, 1000, 1058, 1333, 1999, 4032}
    | set(range(150, 1200, 53))
)
INPUTS = [(512, 512), (384, 640), (96, 128), (128, 96)]
# Up- and downscaled (exactly 2× too), wide and tall, for a 96 × 128 input.
IMAGE_SIZES = [(40, 30), (50, 141), (70, 197), (90, 70), (128, 96), (171, 333), (192, 256)]
IMAGE_SIZES += [(300, 90), (375, 500)]


def _pipeline_geometry(hs, ws, input_hw):
    image_hw = tf.constant([hs, ws], tf.int32)  # [2, N]: the geometry is elementwise
    return [np.asarray(v) for v in letterbox_geometry(image_hw, input_hw)]


@pytest.mark.parametrize("input_hw", INPUTS)
def test_one_geometry_for_pipeline_boxes_and_predictor(input_hw):
    in_h, in_w = input_hw
    hs, ws = (np.ravel(v) for v in np.meshgrid(SIDES, SIDES, indexing="ij"))
    nw, nh, dx, dy = _pipeline_geometry(hs, ws, input_hw)
    params = np.array([letterbox_params((h, w), input_hw)[1:] for h, w in zip(hs, ws, strict=True)])
    pad_x, pad_y, new_w, new_h = params.T
    np.testing.assert_array_equal(nw, new_w)
    np.testing.assert_array_equal(nh, new_h)
    np.testing.assert_array_equal(dx, pad_x)
    np.testing.assert_array_equal(dy, pad_y)
    # The limiting side fills the input exactly; the other is the exact floor of its share.
    width_limits = in_w * hs <= in_h * ws
    np.testing.assert_array_equal(new_w[width_limits], in_w)
    np.testing.assert_array_equal(new_h[~width_limits], in_h)
    expected_h = np.maximum(hs * in_w // ws, 1)
    expected_w = np.maximum(ws * in_h // hs, 1)
    np.testing.assert_array_equal(new_h[width_limits], expected_h[width_limits])
    np.testing.assert_array_equal(new_w[~width_limits], expected_w[~width_limits])
    np.testing.assert_array_equal(pad_x, (in_w - new_w) // 2)
    np.testing.assert_array_equal(pad_y, (in_h - new_h) // 2)


@pytest.mark.parametrize("image_resize", ["letterbox", "resize"])
@pytest.mark.parametrize("hw", IMAGE_SIZES)
def test_validation_input_equals_predictor_input(rng, image_resize, hw):
    """Same pixels (bilinear, pixel-centre aligned, edges repeated when upscaling), same gray
    padding; the Predictor's canvas is uint8, so it may differ from the pipeline's float32 by
    its rounding (under one level)."""
    h, w = hw
    input_hw = (96, 128)
    image = rng.integers(0, 256, (h, w, 3)).astype(np.uint8)
    config = PipelineConfig(input_hw, image_resize=image_resize)
    ours, _ = transform_example(tf.constant(image), np.zeros((0, 4), np.float32), [], config)
    ours = ours.numpy()
    theirs = fit_to_input(image, input_hw, image_resize == "letterbox").astype(np.float32)
    if image_resize == "letterbox":
        _, px, py, nw, nh = letterbox_params((h, w), input_hw)
        inside = np.zeros(input_hw, bool)
        inside[py : py + nh, px : px + nw] = True
        assert np.all(ours[~inside] == PAD_VALUE) and np.all(theirs[~inside] == PAD_VALUE)
    assert np.abs(ours - theirs).max() <= 1.0
    assert np.abs(ours - theirs).mean() < 0.35


@pytest.mark.parametrize("hw", [(50, 141), (375, 500), (3, 1058), (1, 197)])
def test_validation_boxes_follow_the_shared_geometry(hw):
    """Boxes warped by the pipeline = ``boxes_to_input`` (which the Predictor inverts)."""
    h, w = hw
    input_hw = (96, 128)
    boxes = np.array([[0, 0, w, h], [w / 4, 0, w / 2, h / 3]], np.float32)
    image_hw = tf.constant(hw)
    geometry = letterbox_geometry(image_hw, input_hw)
    warped = warp_boxes(tf.constant(boxes), geometry, image_hw, input_hw).numpy()
    np.testing.assert_allclose(warped, boxes_to_input(boxes, hw, input_hw), rtol=1e-6, atol=1e-4)
