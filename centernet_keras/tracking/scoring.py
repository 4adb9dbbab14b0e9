"""Tracks scored against ground truth with ``motmetrics`` (CLEAR MOT and identity metrics).

``motmetrics`` is a ``dev`` extra (``pip install -e .[dev]``), imported when scoring. The
distances it matches on are ``1 − IoU`` from ``boxes.iou_matrix`` (motmetrics 1.4's own
``iou_matrix`` calls ``np.asfarray``, gone in NumPy 2); pairs under ``min_iou`` never match.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from centernet_keras.boxes import iou_matrix

#: The metrics ``score_tracks`` reports (motmetrics names).
METRICS = ("idf1", "mota", "num_switches", "precision", "recall", "num_unique_objects",
           "mostly_tracked", "num_false_positives", "num_misses", "num_fragmentations")  # fmt: skip
_EMPTY = (np.zeros(0, np.int64), np.zeros((0, 4)), np.zeros(0))

Frames = dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]


def _drop_ignored(truth, tracks, min_iou: float, min_visibility: float):
    """MOTChallenge's preprocessing: objects less visible than ``min_visibility`` are left
    out, and so are the tracks that match them (IoU ≥ ``min_iou``, one to one), neither a miss
    nor a false positive."""
    ids, boxes, visibility = truth
    track_ids, track_boxes = tracks[:2]
    ignored = visibility < min_visibility
    if ignored.any() and len(track_ids):
        iou = iou_matrix(boxes, track_boxes)
        rows, cols = linear_sum_assignment(-iou)
        hit = (iou[rows, cols] >= min_iou) & ignored[rows]
        keep = np.ones(len(track_ids), bool)
        keep[cols[hit]] = False
        track_ids, track_boxes = track_ids[keep], track_boxes[keep]
    return (ids[~ignored], boxes[~ignored]), (track_ids, track_boxes)


def score_tracks(
    truth: Frames, tracks: Frames, min_iou: float = 0.5, min_visibility: float = 0.0
) -> dict[str, float]:
    """IDF1, MOTA, ID switches and the other :data:`METRICS` of ``tracks`` against ``truth``.

    Args:
        truth, tracks: ``{frame: (ids [N], boxes [N, 4] [x1, y1, x2, y2], visibility [N])}``
            (``mot.read_mot``); every frame of either is scored.
        min_iou: the IoU a track must reach to match an object (0.5, MOTChallenge's).
        min_visibility: objects less visible are ignored (see ``_drop_ignored``).

    Returns:
        ``{metric: value}`` (counts as floats).
    """
    import motmetrics  # a dev extra: only where tracks are scored

    accumulator = motmetrics.MOTAccumulator(auto_id=True)
    for frame in sorted(set(truth) | set(tracks)):
        (true_ids, true_boxes), (ids, boxes) = _drop_ignored(
            truth.get(frame, _EMPTY), tracks.get(frame, _EMPTY), min_iou, min_visibility
        )
        distance = 1.0 - iou_matrix(true_boxes, boxes)
        distance[distance > 1.0 - min_iou] = np.nan  # motmetrics: nan = may not match
        accumulator.update(true_ids.tolist(), ids.tolist(), distance)
    summary = motmetrics.metrics.create().compute(accumulator, metrics=list(METRICS))
    return {name: float(summary[name].iloc[0]) for name in METRICS}
