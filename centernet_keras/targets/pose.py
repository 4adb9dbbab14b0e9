"""Multi-person pose training targets (CenterNet ``multi_pose``) in TensorFlow ops.

Reproduces the target construction of xingyizhou/CenterNet
``src/lib/datasets/sample/multi_pose.py`` (see ``tests/data/reference/README.md``, section 10) with
per-axis map sizes (non-square maps) and without a Python loop over people, so
:func:`encode_pose_targets` runs inside ``tf.data.Dataset.map`` as well as eagerly. The box part
(clipping, radius, centre, index, gaussians) is shared with :func:`encode_targets`.
"""

from typing import Any

import tensorflow as tf

from centernet_keras.targets.centernet import (
    _box_radius,
    _clipped_centres,
    _draw_heatmaps,
    _flat_index,
    _output_size,
    _pad_slots,
)


def encode_pose_targets(
    boxes: Any,
    keypoints: Any,
    image_size: tuple[int, int],
    max_objects: int = 32,
    stride: int = 4,
    point_radius: int = 3,
    reference_clip: bool = False,
) -> dict[str, tf.Tensor]:
    """Build the CenterNet multi-person pose targets of one image on the stride-``stride`` map.

    Slot ``k`` belongs to input row ``k`` (only the first ``max_objects`` rows are read); a skipped
    row leaves its slot zero. A row is skipped when its box is all ``-1`` (padding) or when, after
    clipping to the output map (x to ``[0, W_out]``, y to ``[0, H_out]``; the reference, with
    ``reference_clip``: ``W_out − 1``, ``H_out − 1``), it has no positive width and height. A box
    that is a single point (``x1 == x2`` and ``y1 == y2``) inside the input image (``0 ≤ x < W``,
    ``0 ≤ y < H``) is kept instead, with radius ``point_radius`` and size ``(0, 0)``; the
    reference skips such rows, it has no point people.

    For a kept person (reference semantics):

    * the centre gaussian (radius from the clipped box) is drawn on ``heatmap``, and ``size``,
      ``offset`` and ``indices`` are written;
    * ``mask`` is 1 only if the person has at least one labelled joint (``v > 0``), wherever
      its joints are; a person with none still gets its centre gaussian (peak 1.0: the
      reference's 0.9999 is drawn over). The training pipeline passes ``v`` as annotated
      (``warp_keypoints`` keeps it for joints the crop moved off the canvas), so, as in the
      reference (``num_kpts`` is counted before the affine), a person whose labelled joints
      were all cut off keeps ``mask`` 1 (box size and offset trained) with no joint targets;
    * a labelled joint ``(x, y)`` (output-map pixels) is kept iff ``0 ≤ x < W_out`` and
      ``0 ≤ y < H_out`` (strict upper bounds, no clipping). It gives ``keypoints`` = joint minus the
      integer centre, ``keypoint_mask`` 1 for both coordinates, and in row ``k · J + j`` of the
      flat joint arrays its sub-pixel offset, its flat index and ``keypoint_offset_mask`` 1; a
      gaussian with the person's radius is drawn on channel ``j`` of ``keypoint_heatmap``.

    v = 1 and v = 2 are treated the same.

    Args:
        boxes: ``[N, 4]`` float ``[x1, y1, x2, y2]`` in input pixels; all ``-1`` for padding rows.
            ``N`` may be 0 or dynamic.
        keypoints: ``[N, J, 3]`` float ``(x, y, v)`` in input pixels, ``v = 0`` for an unlabelled
            joint. ``J`` (e.g. 17 for COCO) must be static.
        image_size: ``(height, width)`` of the network input, Python ints divisible by ``stride``.
        max_objects: Number of person slots ``M``.
        stride: Output stride of the network.
        point_radius: Gaussian radius (centre and joints) of a person whose box is a point.
        reference_clip: clip boxes to ``[0, W_out − 1]`` as ``multi_pose.py`` (see
            ``targets.centernet._clipped_centres``: off, a person touching the right edge keeps
            its size and the flip test sees one centre).

    Returns:
        A dict of ``heatmap`` float32 ``[H_out, W_out, 1]``; ``size`` float32 ``[M, 2]`` (w, h);
        ``offset`` float32 ``[M, 2]``; ``indices`` int32 ``[M]`` (``y · W_out + x``); ``mask``
        float32 ``[M]``; ``keypoints`` float32 ``[M, 2J]`` (``x0, y0, x1, …`` relative to the
        integer centre); ``keypoint_mask`` float32 ``[M, 2J]``; ``keypoint_heatmap`` float32
        ``[H_out, W_out, J]``; ``keypoint_offset`` float32 ``[M·J, 2]``; ``keypoint_indices``
        int32 ``[M·J]``; ``keypoint_offset_mask`` float32 ``[M·J]``.

    Raises:
        ValueError: If ``image_size`` is not divisible by ``stride`` or ``J`` is not static.
    """
    out_h, out_w = _output_size(image_size, stride)
    keypoints = tf.convert_to_tensor(keypoints, tf.float32)
    num_joints = keypoints.shape[-2] if keypoints.shape.rank else None
    if num_joints is None:
        raise ValueError(f"keypoints must have a static [N, J, 3] shape, got {keypoints.shape}")

    boxes = tf.reshape(tf.cast(boxes, tf.float32), [-1, 4])[:max_objects]  # [n, 4]
    keypoints = tf.reshape(keypoints, [-1, num_joints, 3])[:max_objects]  # [n, J, 3]
    n = tf.shape(boxes)[0]

    cx_in = (boxes[:, 0] + boxes[:, 2]) / 2
    cy_in = (boxes[:, 1] + boxes[:, 3]) / 2
    inside_image = (cx_in >= 0) & (cx_in < out_w * stride) & (cy_in >= 0) & (cy_in < out_h * stride)
    is_point = (boxes[:, 0] == boxes[:, 2]) & (boxes[:, 1] == boxes[:, 3]) & inside_image

    size, ct, ct_int = _clipped_centres(boxes / stride, out_h, out_w, reference_clip)
    w, h = size[:, 0], size[:, 1]
    valid = is_point | ((h > 0) & (w > 0))  # [n]; an all −1 padding row is neither
    radius = tf.where(is_point, tf.constant(point_radius, tf.int32), _box_radius(h, w))  # [n]
    heatmap = _draw_heatmaps(ct_int, radius, tf.where(valid, 0, 1), 1, out_h, out_w)

    labelled = keypoints[:, :, 2] > 0  # [n, J]
    mask = valid & tf.reduce_any(labelled, axis=1)  # [n]
    keep = valid[:, None]
    zeros2 = tf.zeros_like(ct)
    box_size = tf.where(keep & ~is_point[:, None], size, zeros2)  # [n, 2]
    offset = tf.where(keep, ct - tf.cast(ct_int, tf.float32), zeros2)  # [n, 2]
    indices = tf.where(valid, _flat_index(ct_int, out_w), 0)  # [n]

    # Joints in output-map pixels; kept iff labelled, of a kept person and inside the map.
    pts = keypoints[:, :, :2] / stride  # [n, J, 2]
    px, py = pts[:, :, 0], pts[:, :, 1]
    joint = labelled & keep & (px >= 0) & (px < out_w) & (py >= 0) & (py < out_h)  # [n, J]
    joint2 = joint[:, :, None]
    pts = tf.where(joint2, pts, tf.zeros_like(pts))  # dropped joints → (0, 0), not drawn
    pt_int = tf.cast(pts, tf.int32)  # truncation; kept joints are non-negative
    relative = tf.where(joint2, pts - tf.cast(ct_int, tf.float32)[:, None, :], 0.0)
    joint_offset = pts - tf.cast(pt_int, tf.float32)  # zero for dropped joints
    joint_index = tf.where(joint, _flat_index(pt_int, out_w), 0)  # [n, J]
    channel = tf.where(joint, tf.range(num_joints)[None, :], num_joints)  # [n, J]
    joint_radius = tf.broadcast_to(radius[:, None], [n, num_joints])
    keypoint_heatmap = _draw_heatmaps(
        tf.reshape(pt_int, [-1, 2]),
        tf.reshape(joint_radius, [-1]),
        tf.reshape(channel, [-1]),
        num_joints,
        out_h,
        out_w,
    )

    joint_slots = max_objects * num_joints
    coord_mask = tf.repeat(tf.cast(joint, tf.float32), 2, axis=1)  # [n, 2J], x and y
    return {
        "heatmap": heatmap,
        "size": _pad_slots(box_size, max_objects),
        "offset": _pad_slots(offset, max_objects),
        "indices": _pad_slots(indices, max_objects),
        "mask": _pad_slots(tf.cast(mask, tf.float32), max_objects),
        "keypoints": _pad_slots(tf.reshape(relative, [-1, 2 * num_joints]), max_objects),
        "keypoint_mask": _pad_slots(coord_mask, max_objects),
        "keypoint_heatmap": keypoint_heatmap,
        "keypoint_offset": _pad_slots(tf.reshape(joint_offset, [-1, 2]), joint_slots),
        "keypoint_indices": _pad_slots(tf.reshape(joint_index, [-1]), joint_slots),
        "keypoint_offset_mask": _pad_slots(
            tf.reshape(tf.cast(joint, tf.float32), [-1]), joint_slots
        ),
    }
