"""The ByteTrack-style ``Tracker``: ids through crossings, pose joints on the track, and the
IDF1 floor on a synthetic video's noisy ground truth (scored with motmetrics)."""

import numpy as np
import pytest

from centernet_keras.data.synthetic import SHAPE_CLASSES
from centernet_keras.data.synthetic_video import noisy_detections, render_frames
from centernet_keras.detections import Detections
from centernet_keras.tracking import Tracker, score_tracks


def _frame(boxes, scores, classes=None, keypoints=None) -> Detections:
    classes = [0] * len(boxes) if classes is None else classes
    return Detections(
        boxes=np.array(boxes, np.float32).reshape(-1, 4),
        scores=np.array(scores, np.float32),
        class_ids=np.array(classes, np.int32),
        class_names=[f"c{c}" for c in classes],
        image_size=(120, 200),
        keypoints=keypoints,
    )


def test_two_objects_crossing_keep_their_ids():
    """A moves right, B left, same class and size: they cover each other fully mid-way, B is
    missed for two frames and weak (0.3) for two more, detections come in either order, and
    a weak false positive appears; each keeps its id, and the weak box starts no track."""
    tracker, seen = Tracker(), []
    for f in range(40):
        a = [10 + 4 * f, 50, 30 + 4 * f, 70]
        b = [170 - 4 * f, 52, 190 - 4 * f, 72]
        boxes, scores = [a, b], [0.9, 0.8]
        if f in (19, 20):
            boxes, scores = [a], [0.9]
        elif f in (21, 22):
            scores = [0.9, 0.3]
        if f == 5:
            boxes, scores = [*boxes, [100, 5, 120, 25]], [*scores, 0.4]
        order = [1, 0, *range(2, len(boxes))] if f % 2 and len(boxes) > 1 else range(len(boxes))
        objects = tracker.update(_frame([boxes[i] for i in order], [scores[i] for i in order]))
        seen.append({o.track_id: o.box[0] for o in objects})
    assert set().union(*seen) == {1, 2}
    for f in (10, 30, 39):  # before and after the crossing: 1 is A (x = 10 + 4f), 2 is B
        assert abs(seen[f][1] - (10 + 4 * f)) < 3 and abs(seen[f][2] - (170 - 4 * f)) < 3


def test_tracks_match_within_their_class_and_keep_pose_joints():
    """Two boxes swap places between frames but not classes: the ids follow the classes; each
    person's joints ride on its track."""
    joints = np.arange(2 * 3 * 2, dtype=np.float32).reshape(2, 3, 2)
    tracker = Tracker()
    first = tracker.update(_frame([[10, 10, 40, 40], [12, 12, 42, 42]], [0.9, 0.9], [0, 1], joints))
    second = tracker.update(_frame([[12, 12, 42, 42], [10, 10, 40, 40]], [0.9, 0.9], [0, 1],
                                   joints[::-1]))  # fmt: skip
    assert [(o.track_id, o.class_id) for o in first] == [(1, 0), (2, 1)]
    assert [(o.track_id, o.class_id, o.detection) for o in second] == [(1, 0, 0), (2, 1, 1)]
    np.testing.assert_array_equal(second[0].keypoints, joints[1])
    assert second[0].class_name == "c0"


#: IDF1 of the default Tracker on the synthetic shapes videos (seeds 1 and 2, 100 frames,
#: 320 x 240) made noisy by ``noisy_detections`` (rng seeded like the video), as measured
#: when this test was written: seed 1 holds a long occlusion, seed 2 two ID switches at
#: crossings. The inputs are seeded, so the figures are exact on one machine; the 0.02 margin
#: covers only floating-point and library differences (assignment ties): a tracker without
#: its low-score second stage scores 0.827 on seed 1 (-0.030) and fails.
MEASURED_IDF1 = {1: 0.8571, 2: 0.8208}
MARGIN = 0.02


@pytest.mark.parametrize("seed", sorted(MEASURED_IDF1))
def test_idf1_on_a_noisy_synthetic_video_stays_above_its_floor(seed):
    rng, tracker = np.random.default_rng(seed), Tracker()
    truth, tracks = {}, {}
    for number, frame in enumerate(render_frames("shapes", 100, seed), 1):
        ids, boxes, _, visible = (np.array(v) for v in zip(*frame.objects, strict=True))
        truth[number] = (ids, boxes.astype(float), visible)
        objects = tracker.update(noisy_detections(frame, rng, SHAPE_CLASSES))
        tracks[number] = (
            np.array([o.track_id for o in objects], np.int64),
            np.array([o.box for o in objects], float).reshape(-1, 4),
            np.ones(len(objects)),
        )
    scores = score_tracks(truth, tracks)
    assert scores["idf1"] >= MEASURED_IDF1[seed] - MARGIN, scores
