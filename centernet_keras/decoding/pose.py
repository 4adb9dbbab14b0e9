"""Multi-person pose decoding (reference ``multi_pose_decode``) in ``keras.ops``.

Pipeline: the person boxes of :func:`~.centernet.decode_centernet` (peak keep → top-K → centre +
offset ± size/2); each person's joints are regressed from its peak cell (``cell + keypoints``,
the cell's integer position, without the centre offset). With a joint heatmap, each joint is
then snapped to the nearest of the top-K peaks of that joint's (peak-kept) heatmap, moved by
the joint offset (``None`` → + 0.5), when that peak

- scores above ``keypoint_threshold`` (reference: 0.1),
- lies inside the person's box (borders included), and
- is at most ``0.3 · max(box h, box w)`` from the regressed joint;

otherwise the regressed joint stays. With ``iou_threshold`` set, class-wise greedy NMS over the
person boxes follows (the reference has none: the default). Everything is in output-map cells
until the final ``× stride``. Rows are padded with ``-1`` after the valid ones, as
``decode_centernet`` pads.
"""

from __future__ import annotations

from collections.abc import Mapping

import keras
from keras import ops

from centernet_keras.decoder_defaults import KEYPOINT_THRESHOLD  # a joint's peak scores above
from centernet_keras.decoding.base import Decoder
from centernet_keras.decoding.centernet import (
    box_peaks,
    gather_at,
    peak_keep,
    topk_peaks,
    valid_rows,
)
from centernet_keras.decoding.common import class_nms, compact_rows
from centernet_keras.gather import take_rows

SNAP_RADIUS = 0.3  # a snapped peak is at most SNAP_RADIUS · max(box h, w) from the joint


def _joint_peaks(
    keypoint_heatmap: keras.KerasTensor, keypoint_offset: keras.KerasTensor | None, k: int
) -> tuple[keras.KerasTensor, keras.KerasTensor]:
    """Top-``k`` peaks of each joint's heatmap (ref. ``_topk_channel``) with their offsets.

    Args:
        keypoint_heatmap: Joint probabilities ``[B, H, W, J]``.
        keypoint_offset: Joint offset ``(dx, dy)`` ``[B, H, W, 2]`` or ``None`` (+ 0.5).
        k: Peaks per joint.

    Returns:
        ``scores [B, J, k]`` float32 (``-inf`` for rows padding a map smaller than ``k``) and
        ``positions [B, J, k, 2]`` float32 ``(x, y)`` on the output map.
    """
    num_joints = int(keypoint_heatmap.shape[-1])
    shape = ops.shape(keypoint_heatmap)
    batch, height, width = shape[0], shape[1], shape[2]
    # Each joint channel is one single-class heatmap: fold the joints into the batch.
    per_joint = ops.transpose(peak_keep(keypoint_heatmap), (0, 3, 1, 2))  # [B, J, H, W]
    per_joint = ops.reshape(per_joint, (-1, height, width, 1))  # [B*J, H, W, 1]
    scores, spatial, _, _ = topk_peaks(per_joint, k)  # [B*J, k]
    spatial = ops.reshape(spatial, (batch, num_joints * k))
    xs = ops.cast(spatial % ops.cast(width, "int32"), "float32")
    ys = ops.cast(spatial // ops.cast(width, "int32"), "float32")
    if keypoint_offset is None:
        xs, ys = xs + 0.5, ys + 0.5
    else:
        off = gather_at(keypoint_offset, spatial)  # [B, J*k, 2]
        xs, ys = xs + off[..., 0], ys + off[..., 1]
    positions = ops.reshape(ops.stack([xs, ys], axis=-1), (batch, num_joints, k, 2))
    return ops.reshape(scores, (batch, num_joints, k)), positions


def _snap(
    joints: keras.KerasTensor,
    boxes: keras.KerasTensor,
    peak_scores: keras.KerasTensor,
    peak_positions: keras.KerasTensor,
    threshold: float,
) -> tuple[keras.KerasTensor, keras.KerasTensor]:
    """Snap regressed joints to their nearest joint-heatmap peak (see the module doc).

    Args:
        joints: Regressed joints ``[B, K, J, 2]``.
        boxes: Person boxes ``[B, K, 4]`` xyxy.
        peak_scores: ``[B, J, P]``.
        peak_positions: ``[B, J, P, 2]``.
        threshold: A peak must score above it.

    Returns:
        ``joints [B, K, J, 2]`` and ``scores [B, K, J]``: the peak's score where snapped, else 0.
    """
    above = peak_scores > threshold  # [B, J, P]
    # As the reference: peaks at or below the threshold are moved far away.
    positions = ops.where(ops.expand_dims(above, -1), peak_positions, -10000.0)
    diff = ops.expand_dims(joints, 3) - ops.expand_dims(positions, 1)  # [B, K, J, P, 2]
    dist = ops.sqrt(ops.sum(diff * diff, axis=-1))  # [B, K, J, P]
    min_dist = ops.min(dist, axis=-1)  # [B, K, J]
    # The first nearest peak (argmin's choice) by an int argmax: Keras's float argmin/argmax
    # bitcast for −0.0, which TFLite and ONNX cannot run.
    is_min = ops.cast(dist <= ops.expand_dims(min_dist, -1), "int32")
    nearest = ops.reshape(ops.argmax(is_min, axis=-1), (-1, 1))  # [B·K·J, 1]
    num_peaks = ops.shape(dist)[-1]
    score = ops.where(above, peak_scores, -1.0)
    score = ops.broadcast_to(ops.expand_dims(score, 1), ops.shape(dist))  # [B, K, J, P]
    score = take_rows(ops.reshape(score, (-1, num_peaks)), nearest)  # [B·K·J, 1]
    score = ops.reshape(score, ops.shape(min_dist))  # [B, K, J]
    snapped = ops.broadcast_to(ops.expand_dims(positions, 1), ops.shape(diff))  # [B, K, J, P, 2]
    snapped = take_rows(ops.reshape(snapped, (-1, num_peaks, 2)), nearest)  # [B·K·J, 1, 2]
    snapped = ops.reshape(snapped, ops.shape(joints))  # [B, K, J, 2]
    x1, y1, x2, y2 = (ops.expand_dims(boxes[..., i], -1) for i in range(4))  # [B, K, 1]
    sx, sy = snapped[..., 0], snapped[..., 1]
    inside_x = ops.logical_and(sx >= x1, sx <= x2)
    inside = ops.logical_and(inside_x, ops.logical_and(sy >= y1, sy <= y2))
    near = min_dist <= ops.maximum(y2 - y1, x2 - x1) * SNAP_RADIUS
    use = ops.logical_and(ops.logical_and(inside, near), score >= threshold)  # [B, K, J]
    joints = ops.where(ops.expand_dims(use, -1), snapped, joints)
    return joints, ops.where(use, score, 0.0)


def decode_pose(
    heatmap: keras.KerasTensor,
    size: keras.KerasTensor,
    offset: keras.KerasTensor | None,
    keypoints: keras.KerasTensor,
    keypoint_heatmap: keras.KerasTensor | None = None,
    keypoint_offset: keras.KerasTensor | None = None,
    max_detections: int = 100,
    score_threshold: float = 0.0,
    keypoint_threshold: float = KEYPOINT_THRESHOLD,
    stride: int = 4,
    iou_threshold: float | None = None,
) -> dict[str, keras.KerasTensor]:
    """Decode CenterNet ``multi_pose`` head outputs into padded per-image people.

    Args:
        heatmap: Person (class) probabilities ``[B, H, W, C]``; ``H, W`` may be dynamic.
        size: ``(w, h)`` on the output map ``[B, H, W, 2]``.
        offset: Sub-pixel centre offset ``[B, H, W, 2]``; ``None`` → centre + 0.5.
        keypoints: Joint displacements from the peak cell ``[B, H, W, 2J]``, laid out
            ``x0, y0, x1, y1, …`` (``J`` static).
        keypoint_heatmap: Joint probabilities ``[B, H, W, J]``; ``None`` → regressed joints only.
        keypoint_offset: Joint sub-pixel offset ``[B, H, W, 2]``; ``None`` → peak + 0.5.
        max_detections: ``K``, rows per image, also the number of peaks per joint heatmap.
        score_threshold: People with ``score >= score_threshold`` are valid (non-peaks never).
        keypoint_threshold: A joint-heatmap peak must score above it to be snapped to.
        stride: Output-map stride; boxes and joints are multiplied by it.
        iou_threshold: Class-wise greedy NMS IoU over the person boxes, or ``None`` (the
            reference: no NMS).

    Returns:
        ``boxes [B, K, 4]`` float32 xyxy input pixels, ``scores [B, K]`` float32, ``classes
        [B, K]`` int32, ``keypoints [B, K, J, 2]`` float32 ``(x, y)`` input pixels,
        ``keypoint_scores [B, K, J]`` float32 (the snapped peak's score, 0 for a regressed joint;
        the person's score when there is no ``keypoint_heatmap``) and ``num_detections [B]``
        int32. Valid rows come first, sorted by score; the rest are ``-1``.
    """
    k = int(max_detections)
    num_joints = int(keypoints.shape[-1]) // 2
    scores, spatial, classes, grid_x, grid_y, boxes = box_peaks(heatmap, size, offset, k)
    shape = ops.shape(spatial)
    joints = ops.reshape(gather_at(keypoints, spatial), (shape[0], shape[1], num_joints, 2))
    joints = joints + ops.expand_dims(ops.stack([grid_x, grid_y], axis=-1), 2)  # [B, K, J, 2]
    if keypoint_heatmap is None:
        joint_scores = ops.repeat(ops.expand_dims(scores, -1), num_joints, axis=-1)
    else:
        peak_scores, peak_positions = _joint_peaks(keypoint_heatmap, keypoint_offset, k)
        joints, joint_scores = _snap(
            joints, boxes, peak_scores, peak_positions, float(keypoint_threshold)
        )
    boxes = boxes * float(stride)  # input pixels, as decode_centernet's NMS sees them
    valid = valid_rows(scores, classes, score_threshold)  # [B, K]
    if iou_threshold is not None:
        valid = class_nms(boxes, classes, valid, float(iou_threshold))
    boxes, scores, classes, joints, joint_scores = compact_rows(
        valid, boxes, scores, classes, joints * float(stride), joint_scores
    )
    return {
        "boxes": boxes,
        "scores": scores,
        "classes": ops.cast(classes, "int32"),
        "keypoints": joints,
        "keypoint_scores": joint_scores,
        "num_detections": ops.sum(ops.cast(valid, "int32"), axis=1),
    }


@keras.saving.register_keras_serializable(package="centernet_keras")
class PoseDecoder(Decoder):
    """CenterNet multi-person pose (``decode_pose``).

    Args:
        max_detections: people per image (``K``), also the peaks taken per joint heatmap.
        score_threshold: people scored below it are padding.
        keypoint_threshold: a joint-heatmap peak must score above it to be snapped to.
        stride: output-map stride (map cells → input pixels).
        iou_threshold: class-wise greedy NMS IoU over the person boxes, or ``None`` (the
            default, as the reference: no NMS).

    Call: ``{"heatmap" [B, H, W, C], "size" [B, H, W, 2], "offset" [B, H, W, 2], "keypoints"
    [B, H, W, 2J], "keypoint_heatmap" [B, H, W, J], "keypoint_offset" [B, H, W, 2]}`` (heatmaps
    as probabilities; ``offset``, ``keypoint_heatmap`` and ``keypoint_offset`` may be missing)
    → ``{"boxes" [B, K, 4], "scores" [B, K], "classes" [B, K], "keypoints" [B, K, J, 2],
    "keypoint_scores" [B, K, J], "num_detections" [B]}``.
    """

    def __init__(
        self,
        max_detections: int = 100,
        score_threshold: float = 0.0,
        keypoint_threshold: float = KEYPOINT_THRESHOLD,
        stride: int = 4,
        iou_threshold: float | None = None,
        **kwargs,
    ):
        super().__init__(max_detections, score_threshold, iou_threshold, stride, **kwargs)
        self.keypoint_threshold = float(keypoint_threshold)

    def get_config(self) -> dict:
        return {**super().get_config(), "keypoint_threshold": self.keypoint_threshold}

    def call(self, maps: Mapping[str, keras.KerasTensor]) -> dict[str, keras.KerasTensor]:
        return decode_pose(
            maps["heatmap"],
            maps["size"],
            maps.get("offset"),
            maps["keypoints"],
            maps.get("keypoint_heatmap"),
            maps.get("keypoint_offset"),
            max_detections=self.max_detections,
            score_threshold=self.score_threshold,
            keypoint_threshold=self.keypoint_threshold,
            stride=self.stride,
            iou_threshold=self.iou_threshold,
        )
