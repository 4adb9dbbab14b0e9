"""The prediction grid: tile layout, detections mapped into their tile, skeletons for people."""

import numpy as np
import pytest

from centernet_keras.detections import Detections
from centernet_keras.keypoints import KeypointSpec
from centernet_keras.visualize import class_color, drawer
from centernet_keras.visualize.grid import GRID_BACKGROUND, detections_to_tile, prediction_grid
from centernet_keras.visualize.pose import CENTRE_COLOR


def _boxes(boxes, classes, hw):
    n = len(boxes)
    return Detections(
        boxes=np.asarray(boxes, np.float32).reshape(-1, 4),
        scores=np.full(n, 0.9, np.float32),
        class_ids=np.asarray(classes, np.int32),
        class_names=[f"c{c}" for c in classes],
        image_size=hw,
    )


def _has(tile: np.ndarray, color, tolerance: int = 4) -> int:
    return int(np.all(np.abs(tile.astype(int) - color) <= tolerance, axis=-1).sum())


def test_tiles_hold_their_images_detections():
    rng = np.random.default_rng(0)
    images = [np.full((100, 200, 3), 200, np.uint8), rng.integers(0, 60, (80, 80, 3), np.uint8)]
    dets = [_boxes([[20, 20, 100, 80]], [1], (100, 200)), _boxes([[10, 10, 70, 70]], [4], (80, 80))]
    images.append(np.full((50, 50, 3), 90, np.uint8))
    dets.append(_boxes([], [], (50, 50)))
    grid = prediction_grid(list(zip(images, dets, strict=True)), drawer(), tile=128, columns=2)
    assert grid.size == (2 * 128 + 2, 2 * 128 + 2)  # 2 columns, 2 rows, 2 px gaps
    pixels = np.asarray(grid)
    assert pixels.std() > 20.0
    tiles = [pixels[:128, :128], pixels[:128, 130:], pixels[130:, :128], pixels[130:, 130:]]
    assert _has(tiles[0], class_color(1)) > 50 and _has(tiles[0], class_color(4)) == 0
    assert _has(tiles[1], class_color(4)) > 50 and _has(tiles[1], class_color(1)) == 0
    # the box sits where the letterbox puts it: image 0 is scaled by 128/200 = 0.64 and
    # padded by (128 - 64) / 2 = 32 rows, so its bottom edge is at y = 80·0.64 + 32 = 83.2
    # (its label sits above its top edge, y = 44.8)
    color_rows = np.flatnonzero(
        np.all(np.abs(tiles[0].astype(int) - class_color(1)) <= 4, axis=-1).any(1)
    )
    assert 82 <= color_rows.max() <= 84 and 28 <= color_rows.min() < 45
    assert _has(tiles[2], (90, 90, 90)) == 128 * 128  # no detections: the image only
    assert _has(tiles[3], GRID_BACKGROUND) == 128 * 128  # no fourth image: empty tile


def test_people_are_drawn_as_skeletons_in_their_tile():
    spec = KeypointSpec(("left_hand", "right_hand", "head"), ((0, 1),), ((0, 1), (0, 2)), (1, 1, 1))
    joints = np.array([[[20, 50], [180, 50], [100, 10]]], np.float32)
    people = Detections(
        boxes=np.array([[10, 5, 190, 95]], np.float32),
        scores=np.array([0.9], np.float32),
        class_ids=np.zeros(1, np.int32),
        class_names=["person"],
        image_size=(100, 200),
        keypoints=joints,
        keypoint_scores=np.ones((1, 3), np.float32),
    )
    tiled = detections_to_tile(people, (128, 128))
    np.testing.assert_allclose(tiled.keypoints[0, 0], [20 * 0.64, 50 * 0.64 + 32], atol=0.01)
    image = np.zeros((100, 200, 3), np.uint8)
    grid = prediction_grid([(image, people)], drawer(keypoint_spec=spec), tile=128)
    assert grid.size == (128, 128)
    assert _has(np.asarray(grid), CENTRE_COLOR) > 30  # the limbs (both centre: mixed sides)


def test_no_samples_is_an_error():
    with pytest.raises(ValueError, match="no images"):
        prediction_grid([], drawer())
