"""Tracks drawn in their ids' colours: boxes, and a pose model's skeletons."""

import numpy as np

from centernet_keras.keypoints import KeypointSpec
from centernet_keras.tracking import TrackedObject
from centernet_keras.visualize import draw_tracks, track_color


def test_boxes_and_skeletons_take_their_track_colour():
    image = np.full((96, 128, 3), 128, np.uint8)
    joints = np.array([[80, 30], [80, 80]], np.float32)  # a vertical limb at x = 80
    person = TrackedObject(5, np.array([60, 20, 100, 90], np.float32), 0, "person", 0.9, 0,
                           joints, np.ones(2, np.float32))  # fmt: skip
    box = TrackedObject(7, np.array([10, 40, 40, 70], np.float32), 1, "cat", 0.8, 1)
    drawn = np.asarray(draw_tracks(image, [box]))
    assert tuple(drawn[55, 10]) == track_color(7)  # the box's left edge
    spec = KeypointSpec(names=("top", "bottom"), flip_pairs=(), skeleton=((0, 1),),
                        sigmas=(0.1, 0.1))  # fmt: skip
    drawn = np.asarray(draw_tracks(image, [person], keypoint_spec=spec))
    assert tuple(drawn[55, 80]) == track_color(5)  # mid-limb
    assert tuple(drawn[55, 60]) == track_color(5)  # the box, drawn too
