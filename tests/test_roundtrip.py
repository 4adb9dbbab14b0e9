"""encode_targets → ideal network outputs → decode_centernet recovers every box and class."""

import numpy as np
import pytest

from centernet_keras.boxes import box_iou
from centernet_keras.decoding import decode_centernet
from centernet_keras.targets import encode_targets


def _random_boxes(rng, n, height, width, stride=4):
    """Boxes whose centre cells (on the stride-4 map) are all distinct.

    They stay one output pixel away from the right/bottom edge: the reference clips boxes to
    ``W_out - 1`` / ``H_out - 1``, which shrinks a box that touches that edge.
    """
    boxes, cells = [], set()
    while len(boxes) < n:
        w, h = rng.uniform(6, width / 2), rng.uniform(6, height / 2)
        x1, y1 = rng.uniform(0, width - stride - w), rng.uniform(0, height - stride - h)
        cell = (int((x1 + w / 2) / stride), int((y1 + h / 2) / stride))
        if cell in cells:
            continue
        cells.add(cell)
        boxes.append([x1, y1, x1 + w, y1 + h])
    return np.asarray(boxes, np.float32)


def _ideal_outputs(targets, height_out, width_out):
    """Maps a perfect network would output: heatmap = the target, size/offset at the centres."""
    size = np.zeros((height_out * width_out, 2), np.float32)
    offset = np.zeros_like(size)
    valid = np.asarray(targets["mask"]) > 0
    idx = np.asarray(targets["indices"])[valid]
    size[idx] = np.asarray(targets["size"])[valid]
    offset[idx] = np.asarray(targets["offset"])[valid]
    return (
        np.asarray(targets["heatmap"])[None],
        size.reshape(1, height_out, width_out, 2),
        offset.reshape(1, height_out, width_out, 2),
    )


@pytest.mark.parametrize("seed,hw", [(0, (128, 128)), (1, (96, 160)), (2, (192, 64))])
def test_encode_then_decode_recovers_boxes(seed, hw):
    rng = np.random.default_rng(seed)
    num_classes, n = 4, 12
    boxes = _random_boxes(rng, n, *hw)
    classes = rng.integers(0, num_classes, n).astype(np.int32)
    targets = encode_targets(boxes, classes, hw, num_classes, max_objects=32)
    heat, size, offset = _ideal_outputs(targets, hw[0] // 4, hw[1] // 4)

    out = decode_centernet(heat, size, offset, max_detections=32, score_threshold=0.999)
    assert int(np.asarray(out["num_detections"])[0]) == n
    found = np.asarray(out["boxes"])[0, :n]
    found_classes = np.asarray(out["classes"])[0, :n]
    iou = np.asarray(box_iou(boxes, found))
    best = iou.argmax(axis=1)
    assert np.all(iou.max(axis=1) > 0.99), iou.max(axis=1)
    assert len(set(best.tolist())) == n  # one detection per box
    np.testing.assert_array_equal(found_classes[best], classes)
