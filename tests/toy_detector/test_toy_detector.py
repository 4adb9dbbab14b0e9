"""The toy detector, defined only in the tests, goes through the package unchanged: it trains
(``training.train`` with ``--detector toy``, validation mAP each epoch), loads back from its
checkpoint, predicts (``Predictor``), evaluates (``get_map.py``: the val path) and exports to
ONNX with the same detections under ONNX Runtime. Its detector contract is
``tests/test_detector_contract.py``'s ``toy`` case."""

import json

import keras
import numpy as np
import pytest
from detector_cases import assert_same_detections
from helpers import load_script

from centernet_keras.data.synthetic import SHAPE_CLASSES, generate_voc
from centernet_keras.data.voc import convert_voc
from centernet_keras.export import export_model, load_exported
from centernet_keras.inference import Predictor
from centernet_keras.models.registry import detector_class, detector_names
from centernet_keras.training import TrainConfig, train
from toy_detector import CenterPoint


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> dict:
    """One epoch of 2 steps of the toy on a 16-image synthetic VOC set (64 px), evaluated."""
    root = tmp_path_factory.mktemp("toy")
    generate_voc(root / "VOCdevkit", num_images=16, seed=3)
    convert_voc(root / "VOCdevkit", 2007, list(SHAPE_CLASSES), out_dir=root)
    (root / "classes.txt").write_text("\n".join(SHAPE_CLASSES) + "\n")
    settings = {
        "classes_path": str(root / "classes.txt"),
        "train_annotations": str(root / "2007_train.txt"),
        "val_annotations": str(root / "2007_val.txt"),
        "save_dir": str(root / "run"),
        "detector": "toy",
        "backbone": "tiny",
        "weights": None,
        "input_size": [64, 64],
        "epochs": 1,
        "freeze_epochs": 0,
        "batch_size": 4,
        "steps_per_epoch": 2,
        "eval_every": 1,
        "lr": 1e-3,
        "scale_lr": False,
    }
    keras.utils.set_random_seed(0)
    result = train(TrainConfig.from_dict(settings), verbose=0)
    return {"result": result, "val": root / "2007_val.txt"}


def test_the_toy_is_registered_by_importing_its_module():
    assert "toy" in detector_names() and detector_class("toy") is CenterPoint


@pytest.mark.slow
def test_the_toy_trains_and_evaluates_each_epoch(run):
    result = run["result"]
    assert isinstance(result.model, CenterPoint)
    assert {"loss", "heatmap_loss", "size_loss", "val_map"} <= set(result.history)
    assert np.isfinite(result.history["loss"][0]) and 0 <= result.history["val_map"][0] <= 1
    config = json.loads((result.save_dir / "config.json").read_text())
    assert config["model"]["detector"] == "toy"


@pytest.mark.slow
def test_the_toy_predicts_evaluates_and_exports_from_its_checkpoint(run, tmp_path, capsys):
    path = run["result"].save_dir / "last.keras"
    model = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(model, CenterPoint) and model.class_names == tuple(SHAPE_CLASSES)

    image = run["val"].read_text().split()[0]
    found = Predictor.from_checkpoint(path, score_threshold=0.0)(image)
    assert len(found.boxes) > 0 and set(found.class_ids) <= set(range(len(SHAPE_CLASSES)))

    report = tmp_path / "map"
    argv = ["--model", str(path), "--annotation-file", str(run["val"])]
    assert load_script("get_map.py").main([*argv, "--output-dir", str(report)]) == 0
    summary = json.loads((report / "summary.json").read_text())
    assert summary["num_images"] == 2 and summary["num_detections"] > 0
    assert 0 <= summary["metrics"]["voc07"]["mAP"] <= 1
    capsys.readouterr()

    settings = {"score_threshold": 0.05, "max_detections": 20}
    onnx = export_model(model, tmp_path / "toy.onnx", "onnx", **settings)
    images = np.random.default_rng(0).integers(0, 256, (2, 64, 64, 3)).astype(np.uint8)
    want = model.decoder.replace(**settings)(model.maps(images))
    want = {k: np.asarray(v) for k, v in want.items()}
    assert want["num_detections"].min() > 0
    assert_same_detections(load_exported(onnx)(images), want)
