"""Multi-object tracking: detections → tracks with stable ids, frame by frame.

- ``tracker``: ``Tracker`` (ByteTrack-style two-stage association, Kalman motion, IoU) and
  the ``TrackedObject`` s it returns each frame;
- ``kalman``: the constant-velocity box filter;
- ``mot``: MOTChallenge ``tracks.txt`` / ``gt.txt`` lines, written and read;
- ``counts``: tracks per class, frames per track;
- ``scoring``: IDF1 / MOTA / ID switches against ground truth (``motmetrics``, a dev extra).
"""

from centernet_keras.tracking.counts import TrackCounts
from centernet_keras.tracking.mot import ground_truth_line, read_mot, track_lines, write_lines
from centernet_keras.tracking.scoring import score_tracks
from centernet_keras.tracking.tracker import TrackedObject, Tracker

__all__ = [
    "TrackCounts",
    "TrackedObject",
    "Tracker",
    "ground_truth_line",
    "read_mot",
    "score_tracks",
    "track_lines",
    "write_lines",
]
