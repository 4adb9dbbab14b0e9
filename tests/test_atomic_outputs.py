"""Every output is written atomically (issue 25 point 5): a writer that fails or is killed
mid-write leaves no partial file under the output's name, only (after a kill) a temporary file
whose name marks it (``.<name>.<8 hex>.tmp<suffix>``, ``centernet_keras.io.is_temp_file``)."""

import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

import centernet_keras
from centernet_keras import visualize
from centernet_keras.detections import Detections

PACKAGE_ROOT = Path(centernet_keras.__file__).resolve().parents[1]
MARKED = re.compile(r"\..+\.[0-9a-f]{8}\.tmp(\..*)?")


def _complete(path: Path) -> bool:
    try:
        with Image.open(path) as image:
            image.load()
    except OSError:
        return False
    return True


class _Failing:
    """A writer that puts some bytes into the file it was given, then fails (disk full)."""

    def __init__(self):
        self.targets: list[Path] = []

    def __call__(self, target, *args, **kwargs):
        target = Path(target)
        self.targets.append(target)
        target.write_bytes(b"partial")
        raise OSError(28, "No space left on device")


def _detector(rgb):
    h, w = rgb.shape[:2]
    return Detections(
        np.array([[2.0, 2.0, w - 2.0, h - 2.0]], np.float32),
        np.array([0.9], np.float32),
        np.array([0], np.int32),
        ["cat"],
        (h, w),
    )


def _image(path: Path, size=(40, 30)) -> Path:
    noise = np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(noise).save(path)
    return path


def test_a_failing_image_writer_leaves_no_file(tmp_path, monkeypatch):
    src = _image(tmp_path / "in.jpg")
    out = tmp_path / "out"
    fail = _Failing()
    monkeypatch.setattr(Image.Image, "save", fail)
    with pytest.raises(OSError, match="No space"):
        visualize.annotate_image(_detector, src, out / "a.jpg")
    assert fail.targets  # the writer did write
    assert list(out.iterdir()) == []  # neither a.jpg with 7 bytes nor a temporary file


def test_a_failing_plot_writer_leaves_no_png(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    from centernet_keras.evaluation.plots import plot_confusion_matrix, plot_pr_curves
    from centernet_keras.evaluation.voc import ClassAP, VOCResult

    recall, precision = np.array([0.5, 1.0]), np.array([1.0, 0.5])
    result = VOCResult("voc", {"cat": ClassAP(0.75, recall, precision, 2, 2)}, 0.75)
    fail = _Failing()
    monkeypatch.setattr(Figure, "savefig", lambda fig, target, **kw: fail(target))
    with pytest.raises(OSError, match="No space"):
        plot_pr_curves(result, tmp_path / "val")
    with pytest.raises(OSError, match="No space"):
        plot_confusion_matrix(np.eye(2, dtype=int), ["cat"], tmp_path / "val" / "cm.png")
    assert len(fail.targets) == 2
    assert list((tmp_path / "val").iterdir()) == []


def test_a_video_that_fails_mid_way_leaves_no_video(tmp_path):
    src = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(src), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (64, 48))
    for i in range(6):
        writer.write(np.full((48, 64, 3), 40 * i, np.uint8))
    writer.release()
    calls = []

    def detector(rgb):
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("detector failed on frame 3")
        return _detector(rgb)

    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="frame 3"):
        visualize.annotate_video(detector, str(src), out / "clip.mp4", progress=False)
    assert list(out.iterdir()) == []  # no clip.mp4 of 2 frames, no temporary file
    report = visualize.annotate_video(_detector, str(src), out / "clip.mp4", progress=False)
    assert report.frames == 6 and [p.name for p in out.iterdir()] == ["clip.mp4"]


def test_a_failing_model_export_keeps_the_previous_file(tmp_path, monkeypatch):
    import keras

    from centernet_keras.export import export_model
    from centernet_keras.models import build_centernet

    model = build_centernet(
        1, backbone="resnet18", input_shape=(64, 64, 3), neck_filters=(8, 8, 8), head_channels=8
    )
    out = tmp_path / "m.keras"
    out.write_bytes(b"the previous export")
    fail = _Failing()
    monkeypatch.setattr(keras.Model, "save", lambda m, target, **kw: fail(target))
    with pytest.raises(OSError, match="No space"):
        export_model(model, out, "keras")
    assert fail.targets
    assert out.read_bytes() == b"the previous export"
    assert [p.name for p in tmp_path.iterdir()] == ["m.keras"]


KILLED_PREDICT = textwrap.dedent(
    """
    import builtins, io, os, signal, sys

    from centernet_keras.commands import predict

    out, kill_at, argv = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    real_open, opened = builtins.open, []

    class Dying:
        # a file whose first write puts half its bytes on disk, then the process is killed
        def __init__(self, f):
            self._f = f

        def write(self, data):
            self._f.write(bytes(data)[: max(1, len(data) // 2)])
            self._f.flush()
            os.kill(os.getpid(), signal.SIGKILL)

        def fileno(self):  # PIL then writes through write()
            raise io.UnsupportedOperation("fileno")

        def __getattr__(self, name):
            return getattr(self._f, name)

    def dying_open(file, mode="r", *args, **kwargs):
        f = real_open(file, mode, *args, **kwargs)
        if "w" in mode and isinstance(file, (str, os.PathLike)):
            if os.path.dirname(os.path.abspath(file)) == out:
                opened.append(file)
                if len(opened) == kill_at:
                    return Dying(f)
        return f

    builtins.open = dying_open
    sys.exit(predict.main(argv))
    """
)


@pytest.mark.slow
def test_predict_dir_killed_mid_write_leaves_only_complete_images(tmp_path):
    """``predict --mode dir`` SIGKILLed while writing its third image: the two before are
    complete, the third exists only as a marked temporary file, a rerun reads none of it."""
    from centernet_keras.models import build_centernet

    checkpoint = tmp_path / "tiny.keras"
    build_centernet(
        2, backbone="resnet18", input_shape=(64, 64, 3), neck_filters=(16, 16, 16),
        head_channels=8, class_names=["cat", "dog"],
    ).save(checkpoint)  # fmt: skip
    src, out = tmp_path / "imgs", tmp_path / "out"
    src.mkdir()
    for name in "abcde":
        _image(src / f"{name}.jpg", (64, 48))
    argv = ["--model", str(checkpoint), "--mode", "dir", "--input", str(src)]
    argv += ["--output", str(out), "--no-progress", "--score-threshold", "0"]
    env = {**os.environ, "PYTHONPATH": str(PACKAGE_ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", KILLED_PREDICT, str(out), "3", *argv],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == -signal.SIGKILL, result.stderr
    names = sorted(p.name for p in out.iterdir())
    finished = [n for n in names if not MARKED.fullmatch(n)]
    assert finished == ["a.jpg", "b.jpg"], names  # before: c.jpg, half-written, undecodable
    assert all(_complete(out / n) for n in finished)
    leftover = [n for n in names if MARKED.fullmatch(n)]
    assert len(leftover) == 1 and leftover[0].startswith(".c.jpg.") and leftover[0][-4:] == ".jpg"
    # a rerun over the killed run's folder annotates its two images, not the temporary file
    from helpers import load_script

    again = tmp_path / "again"
    argv = ["--model", str(checkpoint), "--mode", "dir", "--input", str(out)]
    assert load_script("predict.py").main([*argv, "--output", str(again), "--no-progress"]) == 0
    assert sorted(p.name for p in again.iterdir()) == ["a.jpg", "b.jpg"]
