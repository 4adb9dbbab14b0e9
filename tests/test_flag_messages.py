"""Messages a command-line user sees name the flags, not the Python parameters behind them
(issue 26, point 5): "pass --classes" (was "pass class_names"), "wrong --images?" (was "wrong
image_dir?"), "--train-json needs --train-images" (was "train_json needs train_images"), and
when no image of a COCO file is under the image folder but they are one level up or down,
"did you mean --images DIR?".

Every case runs a command through ``centernet`` and checks its output (stdout and stderr, the
test's folder masked) for the flag and for the absence of any Python parameter name."""

import json
import re
from pathlib import Path

import pytest
from coco_data import write_coco

from centernet_keras.console import main

#: Python names of settings that a command-line user should never read.
PYTHON_NAMES = re.compile(
    r"\b(class_names|classes_path|image_dir|json_path|train_json|val_json|train_images|"
    r"val_images|coco_json|annotation_file|voc_root|save_dir|model_path|freeze_epochs|"
    r"lr_schedule|input_size|optimizer=|epochs=|max_detections|iou_threshold)"
)


def _run(capsys, tmp_path: Path, *argv) -> tuple[int, str]:
    """``centernet ARGV`` → ``(exit code, stdout + stderr with tmp_path shown as TMP)``."""
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, (captured.out + captured.err).replace(str(tmp_path), "TMP")


def _assert_flags_only(output: str, *wanted: str) -> None:
    for text in wanted:
        assert text in output, output[-3000:]
    assert not PYTHON_NAMES.search(output), PYTHON_NAMES.search(output)[0]
    assert "Traceback" not in output


def _renamed(json_path: Path, rename) -> Path:
    """``json_path`` with each image's ``file_name`` replaced by ``rename(file_name)``."""
    data = json.loads(json_path.read_text())
    for image in data["images"]:
        image["file_name"] = rename(image["file_name"])
    json_path.write_text(json.dumps(data))
    return json_path


def test_convert_coco_names_classes_for_an_empty_category(tmp_path, capsys):
    json_path, images = write_coco(tmp_path)  # its category 0 has no annotations
    code, out = _run(capsys, tmp_path, "convert", "coco", "--json", json_path, "--images", images,
                     "--output", tmp_path / "out.txt")  # fmt: skip
    assert code == 0, out
    _assert_flags_only(out, "pass --classes (your class list) to match categories by name")


def test_convert_coco_names_classes_for_duplicate_category_names(tmp_path, capsys):
    cats = [{"id": 17, "name": "cat"}, {"id": 18, "name": "dog"}, {"id": 19, "name": "dog"}]
    json_path, images = write_coco(tmp_path, categories=cats)
    code, out = _run(capsys, tmp_path, "convert", "coco", "--json", json_path, "--images", images)
    assert code == 2, out
    _assert_flags_only(out, "duplicate category names", "pass --classes (your class list)")


@pytest.mark.parametrize(
    "layout",
    ["images_one_level_too_deep", "images_one_level_too_high", "subfolder_missing", "wrong"],
)
def test_convert_coco_says_where_the_images_are(layout, tmp_path, capsys):
    """file_name 'images/a.jpg' with --images TMP/images: did you mean --images TMP? The
    inverse (file_name 'a.jpg', --images TMP): TMP/images. file_name 'train2017/a.jpg' with
    the images in TMP/images itself: the subfolder is missing. Elsewhere: wrong --images?"""
    json_path, images = write_coco(tmp_path)  # images in TMP/images, file_name 'a.jpg'
    given, hint = {
        "images_one_level_too_deep": (images, "3 of the first 3 are under TMP: did you mean "
                                      "--images TMP?"),
        "images_one_level_too_high": (tmp_path, "3 of the first 3 are under TMP/images: did "
                                      "you mean --images TMP/images?"),
        "subfolder_missing": (images, "3 of the first 3 are in TMP/images itself, not in the "
                              "subfolder 'train2017' their file_name starts with: move them to "
                              "TMP/images/train2017"),
        "wrong": (tmp_path / "elsewhere", "wrong --images?"),
    }[layout]  # fmt: skip
    if layout == "images_one_level_too_deep":
        _renamed(json_path, lambda name: f"images/{name}")
    if layout == "subfolder_missing":
        _renamed(json_path, lambda name: f"train2017/{name}")
    code, out = _run(capsys, tmp_path, "convert", "coco", "--json", json_path, "--images", given)
    assert code == 2, out
    (line,) = [line for line in out.splitlines() if line.startswith("error:")]
    assert "none of the 3 images found under" in line
    _assert_flags_only(line, hint)


def _tiny_train(tmp_path: Path) -> list:
    return ["--backbone", "resnet18", "--weights", "none", "--input-size", "64", "--epochs", "1",
            "--freeze-epochs", "0", "--save-dir", tmp_path / "run"]  # fmt: skip


@pytest.mark.parametrize(
    "argv, wanted",
    [
        (["--train-json", "a.json"], "--train-json needs --train-images (its image folder)"),
        (["--train-json", "a.json", "--train-images", "i", "--val-json", "v.json"],
         "--val-json needs --val-images (its image folder)"),
        (["--val-json", "v.json", "--val-images", "i"],
         "--val-json needs --train-json (with annotation lines, --val is the validation split)"),
        (["--optimizer", "adamw"], "--optimizer must be one of"),
        (["--lr-schedule", "linear"], "--lr-schedule must be 'cos' or 'step'"),
        (["--freeze-epochs", "5", "--epochs", "3"],
         "--freeze-epochs (5) must be from 0 to --epochs (3)"),
        (["--input-size", "50"], "--input-size must be 'H,W' or 'S', multiples of 32, got 50,50"),
    ],
    ids=["train_images", "val_images", "train_json", "optimizer", "lr_schedule", "epochs",
         "input_size"],
)  # fmt: skip
def test_train_settings_that_do_not_fit_name_the_flags(argv, wanted, tmp_path, capsys):
    code, out = _run(capsys, tmp_path, "train", *argv, "--save-dir", tmp_path / "run")
    assert code == 2, out
    _assert_flags_only(out, wanted)


@pytest.mark.parametrize("split", ["train", "val"])
def test_train_json_says_where_the_images_are(split, tmp_path, capsys):
    json_path, images = write_coco(tmp_path)
    nested = _renamed(Path(json_path), lambda name: f"images/{name}")
    argv = ["--train-json", nested, "--train-images", tmp_path if split == "val" else images]
    argv += ["--val-json", nested, "--val-images", images] if split == "val" else []
    code, out = _run(capsys, tmp_path, "train", *argv, *_tiny_train(tmp_path))
    assert code == 2, out
    _assert_flags_only(out, f"did you mean --{split}-images TMP?")


@pytest.mark.parametrize("backbone", ["resnet18", "dla34"])
def test_train_says_which_weights_flag_to_give(backbone, tmp_path, capsys):
    """Backbones without Keras ImageNet weights (the default --weights imagenet): the builder's
    message names its parameter and the flag, "weights=None (--weights none)"."""
    json_path, images = write_coco(tmp_path)
    argv = ["--train-json", json_path, "--train-images", images, "--backbone", backbone]
    argv += ["--input-size", "64", "--epochs", "1", "--freeze-epochs", "0"]
    code, out = _run(capsys, tmp_path, "train", *argv, "--save-dir", tmp_path / "run")
    assert code == 2, out
    _assert_flags_only(out, "weights=None (--weights none)", "(--weights FILE;")


def test_val_coco_json_needs_an_image_folder(tmp_path, capsys):
    json_path, _ = write_coco(tmp_path)
    code, out = _run(capsys, tmp_path, "val", "--model", "m.keras", "--coco-json", json_path)
    assert code == 2, out
    _assert_flags_only(out, "--coco-json needs --image-dir (its image folder)")


@pytest.mark.parametrize("command", ["predict", "val", "export"])
@pytest.mark.parametrize(
    "flag, value, wanted",
    [
        ("--max-detections", "0", "argument --max-detections: '0' is not a positive whole number"),
        ("--iou-threshold", "3", "'3' is not 'auto', 'none' or an IoU in (0, 1]"),
    ],
)
def test_decoder_flags_out_of_range_are_usage_errors(command, flag, value, wanted, capsys):
    """Refused by the parser, naming the flag; before, --max-detections 0 reached the decoder
    ("Error when deserializing class 'CenterNetDecoder' using config={'max_detections': 0, ...
    max_detections must be >= 1") and --iou-threshold 3 read "invalid iou_threshold value"."""
    with pytest.raises(SystemExit) as exit_:
        main([command, "--model", "m.keras", flag, value])
    assert exit_.value.code == 2
    _assert_flags_only(capsys.readouterr().err, wanted)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    from centernet_keras.models.centernet import build_centernet

    model = build_centernet(2, backbone="resnet18", input_shape=(64, 64, 3), weights=None,
                            neck_filters=(16, 16, 16), head_channels=8,
                            class_names=["cat", "dog"])  # fmt: skip
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    model.save(path)
    return path


def test_val_says_where_the_images_are(tiny_model, tmp_path, capsys):
    json_path, _ = write_coco(tmp_path)  # images in TMP/images, --image-dir TMP given
    argv = ["--model", tiny_model, "--coco-json", json_path, "--image-dir", tmp_path]
    code, out = _run(capsys, tmp_path, "val", *argv, "--no-progress")
    assert code == 1, out
    _assert_flags_only(out, "did you mean --image-dir TMP/images?")
