"""A grid of images with their drawn detections (e.g. ``val_predictions.jpg`` of a training run).

Each image is letterboxed into a square tile of a fixed size (``preprocess.fit_to_input``, gray
padding), its detections mapped the same way (``boxes.boxes_to_input``,
``boxes.points_to_input``), then drawn there by a ``visualize.drawer`` (boxes and labels, or a
pose model's skeletons), so lines and labels have the same size in every tile.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np
from PIL import Image

from centernet_keras.boxes import boxes_to_input, points_to_input
from centernet_keras.detections import Detections
from centernet_keras.preprocess import fit_to_input

#: Colour of the lines between tiles and of empty tiles.
GRID_BACKGROUND = (32, 32, 32)


def detections_to_tile(detections: Detections, tile_hw: Sequence[int]) -> Detections:
    """``detections`` (in their image's pixels) mapped into the image letterboxed to
    ``tile_hw`` (``(height, width)``); boxes left without area are dropped."""
    hw = detections.image_size
    boxes = boxes_to_input(np.asarray(detections.boxes, np.float32).reshape(-1, 4), hw, tile_hw)
    keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    keypoints = detections.keypoints
    if keypoints is not None:
        keypoints = points_to_input(np.asarray(keypoints, np.float32), hw, tile_hw)[keep]
    scores = detections.keypoint_scores
    return replace(
        detections,
        boxes=boxes[keep],
        scores=np.asarray(detections.scores)[keep],
        class_ids=np.asarray(detections.class_ids)[keep],
        class_names=[n for n, k in zip(detections.class_names, keep, strict=True) if k],
        image_size=(int(tile_hw[0]), int(tile_hw[1])),
        keypoints=keypoints,
        keypoint_scores=None if scores is None else np.asarray(scores)[keep],
    )


def prediction_grid(
    samples: Sequence[tuple[np.ndarray, Detections]],
    draw: Callable[[np.ndarray, Detections], Image.Image],
    tile: int = 256,
    columns: int = 4,
    gap: int = 2,
) -> Image.Image:
    """Draw each image's detections in a ``tile``×``tile`` tile, tiles in rows of ``columns``.

    Args:
        samples: ``(image [H, W, 3] uint8 RGB, its Detections)`` pairs, in grid order.
        draw: ``(image, detections) → PIL image`` (``visualize.drawer``).
        tile: side of each square tile in pixels.
        columns: tiles per row (fewer when there are fewer samples).
        gap: pixels between tiles (``GRID_BACKGROUND``).

    Returns:
        An RGB PIL image of ``(cols·tile + (cols−1)·gap) × (rows·tile + (rows−1)·gap)`` pixels,
        ``cols = min(columns, len(samples))``, ``rows = ceil(len(samples) / cols)``.

    Raises:
        ValueError: no samples.
    """
    if not samples:
        raise ValueError("no images to put in a grid")
    cols = min(int(columns), len(samples))
    rows = math.ceil(len(samples) / cols)
    size = (cols * tile + (cols - 1) * gap, rows * tile + (rows - 1) * gap)
    grid = Image.new("RGB", size, GRID_BACKGROUND)
    for i, (image, detections) in enumerate(samples):
        fitted = fit_to_input(np.asarray(image, np.uint8), (tile, tile), letterbox=True)
        drawn = draw(fitted, detections_to_tile(detections, (tile, tile)))
        row, col = divmod(i, cols)
        grid.paste(drawn, (col * (tile + gap), row * (tile + gap)))
    return grid
