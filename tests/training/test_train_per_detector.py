"""train.py where the detectors differ: the default ImageNet weights offline (one line per
detector and backbone), and the --max-objects warning (true for CenterNet, none for FCOS)."""

import logging

import keras
import numpy as np
import pytest
from coco_data import write_coco
from detector_cases import tiny_fcos
from helpers import load_script

from centernet_keras.data.synthetic_pose import generate_pose_dataset


@pytest.fixture(scope="module")
def train_cli():
    return load_script("train.py")


@pytest.fixture(scope="module")
def box_json(tmp_path_factory) -> list[str]:
    """``[instances json, image folder]``: 3 images, one with 2 boxes and a crowd region."""
    return [str(p) for p in write_coco(tmp_path_factory.mktemp("coco"))]


@pytest.fixture(scope="module")
def pose_json(tmp_path_factory) -> list[str]:
    """``[person_keypoints json, image folder]`` of 4 synthetic images."""
    paths = generate_pose_dataset(tmp_path_factory.mktemp("pose"), num_images=4, seed=1)
    return [str(paths["train"]), str(paths["images"])]


def _offline(monkeypatch) -> None:
    """No internet: every Keras download fails as it does offline."""

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure on https://example/x.h5: None -- Name not known")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    monkeypatch.setattr("keras.src.utils.file_utils.get_file", offline)


@pytest.mark.parametrize(
    "detector, backbone",
    [
        ("centernet", None),  # the default backbone, resnet50
        ("fcos", None),
        ("pose", None),
        ("centernet", "mobilenetv3_small"),
        ("fcos", "regnetx_400mf"),
        ("pose", "dla34"),
    ],
)
def test_default_imagenet_weights_offline_are_a_one_line_error(
    train_cli, box_json, pose_json, tmp_path, monkeypatch, capsys, detector, backbone
) -> None:
    """Offline, the default --weights imagenet fails with one line saying which file to pass,
    for every detector with its default backbone (and backbones whose weights are not Keras's
    download), not with a traceback."""
    _offline(monkeypatch)
    data = pose_json if detector == "pose" else box_json
    argv = ["--detector", detector, "--train-json", data[0], "--train-images", data[1]]
    argv += ["--backbone", backbone] * (backbone is not None)
    argv += ["--input-size", "64", "--epochs", "1", "--freeze-epochs", "0"]
    assert train_cli.main([*argv, "--save-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert "Traceback" not in err and len(errors) == 1, err
    if backbone is None or backbone.startswith("mobilenet"):
        assert "Could not download the ImageNet weights" in errors[0], errors[0]
        assert "weights='/path/to/" in errors[0] and "weights=None" in errors[0], errors[0]
    else:  # no Keras ImageNet weights for these: the line says what to pass instead
        assert "weights=None" in errors[0], errors[0]


@pytest.mark.slow
@pytest.mark.parametrize("detector", ["centernet", "fcos"])
def test_max_objects_warning_only_where_boxes_are_dropped(
    train_cli, box_json, tmp_path, caplog, detector
) -> None:
    """CenterNet trains on the first --max-objects boxes of an image and warns about the rest;
    FCOS's targets are dense, every box is trained on, so there is nothing to warn about."""
    argv = ["--detector", detector, "--train-json", box_json[0], "--train-images", box_json[1]]
    argv += ["--max-objects", "1", "--backbone", "resnet18", "--weights", "none"]
    argv += ["--input-size", "64", "--neck-filters", "16" if detector == "fcos" else "16,16,16"]
    argv += ["--head-channels", "8", "--epochs", "1", "--freeze-epochs", "0"]
    argv += ["--batch-size", "2", "--steps-per-epoch", "1", "--save-dir", str(tmp_path / "run")]
    with caplog.at_level(logging.WARNING, logger="centernet_keras"):
        assert train_cli.main([*argv, "--quiet"]) == 0
    warned = "more than max_objects=1" in caplog.text
    assert warned == (detector == "centernet"), caplog.text


def test_fcos_targets_keep_every_box_whatever_max_objects() -> None:
    boxes = np.array([[2, 2, 20, 20], [30, 4, 60, 30], [8, 36, 40, 62]], np.float32)
    targets = tiny_fcos().target_encoder(1)(boxes, np.array([0, 1, 2], np.int32), (64, 64))
    matched = {tuple(row) for row in np.asarray(targets["boxes"]) if row[0] >= 0}
    assert matched == {tuple(row) for row in boxes}
