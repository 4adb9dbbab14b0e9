"""The detection confusion matrix on hand-built cases, its CSV and its picture."""

import csv
import io

import numpy as np
import pytest
from PIL import Image

from centernet_keras.evaluation.confusion import (
    confusion_csv,
    confusion_matrix,
    normalize_rows,
)
from centernet_keras.evaluation.plots import plot_confusion_matrix

NAMES = ["cat", "dog", "car"]


def _gt(image_id, box, cls, difficult=0):
    return {"image_id": image_id, "bbox": box, "class": cls, "difficult": difficult}


def _det(image_id, box, cls, score):
    return {"image_id": image_id, "bbox": box, "class": cls, "score": score}


# image 1: a cat found, a dog found as a car (confusion), a car missed (its detection scores
#          below the threshold); image 2: a false positive dog on an empty spot, a cat found
#          twice (the second one: FP); image 3: no ground truth, one FP car.
GROUND_TRUTH = {
    "images": [{"id": 1}, {"id": 2}, {"id": 3}],
    "gt": [
        _gt(1, [0, 0, 20, 20], 0),
        _gt(1, [30, 30, 60, 60], 1),
        _gt(1, [70, 0, 90, 30], 2),
        _gt(2, [10, 10, 40, 40], 0),
    ],
}
DETECTIONS = [
    _det(1, [1, 1, 20, 21], 0, 0.9),
    _det(1, [30, 32, 60, 60], 2, 0.8),
    _det(2, [100, 100, 120, 120], 1, 0.7),
    _det(2, [10, 10, 40, 41], 0, 0.6),
    _det(2, [11, 10, 40, 40], 0, 0.5),
    _det(1, [70, 0, 90, 30], 2, 0.29),
    _det(3, [5, 5, 15, 15], 2, 0.4),
]
#        pred: cat dog car bg
EXPECTED = [
    [2, 0, 0, 0],  # true cat: both found
    [0, 0, 1, 0],  # true dog: found as a car
    [0, 0, 0, 1],  # true car: missed
    [1, 1, 1, 0],  # background: FP cat (duplicate), FP dog, FP car (image 3)
]


def test_known_detections_give_the_known_matrix():
    matrix = confusion_matrix(GROUND_TRUTH, DETECTIONS, 3, score_threshold=0.3)
    np.testing.assert_array_equal(matrix, EXPECTED)
    assert matrix.dtype == np.int64
    # at a lower threshold the 0.29 car finds the missed car
    lower = confusion_matrix(GROUND_TRUTH, DETECTIONS, 3, score_threshold=0.2)
    assert lower[2, 2] == 1 and lower[2, 3] == 0


def test_greedy_by_score_and_own_class_first():
    """The higher score takes the box; a detection prefers a box of its own class over a
    higher-IoU box of another class; below the IoU threshold there is no match."""
    gt = {"images": [{"id": 1}], "gt": [_gt(1, [0, 0, 20, 20], 0), _gt(1, [0, 0, 20, 24], 1)]}
    # the dog box overlaps the cat box more (IoU 1.0) than its own dog box (IoU ~0.84)
    dets = [_det(1, [0, 0, 20, 20], 1, 0.9), _det(1, [0, 0, 20, 20], 0, 0.8)]
    matrix = confusion_matrix(gt, dets, 2)
    np.testing.assert_array_equal(matrix, [[1, 0, 0], [0, 1, 0], [0, 0, 0]])
    # the only box is a cat: the first (highest-scoring) detection takes it, as a confusion
    gt_one = {"images": [{"id": 1}], "gt": [_gt(1, [0, 0, 20, 20], 0)]}
    matrix = confusion_matrix(gt_one, dets, 2)
    np.testing.assert_array_equal(matrix, [[0, 1, 0], [0, 0, 0], [1, 0, 0]])
    far = [_det(1, [10, 10, 30, 30], 0, 0.9)]  # IoU ~0.17
    np.testing.assert_array_equal(
        confusion_matrix(gt_one, far, 2), [[0, 0, 1], [0, 0, 0], [1, 0, 0]]
    )


def test_difficult_boxes_are_not_counted():
    gt = {
        "images": [{"id": 1}],
        "gt": [_gt(1, [0, 0, 20, 20], 0, 1), _gt(1, [40, 0, 60, 20], 0, 1)],
    }
    dets = [_det(1, [0, 0, 20, 20], 0, 0.9)]  # on a difficult box: neither TP nor FP
    assert confusion_matrix(gt, dets, 1).sum() == 0


def test_one_class_and_errors():
    gt = {"images": [{"id": 7}], "gt": [_gt(7, [0, 0, 20, 20], 0), _gt(7, [50, 50, 80, 80], 0)]}
    dets = [_det(7, [0, 0, 20, 20], 0, 0.9), _det(7, [90, 0, 99, 9], 0, 0.9)]
    np.testing.assert_array_equal(confusion_matrix(gt, dets, 1), [[1, 1], [1, 0]])
    with pytest.raises(ValueError, match="not listed"):
        confusion_matrix(gt, [_det(8, [0, 0, 5, 5], 0, 0.9)], 1)
    with pytest.raises(ValueError, match=r"class id 1 outside 0\.\.0"):
        confusion_matrix(gt, [_det(7, [0, 0, 5, 5], 1, 0.9)], 1)


def test_rows_normalised_and_csv():
    matrix = np.asarray(EXPECTED)
    shown = normalize_rows(matrix)
    np.testing.assert_allclose(shown[3], [1 / 3, 1 / 3, 1 / 3, 0])
    np.testing.assert_allclose(shown.sum(axis=1), 1.0)
    assert normalize_rows(np.zeros((2, 2), np.int64)).sum() == 0.0  # no division by zero
    rows = list(csv.reader(io.StringIO(confusion_csv(matrix, NAMES))))
    assert rows[0] == ["true\\predicted", "cat", "dog", "car", "background"]
    assert [r[0] for r in rows[1:]] == ["cat", "dog", "car", "background"]
    assert [[int(v) for v in r[1:]] for r in rows[1:]] == EXPECTED
    with pytest.raises(ValueError, match="does not fit"):
        confusion_csv(matrix, NAMES[:2])


def test_the_picture_is_a_drawn_matrix(tmp_path):
    path = plot_confusion_matrix(np.asarray(EXPECTED), NAMES, tmp_path / "cm.png", "epoch 3")
    image = np.asarray(Image.open(path).convert("RGB"), np.float64)
    assert image.shape[0] >= 300 and image.shape[1] >= 300
    assert image.std() > 20.0  # not blank
    # the full cells (row fraction 1.0) are the colormap's darkest blue
    blue = (image[..., 2] > 80) & (image[..., 2] - image[..., 0] > 60) & (image[..., 0] < 40)
    assert blue.sum() > 200
    assert not list(tmp_path.glob(".*"))  # written atomically, nothing left behind
