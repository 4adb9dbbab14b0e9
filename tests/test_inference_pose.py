"""Predictor on a pose model: joints in original pixels (letterbox and resize), the joint
heatmap, and ``Detections`` with keypoints (records in the COCO keypoint results format)."""

import numpy as np
import pytest
from detector_cases import tiny_pose

from centernet_keras.detections import Detections
from centernet_keras.inference import Predictor

J = 17


@pytest.fixture(scope="module")
def model():
    return tiny_pose()  # 64 x 64 input


def _decoded(boxes, joints, scores=(0.9, 0.8, 0.7)):
    """A pose decoder's padded output (K = 4 rows, the last one padding) for one image."""
    k, n = 4, len(boxes)
    out = {
        "boxes": np.full((1, k, 4), -1.0, np.float32),
        "scores": np.full((1, k), -1.0, np.float32),
        "classes": np.full((1, k), -1, np.int32),
        "keypoints": np.full((1, k, J, 2), -1.0, np.float32),
        "keypoint_scores": np.full((1, k, J), -1.0, np.float32),
        "num_detections": np.array([n], np.int32),
    }
    out["boxes"][0, :n] = boxes
    out["scores"][0, :n] = scores[:n]
    out["classes"][0, :n] = 0
    out["keypoints"][0, :n] = joints
    out["keypoint_scores"][0, :n] = np.linspace(0.2, 0.9, n * J).reshape(n, J)
    return out


def _joints(rng, low, high, n):
    return rng.uniform(low, high, (n, J, 2)).astype(np.float32)


def test_letterbox_joints_in_original_pixels(model, rng) -> None:
    """A 48 x 96 image letterboxed into 64 x 64 is pasted 64 x 32 at (0, 16): a joint at input
    (x, y) is at original (1.5 x, 1.5 (y - 16))."""
    joints = _joints(rng, [0, 16], [64, 48], 3)
    joints[0, 0] = (10.0, 20.0)
    boxes = [[8, 18, 40, 40], [4, 2, 20, 12], [30, 30, 60, 46]]  # the 2nd: in the top padding
    decoded = _decoded(boxes, joints)
    det = Predictor(model, letterbox=True).postprocess(decoded, (48, 96), (64, 64))
    assert len(det) == 2 and det.keypoints.shape == (2, J, 2)
    want = joints[[0, 2]] * 1.5 - [0.0, 24.0]  # the padded person's row is dropped with its box
    np.testing.assert_allclose(det.keypoints, want, atol=1e-3)
    np.testing.assert_allclose(det.keypoints[0, 0], (15.0, 6.0), atol=1e-3)
    np.testing.assert_array_equal(det.keypoint_scores, decoded["keypoint_scores"][0, [0, 2]])
    assert det.keypoints.dtype == np.float32 and det.keypoint_scores.dtype == np.float32


def test_resize_joints_in_original_pixels_and_clipped(model, rng) -> None:
    """Plain resize of 48 x 96 to 64 x 64: original (1.5 x, 0.75 y); joints outside the input
    are clipped to the image."""
    joints = _joints(rng, 0, 64, 2)
    joints[1, 3] = (-7.0, 70.0)
    decoded = _decoded([[8, 8, 40, 40], [20, 10, 60, 50]], joints)
    det = Predictor(model, letterbox=False).postprocess(decoded, (48, 96), (64, 64))
    want = joints * [1.5, 0.75]
    want[1, 3] = (0.0, 48.0)
    np.testing.assert_allclose(det.keypoints, want, atol=1e-3)


def test_predictor_returns_joints_inside_the_image(model, rng) -> None:
    image = rng.integers(0, 256, (50, 90, 3)).astype(np.uint8)
    det = Predictor(model, score_threshold=0.0)(image)
    assert len(det) > 0
    assert det.keypoints.shape == (len(det), J, 2) and det.keypoint_scores.shape == (len(det), J)
    assert np.all(det.keypoints >= 0) and np.all(det.keypoints <= [90, 50])


def test_joint_heatmap(model, rng) -> None:
    image = rng.integers(0, 256, (40, 70, 3)).astype(np.uint8)
    predictor = Predictor(model)
    joints = predictor.heatmap(image)
    np.testing.assert_array_equal(predictor.heatmap(image, which="keypoints"), joints)
    centres = predictor.heatmap(image, which="centres")
    assert joints.shape == centres.shape == (40, 70) and joints.dtype == np.float32
    assert joints.min() >= 0.0 and joints.max() <= 1.0
    assert not np.allclose(joints, centres)
    with pytest.raises(ValueError, match="which"):
        predictor.heatmap(image, which="joints")


def test_records_carry_coco_keypoints() -> None:
    joints = np.array([[[1.5, 2.0], [3.0, 4.25]], [[5.0, 6.0], [7.0, 8.0]]], np.float32)
    det = Detections(
        boxes=np.array([[0, 0, 10, 10], [1, 1, 9, 9]], np.float32),
        scores=np.array([0.9, 0.5], np.float32),
        class_ids=np.array([0, 0], np.int32),
        class_names=["person", "person"],
        image_size=(20, 20),
        keypoints=joints,
        keypoint_scores=np.array([[0.5, 0.25], [1.0, 0.0]], np.float32),
    )
    records = det.to_records(7)
    assert records[0]["keypoints"] == [1.5, 2.0, 1, 3.0, 4.25, 1]
    assert records[1]["keypoints"] == [5.0, 6.0, 1, 7.0, 8.0, 1]
    assert [r["keypoint_scores"] for r in records] == [[0.5, 0.25], [1.0, 0.0]]
    assert records[0]["bbox"] == [0.0, 0.0, 10.0, 10.0] and records[0]["image_id"] == 7
    no_joints = Detections(det.boxes, det.scores, det.class_ids, det.class_names, (20, 20))
    assert no_joints.keypoints is None and no_joints.keypoint_scores is None
    assert all(set(r) == {"image_id", "bbox", "class", "score"} for r in no_joints.to_records(7))
