"""Drawing people of a pose model: skeletons (limbs coloured by body side, joints as dots).

``draw_skeletons`` takes an RGB image (``[H, W, 3]`` uint8 array or PIL image) and the
``Detections`` of a pose model (``keypoints`` in the image's pixels) and returns a new PIL
image. Boxes and their labels are those of ``visualize.draw.draw_detections``; the annotate
functions (``visualize.annotate.drawer``) call this module for detections that carry joints.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

from centernet_keras.decoder_defaults import KEYPOINT_THRESHOLD
from centernet_keras.keypoints import KeypointSpec, split_side
from centernet_keras.visualize.draw import draw_detections, to_pil

#: Limb and joint colours (RGB) by body side (``joint_side``): left / right / others.
LEFT_COLOR = (0, 200, 0)
RIGHT_COLOR = (0, 120, 255)
CENTRE_COLOR = (230, 0, 230)


def joint_side(name: str) -> str:
    """``"left"`` / ``"right"`` for a joint named on that side (``left_eye``, ``l_eye``,
    ``EyeLeft``…: ``keypoints.split_side``), else ``"centre"``."""
    return split_side(name)[0] or "centre"


def limb_side(spec: KeypointSpec, limb: tuple[int, int]) -> str:
    """``"left"`` / ``"right"`` when both joints of ``limb`` are on that side, else
    ``"centre"`` (e.g. shoulder to shoulder, nose to eye)."""
    sides = {joint_side(spec.names[i]) for i in limb}
    return sides.pop() if len(sides) == 1 else "centre"


SIDE_COLORS = {"left": LEFT_COLOR, "right": RIGHT_COLOR, "centre": CENTRE_COLOR}


def draw_skeletons(
    image,
    detections,
    spec: KeypointSpec,
    draw_boxes: bool = True,
    keypoint_threshold: float = KEYPOINT_THRESHOLD,
    line_width: int | None = None,
    colors: Sequence[tuple[int, int, int]] | None = None,
) -> Image.Image:
    """Draw each person's limbs (``spec.skeleton``) and joints, over its box and label.

    Limbs are coloured by side (``limb_side``: ``LEFT_COLOR``, ``RIGHT_COLOR``,
    ``CENTRE_COLOR``), joints are dots of their own side's colour with a dark outline. A joint
    whose score is below ``keypoint_threshold`` is not drawn, nor any limb touching it.

    Args:
        image: ``[H, W, 3]`` uint8 RGB array or PIL image.
        detections: ``Detections`` with ``keypoints`` ``[N, J, 2]`` in this image's pixels
            (and optionally ``keypoint_scores`` ``[N, J]``; without them every joint is drawn).
            Without keypoints only the boxes are drawn.
        spec: the joints (names for the sides, skeleton for the limbs).
        draw_boxes: also draw the boxes and ``"<class> <score>"`` labels
            (``visualize.draw_detections``).
        keypoint_threshold: the lowest joint score drawn (default the decoder's default;
            ``visualize.drawer`` passes its ``Predictor``'s).
        line_width: limb width; default from the image size.
        colors: one RGB colour per person for its limbs and joints (e.g. its track's),
            instead of the side colours.

    Returns:
        A new RGB PIL image.

    Raises:
        ValueError: the detections have a joint count other than the spec's.
    """
    canvas = draw_detections(image, detections) if draw_boxes else to_pil(image)
    if detections.keypoints is None or len(detections) == 0:
        return canvas
    joints = np.asarray(detections.keypoints, np.float64)
    if joints.shape[1] != spec.num_joints:
        raise ValueError(f"detections have {joints.shape[1]} joints, the spec {spec.num_joints}")
    scores = detections.keypoint_scores
    shown = (
        np.ones(joints.shape[:2], bool)
        if scores is None
        else np.asarray(scores, np.float64) >= keypoint_threshold
    )
    width, height = canvas.size
    lw = line_width or max(2, round(min(width, height) / 150))
    radius = lw + 1
    draw = ImageDraw.Draw(canvas)
    limbs = [(i, j, SIDE_COLORS[limb_side(spec, (i, j))]) for i, j in spec.skeleton]
    dots = [SIDE_COLORS[joint_side(name)] for name in spec.names]
    for n, (person, visible) in enumerate(zip(joints, shown, strict=True)):
        own = None if colors is None else tuple(colors[n])
        for i, j, color in limbs:
            if visible[i] and visible[j]:
                draw.line([tuple(person[i]), tuple(person[j])], fill=own or color, width=lw)
        joint_colors = dots if own is None else [own] * len(dots)
        for (x, y), color, show in zip(person, joint_colors, visible, strict=True):
            if show:
                box = [x - radius, y - radius, x + radius, y + radius]
                draw.ellipse(box, fill=color, outline=(0, 0, 0))
    return canvas
