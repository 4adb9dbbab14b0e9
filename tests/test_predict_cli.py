"""predict.py: --help, and each mode end to end on a tiny saved model."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import load_script, save_tiny_centernet
from PIL import Image

from centernet_keras.models import build_centernet

ROOT = Path(__file__).resolve().parents[1]


predict = load_script("predict.py")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return save_tiny_centernet(tmp_path_factory.mktemp("ckpt") / "tiny.keras", 32, 16)


@pytest.fixture(scope="module")
def dynamic_checkpoint(tmp_path_factory):
    """A tiny model with a dynamic input size (``input_shape=(None, None, 3)``)."""
    model = build_centernet(
        2,
        backbone="resnet18",
        input_shape=(None, None, 3),
        neck_filters=(16, 16, 16),
        head_channels=8,
        class_names=["cat", "dog"],
    )
    path = tmp_path_factory.mktemp("ckpt") / "dynamic.keras"
    model.save(path)
    return path


@pytest.fixture
def image(tmp_path, rng):
    path = tmp_path / "street.jpg"
    Image.fromarray(rng.integers(0, 256, (48, 72, 3)).astype(np.uint8)).save(path)
    return path


def test_help_explains_every_flag() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "predict.py"), "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    for flag in (
        "--model", "--classes", "--mode", "--input", "--output", "--score-threshold",
        "--confidence", "--iou-threshold", "--nms-iou",
        "--letterbox", "--no-letterbox", "--max-detections", "--flip-test", "--crop", "--count",
        "--format", "--runs", "--no-boxes",
    ):  # fmt: skip
        assert flag in out, flag
    assert "{image,dir,video,fps,heatmap,export}" in out
    assert "{keras,saved_model,tflite,onnx}" in out
    for action in build_actions():
        assert action.help, action.option_strings  # every flag has a help text


def build_actions():
    return [a for a in predict.build_parser()._actions if a.option_strings != ["-h", "--help"]]


def test_image_mode_with_crop_and_count(checkpoint, image, tmp_path, capsys) -> None:
    out = tmp_path / "out" / "street.png"
    argv = ["--model", str(checkpoint), "--input", str(image), "--output", str(out)]
    assert predict.main([*argv, "--confidence", "0", "--crop", "--count"]) == 0
    printed = capsys.readouterr().out
    assert Image.open(out).size == (72, 48)
    crops = list((out.parent / "crops").iterdir())
    assert crops and all(p.name.startswith("street_") for p in crops)
    total = int(printed.split("total: ")[1].split()[0])
    assert total == len(crops)


def test_no_boxes_is_an_error_for_a_box_model(checkpoint, image, tmp_path, capsys) -> None:
    out = tmp_path / "street.png"
    argv = ["--model", str(checkpoint), "--input", str(image), "--output", str(out)]
    assert predict.main([*argv, "--no-boxes"]) == 1
    assert "--no-boxes is for pose models" in capsys.readouterr().err
    assert not out.exists()


def test_dir_mode_reports_a_corrupt_file(checkpoint, tmp_path, rng, capsys) -> None:
    src = tmp_path / "imgs"
    src.mkdir()
    for name in ("a.jpg", "b.png", "c.jpg"):
        Image.fromarray(rng.integers(0, 256, (30, 40, 3)).astype(np.uint8)).save(src / name)
    (src / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    out = tmp_path / "annotated"
    argv = ["--model", str(checkpoint), "--mode", "dir", "--input", str(src), "--output", str(out)]
    assert predict.main([*argv, "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert sorted(p.name for p in out.iterdir()) == ["a.jpg", "c.jpg"]
    assert "b.png" in captured.err
    assert "2 image(s) annotated, 1 skipped" in captured.out


def test_video_mode(checkpoint, tmp_path, capsys) -> None:
    src = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(src), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (64, 48))
    for i in range(3):
        writer.write(np.full((48, 64, 3), 60 * i, np.uint8))
    writer.release()
    out = tmp_path / "clip_out.mp4"
    argv = ["--model", str(checkpoint), "--mode", "video", "--input", str(src)]
    assert predict.main([*argv, "--output", str(out), "--no-progress"]) == 0
    assert "3 frames" in capsys.readouterr().out
    assert int(cv2.VideoCapture(str(out)).get(cv2.CAP_PROP_FRAME_COUNT)) == 3
    # A video that cannot be opened: a clear message and exit status 1.
    (tmp_path / "bad.mp4").write_bytes(b"garbage")
    argv = ["--model", str(checkpoint), "--mode", "video", "--input", str(tmp_path / "bad.mp4")]
    assert predict.main(argv) == 1
    assert "cannot open video source" in capsys.readouterr().err


def test_fps_and_heatmap_modes(checkpoint, image, tmp_path, capsys) -> None:
    argv = ["--model", str(checkpoint), "--input", str(image)]
    assert predict.main([*argv, "--mode", "fps", "--runs", "2"]) == 0
    timings = json.loads(capsys.readouterr().out.splitlines()[0])
    assert set(timings) == {"preprocess_ms", "detect_ms", "postprocess_ms", "total_ms"}
    out = tmp_path / "heat.png"
    assert predict.main([*argv, "--mode", "heatmap", "--output", str(out)]) == 0
    assert Image.open(out).size == (72, 48)


def test_export_mode_keras(checkpoint, tmp_path) -> None:
    from centernet_keras.export import load_exported

    out = tmp_path / "exported.keras"
    argv = ["--model", str(checkpoint), "--mode", "export", "--format", "keras"]
    assert predict.main([*argv, "--output", str(out), "--confidence", "0.2"]) == 0
    result = load_exported(out)(np.zeros((1, 64, 64, 3), np.uint8))
    assert result["boxes"].shape == (1, 100, 4)


@pytest.mark.parametrize("command", ["predict", "val", "export", "benchmark"])
def test_a_classes_file_of_another_count_is_a_usage_error(
    command, checkpoint, image, tmp_path, capsys
) -> None:
    """--classes with more names than the model has classes: refused like --classes with other
    names (exit 2, one line naming --classes), before anything is written; was exit 1."""
    from importlib import import_module

    classes = tmp_path / "classes.txt"
    classes.write_text("cat\ndog\nbird\n")
    out = tmp_path / "out"
    argv = ["--model", str(checkpoint), "--classes", str(classes)]
    argv += {
        "predict": ["--input", str(image), "--output", str(out)],
        "val": ["--annotation-file", str(tmp_path / "lines.txt"), "--output-dir", str(out)],
        "export": ["--format", "keras", "--output", str(out)],
        "benchmark": ["--input", str(image), "--runs", "1", "--warmup", "0"],
    }[command]
    (tmp_path / "lines.txt").write_text(f"{image} 1,1,5,5,0\n")
    assert import_module(f"centernet_keras.commands.{command}").main(argv) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [
        f"error: --classes {classes} has 3 class names but the model has 2 classes: pass the "
        "classes file the model was trained with"
    ]
    assert not out.exists()


def test_a_mode_without_input_is_a_usage_error(checkpoint, capsys) -> None:
    """--mode image without --input: argparse's usage error (exit 2), before the model loads;
    was exit 1."""
    with pytest.raises(SystemExit) as exit_:
        predict.main(["--model", str(checkpoint), "--mode", "image"])
    assert exit_.value.code == 2
    assert "error: --mode image needs --input" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("names", "want"),
    [
        ("cat\nbird\n", "id 1: 'bird' in --classes, 'dog' in the model"),
        ("dog\ncat\n", "the same names in another order"),
    ],
)
def test_classes_other_than_the_models_saved_names_are_refused(
    names, want, checkpoint, image, tmp_path, capsys
) -> None:
    """--classes with the model's count but other names (or order) would relabel every
    detection (issue 26 point 4: 'bird' shown as 'car'); the model saved its names."""
    classes = tmp_path / "classes.txt"
    classes.write_text(names)
    out = tmp_path / "out.jpg"
    argv = ["--model", str(checkpoint), "--input", str(image), "--output", str(out)]
    assert predict.main([*argv, "--classes", str(classes)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --classes ") and len(err.strip().splitlines()) == 1, err
    assert want in err and "drop --classes" in err and not out.exists()
    classes.write_text("cat\ndog\n")  # the model's own names: accepted
    assert predict.main([*argv, "--classes", str(classes), "--score-threshold", "0"]) == 0
    assert "cat" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["export", "benchmark"])
def test_export_and_benchmark_refuse_other_class_names_too(
    command, checkpoint, image, tmp_path, capsys
) -> None:
    """--classes shares its help (and so its rule) with export, which would write the file's
    names into the exported model, and benchmark."""
    from importlib import import_module

    (tmp_path / "classes.txt").write_text("cat\nbird\n")
    argv = ["--model", str(checkpoint), "--classes", str(tmp_path / "classes.txt")]
    if command == "export":
        argv += ["--format", "keras", "--output", str(tmp_path / "m.keras")]
    else:
        argv += ["--input", str(image), "--runs", "1", "--warmup", "0"]
    assert import_module(f"centernet_keras.commands.{command}").main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --classes ") and len(err.strip().splitlines()) == 1, err
    assert "'bird' in --classes, 'dog' in the model" in err
    assert not (tmp_path / "m.keras").exists()


def test_benchmark_refuses_classes_with_an_untrained_detector(capsys) -> None:
    """benchmark --detector times an untrained model of --num-classes: a --classes file would
    be ignored, so it is refused (exit 2, one line)."""
    from centernet_keras.commands import benchmark

    argv = ["--detector", "centernet", "--backbone", "resnet18", "--classes", "any.txt"]
    assert benchmark.main([*argv, "--input-size", "64", "--runs", "1", "--warmup", "0"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "error: --classes names a --model's classes; with --detector give --num-classes"
    ]


@pytest.mark.parametrize("content", ["not a model\n", ""])
def test_not_a_keras_file_exits_with_message(content, image, tmp_path, capsys) -> None:
    model = tmp_path / "model.keras"
    model.write_text(content)
    assert predict.main(["--model", str(model), "--input", str(image)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    assert "is not a Keras model" in err and "File not found" not in err


def test_missing_model_exits_with_message(image, tmp_path, capsys) -> None:
    assert predict.main(["--model", str(tmp_path / "gone.keras"), "--input", str(image)]) == 1
    assert "no such model file" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "network_hw"),
    [
        (["--input-size", "96"], (96, 96)),
        (["--input-size", "100"], (128, 128)),  # rounded up to a multiple of 32
        ([], (352, 512)),  # default: 48x72 scaled to 512 on the longer side, rounded up
    ],
)
def test_input_size_gives_an_n_by_n_input(
    dynamic_checkpoint, image, tmp_path, monkeypatch, flags, network_hw
) -> None:
    """--input-size N runs the network on N x N (what --help says), whatever the image shape."""
    from centernet_keras.inference import Predictor

    seen = []
    preprocess = Predictor.preprocess

    def spy(self, img):
        batch, image_hw = preprocess(self, img)
        seen.append(batch.shape[1:3])
        return batch, image_hw

    monkeypatch.setattr(Predictor, "preprocess", spy)
    argv = ["--model", str(dynamic_checkpoint), "--input", str(image)]
    assert predict.main([*argv, "--output", str(tmp_path / "o.png"), *flags]) == 0
    assert seen == [network_hw]


def test_input_size_of_a_fixed_size_model_must_match(checkpoint, image, capsys) -> None:
    argv = ["--model", str(checkpoint), "--input", str(image), "--input-size", "128"]
    assert predict.main(argv) == 1
    assert "fixed at (64, 64)" in capsys.readouterr().err


def test_input_size_rounding_is_reported_as_typed(
    checkpoint, dynamic_checkpoint, image, tmp_path, capsys
) -> None:
    """--input-size 140 runs at 160 and says so; a fixed 64 x 64 model refuses it naming the
    140 the user typed, not only the 160 it became."""
    argv = ["--input", str(image), "--output", str(tmp_path / "o.png"), "--input-size", "140"]
    assert predict.main(["--model", str(dynamic_checkpoint), *argv]) == 0
    err = capsys.readouterr().err
    assert "--input-size 140 rounded up to 160 (must be a multiple of 32)" in err, err
    assert predict.main(["--model", str(dynamic_checkpoint), *argv[:-1], "160"]) == 0
    assert "rounded" not in capsys.readouterr().err  # a multiple of 32 is used as typed
    assert predict.main(["--model", str(checkpoint), *argv]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "rounded" not in err.split("error:")[0], err
    assert "(--input-size) 140 (rounded up to 160)" in err and "fixed at (64, 64)" in err, err


def test_keypoint_threshold_on_a_box_model_is_a_one_line_error(checkpoint, image, capsys) -> None:
    argv = ["--model", str(checkpoint), "--input", str(image), "--keypoint-threshold", "0.2"]
    assert predict.main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--keypoint-threshold) is for pose models" in err, err


@pytest.mark.parametrize("value", ["0", "-32", "big"])
def test_input_size_must_be_a_positive_number(dynamic_checkpoint, image, capsys, value) -> None:
    argv = ["--model", str(dynamic_checkpoint), "--input", str(image), "--input-size", value]
    with pytest.raises(SystemExit) as exit_info:
        predict.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument --input-size: {value!r} is not a positive number of pixels" in err, err


@pytest.mark.slow
def test_export_input_size_is_n_by_n(dynamic_checkpoint, tmp_path) -> None:
    """--mode export --input-size 100 exports a 128 x 128 input, as the predict modes round."""
    import tensorflow as tf

    out = tmp_path / "saved"
    argv = ["--model", str(dynamic_checkpoint), "--mode", "export", "--format", "saved_model"]
    assert predict.main([*argv, "--output", str(out), "--input-size", "100"]) == 0
    signature = tf.saved_model.load(str(out)).signatures["serving_default"]
    assert signature.structured_input_signature[1]["images"].shape.as_list() == [None, 128, 128, 3]


def test_export_refuses_flip_test(checkpoint, tmp_path, capsys) -> None:
    """The flip test is not part of an exported model: asking for both is a clear error."""
    out = tmp_path / "exported.keras"
    argv = ["--model", str(checkpoint), "--mode", "export", "--format", "keras"]
    with pytest.raises(SystemExit) as exit_info:
        predict.main([*argv, "--output", str(out), "--flip-test"])
    assert exit_info.value.code == 2
    assert "--flip-test is not exported" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("flag", ["--letterbox", "--no-letterbox"])
def test_export_refuses_letterbox(checkpoint, tmp_path, capsys, flag) -> None:
    """Letterboxing happens before an exported model: the flag would change nothing, so
    giving it with --mode export is a clear error instead of being ignored."""
    out = tmp_path / "exported.keras"
    argv = ["--model", str(checkpoint), "--mode", "export", "--format", "keras"]
    with pytest.raises(SystemExit) as exit_info:
        predict.main([*argv, "--output", str(out), flag])
    assert exit_info.value.code == 2
    assert "--letterbox is not exported" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.slow
def test_predict_subprocess_stderr_is_quiet(checkpoint, image, tmp_path) -> None:
    """A real predict.py run prints its result and no TensorFlow start-up log noise."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    out = tmp_path / "o.png"
    argv = ["--model", str(checkpoint), "--input", str(image), "--output", str(out)]
    result = subprocess.run(
        [sys.executable, str(ROOT / "predict.py"), *argv],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert f"saved {out}" in result.stdout
    noise = re.compile(r"absl::InitializeLog|cudart_stub|failed call to cuInit|^[IW]\d{4} ", re.M)
    assert not noise.search(result.stderr), result.stderr


def _snapshot(folder: Path) -> dict:
    """Every path under ``folder`` → its bytes (a folder: ``None``)."""
    return {
        p.relative_to(folder): None if p.is_dir() else p.read_bytes()
        for p in sorted(folder.rglob("*"))
    }


@pytest.mark.parametrize("spelling", ["same", "dot", "symlink"])
def test_dir_mode_refuses_to_write_into_its_input_folder(
    checkpoint, tmp_path, rng, capsys, spelling
) -> None:
    """--output = --input (however spelled) would replace the user's photos: one line, exit 2,
    nothing written (issue 25 point 6)."""
    src = tmp_path / "imgs"
    src.mkdir()
    for name in ("a.jpg", "b.png"):
        Image.fromarray(rng.integers(0, 256, (30, 40, 3)).astype(np.uint8)).save(src / name)
    before = _snapshot(tmp_path)
    out = {"same": src, "dot": src / ".", "symlink": tmp_path / "link"}[spelling]
    if spelling == "symlink":
        out.symlink_to(src, target_is_directory=True)
        before = _snapshot(tmp_path)
    argv = ["--model", str(checkpoint), "--mode", "dir", "--input", str(src), "--output", str(out)]
    assert predict.main([*argv, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "--output" in err and "is the --input folder" in err
    assert _snapshot(tmp_path) == before  # the photos untouched, nothing added


def test_crops_into_the_input_folder_and_an_image_over_itself_are_refused(
    checkpoint, image, tmp_path, capsys
) -> None:
    before = _snapshot(tmp_path)
    argv = ["--model", str(checkpoint), "--input", str(image), "--output", str(image)]
    for mode in ("image", "heatmap"):
        assert predict.main([*argv, "--mode", mode]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "is the --input file" in err, err
    assert _snapshot(tmp_path) == before
    crops = tmp_path / "crops"
    crops.mkdir()
    before = _snapshot(tmp_path)
    argv = ["--model", str(checkpoint), "--mode", "dir", "--input", str(crops)]
    assert predict.main([*argv, "--output", str(tmp_path), "--crop"]) == 2
    assert "--crop writes into" in capsys.readouterr().err
    assert _snapshot(tmp_path) == before
