"""Drawing tracks: each object in its track id's colour, labelled ``"<id> <class> <score>"``.

``draw_tracks`` takes an RGB image (``[H, W, 3]`` uint8 array or PIL image) and one frame's
``tracking.TrackedObject`` s and returns a new PIL image: boxes and labels as
``visualize.draw.draw_detections`` lays them out (never overlapping, inside the image), the
colour of ``class_color(track id)``, so an object keeps its colour while it keeps its id; a
pose model's people as skeletons in that colour (``visualize.pose.draw_skeletons``), their
boxes and labels drawn over them (readable where limbs cross them).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from centernet_keras.decoder_defaults import KEYPOINT_THRESHOLD
from centernet_keras.detections import Detections
from centernet_keras.keypoints import KeypointSpec
from centernet_keras.tracking.tracker import TrackedObject
from centernet_keras.visualize.draw import class_color, draw_detections
from centernet_keras.visualize.pose import draw_skeletons


def track_color(track_id: int) -> tuple[int, int, int]:
    """A track's colour (``class_color`` of its id: neighbouring ids differ)."""
    return class_color(track_id)


def _as_detections(objects: Sequence[TrackedObject], image_hw: tuple[int, int]) -> Detections:
    """The objects as ``Detections`` whose class ids are the track ids (the colour) and whose
    names read ``"<id> <class>"`` (the label, the score appended by the drawing)."""
    joints = [o.keypoints for o in objects]
    joint_scores = [o.keypoint_scores for o in objects]
    with_joints = bool(objects) and all(j is not None for j in joints)
    return Detections(
        boxes=np.array([o.box for o in objects], np.float32).reshape(-1, 4),
        scores=np.array([o.score for o in objects], np.float32),
        class_ids=np.array([o.track_id for o in objects], np.int32),
        class_names=[f"{o.track_id} {o.class_name}" for o in objects],
        image_size=image_hw,
        keypoints=np.stack(joints) if with_joints else None,
        keypoint_scores=(
            np.stack(joint_scores)
            if with_joints and all(s is not None for s in joint_scores)
            else None
        ),
    )


def draw_tracks(
    image,
    objects: Sequence[TrackedObject],
    keypoint_spec: KeypointSpec | None = None,
    draw_boxes: bool = True,
    keypoint_threshold: float = KEYPOINT_THRESHOLD,
) -> Image.Image:
    """Draw one frame's tracked objects in their ids' colours.

    Args:
        image: ``[H, W, 3]`` uint8 RGB array or PIL image.
        objects: the frame's ``TrackedObject`` s (``Tracker.update``).
        keypoint_spec: a pose model's joints: objects with keypoints are drawn as skeletons.
        draw_boxes: with skeletons, also the boxes and labels.
        keypoint_threshold: the lowest joint score drawn.

    Returns:
        A new RGB PIL image.
    """
    array = np.asarray(image)
    found = _as_detections(objects, array.shape[:2])
    if keypoint_spec is None or found.keypoints is None:
        return draw_detections(array, found)
    canvas = draw_skeletons(
        array, found, keypoint_spec, draw_boxes=False, keypoint_threshold=keypoint_threshold,
        colors=[track_color(o.track_id) for o in objects],
    )  # fmt: skip
    return draw_detections(canvas, found) if draw_boxes else canvas  # labels over the limbs
