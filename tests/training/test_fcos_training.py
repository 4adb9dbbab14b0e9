"""FCOS through the framework's CLIs: ``train.py --detector fcos`` (with the validation mAP
callback), then ``get_map.py`` and ``predict.py --mode image`` on the saved model."""

import csv
import json
from pathlib import Path

import keras
import numpy as np
import pytest
from conftest import assert_training_pictures
from helpers import load_script

from centernet_keras.layers import GroupedConv2D
from centernet_keras.models import FCOS
from centernet_keras.models.registry import build_detector, detector_class


def test_fcos_is_a_detector_and_the_cli_widths_map_onto_fpn_and_stems():
    assert detector_class("fcos") is FCOS
    model = build_detector(
        "fcos", 2, backbone="resnet18", input_shape=(64, 64, 3), neck_filters=(16,), head_channels=8
    )
    assert isinstance(model, FCOS)
    assert (model.fpn_channels, model.stem_channels) == (16, (8, 8))
    with pytest.raises(ValueError, match="one --neck-filters value"):
        FCOS.from_settings(2, backbone="resnet18", input_shape=(64, 64, 3), neck_filters=(16, 8))


@pytest.mark.slow
def test_train_get_map_and_predict_an_fcos_model(tiny_voc, tmp_path, capsys):
    """1 epoch of 2 steps on the tiny synthetic VOC set, validation mAP at its end (the
    ``Predictor`` in the training callback), then the evaluation and prediction CLIs."""
    save = tmp_path / "run"
    argv = ["--detector", "fcos", "--backbone", "resnet18", "--weights", "none"]
    argv += ["--input-size", "64", "--neck-filters", "16", "--head-channels", "16"]
    argv += ["--classes", tiny_voc["classes"], "--train", tiny_voc["train"]]
    argv += ["--val", tiny_voc["val"], "--save-dir", str(save), "--epochs", "1"]
    argv += ["--freeze-epochs", "0", "--batch-size", "4", "--steps-per-epoch", "2"]
    argv += ["--eval-every", "1", "--lr", "1e-3", "--no-scale-lr", "--quiet"]
    assert load_script("train.py").main(argv) == 0
    config = json.loads((save / "config.json").read_text())
    assert config["model"]["detector"] == "fcos"
    with open(save / "log.csv") as f:
        row = next(csv.DictReader(f))
    assert {"class_loss", "box_loss", "centerness_loss", "val_map"} <= set(row)
    assert 0.0 <= float(row["val_map"]) <= 1.0
    classes = Path(tiny_voc["classes"]).read_text().split()
    assert_training_pictures(save, tiny_voc["val"], classes)
    model = keras.saving.load_model(save / "best.keras", safe_mode=True)
    assert isinstance(model, FCOS) and model.decoder.image_size == (64, 64)
    capsys.readouterr()

    report = tmp_path / "map"
    get_map = ["--model", str(save / "best.keras"), "--annotation-file", tiny_voc["val"]]
    assert load_script("get_map.py").main([*get_map, "--output-dir", str(report)]) == 0
    summary = json.loads((report / "summary.json").read_text())
    assert {"voc07", "voc", "coco"} <= set(summary["metrics"])

    image = Path(tiny_voc["val"]).read_text().split()[0]
    out = tmp_path / "pred" / "one.png"
    predict = ["--model", str(save / "best.keras"), "--mode", "image", "--input", image]
    assert load_script("predict.py").main([*predict, "--output", str(out), "--count"]) == 0
    assert out.exists() and "total:" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.kernels
def test_fcos_regnetx_trains_through_the_cli(tiny_voc, tmp_path):
    """FCOS with its own backbone (RegNetX-400MF: grouped 3×3 convs) trains a step through
    ``train.py`` on this process's CPU kernel family — ``make test`` runs it with oneDNN off
    (TensorFlow's Eigen kernels, no grouped-conv backward) and on. The run ends with finite
    weights."""
    save = tmp_path / "run"
    argv = ["--detector", "fcos", "--backbone", "regnetx_400mf", "--weights", "none"]
    argv += ["--input-size", "64", "--classes", tiny_voc["classes"]]
    argv += ["--train", tiny_voc["train"], "--save-dir", str(save), "--epochs", "1"]
    argv += ["--val", tiny_voc["val"], "--eval-every", "0", "--freeze-epochs", "0"]
    argv += ["--batch-size", "2", "--steps-per-epoch", "2"]
    argv += ["--lr", "1e-3", "--no-scale-lr", "--quiet", "--seed", "0"]
    assert load_script("train.py").main(argv) == 0
    with open(save / "log.csv") as f:
        row = next(csv.DictReader(f))
    assert np.isfinite(float(row["loss"]))
    trained = keras.saving.load_model(save / "last.keras", safe_mode=True)
    grouped = [layer for layer in trained.backbone.layers if isinstance(layer, GroupedConv2D)]
    assert grouped and all(layer.groups > 1 for layer in grouped)
    assert all(np.isfinite(layer.kernel.numpy()).all() for layer in grouped)
