"""``Tracker``: detections → tracks, frame by frame, ByteTrack's association (Zhang et al. 2022).

Each frame, every track's box is predicted by a constant-velocity Kalman filter
(``tracking.kalman``), then matched to the frame's detections by IoU, one to one
(``scipy.optimize.linear_sum_assignment``), only within a class:

1. the followed and the recently lost tracks against the high-score detections
   (``score ≥ high_threshold``), a match needing IoU ≥ ``1 − match_cost``;
2. the followed tracks still unmatched against the low-score detections
   (``low_threshold ≤ score < high_threshold``: an occluded object's weak detection keeps its
   track), IoU ≥ 0.5;
3. the tracks born last frame (not yet confirmed) against the high-score detections left,
   IoU ≥ 0.3; an unconfirmed track left unmatched is dropped.

A followed track left unmatched is lost: it is kept, predicted on, for ``lost_frames`` frames
and found again by step 1; a high-score detection left over (``score ≥ new_threshold``) starts
a new track. Low-score detections never start one. A pose model's people keep their joints on
the track (a skeleton keeps its id).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from centernet_keras.boxes import iou_matrix
from centernet_keras.detections import Detections
from centernet_keras.tracking.kalman import KalmanFilter, xyah_to_xyxy, xyxy_to_xyah


@dataclass(frozen=True)
class TrackedObject:
    """One track in one frame (what ``Tracker.update`` returns).

    Attributes:
        track_id: the track's id (1, 2, … in the order tracks are confirmed; never reused).
        box: ``[4]`` float32 ``[x1, y1, x2, y2]``, the Kalman-filtered box, image pixels.
        class_id, class_name: the track's class (a track only takes detections of it).
        score: its detection's score in this frame.
        detection: the index of its detection in the frame's ``Detections``.
        keypoints: pose models: ``[J, 2]`` float32 joints of its detection, else ``None``.
        keypoint_scores: pose models: ``[J]`` float32, else ``None``.
    """

    track_id: int
    box: np.ndarray
    class_id: int
    class_name: str
    score: float
    detection: int
    keypoints: np.ndarray | None = None
    keypoint_scores: np.ndarray | None = None


@dataclass
class _Track:
    track_id: int  # 0 until confirmed
    class_id: int
    class_name: str
    mean: np.ndarray
    cov: np.ndarray
    confirmed: bool = False
    lost: bool = False  # unmatched since last_frame, kept for lost_frames frames
    last_frame: int = 0  # the last frame it was matched in

    def box(self) -> np.ndarray:
        return xyah_to_xyxy(self.mean)


@dataclass
class Tracker:
    """ByteTrack-style multi-object tracker (see the module docstring).

    Attributes:
        high_threshold: detections scoring at least this are matched first and may start
            tracks.
        low_threshold: detections below it are ignored; between the two they only continue a
            followed track (step 2).
        new_threshold: a leftover high-score detection starts a track from this score (default
            ``high_threshold + 0.1``, ByteTrack's).
        match_cost: the largest ``1 − IoU`` of a step 1 match.
        lost_frames: frames a lost track is kept to be found again.
    """

    high_threshold: float = 0.5
    low_threshold: float = 0.1
    new_threshold: float | None = None
    match_cost: float = 0.8
    lost_frames: int = 30
    frame: int = 0
    _tracks: list[_Track] = field(default_factory=list, repr=False)
    _next_id: int = field(default=1, repr=False)
    _kalman: KalmanFilter = field(default_factory=KalmanFilter, repr=False)

    def update(self, detections: Detections) -> list[TrackedObject]:
        """Add one frame's detections; return the confirmed tracks matched in it, by id.

        Args:
            detections: the frame's ``Detections`` (any score; see the thresholds).

        Returns:
            The frame's ``TrackedObject`` s, sorted by ``track_id``; the first frame's
            high-score detections are confirmed at once, later new tracks one frame after
            they start (when matched again).
        """
        self.frame += 1
        boxes = np.asarray(detections.boxes, np.float64).reshape(-1, 4)
        scores = np.asarray(detections.scores, np.float64).reshape(-1)
        classes = np.asarray(detections.class_ids, np.int64).reshape(-1)
        for track in self._tracks:
            if track.lost:
                track.mean[7] = 0.0  # a lost box keeps its height (ByteTrack's)
            track.mean, track.cov = self._kalman.predict(track.mean, track.cov)
        high = np.flatnonzero(scores >= self.high_threshold)
        low = np.flatnonzero((scores >= self.low_threshold) & (scores < self.high_threshold))
        followed = [t for t in self._tracks if t.confirmed and not t.lost]
        lost = [t for t in self._tracks if t.confirmed and t.lost]
        unconfirmed = [t for t in self._tracks if not t.confirmed]
        matched: dict[int, _Track] = {}  # detection index → track

        pairs, pool, high = self._match(followed + lost, high, boxes, classes, self.match_cost)
        matched.update(pairs)
        pairs, followed_left, _ = self._match(
            [t for t in pool if not t.lost], low, boxes, classes, 0.5
        )
        matched.update(pairs)
        pairs, dropped, high = self._match(unconfirmed, high, boxes, classes, 0.7)
        matched.update(pairs)
        for index, track in matched.items():
            track.mean, track.cov = self._kalman.update(
                track.mean, track.cov, xyxy_to_xyah(boxes[index])
            )
            if not track.confirmed:
                self._confirm(track)
            track.lost, track.last_frame = False, self.frame
        for track in followed_left:
            track.lost = True
        gone = {id(t) for t in dropped}
        gone |= {id(t) for t in self._tracks if t.lost and self._expired(t)}
        self._tracks = [t for t in self._tracks if id(t) not in gone]
        new_threshold = (
            self.high_threshold + 0.1 if self.new_threshold is None else self.new_threshold
        )
        for index in high:
            if scores[index] >= new_threshold:
                self._start(boxes[index], int(classes[index]), detections.class_names[index])
                matched[int(index)] = self._tracks[-1]
        return self._frame_objects(matched, detections)

    def _expired(self, track: _Track) -> bool:
        return self.frame - track.last_frame > self.lost_frames

    def _start(self, box: np.ndarray, class_id: int, class_name: str) -> None:
        mean, cov = self._kalman.initiate(xyxy_to_xyah(box))
        track = _Track(0, class_id, class_name, mean, cov, last_frame=self.frame)
        if self.frame == 1:
            self._confirm(track)
        self._tracks.append(track)

    def _confirm(self, track: _Track) -> None:
        """Confirm a track and give it the next id (a track dropped unconfirmed takes none)."""
        track.confirmed, track.track_id = True, self._next_id
        self._next_id += 1

    @staticmethod
    def _match(
        tracks: list[_Track],
        indices: np.ndarray,
        boxes: np.ndarray,
        classes: np.ndarray,
        max_cost: float,
    ) -> tuple[dict[int, _Track], list[_Track], np.ndarray]:
        """Match ``tracks`` to the detections ``indices`` by ``1 − IoU`` (≤ ``max_cost``, same
        class only): ``({detection index: track}, tracks left, detection indices left)``."""
        if not tracks or not len(indices):
            return {}, list(tracks), indices
        predicted = np.stack([t.box() for t in tracks])
        cost = 1.0 - iou_matrix(predicted, boxes[indices])  # [T, D]
        track_classes = np.array([t.class_id for t in tracks])
        cost[track_classes[:, None] != classes[indices][None]] = 1.0 + max_cost  # never
        rows, cols = linear_sum_assignment(cost)
        keep = cost[rows, cols] <= max_cost
        pairs = {int(indices[c]): tracks[r] for r, c in zip(rows[keep], cols[keep], strict=True)}
        used_rows = set(rows[keep].tolist())
        left_tracks = [t for i, t in enumerate(tracks) if i not in used_rows]
        left = np.array([i for i in indices if int(i) not in pairs], np.int64)
        return pairs, left_tracks, left

    def _frame_objects(
        self, matched: dict[int, _Track], detections: Detections
    ) -> list[TrackedObject]:
        joints, joint_scores = detections.keypoints, detections.keypoint_scores
        objects = [
            TrackedObject(
                track_id=track.track_id,
                box=track.box().astype(np.float32),
                class_id=track.class_id,
                class_name=track.class_name,
                score=float(detections.scores[index]),
                detection=index,
                keypoints=None if joints is None else np.asarray(joints[index], np.float32),
                keypoint_scores=(
                    None if joint_scores is None else np.asarray(joint_scores[index], np.float32)
                ),
            )
            for index, track in matched.items()
            if track.confirmed
        ]
        return sorted(objects, key=lambda o: o.track_id)
