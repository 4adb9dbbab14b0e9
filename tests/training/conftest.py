"""A tiny synthetic VOC dataset converted to annotation lines, shared by the training tests,
and the check of a finished run's pictures."""

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from centernet_keras.data.annotations import read_annotation_file
from centernet_keras.data.synthetic import SHAPE_CLASSES, generate_voc
from centernet_keras.data.voc import convert_voc

TINY_MODEL = {
    "backbone": "resnet18",
    "weights": None,
    "input_size": [64, 64],
    "neck_filters": [16, 16, 16],
    "head_channels": 8,
}


@pytest.fixture(scope="session")
def tiny_voc(tmp_path_factory) -> dict:
    """``{"classes", "train", "val"}`` paths of a 40-image synthetic dataset."""
    root = tmp_path_factory.mktemp("voc")
    generate_voc(root / "VOCdevkit", num_images=40, seed=3)
    convert_voc(root / "VOCdevkit", 2007, list(SHAPE_CLASSES), out_dir=root)
    classes = root / "classes.txt"
    classes.write_text("\n".join(SHAPE_CLASSES) + "\n")
    return {
        "classes": str(classes),
        "train": str(root / "2007_train.txt"),
        "val": str(root / "2007_val.txt"),
    }


def config_dict(voc: dict, save_dir: Path, **overrides) -> dict:
    base = {
        "classes_path": voc["classes"],
        "train_annotations": voc["train"],
        "val_annotations": voc["val"],
        "save_dir": str(save_dir),
        "freeze_epochs": 1,
        "freeze_batch_size": 4,
        "epochs": 3,
        "batch_size": 4,
        "lr": 2e-3,
        "scale_lr": False,
        **TINY_MODEL,
    }
    base.update(overrides)
    return base


def assert_training_pictures(save_dir: Path, val_annotations: str, class_names: list[str]) -> None:
    """The pictures of a finished run with validation look right: results.png drawn,
    val_predictions.jpg a grid of the first (up to 16) validation images, the confusion
    matrix counting every validation box once (found, confused or missed)."""
    results = np.asarray(Image.open(save_dir / "results.png").convert("L"), float)
    assert results.shape[1] >= 1200 and results.std() > 20.0
    records, _ = read_annotation_file(val_annotations)
    n = min(16, len(records))
    cols, rows = min(4, n), -(-n // 4)
    grid = Image.open(save_dir / "val_predictions.jpg")
    assert grid.size == (cols * 256 + (cols - 1) * 2, rows * 256 + (rows - 1) * 2)
    assert np.asarray(grid.convert("L"), float).std() > 10.0
    with open(save_dir / "confusion_matrix.csv") as f:
        table = list(csv.reader(f))
    assert [r[0] for r in table[1:]] == [*class_names, "background"]
    boxes = sum(int(np.count_nonzero(~np.asarray(r.difficult, bool))) for r in records)
    assert sum(int(v) for r in table[1:-1] for v in r[1:]) == boxes
    matrix = np.asarray(Image.open(save_dir / "confusion_matrix.png").convert("L"), float)
    assert matrix.std() > 20.0
