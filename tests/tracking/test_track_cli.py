"""``centernet track`` on a tiny synthetic clip with a tiny untrained model: the annotated
video or frames, tracks.txt in the MOTChallenge format, the counts; bad input is one line."""

import re

import cv2
import pytest
from helpers import save_tiny_centernet

from centernet_keras.commands.track import main
from centernet_keras.data.synthetic import SHAPE_CLASSES
from centernet_keras.data.synthetic_video import write_video

MOT_LINE = re.compile(r"^(\d+),(\d+),(-?[\d.]+,){4}[\d.]+,-1,-1,-1$")
#: An untrained head scores about 0.1 everywhere: thresholds under it give tracks.
LOW = ["--score-threshold", "0.05", "--high-threshold", "0.08", "--new-threshold", "0.09"]
LOW += ["--no-progress"]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "tiny.keras"
    return save_tiny_centernet(path, 16, 8, SHAPE_CLASSES)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    out = tmp_path_factory.mktemp("clip")
    video, _ = write_video(out, "shapes", 4, seed=0, size=(96, 72))
    frames, _ = write_video(out, "shapes", 3, seed=0, size=(96, 72), as_frames=True)
    return video, frames


@pytest.mark.slow
def test_track_writes_the_video_the_tracks_and_the_counts(model, clip, tmp_path, capsys):
    video, frames = clip
    argv = ["--model", str(model), "--input", str(video), "--output", str(tmp_path)]
    assert main([*argv, *LOW]) == 0
    out = capsys.readouterr().out
    assert "track(s) in 4 frame(s)" in out and "4 frames at" in out
    capture = cv2.VideoCapture(str(tmp_path / "shapes.mp4"))
    shapes = []
    ok, frame = capture.read()
    while ok:
        shapes.append(frame.shape)
        ok, frame = capture.read()
    assert shapes == [(72, 96, 3)] * 4
    lines = (tmp_path / "tracks.txt").read_text().splitlines()
    assert lines and all(MOT_LINE.match(line) for line in lines), lines[:3]
    assert {int(line.split(",")[0]) for line in lines} <= {1, 2, 3, 4}
    argv = ["--model", str(model), "--input", str(frames), "--output", str(tmp_path / "f")]
    assert main([*argv, *LOW, "--max-frames", "2"]) == 0
    assert sorted(p.name for p in (tmp_path / "f" / frames.name).iterdir()) == [
        "000001.png", "000002.png",
    ]  # fmt: skip
    assert "track(s) in 2 frame(s)" in capsys.readouterr().out


def test_bad_input_is_one_line_and_exit_2(clip, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.mp4").write_text("not a video")
    for source, words in (
        (tmp_path / "missing.mp4", "no such video file or folder"),
        (tmp_path / "empty", "holds no image files"),
        (tmp_path / "notes.mp4", "not a video OpenCV can read"),
    ):
        assert main(["--model", "m.keras", "--input", str(source)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and f"--input {source}" in err and words in err, err
    argv = ["--model", "m.keras", "--input", str(clip[0]), "--output", str(clip[0].parent)]
    assert main(argv) == 2  # the annotated video would replace the input
    assert "would replace the --input" in capsys.readouterr().err
