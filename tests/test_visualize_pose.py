"""Skeleton drawing: limb sides, the joint-score threshold, and what the annotate functions pick."""

import numpy as np
import pytest
from PIL import Image

from centernet_keras.detections import Detections
from centernet_keras.keypoints import KeypointSpec
from centernet_keras.visualize import draw_detections, drawer
from centernet_keras.visualize.pose import (
    CENTRE_COLOR,
    LEFT_COLOR,
    RIGHT_COLOR,
    draw_skeletons,
    limb_side,
)

COCO = KeypointSpec.coco17()
# Three joints: a left-right limb (centre), and a left limb to a joint of no side (centre).
SPEC = KeypointSpec(("left_hand", "right_hand", "head"), ((0, 1),), ((0, 1), (0, 2)), (1, 1, 1))


def _people(joints, scores=None, hw=(40, 60)):
    joints = np.asarray(joints, np.float32).reshape(-1, 3, 2)
    n = len(joints)
    return Detections(
        boxes=np.tile(np.array([[1, 1, 59, 39]], np.float32), (n, 1)),
        scores=np.full(n, 0.9, np.float32),
        class_ids=np.zeros(n, np.int32),
        class_names=["person"] * n,
        image_size=hw,
        keypoints=joints,
        keypoint_scores=None if scores is None else np.asarray(scores, np.float32),
    )


def test_coco_limb_sides() -> None:
    sides = [limb_side(COCO, limb) for limb in COCO.skeleton]
    assert (sides.count("left"), sides.count("right"), sides.count("centre")) == (7, 7, 5)
    names = COCO.names
    assert limb_side(COCO, (names.index("left_shoulder"), names.index("right_shoulder"))) == (
        "centre"
    )
    assert len({LEFT_COLOR, RIGHT_COLOR, CENTRE_COLOR}) == 3


def test_threshold_hides_joints_and_their_limbs() -> None:
    blank = np.zeros((40, 60, 3), np.uint8)
    people = _people([[10, 20], [50, 20], [10, 35]], scores=[[0.9, 0.9, 0.05]])
    pixels = np.asarray(draw_skeletons(blank, people, SPEC, draw_boxes=False))
    assert tuple(pixels[20, 30]) == CENTRE_COLOR  # left_hand → right_hand
    assert not pixels[27:33, 8:13].any()  # left_hand → head: the head scores below 0.1
    low = np.asarray(draw_skeletons(blank, people, SPEC, False, keypoint_threshold=0.01))
    assert tuple(low[28, 10]) == CENTRE_COLOR  # a lower threshold draws it
    unscored = np.asarray(draw_skeletons(blank, _people(people.keypoints), SPEC, False))
    np.testing.assert_array_equal(unscored, low)  # no scores: every joint is drawn


def test_boxes_and_detections_without_joints() -> None:
    blank = np.zeros((40, 60, 3), np.uint8)
    people = _people([[10, 20], [50, 20], [10, 35]])
    boxes = np.asarray(draw_detections(blank, people))
    with_boxes = np.asarray(draw_skeletons(blank, people, SPEC))
    assert (with_boxes[:, 1] == boxes[:, 1]).all()  # the box's left edge, as drawn alone
    no_joints = Detections(people.boxes, people.scores, people.class_ids, ["person"], (40, 60))
    np.testing.assert_array_equal(np.asarray(draw_skeletons(blank, no_joints, SPEC)), boxes)
    assert not np.asarray(draw_skeletons(blank, no_joints, SPEC, draw_boxes=False)).any()
    assert isinstance(draw_skeletons(Image.fromarray(blank), people, SPEC), Image.Image)
    with pytest.raises(ValueError, match="3 joints, the spec 17"):
        draw_skeletons(blank, people, COCO)


def test_drawer_picks_skeletons_only_with_a_spec() -> None:
    blank = np.zeros((40, 60, 3), np.uint8)
    people = _people([[10, 20], [50, 20], [10, 35]])
    boxes = np.asarray(draw_detections(blank, people))
    np.testing.assert_array_equal(np.asarray(drawer(lambda image: people)(blank, people)), boxes)
    skeletons = np.asarray(drawer(keypoint_spec=SPEC, draw_boxes=False)(blank, people))
    np.testing.assert_array_equal(skeletons, np.asarray(draw_skeletons(blank, people, SPEC, False)))
    with pytest.raises(ValueError, match="for pose models"):
        drawer(lambda image: people, draw_boxes=False)
