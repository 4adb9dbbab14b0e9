"""MOTChallenge lines: tracks.txt written as frame, id, x, y, w, h, score, -1, -1, -1 and read
back; ground truth with its visibility; the per-track counts."""

import numpy as np

from centernet_keras.tracking import TrackCounts, TrackedObject, read_mot, track_lines, write_lines
from centernet_keras.tracking.mot import ground_truth_line


def _object(track_id, box, score=0.875, name="cat"):
    return TrackedObject(track_id, np.array(box, np.float32), 0, name, score, 0)


def test_tracks_file_is_motchallenge_and_reads_back(tmp_path):
    lines = track_lines(1, [_object(3, [10, 20, 40, 60])]) + track_lines(2, [])
    lines += track_lines(7, [_object(3, [11.5, 20, 41.5, 60]), _object(4, [0, 0, 5, 5], 0.5)])
    assert lines[0] == "1,3,10.00,20.00,30.00,40.00,0.8750,-1,-1,-1"
    write_lines(tmp_path / "tracks.txt", lines)
    read = read_mot(tmp_path / "tracks.txt")
    assert sorted(read) == [1, 7]
    ids, boxes, visibility = read[7]
    assert ids.tolist() == [3, 4] and visibility.tolist() == [1.0, 1.0]
    np.testing.assert_allclose(boxes[0], [11.5, 20, 41.5, 60])
    gt = ground_truth_line(2, 5, (1, 2, 11, 22), 0, 0.25)
    assert gt == "2,5,1.00,2.00,10.00,20.00,1,1,0.250"
    write_lines(tmp_path / "gt.txt", [gt])
    assert read_mot(tmp_path / "gt.txt")[2][2].tolist() == [0.25]


def test_counts_tracks_per_class_and_frames_per_track():
    counts = TrackCounts()
    counts.add([_object(1, [0, 0, 1, 1]), _object(2, [0, 0, 1, 1], name="dog")])
    counts.add([_object(1, [0, 0, 1, 1])])
    assert counts.tracks_per_class() == {"cat": 1, "dog": 1}
    assert counts.lines() == [
        "2 track(s) in 2 frame(s)", "cat: 1 track(s)", "dog: 1 track(s)",
        "track 1 (cat): 2 frame(s)", "track 2 (dog): 1 frame(s)",
    ]  # fmt: skip
